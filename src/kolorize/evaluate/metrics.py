"""The study's metrics, computed with torchmetrics (and torch-fidelity's InceptionV3) so the
numbers match the field's standard code; Colorfulness is ours (see colorfulness.py).

One `SetScorer` streams an image set batch by batch: per-image PSNR, SSIM, LPIPS and
Colorfulness, the pooled PSNR, the hue tally (yardsticks.py), and one Inception pass whose
features serve FID, KID and IS.
The real set's features are extracted once and reused for every model: FID, KID and IS take
precomputed features through a pass-through module, so torchmetrics still does the maths.

Conventions (also written into metrics.json and the report):
- Images are uint8 RGB, as they would be saved losslessly (PNG); PSNR and SSIM use
  data_range = 255.
- PSNR is the study's: per image, 10 log10(255^2 / MSE of that image), then the mean over
  the images (with median and bootstrap interval). Identical images give infinity, not a
  cap, so one exact match makes the mean infinite. `psnr_pooled` (a second, separately named
  column) pools the squared error over all pixels of the set instead (torchmetrics'
  accumulation): it is lower (by about 1 dB on typical sets: the log of a mean is not the
  mean of logs) and infinite only when every image matches.
- SSIM: Gaussian window, sigma 1.5 (11 taps), K1 0.01, K2 0.03, on the three RGB channels,
  averaged over the whole image with reflect-padded borders (torchmetrics' convention), in
  float32: within 3e-5 of float64, so identical images score 0.99999..., not exactly 1.
- FID/KID/IS: the uint8 images go through torch-fidelity's own InceptionV3 input path
  (its TensorFlow-1.x-compatible bilinear resize to 299x299, then (x - 128) / 128), the
  path torch-fidelity's FID/KID/ISC and the papers that use it report. FID depends on that
  resize and on the image format (clean-fid): both are pinned here, and no JPEG step is used.
- KID: 100 subsets of min(1000, n) images, cubic polynomial kernel; IS: 10 splits (fewer
  under 20 images, so each split holds at least 2). Both draw random subsets from a fixed seed.
- Beats gray / beats tint: the share (in %) of the images whose per-image PSNR is strictly
  higher than the baseline's on the same image (a tie is no win); a baseline is not compared
  with itself (None).
- Hue accuracy (%): `yardsticks.HueTally` pooled over the set, balanced over the 6 hue
  sectors present; per sector beside it (`hue_reds` ... `hue_magentas`, json and csv).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import nn
from torchmetrics.functional.image import (
    peak_signal_noise_ratio,
    structural_similarity_index_measure,
)
from torchmetrics.image import PeakSignalNoiseRatio
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.inception import InceptionScore
from torchmetrics.image.kid import KernelInceptionDistance

from kolorize.evaluate.backbones import Backbones
from kolorize.evaluate.colorfulness import colorfulness
from kolorize.evaluate.yardsticks import SECTORS, HueTally

DATA_RANGE = 255.0
FID_FULL_RANK = 2048
KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
IS_SPLITS = 10
BOOTSTRAP_RESAMPLES = 1000


@dataclass(frozen=True)
class MetricInfo:
    key: str
    label: str
    better: Literal["higher", "lower", "closer"]  # "closer": to the ground-truth row's value
    backbone: str | None  # the Backbones slot it needs
    what: str
    digits: int  # decimals shown in the report and the log

    def format(self, value: float | None) -> str:
        """A value (or its spread) as the report and the log show it."""
        if value is None:
            return "n/a"
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        text = f"{value:.{self.digits}f}"
        # FID/KID of a set against itself come out as -1e-7 or so: that is zero, not "-0.00"
        return text[1:] if text.startswith("-") and float(text) == 0 else text


METRICS: tuple[MetricInfo, ...] = (
    MetricInfo("psnr", "PSNR (dB)", "higher", None,
               "mean of per-image PSNR; infinite for identical", digits=2),
    MetricInfo("beats_gray", "Beats gray (%)", "higher", None,
               "share of images with a higher PSNR than the gray image's", digits=1),
    MetricInfo("beats_tint", "Beats tint (%)", "higher", None,
               "share of images with a higher PSNR than the mean-colour tint's", digits=1),
    MetricInfo("ssim", "SSIM", "higher", None, "structural similarity, 1 = identical", digits=4),
    MetricInfo("lpips", "LPIPS", "lower", "lpips", "perceptual distance (AlexNet)", digits=4),
    MetricInfo("fid", "FID", "lower", "inception", "distance of feature distributions", digits=2),
    MetricInfo("is", "IS", "higher", "inception", "Inception Score (no reference)", digits=3),
    MetricInfo("colorfulness", "Colorfulness", "closer", None,
               "Hasler & Suesstrunk; real photos' is the target", digits=2),
    MetricInfo("hue", "Hue accuracy (%)", "higher", None,
               "coloured pixels given the right hue, balanced over 6 hue sectors", digits=1),
    MetricInfo("kid", "KID", "lower", "inception",
               "kernel distance, unbiased on small sets", digits=5),
)  # fmt: skip
METRIC_KEYS = tuple(m.key for m in METRICS)
PER_IMAGE_KEYS = ("psnr", "ssim", "lpips", "colorfulness")
# Each "beats" metric and the baseline row it compares with (evaluate.py scores both)
BEATS = {"beats_gray": "gray", "beats_tint": "tint"}
HUE_SECTOR_KEYS = tuple(f"hue_{name}" for name in SECTORS)
# Values in metrics.json/.csv beside the table's: the pooled PSNR, for comparison only, and
# the hue accuracy of each sector
EXTRA_KEYS = ("psnr_pooled", *HUE_SECTOR_KEYS)


@dataclass
class SetScores:
    """Everything measured on one image set (against its references)."""

    n: int
    psnr_pooled: float  # the squared error pooled over the set (the study's PSNR: per image)
    per_image: dict[str, np.ndarray]
    pool: torch.Tensor | None  # (n, D) float64 Inception pool features
    logits: torch.Tensor | None  # (n, K) float64 Inception logits
    hue: HueTally = field(default_factory=HueTally)


def psnr_per_image(images: torch.Tensor, references: torch.Tensor) -> torch.Tensor:
    """The study's PSNR of each image (N, 3, H, W), 0..255, against its reference."""
    return peak_signal_noise_ratio(
        images.double(), references.double(), data_range=DATA_RANGE, reduction="none",
        dim=(1, 2, 3),
    )  # fmt: skip


