"""Colorfulness (Hasler & Suesstrunk 2003, "Measuring colourfulness in natural images").

    rg = R - G,  yb = (R + G) / 2 - B
    C  = sqrt(std(rg)^2 + std(yb)^2) + 0.3 * sqrt(mean(rg)^2 + mean(yb)^2)

per image, on RGB in 0..255 units, with population standard deviations (as in the paper's
definition and the usual reference code). Grey images score 0; vivid photos score 50-100+.
"""

from __future__ import annotations

import torch


def colorfulness(rgb: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB, uint8 or float in 0..255 -> (N,) colorfulness, float64."""
    if rgb.ndim != 4 or rgb.shape[1] != 3:
        raise ValueError(f"expected (N, 3, H, W) RGB, got shape {tuple(rgb.shape)}")
    r, g, b = rgb.double().flatten(2).unbind(1)
    rg = r - g
    yb = 0.5 * (r + g) - b
    sigma = torch.sqrt(rg.var(dim=1, correction=0) + yb.var(dim=1, correction=0))
    mu = torch.sqrt(rg.mean(dim=1) ** 2 + yb.mean(dim=1) ** 2)
    return sigma + 0.3 * mu
