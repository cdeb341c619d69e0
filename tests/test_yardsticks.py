"""The tint baseline and the hue accuracy, against scikit-image's Lab."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.color import lab2rgb, rgb2lab

from kolorize.evaluate.yardsticks import SECTORS, HueTally, mean_ab, tint_images


def _nchw(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(rgb).permute(2, 0, 1)[None]


def _hue_reference(pred: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-sector (pixels, right) from scikit-image's Lab, written out plainly."""
    t, p = rgb2lab(truth), rgb2lab(pred)
    th = np.degrees(np.arctan2(t[..., 2], t[..., 1])) % 360
    ph = np.degrees(np.arctan2(p[..., 2], p[..., 1])) % 360
    tc, pc = np.hypot(t[..., 1], t[..., 2]), np.hypot(p[..., 1], p[..., 2])
    pixels, right = np.zeros(6, int), np.zeros(6, int)
    for y, x in np.ndindex(th.shape):
        if tc[y, x] <= 15:
            continue
        s = min(int(th[y, x] // 60), 5)
        pixels[s] += 1
        gap = abs(ph[y, x] - th[y, x])
        right[s] += pc[y, x] > 5 and min(gap, 360 - gap) <= 30
    return pixels, right


def test_hue_accuracy_matches_an_independent_computation():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
    pred = np.clip(truth.astype(int) + rng.integers(-60, 60, truth.shape), 0, 255).astype(np.uint8)
    tally = HueTally()
    tally.add(_nchw(pred), _nchw(truth))
    pixels, right = _hue_reference(pred, truth)
    # float32 Lab against float64 may move a pixel sitting on a boundary
    assert np.abs(tally.pixels - pixels).max() <= 2
    assert np.abs(tally.right - right).max() <= 2
    shares = [r / p for r, p in zip(right, pixels, strict=True) if p]
    assert tally.balanced() == pytest.approx(np.mean(shares), abs=0.02)


def test_the_truth_scores_every_sector_and_gray_none():
    hues = np.array([30, 90, 150, 210, 270, 330])
    angles = np.radians(hues)
    lab = np.stack([np.full(6, 60.0), 40 * np.cos(angles), 40 * np.sin(angles)], -1)
    truth = (np.clip(lab2rgb(lab[None]), 0, 1) * 255).round().astype(np.uint8)
    tally = HueTally()
    tally.add(_nchw(truth), _nchw(truth))
    assert tally.by_sector() == dict.fromkeys(SECTORS, 1.0)
    gray = np.repeat(truth.mean(-1, keepdims=True).astype(np.uint8), 3, -1)
    tally = HueTally()
    tally.add(_nchw(gray), _nchw(truth))
    assert tally.balanced() == 0.0


def test_tint_keeps_lightness_and_gives_every_pixel_the_mean_colour():
    rng = np.random.default_rng(1)
    photo = (rng.random((16, 16, 3)) * 120 + 60).astype(np.uint8)  # mid tones: no clipping
    tinted = tint_images(_nchw(photo), (-1.3, 10.7))[0].permute(1, 2, 0).numpy()
    lab, ref = rgb2lab(tinted), rgb2lab(photo)
    assert np.abs(lab[..., 0] - ref[..., 0]).max() < 0.6
    assert np.abs(lab[..., 1] + 1.3).max() < 1.2 and np.abs(lab[..., 2] - 10.7).max() < 1.2
    a, b = mean_ab(_nchw(photo))
    assert a == pytest.approx(ref[..., 1].mean(), abs=0.05)
    assert b == pytest.approx(ref[..., 2].mean(), abs=0.05)