class SetScorer:
    """Feed `update(images, references)` batches of uint8 RGB (N, 3, H, W) on one device,
    then take `result()`. One scorer at a time per `Backbones`: the LPIPS metric holds the
    per-image scores of the set being scored."""

    def __init__(self, backbones: Backbones, device: torch.device | str = "cpu") -> None:
        self.backbones = backbones
        self._psnr = PeakSignalNoiseRatio(data_range=DATA_RANGE).to(device)
        self._psnr.set_dtype(torch.float64)
        self._per_image: dict[str, list[torch.Tensor]] = {k: [] for k in PER_IMAGE_KEYS}
        self._pool: list[torch.Tensor] = []
        self._logits: list[torch.Tensor] = []
        self._hue = HueTally()
        if backbones.lpips is not None:
            backbones.lpips.reset()

    @torch.no_grad()
    def update(self, images: torch.Tensor, references: torch.Tensor) -> None:
        if images.dtype != torch.uint8 or references.dtype != torch.uint8:
            raise TypeError("SetScorer takes uint8 RGB images")
        x, y = images.double(), references.double()
        self._psnr.update(x, y)
        values = self._per_image
        values["psnr"].append(psnr_per_image(x, y))
        # float32: 4x faster than float64 on the CPU; SSIM moves by at most ~3e-5
        ssim = structural_similarity_index_measure(
            x.float(), y.float(), data_range=DATA_RANGE, reduction="none"
        )
        values["ssim"].append(ssim.double())  # type: ignore[union-attr]
        values["colorfulness"].append(colorfulness(images))
        self._hue.add(images.cpu(), references.cpu())
        if self.backbones.lpips is not None:
            self.backbones.lpips.update(images.float() / 255, references.float() / 255)
        if self.backbones.inception is not None:
            pool, logits = self.backbones.inception(images)
            self._pool.append(pool.double().cpu())
            self._logits.append(logits.double().cpu())

    def result(self) -> SetScores:
        per_image = {
            k: torch.cat(v).flatten().cpu().numpy() for k, v in self._per_image.items() if v
        }
        if not per_image:
            raise ValueError("no images were scored")
        if self.backbones.lpips is not None:
            per_image["lpips"] = self.backbones.lpips.compute().flatten().double().cpu().numpy()
            self.backbones.lpips.reset()
        return SetScores(
            n=len(per_image["psnr"]),
            psnr_pooled=float(self._psnr.compute()),
            per_image=per_image,
            pool=torch.cat(self._pool) if self._pool else None,
            logits=torch.cat(self._logits) if self._logits else None,
            hue=self._hue,
        )


