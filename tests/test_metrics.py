"""Each metric against an independent computation (numpy / scipy / scikit-image / a hand-written
LPIPS), on features and images from small random networks injected through `Backbones`."""

from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import scipy.stats
import torch
import torchmetrics
import torchvision
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from helpers.evaluation import SmallInception
from helpers.photos import real_photo_paths
from kolorize.errors import KolorizeError, MissingWeightsError
from kolorize.evaluate import metrics as M
from kolorize.evaluate.backbones import Backbones, load_backbones, write_random_weights
from kolorize.weights import WEIGHTS


def _photos(n: int, size: int = 32) -> torch.Tensor:
    imgs = [np.asarray(Image.open(p).convert("RGB").resize((size, size))) for p in
            real_photo_paths(n)]  # fmt: skip
    return torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).contiguous()


def _noisy(images: torch.Tensor, sigma: float, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(images.shape, generator=g) * sigma
    return (images.float() + noise).round().clamp(0, 255).to(torch.uint8)


def _score(images, references, backbones=None) -> M.SetScores:
    scorer = M.SetScorer(backbones or Backbones())
    for i in range(0, len(images), 16):  # several batches, as in an evaluation
        scorer.update(images[i : i + 16], references[i : i + 16])
    return scorer.result()


@pytest.fixture(scope="module")
def features():
    """Pool features and logits of 40 real photos and of noisy copies, from a small random net."""
    net = SmallInception()
    real = _photos(40)
    with torch.no_grad():
        pr, lr = net(real)
        pf, lf = net(_noisy(real, 25.0))
    return pr.double(), lr.double(), pf.double(), lf.double()


# -- PSNR and SSIM ------------------------------------------------------------------------------


def test_psnr_per_image_and_pooled_match_scikit_image():
    real = _photos(20)
    fake = _noisy(real, 12.0)
    scores = _score(fake, real)
    for i in range(len(real)):
        expected = peak_signal_noise_ratio(real[i].numpy(), fake[i].numpy(), data_range=255)
        # torchmetrics takes log(data_range) in float32: agreement to 1e-5 dB
        assert scores.per_image["psnr"][i] == pytest.approx(expected, abs=1e-5)
    sq = (real.double() - fake.double()) ** 2
    pooled = 10 * np.log10(255**2 / sq.mean().item())
    assert scores.psnr_pooled == pytest.approx(pooled, abs=1e-5)


def test_the_reported_psnr_is_the_mean_of_per_image_psnr():
    """The study's PSNR: one value per image, averaged; the pooled one is a second column."""
    real = _photos(8)
    fake = torch.cat([_noisy(real[:4], 4.0), _noisy(real[4:], 40.0)])  # unequal errors
    scores = _score(fake, real)
    row = M.score_row(scores, scores, seed=0)
    per_image = [peak_signal_noise_ratio(r.numpy(), f.numpy(), data_range=255)
                 for r, f in zip(real, fake, strict=True)]  # fmt: skip
    assert row["values"]["psnr"] == pytest.approx(np.mean(per_image), abs=1e-5)
    assert row["values"]["psnr"] == row["per_image"]["psnr"]["mean"]
    assert row["values"]["psnr_pooled"] == scores.psnr_pooled
    # the log of the mean squared error is not the mean of the logs: here it is ~4 dB lower
    assert row["values"]["psnr"] - row["values"]["psnr_pooled"] > 2


def test_psnr_of_identical_images_is_infinite_not_capped():
    real = _photos(4)
    fake = real.clone()
    fake[1] = _noisy(real[1:2], 5.0)[0]
    scores = _score(fake, real)
    assert np.isinf(scores.per_image["psnr"][[0, 2, 3]]).all()
    assert np.isfinite(scores.per_image["psnr"][1])
    assert np.isfinite(scores.psnr_pooled)  # pooled over the set: finite once a pixel differs
    assert _score(real, real).psnr_pooled == float("inf")
    assert M.score_row(scores, scores, seed=0)["values"]["psnr"] == float("inf")


def test_beats_counts_strict_wins_per_image_and_a_baseline_is_not_its_own_rival():
    inf = float("inf")
    assert M.beats(np.array([inf, 20.0, 10.0, 15.0]), np.array([inf, 15.0, 12.0, 15.0])) == 25
    real = _photos(8)
    close, far = _noisy(real, 4.0), _noisy(real, 40.0)
    mixed = torch.cat([close[:6], far[6:]])  # better than `far` on 6 of 8, ties on 2
    scored = {name: _score(images, real) for name, images in
              (("gray", far), ("tint", close), ("model", mixed))}  # fmt: skip
    baselines = {"gray": scored["gray"], "tint": scored["tint"]}
    values = M.score_row(scored["model"], scored["model"], seed=0, baselines=baselines)["values"]
    assert values["beats_gray"] == 75.0
    assert values["beats_tint"] == 0.0  # six ties (no wins) with `close`, two losses
    gray = M.score_row(scored["gray"], scored["model"], seed=0, baselines=baselines)["values"]
    assert gray["beats_gray"] is None and gray["beats_tint"] == 0.0
    assert M.score_row(scored["model"], scored["model"], seed=0)["values"]["beats_gray"] is None


def test_ssim_matches_scikit_image_with_torchmetrics_border_convention():
    # torchmetrics averages the SSIM map over the whole image, its borders computed on a
    # reflect-padded image; scikit-image crops the borders. Padding the same way and keeping
    # the original extent of scikit-image's full map gives the same quantity.
    real = _photos(6, size=40)
    fake = _noisy(real, 20.0)
    scores = _score(fake, real)
    pad = 5  # Gaussian window sigma 1.5 truncated at 3.5 sigma: 11 taps
    for i in range(len(real)):
        a, b = (np.pad(x[i].permute(1, 2, 0).double().numpy(), ((pad, pad), (pad, pad), (0, 0)),
                       mode="reflect") for x in (real, fake))  # fmt: skip
        _, full = structural_similarity(
            a, b, channel_axis=-1, data_range=255, gaussian_weights=True, sigma=1.5,
            use_sample_covariance=False, full=True,
        )  # fmt: skip
        expected = full[pad:-pad, pad:-pad].mean()
        assert scores.per_image["ssim"][i] == pytest.approx(expected, abs=5e-5)  # float32
    assert _score(real, real).per_image["ssim"] == pytest.approx(np.ones(len(real)), abs=5e-5)


# -- FID, KID, IS ---------------------------------------------------------------------------


def test_fid_of_a_set_against_itself_is_zero(features):
    pool = features[0]
    assert M.frechet_distance(pool, pool) == pytest.approx(0.0, abs=1e-6)


def test_fid_matches_scipy(features):
    real, _, fake, _ = (f.numpy() for f in features)
    mu_r, mu_f = real.mean(0), fake.mean(0)
    cov_r, cov_f = np.cov(real, rowvar=False), np.cov(fake, rowvar=False)
    root = scipy.linalg.sqrtm(cov_r @ cov_f).real
    expected = ((mu_r - mu_f) ** 2).sum() + np.trace(cov_r + cov_f - 2 * root)
    assert expected > 0.1
    assert M.frechet_distance(features[0], features[2]) == pytest.approx(expected, rel=1e-6)


def test_kid_matches_the_unbiased_mmd_in_numpy(features):
    real, _, fake, _ = (f.numpy() for f in features)
    d, m = real.shape[1], len(real)

    def k(x, y):
        return (x @ y.T / d + 1) ** 3

    off = lambda a: (a.sum() - np.trace(a)) / (m * (m - 1))  # noqa: E731
    expected = off(k(real, real)) + off(k(fake, fake)) - 2 * k(real, fake).mean()
    # with fewer than 1000 images every subset is the whole set, in some order
    mean, std = M.kernel_inception_distance(features[0], features[2], seed=3)
    assert mean == pytest.approx(expected, rel=1e-9)
    assert std == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(("n", "splits"), [(40, 10), (8, 4)])
def test_inception_score_matches_numpy_with_the_same_seeded_splits(features, n, splits):
    # 10 splits as standard; fewer on tiny sets, where a 1-image split would always score 1
    logits = features[1][:n]
    assert M.is_splits(n) == splits
    seed = 7
    torch.manual_seed(seed)
    order = torch.randperm(len(logits)).numpy()
    x = logits.numpy()[order]
    p = np.exp(x - x.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    scores = []
    for part in np.array_split(p, splits):
        marginal = part.mean(0, keepdims=True)
        scores.append(np.exp((part * (np.log(part) - np.log(marginal))).sum(1).mean()))
    mean, std = M.inception_score(logits, seed=seed)
    assert mean == pytest.approx(np.mean(scores), rel=1e-9)
    assert std == pytest.approx(np.std(scores, ddof=1), rel=1e-9)
    assert M.inception_score(logits, seed=seed) == (mean, std)  # seeded: repeatable
    assert M.inception_score(logits, seed=seed + 1)[0] != mean


def test_seeding_leaves_the_global_random_state_alone(features):
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    M.inception_score(features[1], seed=0)
    M.kernel_inception_distance(features[0], features[2], seed=0)
    assert torch.equal(torch.rand(1), expected)


def test_fid_warning_below_2048_images():
    warning = M.fid_warning(200)
    assert warning is not None and "200" in warning and "2048" in warning
    assert M.fid_warning(2048) is None


def test_each_metric_shows_its_own_digits():
    by_key = {m.key: m for m in M.METRICS}
    shown = {key: metric.format(1 / 3) for key, metric in by_key.items()}
    assert shown == {"psnr": "0.33", "ssim": "0.3333", "lpips": "0.3333", "fid": "0.33",
                     "is": "0.333", "colorfulness": "0.33", "kid": "0.33333",
                     "beats_gray": "0.3", "beats_tint": "0.3", "hue": "0.3"}  # fmt: skip
    assert by_key["psnr"].format(float("inf")) == "∞" and by_key["ssim"].format(None) == "n/a"
    assert by_key["fid"].format(-1e-7) == "0.00"  # a set against itself: zero, not "-0.00"
    assert by_key["kid"].format(-0.002) == "-0.00200"


# -- per-image distributions ------------------------------------------------------------------


def test_distribution_mean_median_and_bootstrap_interval():
    values = np.random.default_rng(5).normal(30, 4, size=300)
    d = M.distribution(values, seed=0)
    assert d["mean"] == pytest.approx(values.mean())
    assert d["median"] == pytest.approx(np.median(values))
    se = values.std(ddof=1) / np.sqrt(len(values))
    reference = scipy.stats.bootstrap(
        (values,), np.mean, n_resamples=20000, method="percentile", random_state=1
    ).confidence_interval
    assert d["ci95_low"] == pytest.approx(reference.low, abs=0.25 * se)
    assert d["ci95_high"] == pytest.approx(reference.high, abs=0.25 * se)
    assert M.distribution(values, seed=0) == d
    assert M.distribution(np.full(10, 2.5), seed=0)["ci95_low"] == 2.5


def test_distribution_with_infinite_values_stays_defined():
    d = M.distribution(np.array([20.0, 25.0, np.inf]), seed=0)
    assert d["mean"] == np.inf and d["median"] == 25.0
    assert not np.isnan([d["ci95_low"], d["ci95_high"]]).any()


# -- the real networks' loading path, with random weights of the real architectures -------------


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("weights")
    write_random_weights("alexnet", folder)
    write_random_weights("inception", folder)
    return folder


def _hand_lpips(a: torch.Tensor, b: torch.Tensor, alexnet_file: Path) -> torch.Tensor:
    """LPIPS written out: AlexNet relu1..relu5 features of inputs scaled to [-1, 1] and
    normalised per channel, unit-normalised per position, squared differences weighted by the
    published linear layers (shipped with torchmetrics), averaged over space, summed."""
    net = torchvision.models.alexnet()
    net.load_state_dict(torch.load(alexnet_file, weights_only=True))
    lin_file = Path(torchmetrics.__file__).parent / "functional/image/lpips_models/alex.pth"
    lins = torch.load(lin_file, map_location="cpu", weights_only=True)
    shift = torch.tensor([-0.030, -0.088, -0.188])[None, :, None, None]
    scale = torch.tensor([0.458, 0.448, 0.450])[None, :, None, None]
    xa, xb = ((x.float() / 255 * 2 - 1 - shift) / scale for x in (a, b))
    total = torch.zeros(len(a))
    cuts = [(0, 2), (2, 5), (5, 8), (8, 10), (10, 12)]
    with torch.no_grad():
        for k, (lo, hi) in enumerate(cuts):
            xa, xb = net.features[lo:hi](xa), net.features[lo:hi](xb)
            fa = xa / torch.sqrt(1e-8 + (xa**2).sum(1, keepdim=True))
            fb = xb / torch.sqrt(1e-8 + (xb**2).sum(1, keepdim=True))
            weighted = torch.nn.functional.conv2d((fa - fb) ** 2, lins[f"lin{k}.model.1.weight"])
            total += weighted.mean(dim=(1, 2, 3))
    return total


def test_backbones_load_from_a_weights_dir_and_lpips_matches_a_hand_computation(random_weights):
    backbones = load_backbones(random_weights, require_all=True, download=False)
    assert backbones.missing == {}
    assert backbones.sources["lpips"].endswith(WEIGHTS["alexnet"].filename)
    real = _photos(4)
    fake = _noisy(real, 30.0)
    scores = _score(fake, real, backbones)
    expected = _hand_lpips(fake, real, random_weights / WEIGHTS["alexnet"].filename)
    assert scores.per_image["lpips"] == pytest.approx(expected.numpy(), rel=1e-4, abs=1e-6)
    assert (scores.per_image["lpips"] > 0).all()
    assert _score(real, real, backbones).per_image["lpips"] == pytest.approx(0, abs=1e-6)
    # the real InceptionV3 layout: 2048-d pool features and 1008 logits, one pass
    assert scores.pool.shape == (4, 2048) and scores.logits.shape == (4, 1008)
    assert torch.isfinite(scores.pool).all() and scores.pool.std(0).mean() > 0


def test_inception_features_are_torch_fidelitys(random_weights):
    """FID/KID/IS features come from torch-fidelity's own input path (its TF1-style resize to
    299 px), the one torch-fidelity's FID uses; torchmetrics' default antialiased resize gives
    other features."""
    from torch_fidelity.utils import create_feature_extractor
    from torchmetrics.image.fid import NoTrainInceptionV3

    weights = str(random_weights / WEIGHTS["inception"].filename)
    images = _photos(1, size=64)  # far from 299 px, where the two resizes differ most
    ours = load_backbones(random_weights, download=False).inception
    theirs = create_feature_extractor(
        "inception-v3-compat", ["2048", "logits_unbiased"], cuda=False,
        feature_extractor_weights_path=weights,
    )  # fmt: skip
    antialiased = NoTrainInceptionV3("inception-v3-compat", ["2048"], weights, antialias=True)
    with torch.no_grad():
        pool, logits = ours.train()(images)  # stays in eval mode
        expected_pool, expected_logits = theirs(images)
        other = antialiased(images)
    scale = expected_pool.abs().max()
    assert (pool - expected_pool).abs().max() <= 1e-5 * scale
    assert (logits - expected_logits).abs().max() <= 1e-5 * expected_logits.abs().max()
    assert (other - expected_pool).abs().max() > 1e-3 * scale


def test_missing_weights_become_reasons_naming_the_files(offline):
    backbones = load_backbones()
    assert backbones.inception is None and backbones.lpips is None
    assert WEIGHTS["alexnet"].filename in backbones.missing["lpips"]
    assert WEIGHTS["inception"].filename in backbones.missing["inception"]
    assert "--weights-dir" in backbones.missing["inception"]
    with pytest.raises(MissingWeightsError, match=WEIGHTS["alexnet"].filename):
        load_backbones(require_all=True)


def test_a_broken_weights_file_is_a_clear_error(offline, tmp_path):
    (tmp_path / WEIGHTS["alexnet"].filename).write_bytes(b"not a checkpoint")
    with pytest.raises(KolorizeError, match="does not hold usable alexnet weights"):
        load_backbones(tmp_path)
    with pytest.raises(KolorizeError, match="no such folder"):
        load_backbones(tmp_path / "nowhere")
