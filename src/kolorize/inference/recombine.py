"""The full-resolution recombination: a photo's own lightness (L) with colour (ab) predicted
at the model's small size.

The one place that puts L and ab together, for photos (`Colorizer`) and video frames alike:
the ab is upsampled bilinearly to the photo's size, L is the photo's original, full-resolution
one, so no detail is lost whatever the model's size (as richzhang/colorization, DeOldify and
DDColor do). The work runs in row chunks of about a megapixel, so beyond the photo itself and
its result (3 bytes a pixel each) memory stays flat: about 300 MB in all for 12 MP.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from kolorize.color import (
    denormalize_ab,
    denormalize_l,
    lab_to_rgb,
    to_uint8,
    uint8_to_model_space_numpy,
)

# Pixels per row chunk of the full-resolution work: about 4 MB per float channel.
CHUNK_PIXELS = 1 << 20
# Gamut mapping: overshooting sRGB by less than half an 8-bit step is only rounding, and
# 6 halvings find the chroma that fits to within 1/64 of the predicted one.
_GAMUT_TOP = 1 + 0.5 / 255
_BISECTION_STEPS = 6


def recombine(rgb: np.ndarray, ab_small: np.ndarray | None) -> np.ndarray:
    """(H, W, 3) uint8 photo + (2, h, w) predicted ab (scaled, any h, w) -> (H, W, 3) uint8.

    Keeps the photo's own L, upsamples ab bilinearly (as `F.interpolate(align_corners=False)`)
    and brings colours that fall outside sRGB back in by reducing their chroma at the same L
    and hue (instead of clipping R, G, B, which would change L), so the output's L equals the
    input's up to 8-bit rounding. `ab_small=None` gives the gray version. Works in row chunks
    to keep memory flat on big photos.
    """
    height, width, _ = rgb.shape
    out = np.empty_like(rgb)
    rows = max(1, CHUNK_PIXELS // width)
    if ab_small is not None:
        ys = _bilinear_taps(height, ab_small.shape[1])
        xs = _bilinear_taps(width, ab_small.shape[2])
    for r0 in range(0, height, rows):
        r1 = min(height, r0 + rows)
        L = _lightness(rgb[r0:r1])
        if ab_small is None:
            ab = np.zeros((2, *L.shape), np.float32)
        else:
            ab = _upsample(ab_small, ys, xs, r0, r1)
        out[r0:r1] = _to_uint8_in_gamut(L, ab)
    return out


@functools.cache
def _gray_lightness() -> np.ndarray:
    """Scaled L of the 256 gray levels."""
    levels = np.repeat(np.arange(256, dtype=np.uint8), 3).reshape(1, 1, 256, 3)
    return uint8_to_model_space_numpy(levels)[0, 0, 0]


def _lightness(rgb: np.ndarray) -> np.ndarray:
    """Scaled L of (r, W, 3) uint8 rows; black-and-white photos take a 256-entry table."""
    red = rgb[..., 0]
    if np.array_equal(red, rgb[..., 1]) and np.array_equal(red, rgb[..., 2]):
        return _gray_lightness()[red]
    return uint8_to_model_space_numpy(rgb[None])[0, 0]


def _bilinear_taps(out_len: int, in_len: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices and weights of bilinear resampling (PyTorch's align_corners=False)."""
    src = (np.arange(out_len, dtype=np.float64) + 0.5) * (in_len / out_len) - 0.5
    src = np.clip(src, 0, in_len - 1)
    i0 = np.floor(src).astype(np.int64)
    i1 = np.minimum(i0 + 1, in_len - 1)
    return i0, i1, (src - i0).astype(np.float32)


def _upsample(
    ab: np.ndarray,
    ys: tuple[np.ndarray, np.ndarray, np.ndarray],
    xs: tuple[np.ndarray, np.ndarray, np.ndarray],
    r0: int,
    r1: int,
) -> np.ndarray:
    """Rows r0:r1 of `ab` resampled to the full size: (2, r1 - r0, W)."""
    y0, y1, wy = (t[r0:r1] for t in ys)
    wy = wy[None, :, None]
    rows = ab[:, y0] * (1 - wy) + ab[:, y1] * wy
    x0, x1, wx = xs
    return rows[:, :, x0] * (1 - wx) + rows[:, :, x1] * wx


def _rgb_unclipped(L: np.ndarray, ab: np.ndarray) -> torch.Tensor:
    """Scaled L (n,) and ab (2, n) -> float sRGB (1, 3, 1, n), not clipped to [0, 1]."""
    lab_l = denormalize_l(torch.from_numpy(np.ascontiguousarray(L, np.float32)))
    lab_ab = denormalize_ab(torch.from_numpy(np.ascontiguousarray(ab, np.float32)))
    lab = torch.cat([lab_l.reshape(1, 1, 1, -1), lab_ab.reshape(1, 2, 1, -1)], dim=1)
    return lab_to_rgb(lab, clip=False)


def _out_of_gamut(rgb: torch.Tensor) -> np.ndarray:
    # lab_to_rgb clamps negative linear light to exactly 0, so a channel at 0 marks a colour
    # below the gamut (or true black, which loses nothing by losing its chroma).
    return ((rgb > _GAMUT_TOP) | (rgb <= 0)).any(dim=1)[0, 0].numpy()


def _to_uint8_in_gamut(L: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """(r, W) L + (2, r, W) ab -> (r, W, 3) uint8. Out-of-gamut pixels get the largest
    fraction of their chroma (found by bisection) that fits in sRGB."""
    flat_l = L.reshape(-1)
    flat_ab = ab.reshape(2, -1)
    rgb = _rgb_unclipped(flat_l, flat_ab)
    bad = np.flatnonzero(_out_of_gamut(rgb) & (flat_ab != 0).any(axis=0))
    if bad.size:
        bad_l, bad_ab = flat_l[bad], flat_ab[:, bad]
        lo = np.zeros(bad.size, np.float32)  # gray always fits
        hi = np.ones(bad.size, np.float32)
        for _ in range(_BISECTION_STEPS):
            mid = (lo + hi) / 2
            fits = ~_out_of_gamut(_rgb_unclipped(bad_l, bad_ab * mid))
            lo = np.where(fits, mid, lo)
            hi = np.where(fits, hi, mid)
        rgb[..., torch.from_numpy(bad)] = _rgb_unclipped(bad_l, bad_ab * lo)
    return to_uint8(rgb.clamp_(0, 1))[0, :, 0].T.reshape(*L.shape, 3).numpy()


__all__ = ["CHUNK_PIXELS", "recombine"]
