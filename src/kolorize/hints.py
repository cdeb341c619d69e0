"""Colour hints: small squares of known colour given to a hint-capable generator beside L
(Zhang et al. 2017, "Real-Time User-Guided Image Colorization with Learned Deep Priors").

A hint is a square patch (top, left, side) in the generator's input pixels with one ab colour.
The generator's three hint channels are that ab where a patch lies (overlapping patches
averaged) and a mask that is 1 there, 0 elsewhere. Training draws random patches and gives
each the true colour's mean over it (`draw_hint_patches`, `true_colour_hints`); a user's hint
gives its own colour (`kolorize.inference.user_hints`). Both rasterise through `hint_channels`.
"""

from __future__ import annotations

import numpy as np
import torch

MAX_HINTS = 32  # patches per image in training; the geometric count is cut here
MAX_SIDE = 9  # training patches are 1..MAX_SIDE pixels square


def draw_hint_patches(
    rng: np.random.Generator, n: int, size: int, *, p: float, free_share: float
) -> np.ndarray:
    """(n, MAX_HINTS, 3) int32 patches (top, left, side; side 0 = unused) for n images of
    size x size: none for a share `free_share` of the images, else a geometric(p) number."""
    counts = np.minimum(rng.geometric(p, n), MAX_HINTS)
    counts[rng.random(n) < free_share] = 0
    sides = rng.integers(1, min(MAX_SIDE, size) + 1, (n, MAX_HINTS))
    tops = (rng.random((n, MAX_HINTS)) * (size - sides + 1)).astype(np.int64)
    lefts = (rng.random((n, MAX_HINTS)) * (size - sides + 1)).astype(np.int64)
    sides[np.arange(MAX_HINTS)[None, :] >= counts[:, None]] = 0
    return np.stack([tops, lefts, sides], -1).astype(np.int32)


def _patch_masks(patches: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(N, K, 3) patches -> (N, K, H, W) float masks, 1 inside each patch."""
    top, left, side = patches.long().unbind(-1)
    ys = torch.arange(height, device=patches.device)
    xs = torch.arange(width, device=patches.device)
    in_y = (ys >= top[..., None]) & (ys < (top + side)[..., None])
    in_x = (xs >= left[..., None]) & (xs < (left + side)[..., None])
    return (in_y[..., :, None] & in_x[..., None, :]).float()


def hint_channels(patches: torch.Tensor, colours: torch.Tensor, height: int, width: int):
    """(N, K, 3) patches with (N, K, 2) model-space ab colours -> (N, 3, H, W) hint channels:
    the patches' ab (averaged where they overlap) and the mask."""
    masks = _patch_masks(patches, height, width)
    cover = masks.sum(1)
    ab = torch.einsum("nkyx,nkc->ncyx", masks, colours.float()) / cover.clamp_min(1)[:, None]
    return torch.cat([ab, (cover > 0).float()[:, None]], 1)


def true_colour_hints(patches: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """Training hints: each patch with the true (N, 2, H, W) ab's mean over it -> (N, 3, H, W)
    hint channels."""
    h, w = ab.shape[-2:]
    masks = _patch_masks(patches, h, w)
    area = masks.sum((2, 3)).clamp_min(1)
    colours = torch.einsum("nkyx,ncyx->nkc", masks, ab.float()) / area[..., None]
    cover = masks.sum(1)
    hint_ab = torch.einsum("nkyx,nkc->ncyx", masks, colours) / cover.clamp_min(1)[:, None]
    return torch.cat([hint_ab, (cover > 0).float()[:, None]], 1)
