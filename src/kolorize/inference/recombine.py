"""The full-resolution recombination: a photo's own lightness (L) with colour (ab) predicted
at the model's small size.

The one place that puts L and ab together, for photos (`Colorizer`) and video frames alike:
the ab is upsampled bilinearly to the photo's size, L is the photo's original, full-resolution
one, so no detail is lost whatever the model's size (as richzhang/colorization, DeOldify and
DDColor do). The work runs in row chunks of about a megapixel, so beyond the photo itself and
its result (3 bytes a pixel each) memory stays flat: about 300 MB in all for 12 MP. 16-bit
photos (uint16) come back 16-bit, their L kept at 16 bits.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from kolorize.color import (
    denormalize_ab,
    denormalize_l,
    lab_to_linear_rgb,
    linear_to_srgb,
    srgb_to_linear,
    to_pixels,
    uint8_to_model_lightness_numpy,
)

# Pixels per row chunk of the full-resolution work: about 4 MB per float channel.
CHUNK_PIXELS = 1 << 20
# Gamut mapping: overshooting sRGB by less than half a step of the output (8 or 16 bits) is
# only rounding, and 6 halvings find the chroma that fits to within 1/64 of the predicted one.
# The test runs on linear light, so the sRGB curve is applied once per pixel, not once per
# halving.
_LINEAR_TOP = {
    np.dtype(dtype): float(srgb_to_linear(torch.tensor(1 + 0.5 / top, dtype=torch.float64)))
    for dtype, top in ((np.uint8, 255), (np.uint16, 65535))
}
_BISECTION_STEPS = 6


def recombine(rgb: np.ndarray, ab_small: np.ndarray | None) -> np.ndarray:
    """(H, W, 3) uint8 or uint16 photo + (2, h, w) predicted ab (scaled, any h, w) -> the
    colour photo, (H, W, 3) of the same dtype.

    Keeps the photo's own L, upsamples ab bilinearly (as `F.interpolate(align_corners=False)`)
    and brings colours that fall outside sRGB back in by reducing their chroma at the same L
    and hue (instead of clipping R, G, B, which would change L), so the output's L equals the
    input's up to 8-bit rounding. `ab_small=None` gives the gray version. Works in row chunks
    to keep memory flat on big photos.
    """
    height, width, _ = rgb.shape
    out = np.empty(rgb.shape, rgb.dtype)  # `rgb` may be a read-only broadcast of a gray image
    rows = max(1, CHUNK_PIXELS // width)
    if ab_small is not None:
        ab_small = np.asarray(ab_small, np.float32)
        xs = _bilinear_taps(width, ab_small.shape[2])
        ys = _bilinear_taps(height, ab_small.shape[1])
    for r0 in range(0, height, rows):
        r1 = min(height, r0 + rows)
        L = _lightness(rgb[r0:r1])
        if ab_small is None:
            ab = np.zeros((2, *L.shape), np.float32)
        else:
            ab = _upsample_rows(ab_small, xs, ys, r0, r1)
        out[r0:r1] = _to_pixels_in_gamut(L, ab, rgb.dtype)
    return out


@functools.cache
def _gray_lightness(dtype: np.dtype) -> np.ndarray:
    """Scaled L of the 256 (or 65536) gray levels."""
    levels = np.arange(np.iinfo(dtype).max + 1, dtype=dtype)
    return uint8_to_model_lightness_numpy(np.repeat(levels, 3).reshape(-1, 3))


def _lightness(rgb: np.ndarray) -> np.ndarray:
    """Scaled L of (r, W, 3) uint8 or uint16 rows; black-and-white photos take a table."""
    red = rgb[..., 0]
    if np.array_equal(red, rgb[..., 1]) and np.array_equal(red, rgb[..., 2]):
        return _gray_lightness(rgb.dtype)[red]
    return uint8_to_model_lightness_numpy(rgb)


Taps = tuple[np.ndarray, np.ndarray, np.ndarray]  # source indices below, above, and weights


def _bilinear_taps(out_len: int, in_len: int) -> Taps:
    """Source indices and weights of bilinear resampling (PyTorch's align_corners=False)."""
    src = (np.arange(out_len, dtype=np.float64) + 0.5) * (in_len / out_len) - 0.5
    src = np.clip(src, 0, in_len - 1)
    i0 = np.floor(src).astype(np.int64)
    i1 = np.minimum(i0 + 1, in_len - 1)
    return i0, i1, (src - i0).astype(np.float32)


def _upsample_rows(ab: np.ndarray, xs: Taps, ys: Taps, r0: int, r1: int) -> np.ndarray:
    """Rows r0:r1 of `ab` (2, h, w) resampled to the full width: (2, r1 - r0, W). Columns
    first, on only the source rows these rows take (at most two per row, so memory stays
    flat): the second pass then copies whole rows instead of gathering along every row."""
    i0, i1, w = (t[r0:r1] for t in ys)
    needed, where = np.unique(np.concatenate([i0, i1]), return_inverse=True)
    wide = _resample(ab[:, needed], xs, axis=2)
    return _resample(wide, (where[: len(i0)], where[len(i0) :], w), axis=1)


def _resample(ab: np.ndarray, taps: Taps, axis: int) -> np.ndarray:
    """`ab` (2, h, w) linearly resampled along `axis` at `taps` (indices and weights)."""
    i0, i1, w = taps
    w = w.reshape([-1 if a == axis else 1 for a in range(3)])
    near, far = np.take(ab, i0, axis=axis), np.take(ab, i1, axis=axis)
    far -= near
    far *= w
    far += near
    return far


def _linear_rgb(L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """Scaled L (n,) and ab (2, n) -> linear-light RGB (3, n), unclipped."""
    lab = torch.cat([denormalize_l(L)[None], denormalize_ab(ab)]).reshape(1, 3, 1, -1)
    return lab_to_linear_rgb(lab)[0, :, 0]


def _out_of_gamut(linear: torch.Tensor, top: float) -> torch.Tensor:
    # a channel at or below 0 marks a colour below the gamut (or true black, which loses
    # nothing by losing its chroma)
    return ((linear > top) | (linear <= 0)).any(dim=0)


def _to_pixels_in_gamut(L: np.ndarray, ab: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """(r, W) L + (2, r, W) ab -> (r, W, 3) pixels of `dtype` (uint8 or uint16). Out-of-gamut
    pixels get the largest fraction of their chroma (found by bisection) that fits in sRGB."""
    top = _LINEAR_TOP[np.dtype(dtype)]
    flat_l = torch.from_numpy(np.ascontiguousarray(L, np.float32)).reshape(-1)
    flat_ab = torch.from_numpy(np.ascontiguousarray(ab, np.float32)).reshape(2, -1)
    linear = _linear_rgb(flat_l, flat_ab)
    bad = torch.nonzero(_out_of_gamut(linear, top) & (flat_ab != 0).any(dim=0))[:, 0]
    if bad.numel():
        bad_l, bad_ab = flat_l[bad], flat_ab[:, bad]
        best = _linear_rgb(bad_l, torch.zeros_like(bad_ab))  # gray always fits
        lo = torch.zeros(bad.numel())
        hi = torch.ones(bad.numel())
        for _ in range(_BISECTION_STEPS):
            mid = (lo + hi) / 2
            tried = _linear_rgb(bad_l, bad_ab * mid)
            fits = ~_out_of_gamut(tried, top)
            best = torch.where(fits, tried, best)
            lo = torch.where(fits, mid, lo)
            hi = torch.where(fits, hi, mid)
        linear[:, bad] = best
    srgb = linear_to_srgb(linear.clamp_min_(0)).clamp_(0, 1)
    return to_pixels(srgb, dtype).T.reshape(*L.shape, 3)


__all__ = ["CHUNK_PIXELS", "recombine"]
