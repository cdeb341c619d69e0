"""Colour as classes (Zhang, Isola & Efros 2016, "Colorful Image Colorization").

The ab plane is cut into squares 10 units wide; the squares that hold some sRGB colour are
the classes (261; the paper's 313 came from a wider gamut). A true colour becomes a soft
target over its 5 nearest centres (Gaussian weights, sigma 5). Rare colours weigh more (class
rebalancing): w = 1 / ((1 - lambda) * prior + lambda / Q), scaled so that its expectation
under the prior is 1, from the training photos' histogram smoothed with the same Gaussian. A
predicted distribution becomes one colour by the annealed mean: the mean of the centres under
softmax(logits / T); T = 1 is the plain mean (sepia-safe), T -> 0 the most likely class. A
mean of centres of different hues is paler than any of them (green and brown average to olive
grey), so the decoding may give back chroma: with `chroma_gain` g the mean's length m becomes
m^(1 - g) * E^g, E the expected chroma of the centres under the same distribution (g = 0: the
annealed mean; g = 1: the mean's hue at the expected chroma). As E >= m, this only adds colour,
never more than the distribution's own expected chroma.

ab here is in the model's units (ab / 110, `kolorize.color`), as the generator sees it.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F

from kolorize.color import AB_SCALE

GRID = 10.0  # ab units between class centres
SIGMA = 5.0  # ab units: the soft target's and the prior's Gaussian
NEIGHBOURS = 5
REBALANCE = 0.5  # lambda of the paper
# The soft targets are looked up on a 1-unit grid of ab: far finer than the 10-unit classes.
_LUT_RANGE = 128


# The classes: for each a (in tens), the b range (in tens, inclusive) of the 10x10 squares
# that hold the ab of some sRGB colour (every colour of the 8-bit cube, rounded to the
# nearest square). tests/test_ab_bins.py recomputes it.
GAMUT_COLUMNS = {
    -9: (8, 8), -8: (4, 8), -7: (2, 9), -6: (0, 9), -5: (-2, 9), -4: (-3, 9), -3: (-4, 9),
    -2: (-4, 9), -1: (-5, 9), 0: (-6, 9), 1: (-7, 8), 2: (-7, 8), 3: (-8, 8), 4: (-9, 8),
    5: (-9, 7), 6: (-10, 7), 7: (-11, 7), 8: (-11, 7), 9: (-9, 0), 10: (-7, -5),
}  # fmt: skip


@functools.lru_cache(maxsize=1)
def class_centres() -> np.ndarray:
    """(Q, 2) float32 ab (Lab units) of the classes, a ascending, then b ascending."""
    ab = [(a, b) for a, (lo, hi) in GAMUT_COLUMNS.items() for b in range(lo, hi + 1)]
    return np.array(ab, dtype=np.float32) * GRID


def n_classes() -> int:
    return len(class_centres())


@functools.lru_cache(maxsize=1)
def _soft_lut() -> tuple[torch.Tensor, torch.Tensor]:
    """For every integer (a, b) in [-128, 128]^2: the indices of its 5 nearest class centres
    (int64, (257*257, 5)) and their normalised Gaussian weights (float32)."""
    steps = torch.arange(-_LUT_RANGE, _LUT_RANGE + 1, dtype=torch.float32)
    grid = torch.stack(torch.meshgrid(steps, steps, indexing="ij"), -1).reshape(-1, 2)
    centres = torch.from_numpy(class_centres())
    d2 = torch.cdist(grid, centres).square()
    near_d2, near = d2.topk(NEIGHBOURS, dim=1, largest=False)
    weights = torch.exp(-near_d2 / (2 * SIGMA**2))
    return near, weights / weights.sum(1, keepdim=True)


def _lut_rows(ab: torch.Tensor) -> torch.Tensor:
    """(N, 2, H, W) model-space ab -> (N, H, W) rows of the soft-target table."""
    units = (ab.float() * AB_SCALE).round().clamp(-_LUT_RANGE, _LUT_RANGE).long() + _LUT_RANGE
    return units[:, 0] * (2 * _LUT_RANGE + 1) + units[:, 1]


def soft_targets(ab: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 2, H, W) model-space ab -> (indices (N, 5, H, W), weights (N, 5, H, W)) of each
    pixel's 5 nearest classes."""
    near, weights = _soft_lut()
    rows = _lut_rows(ab)
    idx = near.to(ab.device)[rows].permute(0, 3, 1, 2)
    w = weights.to(ab.device)[rows].permute(0, 3, 1, 2)
    return idx, w