class _Precomputed(nn.Module):
    """Feature extractor for torchmetrics that returns its input: the features were extracted
    once per image set, so FID/KID/IS need not run InceptionV3 again."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


def frechet_distance(
    real: torch.Tensor, fake: torch.Tensor, device: torch.device | str = "cpu"
) -> float:
    """FID between two sets of pool features (torchmetrics' estimator, float64)."""
    fid = FrechetInceptionDistance(feature=_Precomputed(real.shape[1])).to(device)
    fid.update(real.to(device, torch.float64), real=True)
    fid.update(fake.to(device, torch.float64), real=False)
    return float(fid.compute())


def kernel_inception_distance(
    real: torch.Tensor, fake: torch.Tensor, *, seed: int
) -> tuple[float, float]:
    """KID (mean, std over subsets) between two sets of pool features."""
    subset_size = min(KID_SUBSET_SIZE, len(real), len(fake))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
        kid = KernelInceptionDistance(
            feature=_Precomputed(real.shape[1]), subsets=KID_SUBSETS, subset_size=subset_size
        )
    kid.update(real.double(), real=True)
    kid.update(fake.double(), real=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        mean, std = kid.compute()
    return float(mean), float(std)


def is_splits(n: int) -> int:
    """The standard 10 splits, fewer for sets under 20 images: a split of one image always
    scores exactly 1."""
    return max(1, min(IS_SPLITS, n // 2))


def inception_score(logits: torch.Tensor, *, seed: int) -> tuple[float, float]:
    """IS (mean, std over splits) from Inception logits."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
        metric = InceptionScore(
            feature=_Precomputed(logits.shape[1]), splits=is_splits(len(logits))
        )
    metric.update(logits.double())
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        mean, std = metric.compute()
    return float(mean), float(std)


def distribution(
    values: np.ndarray, *, seed: int, resamples: int = BOOTSTRAP_RESAMPLES
) -> dict[str, float]:
    """Mean, median and the 95% percentile-bootstrap interval of the mean of per-image values.
    Infinite values (identical images' PSNR) are kept, so the mean may be infinite."""
    values = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(resamples, len(values)))].mean(axis=1)
    # "nearest" picks actual resampled means, which stays defined when some are infinite
    low, high = np.quantile(means, [0.025, 0.975], method="nearest")
    return {
        "mean": float(values.mean()),
        "median": float(np.median(values)),
        "ci95_low": float(low),
        "ci95_high": float(high),
    }


def beats(psnr: np.ndarray, baseline_psnr: np.ndarray) -> float:
    """The share (%) of images whose per-image PSNR is strictly higher than the baseline's on
    the same image: a tie (both infinite, say) is no win."""
    return 100 * float(np.mean(np.asarray(psnr) > np.asarray(baseline_psnr)))


def _percent(share: float | None) -> float | None:
    return None if share is None else 100 * share


def score_row(
    scores: SetScores,
    real: SetScores,
    *,
    seed: int,
    baselines: dict[str, SetScores] | None = None,
    device: torch.device | str = "cpu",
) -> dict[str, Any]:
    """The values of one row of the results table: `scores` is a colorized (or the real) set,
    `real` the real set, whose Inception features are the reference for FID and KID.
    `baselines`: the gray and tint sets by their `BEATS` name, for the "beats" shares (None
    where a set is that baseline itself, or where none is given)."""
    values: dict[str, float | None] = {k: None for k in (*METRIC_KEYS, *EXTRA_KEYS)}
    values["psnr"] = float(scores.per_image["psnr"].mean())
    values["psnr_pooled"] = scores.psnr_pooled
    values["ssim"] = float(scores.per_image["ssim"].mean())
    values["colorfulness"] = float(scores.per_image["colorfulness"].mean())
    for key, name in BEATS.items():
        baseline = (baselines or {}).get(name)
        if baseline is not None and baseline is not scores:
            values[key] = beats(scores.per_image["psnr"], baseline.per_image["psnr"])
    values["hue"] = _percent(scores.hue.balanced())
    for key, share in zip(HUE_SECTOR_KEYS, scores.hue.by_sector().values(), strict=True):
        values[key] = _percent(share)
    if "lpips" in scores.per_image:
        values["lpips"] = float(scores.per_image["lpips"].mean())
    spread: dict[str, float] = {}
    if scores.pool is not None and real.pool is not None and scores.logits is not None:
        values["fid"] = frechet_distance(real.pool, scores.pool, device)
        values["kid"], spread["kid_std"] = kernel_inception_distance(
            real.pool, scores.pool, seed=seed
        )
        values["is"], spread["is_std"] = inception_score(scores.logits, seed=seed)
    per_image = {
        k: distribution(v, seed=seed) for k, v in scores.per_image.items() if k in PER_IMAGE_KEYS
    }
    identical = int(np.isinf(scores.per_image["psnr"]).sum())
    return {"values": values, "spread": spread, "per_image": per_image, "identical": identical}


def fid_warning(n: int) -> str | None:
    if n >= FID_FULL_RANK:
        return None
    return (
        f"FID on {n} images (< {FID_FULL_RANK}): the 2048-d feature covariance has rank at most "
        f"{n - 1}, so FID is biased and only comparable between sets of the same size; "
        "KID is unbiased at this size"
    )
