"""CIE Lab (D65) <-> sRGB on torch tensors, and the study's scaling of L and ab.

This is the only module that knows the scaling constants: the generator sees L/50 - 1 and
predicts ab/110, both roughly in [-1, 1] (the pix2pix colorization convention).

All functions are batched (N, 3, H, W) or (3, H, W), differentiable and device-agnostic.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

L_SCALE = 50.0
AB_SCALE = 110.0

# sRGB (D65) -> XYZ, rows divided by the D65 white point so that white maps to (1, 1, 1).
_RGB_TO_XYZ = (
    (0.412453, 0.357580, 0.180423),
    (0.212671, 0.715160, 0.072169),
    (0.019334, 0.119193, 0.950227),
)
_WHITE_D65 = (0.950456, 1.0, 1.088754)
_RGB_TO_XYZ_NORMALISED = np.array(_RGB_TO_XYZ) / np.array(_WHITE_D65)[:, None]  # float64
_DELTA = 6.0 / 29.0


@functools.lru_cache(maxsize=32)
def _conversion_matrices(dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, ...]:
    """(RGB -> normalised XYZ, its inverse) as tensors on `device`, built once per dtype and
    device: a tensor built from Python numbers is a host-to-device copy, which a CUDA graph
    cannot capture and which syncs every training step."""
    forward = torch.tensor(_RGB_TO_XYZ_NORMALISED)
    inverse = torch.linalg.inv(forward)
    return forward.to(device, dtype), inverse.to(device, dtype)


def _apply_3x3(m: torch.Tensor, img: torch.Tensor) -> torch.Tensor:
    """Multiply every pixel of a (..., 3, H, W) tensor by a 3x3 matrix."""
    flat = img.reshape(*img.shape[:-3], 3, -1)
    return (m @ flat).reshape(img.shape)


def srgb_to_linear(rgb: torch.Tensor) -> torch.Tensor:
    return torch.where(
        rgb > 0.04045, ((rgb.clamp_min(0.04045) + 0.055) / 1.055).pow(2.4), rgb / 12.92
    )


def linear_to_srgb(lin: torch.Tensor) -> torch.Tensor:
    return torch.where(
        lin > 0.0031308, 1.055 * lin.clamp_min(0.0031308).pow(1 / 2.4) - 0.055, 12.92 * lin
    )


def _xyz_to_lab(xyz: torch.Tensor) -> torch.Tensor:
    f = torch.where(
        xyz > _DELTA**3,
        xyz.clamp_min(_DELTA**3).pow(1 / 3),
        xyz / (3 * _DELTA**2) + 4 / 29,
    )
    fx, fy, fz = f.unbind(-3)
    return torch.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], dim=-3)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB in [0, 1] (or uint8), (..., 3, H, W) -> Lab: L in [0, 100], a/b about [-128, 127]."""
    if rgb.shape[-3] != 3:
        raise ValueError(f"expected 3 channels at dim -3, got shape {tuple(rgb.shape)}")
    rgb = rgb if rgb.is_floating_point() else rgb.float() / 255
    xyz = _apply_3x3(_conversion_matrices(rgb.dtype, rgb.device)[0], srgb_to_linear(rgb))
    return _xyz_to_lab(xyz)


def lab_to_linear_rgb(lab: torch.Tensor) -> torch.Tensor:
    """Lab (..., 3, H, W) -> linear-light RGB, unclipped: outside [0, 1] where the colour is
    outside the sRGB gamut."""
    L, a, b = lab.unbind(-3)
    fy = (L + 16) / 116
    f = torch.stack([fy + a / 500, fy, fy - b / 200], dim=-3)
    xyz = torch.where(f > _DELTA, f.pow(3), 3 * _DELTA**2 * (f - 4 / 29))
    return _apply_3x3(_conversion_matrices(xyz.dtype, xyz.device)[1], xyz)


def lab_to_rgb(lab: torch.Tensor, clip: bool = True) -> torch.Tensor:
    """Lab (..., 3, H, W) -> sRGB in [0, 1] (clipped to the gamut unless clip=False; negative
    linear light is always cut to 0)."""
    rgb = linear_to_srgb(lab_to_linear_rgb(lab).clamp_min(0))
    return rgb.clamp(0, 1) if clip else rgb


# -- the study's scaling --------------------------------------------------------------------


def normalize_l(L: torch.Tensor) -> torch.Tensor:
    """L in [0, 100] -> [-1, 1]."""
    return L / L_SCALE - 1


def normalize_ab(ab: torch.Tensor) -> torch.Tensor:
    return ab / AB_SCALE


def denormalize_l(L: torch.Tensor) -> torch.Tensor:
    return (L + 1) * L_SCALE


def denormalize_ab(ab: torch.Tensor) -> torch.Tensor:
    return ab * AB_SCALE


