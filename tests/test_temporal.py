"""TemporalSmoother on synthetic small L and ab (model space): what it carries, what it drops."""

from __future__ import annotations

import numpy as np
import pytest

from kolorize.video.temporal import TemporalSmoother, flicker, tone_change

S = 32


def _scene(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-0.8, 0.8, (S, S)).astype(np.float32)


def _noisy_ab(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.2 + rng.normal(0, 0.05, (n, 2, S, S))).astype(np.float32)


def _run(smoother: TemporalSmoother, Ls, abs_) -> np.ndarray:
    return np.stack([smoother(L, ab) for L, ab in zip(Ls, abs_, strict=True)])


def test_steady_shot_flickers_less_by_the_expected_factor() -> None:
    L, ab = _scene(0), _noisy_ab(40)
    out = _run(TemporalSmoother(0.7), [L] * 40, ab)
    # a running average with weight w on white noise: consecutive differences shrink by
    # (1 - w) / sqrt(1 + w) = 0.23 for w = 0.7
    assert flicker(out) / flicker(ab) == pytest.approx(0.23, abs=0.03)
    assert np.abs(out.mean(axis=0) - 0.2).max() < 0.05  # no bias: the colour stays the colour


def test_zero_strength_is_frame_by_frame() -> None:
    ab = _noisy_ab(5)
    np.testing.assert_array_equal(_run(TemporalSmoother(0), [_scene(0)] * 5, ab), ab)


def test_changed_pixels_take_the_new_colour_at_once() -> None:
    before, after = _scene(0), _scene(0).copy()
    after[8:16, 8:16] += 0.5  # something moved in here
    smoother = TemporalSmoother(0.9)
    smoother(before, np.zeros((2, S, S), np.float32))
    out = smoother(after, np.ones((2, S, S), np.float32))
    assert out[:, 10:14, 10:14].min() > 0.99  # inside the change: the new prediction
    assert out[:, 24:, 24:].max() == pytest.approx(0.1)  # elsewhere: 90 % carried colour


def test_exposure_flicker_is_neither_motion_nor_a_cut() -> None:
    L = _scene(0)
    smoother = TemporalSmoother(0.9)
    smoother(L, np.zeros((2, S, S), np.float32))
    out = smoother(np.clip(L + 0.1, -1, 1), np.ones((2, S, S), np.float32))  # 5 L brighter
    assert smoother.cuts == 0
    assert np.median(out) == pytest.approx(0.1, abs=0.01)


def test_a_cut_restarts_and_is_counted() -> None:
    smoother = TemporalSmoother(0.9)
    smoother(_scene(0), np.zeros((2, S, S), np.float32))
    new = np.full((2, S, S), 0.5, np.float32)
    np.testing.assert_array_equal(smoother(_scene(1) * 0.3, new), new)
    assert smoother.cuts == 1
    assert tone_change(_scene(0), _scene(0)) == 0
    assert tone_change(_scene(0), _scene(1) * 0.3) > smoother.cut


def test_strength_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="in \\[0, 1\\)"):
        TemporalSmoother(1.0)
