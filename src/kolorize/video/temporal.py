"""Steady colour across video frames.

Each frame's colour is predicted alone, so small changes in a frame (film grain, noise,
compression) make the predicted colour flicker from frame to frame. `TemporalSmoother` carries
colour over time at the model's size, before the colour is put on the full-resolution
lightness:

- a running average of the predicted ab, weighted per pixel by how much the lightness there
  has stayed the same: where L is steady the colour is averaged over recent frames; where L
  changed (a moving object, a new scene) the new prediction is taken at once, so motion does
  not smear;
- the lightness comparison ignores a change of the whole frame's L (the median change), so
  exposure flicker (common in old film) does not count as motion;
- a scene cut restarts the average. Cuts are found from the change of the lightness histogram
  (`tone_change`): a pan or a moving object moves pixels but keeps the tones, another scene
  does not. A cut the histogram misses (two scenes of the same tones) is still caught pixel by
  pixel by the motion gate.

Everything works on the small (S, S) model-space arrays (L and ab in [-1, 1]), so the cost per
frame is a few small numpy operations whatever the video's resolution.
"""

from __future__ import annotations

import numpy as np

# Per-pixel lightness change (model space, [-1, 1]; 0.08 = 4 CIE L units) at which a pixel's
# carried colour has lost about two thirds of its weight: noise and grain stay well below it,
# a moving edge far above.
DEFAULT_MOTION = 0.08
# `tone_change` above which a frame starts a new shot. On scikit-image photos at 32x32: grain
# 0.03, pans of 5-10 % of the width a frame 0.045-0.07, cuts between 8 photos 0.16-0.78.
DEFAULT_CUT = 0.12
_BINS = 16
DEFAULT_STRENGTH = 0.7


class TemporalSmoother:
    """Feed it each frame's small L (S, S) and predicted ab (2, S, S) in display order; it
    returns the ab to use. `strength` in [0, 1): the weight of the carried colour on pixels that
    did not change (0 = frame by frame, no smoothing)."""

    def __init__(
        self,
        strength: float = DEFAULT_STRENGTH,
        *,
        motion: float = DEFAULT_MOTION,
        cut: float = DEFAULT_CUT,
    ) -> None:
        if not 0 <= strength < 1:
            raise ValueError(f"temporal strength must be in [0, 1), got {strength}")
        self.strength = strength
        self.motion = motion
        self.cut = cut
        self.cuts = 0  # scene cuts seen (the first frame does not count)
        self._prev_L: np.ndarray | None = None
        self._L: np.ndarray | None = None  # the lightness the carried colour belongs to
        self._ab: np.ndarray | None = None

    def __call__(self, L: np.ndarray, ab: np.ndarray) -> np.ndarray:
        L = np.asarray(L, np.float32).reshape(ab.shape[-2:])
        ab = np.asarray(ab, np.float32)
        if self.strength == 0:
            return ab
        prev = self._prev_L
        self._prev_L = L
        if prev is None or self.is_cut(prev, L):
            self.cuts += prev is not None
            self._L, self._ab = L, ab
            return ab
        assert self._L is not None and self._ab is not None
        diff = L - self._L
        change = _box3(np.abs(diff - np.median(diff)))
        keep = self.strength * np.exp(-((change / self.motion) ** 2))
        self._ab = keep * self._ab + (1 - keep) * ab
        self._L = keep * self._L + (1 - keep) * L
        return self._ab

    def is_cut(self, before: np.ndarray, after: np.ndarray) -> bool:
        return tone_change(before, after) > self.cut


def tone_change(before: np.ndarray, after: np.ndarray) -> float:
    """How much the tones of a frame changed, in [0, 1]: half the L1 distance between the two
    lightness histograms, taken as is and centred on each frame's mean, whichever is smaller.
    Centring ignores exposure flicker; the plain histogram ignores the change of mean L that a
    pan onto a darker part of the scene brings."""
    return min(
        _half_l1(_histogram(before), _histogram(after)),
        _half_l1(_histogram(before - before.mean()), _histogram(after - after.mean())),
    )


def _half_l1(p: np.ndarray, q: np.ndarray) -> float:
    return float(np.abs(p - q).sum()) / 2


def _histogram(L: np.ndarray) -> np.ndarray:
    counts, _ = np.histogram(L, bins=_BINS, range=(-1, 1))
    return counts / max(1, counts.sum())


def _box3(x: np.ndarray) -> np.ndarray:
    """3x3 mean with edge replication: one noisy pixel does not decide alone."""
    p = np.pad(x, 1, mode="edge")
    h, w = x.shape
    return sum(p[i : i + h, j : j + w] for i in range(3) for j in range(3)) / 9


def flicker(ab_frames: np.ndarray) -> float:
    """Mean |change of ab| between consecutive frames, (T, 2, H, W) in any one scale: the
    flicker measure of a static shot."""
    return float(np.abs(np.diff(ab_frames, axis=0)).mean())


__all__ = ["DEFAULT_CUT", "DEFAULT_MOTION", "DEFAULT_STRENGTH", "TemporalSmoother", "flicker"]