def rgb_to_model_space(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """RGB (uint8 or float in [0, 1]), (N, 3, H, W) -> (L, ab) scaled for the generator.

    L has shape (N, 1, H, W) in [-1, 1]; ab has shape (N, 2, H, W), roughly in [-1, 1].
    """
    lab = rgb_to_lab(rgb)
    return normalize_l(lab[:, :1]), normalize_ab(lab[:, 1:])


def model_space_to_rgb(L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """Scaled (L, ab) from the generator's space -> sRGB float in [0, 1], (N, 3, H, W)."""
    lab = torch.cat([denormalize_l(L), denormalize_ab(ab)], dim=1)
    return lab_to_rgb(lab)


def to_uint8(rgb: torch.Tensor) -> torch.Tensor:
    """Float RGB in [0, 1] -> uint8, rounding to nearest."""
    return rgb.mul(255).round_().clamp_(0, 255).to(torch.uint8)


def to_pixels(rgb: torch.Tensor, dtype: np.dtype) -> np.ndarray:
    """Float RGB in [0, 1] -> numpy uint8 or uint16 pixels, rounding to nearest."""
    if dtype == np.uint8:
        return to_uint8(rgb).numpy()
    return rgb.mul(65535).round_().clamp_(0, 65535).to(torch.int32).numpy().astype(np.uint16)


# -- fast path for uint8 batches on the CPU ------------------------------------------------


def _srgb_lut() -> np.ndarray:
    s = np.arange(256, dtype=np.float64) / 255
    return np.where(s > 0.04045, ((s + 0.055) / 1.055) ** 2.4, s / 12.92).astype(np.float32)


_LUT = _srgb_lut()
_XYZ_T = _RGB_TO_XYZ_NORMALISED.T.astype(np.float32)
_Y_OF_R, _Y_OF_G, _Y_OF_B = (_LUT * _XYZ_T[c, 1] for c in range(3))


def _lab_f(t: np.ndarray) -> np.ndarray:
    """CIE Lab's f(t) on float32 X, Y or Z: the cube root, linear near black."""
    f = np.cbrt(t)
    small = t <= _DELTA**3
    if small.any():
        f[small] = t[small] * np.float32(1 / (3 * _DELTA**2)) + np.float32(4 / 29)
    return f


def uint8_to_model_space_numpy(rgb: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """(B, H, W, 3) uint8 sRGB -> (B, 3, H, W) float32 [L/50 - 1, a/110, b/110].

    The same maths as `rgb_to_model_space`, arranged for the CPU: a 256-entry table for the
    sRGB curve and cache-sized chunks of pixels, about 5x faster than eager torch on 2 cores.
    """
    b, h, w, _ = rgb.shape
    pixels = np.ascontiguousarray(rgb).reshape(b, h * w, 3)
    out = np.empty((b, 3, h * w), np.float32)
    for img, dst_img in zip(pixels, out, strict=True):
        for i in range(0, h * w, chunk):
            fx, fy, fz = _lab_f(np.take(_LUT, img[i : i + chunk]) @ _XYZ_T).T
            dst = dst_img[:, i : i + chunk]
            np.multiply(fy, np.float32(116 / L_SCALE), out=dst[0])
            dst[0] -= np.float32(16 / L_SCALE + 1)
            np.subtract(fx, fy, out=dst[1])
            dst[1] *= np.float32(500 / AB_SCALE)
            np.subtract(fy, fz, out=dst[2])
            dst[2] *= np.float32(200 / AB_SCALE)
    return out.reshape(b, 3, h, w)


@functools.cache
def _y_tables_16() -> tuple[np.ndarray, ...]:
    """Each channel's weighted share of Y for the 65536 levels of 16-bit sRGB."""
    s = np.arange(65536, dtype=np.float64) / 65535
    linear = np.where(s > 0.04045, ((s + 0.055) / 1.055) ** 2.4, s / 12.92).astype(np.float32)
    return tuple(linear * _XYZ_T[c, 1] for c in range(3))


def uint8_to_model_lightness_numpy(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 sRGB -> (...) float32 L/50 - 1: `uint8_to_model_space_numpy`'s L alone,
    about 2x faster (L needs only Y: one table per channel, already weighted). 16-bit pixels
    (uint16) take 65536-entry tables, so their L keeps its 16 bits."""
    pixels = np.asarray(rgb).reshape(-1, 3)
    tables = _y_tables_16() if pixels.dtype == np.uint16 else (_Y_OF_R, _Y_OF_G, _Y_OF_B)
    r, g, b = pixels[:, 0], pixels[:, 1], pixels[:, 2]
    y = np.take(tables[0], r) + np.take(tables[1], g)
    y += np.take(tables[2], b)
    f = _lab_f(y)
    f *= np.float32(116 / L_SCALE)
    f -= np.float32(16 / L_SCALE + 1)
    return f.reshape(np.shape(rgb)[:-1])


def batch_to_model_space(
    rgb: torch.Tensor, device: torch.device | str
) -> tuple[torch.Tensor, torch.Tensor]:
    """A loader batch -> (L, ab) on `device`, scaled. Takes uint8 RGB (N, 3, H, W), converted
    where it is fastest, or float batches the loader already converted."""
    device = torch.device(device)
    if rgb.is_floating_point():
        lab = rgb.to(device, non_blocking=True)
        return lab[:, :1], lab[:, 1:]
    if device.type == "cpu":
        lab = torch.from_numpy(uint8_to_model_space_numpy(rgb.permute(0, 2, 3, 1).numpy()))
        return lab[:, :1], lab[:, 1:]
    return rgb_to_model_space(rgb.to(device, non_blocking=True))
