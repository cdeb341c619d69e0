"""Colour hints: small squares of known colour given to a hint-capable generator beside L
(Zhang et al. 2017, "Real-Time User-Guided Image Colorization with Learned Deep Priors").

A hint is a square patch (top, left, side) in the generator's input pixels with one ab colour.
The generator's three hint channels are that ab where a patch lies (overlapping patches
averaged) and a mask that is 1 there, 0 elsewhere. Training draws random patches and gives
each the true colour's mean over it (`draw_hint_patches`, `true_colour_hints`); a user's hint
gives its own colour (`kolorize.inference.user_hints`). Both rasterise through `hint_channels`.

True colours alone teach a hint to say what the whole photo's cast is, so a user's hint of
another colour repaints far more than its object. A share of the hinted training images
therefore gets one object recoloured (`draw_recolours`, `recolour_objects`): the pixels that
look like the first patch and lie near it move to a new colour, in the target and in the
hints drawn from it; all else keeps its true colour, so the model learns where a hint ends.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from kolorize.color import AB_SCALE, L_SCALE

MAX_HINTS = 32  # patches per image in training; the geometric count is cut here
MAX_SIDE = 9  # training patches are 1..MAX_SIDE pixels square
# Recoloured objects: new colours lie in a disc of this model-space ab radius (77 in Lab);
# a pixel follows the patch by how alike it looks (Lab distance after a 5 px box blur, so
# texture counts as alike; e^-1/2 at ALIKE_LAB) and how near it lies (e^-1/2 at REACH of
# the image's side).
RECOLOUR_CHROMA = 0.7
ALIKE_LAB = 10.0
REACH = 0.4


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


def draw_recolours(rng: np.random.Generator, patches: np.ndarray, share: float) -> np.ndarray:
    """(n, 3) float32 (on, a, b) for n images' patches: for a share `share` of the images with
    hints, a new model-space colour for the object under their first patch; on = 0 for the
    rest (patches come first-used, so an image has hints iff its first patch has a side)."""
    n = len(patches)
    on = (patches[:, 0, 2] > 0) & (rng.random(n) < share)
    hue = rng.random(n) * 2 * math.pi
    chroma = np.sqrt(rng.random(n)) * RECOLOUR_CHROMA  # uniform over the disc
    return np.stack([on, chroma * np.cos(hue), chroma * np.sin(hue)], -1).astype(np.float32)


def recolour_objects(
    L: torch.Tensor, ab: torch.Tensor, patches: torch.Tensor, recolours: torch.Tensor
) -> torch.Tensor:
    """The model-space (N, 2, H, W) `ab` with, where `recolours` is on, the object under each
    image's first patch shifted so that the patch takes the new colour: each pixel by a
    weight that falls with its Lab distance to the patch and its distance from it (see
    ALIKE_LAB, REACH). Images without a recolour come back unchanged."""
    h, w = ab.shape[-2:]
    first = _patch_masks(patches[:, :1], h, w)[:, 0]
    area = first.sum((1, 2)).clamp_min(1)
    lab = torch.cat([L.float() * L_SCALE, ab.float() * AB_SCALE], 1)
    smooth = F.avg_pool2d(lab, 5, 1, 2, count_include_pad=False)
    seed = torch.einsum("nyx,ncyx->nc", first, smooth) / area[:, None]
    alike = (smooth - seed[..., None, None]).square().sum(1) / (2 * ALIKE_LAB**2)
    top, left, side = patches[:, 0].float().unbind(-1)
    cy, cx = top + (side - 1) / 2, left + (side - 1) / 2
    ys = torch.arange(h, device=ab.device, dtype=torch.float32)
    xs = torch.arange(w, device=ab.device, dtype=torch.float32)
    near = (
        (ys[None, :, None] - cy[:, None, None]).square()
        + (xs[None, None, :] - cx[:, None, None]).square()
    ) / (2 * (REACH**2) * h * w)
    weight = torch.exp(-alike - near) * recolours[:, 0, None, None]
    shift = recolours[:, 1:] - seed[:, 1:] / AB_SCALE
    return (ab.float() + weight[:, None] * shift[..., None, None]).clamp(-1, 1)
