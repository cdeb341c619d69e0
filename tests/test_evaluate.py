"""Evaluating runs: the ground-truth row, the gray and mean-colour tint baselines with the
models' shares of wins over them and their hue accuracy, one Inception pass per image set,
metrics.json/.csv, n/a with the reason when weights are missing, and the command line."""

import csv
import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from helpers.cli import run_cli
from helpers.evaluation import SmallInception, train_tiny_runs
from kolorize.data.cache import ImageCache
from kolorize.errors import KolorizeError
from kolorize.evaluate import evaluate_runs
from kolorize.evaluate import metrics as M
from kolorize.evaluate.backbones import Backbones, write_random_weights
from kolorize.evaluate.colorfulness import colorfulness
from kolorize.evaluate.results import read_results
from kolorize.evaluate.yardsticks import SECTORS, HueTally, tint_images
from kolorize.inference.tensors import colorize_tensors, to_nchw
from kolorize.models.files import load_generator
from kolorize.weights import WEIGHTS

SIX = ("psnr", "ssim", "lpips", "fid", "is", "colorfulness")


def _quiet(_msg):
    pass


@pytest.fixture(scope="module")
def runs(tiny_dataset, tmp_path_factory):
    return train_tiny_runs(tiny_dataset, tmp_path_factory.mktemp("study"))


def _val(data) -> torch.Tensor:
    return to_nchw(ImageCache(data).split("val"), torch.device("cpu"))


def test_ground_truth_row_and_one_inception_pass_per_image_set(runs, tiny_dataset, tmp_path):
    inception = SmallInception()
    results = evaluate_runs(
        runs, tiny_dataset, tmp_path, backbones=Backbones(inception=inception), log=_quiet
    )
    real = _val(tiny_dataset)
    n = len(real)
    # the real photos once (their features serve every model), then each baseline and each
    # colorized set once
    assert inception.images_seen == n * (1 + 2 + len(runs))

    truth, _gray, _tint, *models = results.rows
    assert truth.name == "Ground truth" and truth.reference and truth == results.reference
    v = truth.values
    assert v["psnr"] == float("inf")
    assert v["ssim"] == pytest.approx(1.0, abs=5e-5)
    assert v["fid"] == pytest.approx(0.0, abs=1e-6)
    r, g, b = real.double().unbind(1)
    rg, yb = (r - g).flatten(1).numpy(), (0.5 * (r + g) - b).flatten(1).numpy()
    expected = np.hypot(rg.std(1), yb.std(1)) + 0.3 * np.hypot(rg.mean(1), yb.mean(1))
    assert v["colorfulness"] == pytest.approx(expected.mean(), rel=1e-9)
    with torch.no_grad():
        real_pool, real_logits = SmallInception()(real)
    assert v["is"] == pytest.approx(M.inception_score(real_logits.double(), seed=0)[0])

    assert [m.name for m in models] == ["U-Net_1", "GAN_1"] and models == results.models
    for row in models:
        assert np.isfinite(row.values["psnr"]) and row.values["ssim"] < 1
        assert row.values["fid"] > 0 and row.values["lpips"] is None
        assert set(row.per_image) == {"psnr", "ssim", "colorfulness"}
        assert row.per_image["psnr"]["ci95_low"] <= row.per_image["psnr"]["mean"]
    # FID of a model equals FID computed from scratch on its colorizations
    net = load_generator(runs[1])[0]
    with torch.no_grad():
        fake_pool, _ = SmallInception()(colorize_tensors(net, real))
    assert models[1].values["fid"] == pytest.approx(
        M.frechet_distance(real_pool.double(), fake_pool.double()), rel=1e-6
    )
    assert "lpips" in results.missing and "fid" not in results.missing
    assert any("FID on 8 images" in w for w in results.warnings)


def _psnr_by_hand(images: torch.Tensor, real: torch.Tensor) -> np.ndarray:
    mse = ((images.double() - real.double()) ** 2).flatten(1).mean(1).numpy()
    return 10 * np.log10(255**2 / mse)


def _tint_by_hand(real: torch.Tensor, ab: tuple[float, float]) -> torch.Tensor:
    """Each photo's own L with one ab everywhere, through scikit-image's Lab."""
    from skimage.color import lab2rgb, rgb2lab

    lab = rgb2lab(real.permute(0, 2, 3, 1).numpy())
    lab[..., 1], lab[..., 2] = ab
    rgb = (np.clip(lab2rgb(lab), 0, 1) * 255).round().astype(np.uint8)
    return torch.from_numpy(rgb).permute(0, 3, 1, 2)


