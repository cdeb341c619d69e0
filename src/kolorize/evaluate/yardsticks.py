"""Yardsticks that say whether a colorizer paints real colour or a sepia wash.

- **The mean-colour tint**: every pixel given one ab, the training photos' mean (a constant
  sepia-like filter on the photo's own L). A colorizer that cannot beat it in PSNR has learnt
  nothing a filter could not do; so per photo we count where a model beats the gray image
  and where it beats the tint.
- **Hue accuracy**: the truth's clearly coloured pixels (chroma C*ab > 15) fall into 6 sectors
  of 60 degrees of Lab hue (reds 0-60, yellows 60-120, greens, cyans, blues, magentas); in
  each, the share of pixels whose prediction is coloured (C*ab > 5) and within 30 degrees of
  the true hue. Pooled over a set's pixels per sector, then averaged over the sectors present
  (balanced), so a model cannot score by painting everything the commonest colour.

Images are uint8 RGB (N, 3, H, W); Lab comes from `kolorize.color` (tested against
scikit-image).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from kolorize.color import lab_to_rgb, rgb_to_lab, to_uint8

SECTORS = ("reds", "yellows", "greens", "cyans", "blues", "magentas")
TRUE_CHROMA = 15.0  # a truth pixel counts when its colour is this clear
PREDICTED_CHROMA = 5.0  # a prediction counts as coloured above this
HUE_TOLERANCE = 30.0  # degrees


def tint_images(images: torch.Tensor, mean_ab: tuple[float, float]) -> torch.Tensor:
    """The tint baseline: each (N, 3, H, W) uint8 image's own L with one ab everywhere."""
    lab = rgb_to_lab(images)
    lab[:, 1] = mean_ab[0]
    lab[:, 2] = mean_ab[1]
    return to_uint8(lab_to_rgb(lab))


def mean_ab(images: torch.Tensor) -> tuple[float, float]:
    """The mean (a, b) of the pixels of (N, 3, H, W) uint8 images, in Lab units."""
    lab = rgb_to_lab(images)
    return float(lab[:, 1].double().mean()), float(lab[:, 2].double().mean())


def _hue_and_chroma(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    lab = rgb_to_lab(images).double()
    a, b = lab[:, 1], lab[:, 2]
    return torch.rad2deg(torch.atan2(b, a)) % 360, torch.hypot(a, b)


@dataclass
class HueTally:
    """Per-sector counts of the truth's coloured pixels and of the right predictions."""

    pixels: np.ndarray = field(default_factory=lambda: np.zeros(len(SECTORS), np.int64))
    right: np.ndarray = field(default_factory=lambda: np.zeros(len(SECTORS), np.int64))

    def add(self, predicted: torch.Tensor, truth: torch.Tensor) -> None:
        """Count a batch of predictions against their truths (uint8 RGB, same shapes)."""
        true_hue, true_chroma = _hue_and_chroma(truth)
        hue, chroma = _hue_and_chroma(predicted)
        clear = true_chroma > TRUE_CHROMA
        sector = (true_hue // 60).long().clamp(0, len(SECTORS) - 1)
        gap = (hue - true_hue).abs()
        gap = torch.minimum(gap, 360 - gap)
        right = clear & (chroma > PREDICTED_CHROMA) & (gap <= HUE_TOLERANCE)
        self.pixels += np.bincount(sector[clear].numpy(), minlength=len(SECTORS))
        self.right += np.bincount(sector[right].numpy(), minlength=len(SECTORS))

    def by_sector(self) -> dict[str, float | None]:
        """Share right in each sector (None where the truth has no such pixels)."""
        return {
            name: (float(r / p) if p else None)
            for name, r, p in zip(SECTORS, self.right, self.pixels, strict=True)
        }

    def balanced(self) -> float | None:
        """The mean of the sectors' shares, over the sectors present."""
        shares = [v for v in self.by_sector().values() if v is not None]
        return float(np.mean(shares)) if shares else None