def nearest_class(ab: torch.Tensor) -> torch.Tensor:
    """(N, 2, H, W) model-space ab -> (N, H, W) index of the nearest class."""
    near, _ = _soft_lut()
    return near.to(ab.device)[_lut_rows(ab), 0]


def class_histogram(ab: torch.Tensor) -> torch.Tensor:
    """Soft counts (Q,) float64 of the pixels of (N, 2, H, W) model-space ab over the classes."""
    idx, w = soft_targets(ab)
    counts = torch.zeros(n_classes(), dtype=torch.float64)
    counts.index_add_(0, idx.flatten().cpu(), w.flatten().double().cpu())
    return counts


def smoothed_prior(counts: torch.Tensor) -> torch.Tensor:
    """A histogram over the classes (Q,) -> the probability distribution it gives after
    smoothing with a Gaussian of SIGMA over the ab plane (float64, sums to 1)."""
    centres = torch.from_numpy(class_centres()).double()
    kernel = torch.exp(-torch.cdist(centres, centres).square() / (2 * SIGMA**2))
    p = counts.double() / counts.sum()
    smooth = kernel @ p
    return smooth / smooth.sum()


def rebalancing_weights(prior: torch.Tensor, rebalance: float = REBALANCE) -> torch.Tensor:
    """(Q,) float32 class weights, ((1 - lambda) prior + lambda / Q)^-1, scaled so that their
    expectation under `prior` is 1: lambda = 1 weighs every class 1, lambda = 0 by the
    inverse of its frequency."""
    q = len(prior)
    w = 1.0 / ((1 - rebalance) * prior.double() + rebalance / q)
    w = w / (prior.double() * w).sum()
    return w.float()


def unbalancing_offset(weights: torch.Tensor, strength: float) -> torch.Tensor:
    """(Q,) logit offset that undoes `strength` (0..1) of the rebalancing a model was trained
    with: rebalanced cross-entropy makes the predicted distribution about w * p rather than
    p, so adding -log w to the logits gives back p, whose mean is the accurate, muted colour
    (the most PSNR); 0 keeps the vivid rebalanced one."""
    return -strength * torch.log(weights.double()).float()


def classification_loss(
    logits: torch.Tensor, ab: torch.Tensor, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Rebalanced cross-entropy of (N, Q, h, w) logits against the soft targets of the true
    (N, 2, H, W) model-space ab (area-averaged to h x w first), a mean over pixels."""
    if ab.shape[-2:] != logits.shape[-2:]:
        ab = F.adaptive_avg_pool2d(ab.float(), logits.shape[-2:])
    idx, w = soft_targets(ab)
    log_p = F.log_softmax(logits.float(), dim=1).gather(1, idx)
    per_pixel = -(w * log_p).sum(1)
    if weights is not None:
        per_pixel = per_pixel * weights.to(logits.device)[nearest_class(ab)]
    return per_pixel.mean()


@functools.lru_cache(maxsize=8)
def _centres_on(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The class centres in model units (Q, 2) and their chromas (Q,) on `device`, made once
    per device rather than copied there on every decoding. Made outside inference mode even when
    first asked for in it, so that training can still take gradients through them."""
    with torch.inference_mode(False):
        centres = torch.from_numpy(class_centres()).to(device, torch.float32) / AB_SCALE
        return centres, centres.norm(dim=1)


def annealed_mean(
    logits: torch.Tensor,
    temperature: torch.Tensor | float,
    chroma_gain: torch.Tensor | float = 0.0,
) -> torch.Tensor:
    """(N, Q, h, w) logits -> (N, 2, h, w) model-space ab: the centres' mean under
    softmax(logits / T), its chroma raised toward the expected chroma by `chroma_gain`."""
    centres, chromas = _centres_on(logits.device)
    p = F.softmax(logits.float() / temperature, dim=1)
    mean = torch.einsum("nqhw,qc->nchw", p, centres)
    # a plain 0 (the training's decoding) skips the chroma terms; a buffer's value is not read,
    # which would wait for a GPU, so a model always computes them
    if not isinstance(chroma_gain, torch.Tensor) and chroma_gain == 0:
        return mean
    expected = torch.einsum("nqhw,q->nhw", p, chromas)[:, None]
    length = mean.norm(dim=1, keepdim=True).clamp_min(1e-6)
    # the ratio >= 1 (a mean is never longer than the lengths' mean); clamped for rounding
    return mean * (expected / length).clamp_min(1.0) ** chroma_gain