@pytest.fixture(scope="module")
def scored(runs, tiny_dataset, tmp_path_factory):
    """The tiny runs evaluated without backbones, and what the evaluation logged."""
    messages: list[str] = []
    out = tmp_path_factory.mktemp("scored")
    results = evaluate_runs(runs, tiny_dataset, out, backbones=Backbones(), log=messages.append)
    return results, messages


def test_baselines_are_the_gray_image_and_the_tint_on_the_photos_own_L(scored, tiny_dataset):
    results, _ = scored
    cache = ImageCache(tiny_dataset)
    assert results.tint_ab == list(cache.mean_ab()) == cache.info["mean_ab"]
    gray, tint = results.baselines
    assert [gray.name, tint.name] == ["Gray image", "Mean-colour tint"]
    assert gray.baseline and tint.baseline and not gray.reference
    assert [r.name for r in results.rows[:3]] == ["Ground truth", "Gray image", "Mean-colour tint"]
    assert all(not r.baseline for r in results.models) and len(results.models) == 2
    real = _val(tiny_dataset)
    for row, ab in ((gray, (0.0, 0.0)), (tint, tuple(results.tint_ab))):
        by_hand = _tint_by_hand(real, ab)
        # float32 Lab against scikit-image's float64 moves a few pixels by one level
        assert (by_hand.int() - tint_images(real, ab).int()).abs().max() <= 1
        assert row.values["psnr"] == pytest.approx(_psnr_by_hand(by_hand, real).mean(), abs=0.02)
        colourful = row.values["colorfulness"]
        assert colourful == pytest.approx(float(colorfulness(by_hand).double().mean()), abs=0.2)
    assert gray.values["colorfulness"] == pytest.approx(0, abs=0.5)
    assert tint.values["colorfulness"] > 1  # one colour everywhere: a little, not none


def test_beats_shares_and_hue_accuracy_against_a_hand_computation(scored, runs, tiny_dataset):
    results, _ = scored
    real = _val(tiny_dataset)
    gray_psnr = _psnr_by_hand(tint_images(real, (0.0, 0.0)), real)
    tint_psnr = _psnr_by_hand(tint_images(real, tuple(results.tint_ab)), real)
    for row, run in zip(results.models, runs, strict=True):
        fake = colorize_tensors(load_generator(run)[0].eval(), real)
        psnr = _psnr_by_hand(fake, real)
        wins_gray = sum(p > g for p, g in zip(psnr, gray_psnr, strict=True))
        wins_tint = sum(p > t for p, t in zip(psnr, tint_psnr, strict=True))
        assert row.values["beats_gray"] == pytest.approx(100 * wins_gray / len(real))
        assert row.values["beats_tint"] == pytest.approx(100 * wins_tint / len(real))
        tally = HueTally()
        tally.add(fake, real)
        assert row.values["hue"] == pytest.approx(100 * tally.balanced())
        for name, share in tally.by_sector().items():
            expected = None if share is None else pytest.approx(100 * share)
            assert row.values[f"hue_{name}"] == expected
    gray, tint = results.baselines
    # a baseline is not compared with itself; against the other one it is
    assert gray.values["beats_gray"] is None and tint.values["beats_tint"] is None
    assert tint.values["beats_gray"] == pytest.approx(100 * np.mean(tint_psnr > gray_psnr))
    assert gray.values["beats_tint"] == pytest.approx(100 * np.mean(gray_psnr > tint_psnr))
    assert gray.values["hue"] == 0.0
    truth = results.reference
    assert truth.values["beats_gray"] == truth.values["beats_tint"] == 100.0
    assert truth.values["hue"] == 100.0
    for metric in M.METRICS:  # the baselines never win a column
        assert results.best_model(metric) in (None, "U-Net_1", "GAN_1")


def test_the_log_shows_the_tint_and_every_rows_new_figures(scored):
    results, messages = scored
    a, b = results.tint_ab
    expected = f"mean-colour tint: a = {a:.2f}, b = {b:.2f} (recorded in the dataset's info"
    assert any(m.startswith(expected) for m in messages)
    for name in ("Ground truth", "Gray image", "Mean-colour tint", "U-Net_1", "GAN_1"):
        line = next(m for m in messages if m.startswith(f"{name}: "))
        assert "Beats gray (%) " in line and "Beats tint (%) " in line
        assert "Hue accuracy (%) " in line
    model = results.models[0]
    line = next(m for m in messages if m.startswith("U-Net_1: "))
    assert f"Beats tint (%) {model.values['beats_tint']:.1f}" in line


def test_a_dataset_prepared_before_mean_ab_gets_the_same_tint(runs, tiny_dataset, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(tiny_dataset, old)
    info = json.loads((old / "info.json").read_text())
    recorded = info.pop("mean_ab")
    (old / "info.json").write_text(json.dumps(info))
    messages: list[str] = []
    results = evaluate_runs(runs[:1], old, tmp_path / "out", backbones=Backbones(),
                            log=messages.append)  # fmt: skip
    assert results.tint_ab == recorded
    assert any("computed from a seeded sample" in m for m in messages)
    assert "computed from a seeded sample" in results.settings["baselines"]


def test_generators_run_in_fp32_unless_bf16_is_asked(runs, tiny_dataset, monkeypatch):
    import kolorize.inference.tensors as colorize_module

    asked: list[str] = []
    original = colorize_module.autocast

    def recording_autocast(device, precision="fp32", **kwargs):
        asked.append(precision)
        return original(device, precision, **kwargs)

    monkeypatch.setattr(colorize_module, "autocast", recording_autocast)
    net, real = load_generator(runs[0])[0].eval(), _val(tiny_dataset)[:2]
    colorize_tensors(net, real)
    colorize_tensors(net, real, precision="bf16")
    assert asked == ["fp32", "bf16"]


def test_metrics_files_hold_every_metric_with_na_and_reason(runs, tiny_dataset, tmp_path):
    reason = "alexnet-owt-7be5be79.pth (LPIPS) not found; put it in /somewhere"
    backbones = Backbones(inception=SmallInception(), missing={"lpips": reason})
    results = evaluate_runs(runs, tiny_dataset, tmp_path, backbones=backbones, log=_quiet)
    assert read_results(tmp_path) == results  # infinite PSNR and n/a included
    with open(tmp_path / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["model"] for r in rows] == [
        "Ground truth", "Gray image", "Mean-colour tint", "U-Net_1", "GAN_1"
    ]  # fmt: skip
    assert [r["role"] for r in rows] == ["reference", "baseline", "baseline", "model", "model"]
    assert rows[1]["beats_gray"] == "n/a" and float(rows[1]["hue"]) == 0
    assert all(rows[3][f"hue_{name}"] for name in SECTORS)
    for row in rows:
        assert all(row[k] for k in SIX) and row["lpips"] == "n/a"
        assert f"LPIPS n/a: {reason}" in row["notes"]
        assert float(row["fid"]) > -1e-6 and row["n_images"] == "8"
    assert rows[0]["psnr"] == rows[0]["psnr_pooled"] == "inf"
    for row in rows[1:]:  # the mean of per-image PSNR, and the pooled one beside it
        assert float(row["psnr"]) > float(row["psnr_pooled"]) > 0
    data = json.loads((tmp_path / "metrics.json").read_text())  # strict JSON: no Infinity
    assert data["autocast"] == "none (fp32)"
    assert data["rows"][0]["values"]["psnr"] == "inf"
    assert data["missing"] == {"lpips": reason}
    assert data["inference_mode"] == "eval" and data["n_images"] == 8


def test_saved_images_are_the_colorizations(runs, tiny_dataset, tmp_path):
    evaluate_runs(runs[:1], tiny_dataset, tmp_path, backbones=Backbones(), save_images=True,
                  batch_size=3, log=_quiet)  # fmt: skip
    files = sorted((tmp_path / "colorized" / "U-Net_1").glob("*.png"))
    assert [f.name for f in files] == [f"{i:05d}.png" for i in range(8)]
    expected = colorize_tensors(load_generator(runs[0])[0], _val(tiny_dataset))
    saved = torch.from_numpy(np.stack([np.asarray(Image.open(f)) for f in files]))
    assert torch.equal(saved.permute(0, 3, 1, 2), expected)
    assert not list((tmp_path / "colorized").glob(".*"))


def test_train_mode_is_recorded_and_repeatable(runs, tiny_dataset, tmp_path):
    first = evaluate_runs(runs[:1], tiny_dataset, tmp_path / "a", backbones=Backbones(),
                          train_mode=True, log=_quiet)  # fmt: skip
    again = evaluate_runs(runs[:1], tiny_dataset, tmp_path / "b", backbones=Backbones(),
                          train_mode=True, log=_quiet)  # fmt: skip
    evaluated = evaluate_runs(runs[:1], tiny_dataset, tmp_path / "c", backbones=Backbones(),
                              log=_quiet)  # fmt: skip
    assert first.inference_mode == "train" and evaluated.inference_mode == "eval"
    assert first.models[0].values == again.models[0].values
    assert first.models[0].values["psnr"] != evaluated.models[0].values["psnr"]


def test_study_folder_glob_skips_results_and_rejects_bad_runs(runs, tiny_dataset, tmp_path):
    # what `kolorize evaluate S/*` sees once S holds results: files and folders that are no runs
    (tmp_path / "metrics.json").write_text("{}")
    (tmp_path / "colorized").mkdir()
    messages = []
    paths = [*runs, tmp_path / "metrics.json", tmp_path / "colorized"]
    results = evaluate_runs(paths, tiny_dataset, tmp_path / "out", backbones=Backbones(),
                            log=messages.append)  # fmt: skip
    assert [r.name for r in results.models] == ["U-Net_1", "GAN_1"]
    assert sum("skipping" in m for m in messages) == 2
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    (unfinished / "run.json").write_text("{}")
    bad = tmp_path / "bad"
    with pytest.raises(KolorizeError, match=r"holds no generator\.safetensors"):
        evaluate_runs([unfinished], tiny_dataset, bad, backbones=Backbones(), log=_quiet)
    with pytest.raises(KolorizeError, match="no such run directory"):
        evaluate_runs([tmp_path / "nope"], tiny_dataset, bad, log=_quiet)
    with pytest.raises(KolorizeError, match="no run directories"):
        evaluate_runs([tmp_path / "colorized"], tiny_dataset, bad, log=_quiet)
    with pytest.raises(KolorizeError, match="not a prepared dataset"):
        evaluate_runs(runs, tmp_path, bad, backbones=Backbones(), log=_quiet)
    named_like_a_baseline = tmp_path / "Gray image"
    shutil.copytree(runs[0], named_like_a_baseline)
    with pytest.raises(KolorizeError, match="Gray image names a row of the results table"):
        evaluate_runs([named_like_a_baseline], tiny_dataset, bad, log=_quiet)
    assert not bad.exists()


def test_cli_offline_reports_na_with_the_reason(runs, tiny_dataset, tmp_path, offline, capsys):
    ran = run_cli("-q", "evaluate", *runs, "--data", tiny_dataset, "--out", tmp_path, capsys=capsys)
    assert ran.code == 0
    err = ran.err
    assert f"{tmp_path / 'metrics.csv'}" in err
    with open(tmp_path / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 5  # the ground truth, the two baselines, the two models
    for row in rows:
        assert row["lpips"] == row["fid"] == row["is"] == row["kid"] == "n/a"
        assert row["psnr"] and row["ssim"] and row["colorfulness"] not in ("", "n/a")
        assert WEIGHTS["alexnet"].filename in row["notes"]
        assert WEIGHTS["inception"].filename in row["notes"]


def test_cli_require_all_metrics_is_one_line_exit_2(runs, tiny_dataset, tmp_path, offline, capsys):
    ran = run_cli(
        "evaluate",
        runs[0],
        "--data",
        tiny_dataset,
        "--out",
        tmp_path,
        "--require-all-metrics",
        capsys=capsys,
    )
    assert ran.code == 2
    err = ran.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    assert WEIGHTS["alexnet"].filename in err[0]
    assert not (tmp_path / "metrics.json").exists()


@pytest.mark.slow
def test_cli_with_a_weights_dir_gives_every_metric(runs, tiny_dataset, tmp_path, offline, capsys):
    weights = tmp_path / "weights"
    write_random_weights("alexnet", weights)
    write_random_weights("inception", weights)
    ran = run_cli(
        "-q",
        "evaluate",
        runs[0],
        "--data",
        tiny_dataset,
        "--out",
        tmp_path,
        "--weights-dir",
        weights,
        "--require-all-metrics",
        capsys=capsys,
    )
    assert ran.code == 0
    err = ran.err
    assert "FID on 8 images (< 2048)" in err and "(n=8)" in err
    with open(tmp_path / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        assert all(row[k] != "n/a" for k in (*SIX, "kid")) and row["notes"] == ""
    assert float(rows[0]["lpips"]) == pytest.approx(0.0, abs=1e-6)
    assert float(rows[0]["fid"]) == pytest.approx(0.0, abs=1e-3)
    assert float(rows[1]["lpips"]) > 0 and float(rows[1]["fid"]) > 0
