"""Photos as pixels: checked into three channels, shown gray as the model sees them, and put
side by side for before/after comparisons (8- or 16-bit)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from kolorize.data.images import to_8bit, upright_rgb
from kolorize.inference.recombine import recombine


def is_uint16(value: object) -> bool:
    return isinstance(value, np.ndarray) and value.dtype == np.uint16


def kind_of(value: object) -> str:
    """A few words for what was passed: `None`, `int 42`, `a float64 array of shape (4, 4)`."""
    if isinstance(value, np.ndarray):
        return f"a {value.dtype} array of shape {value.shape}"
    if value is None or isinstance(value, (bool, int, float)):
        return f"{type(value).__name__} {value!r}" if value is not None else "None"
    return f"a {type(value).__name__}"


def three_channels(pixels: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 or uint16 pixels; gray (H, W) ones as a view of three equal channels."""
    if not isinstance(pixels, np.ndarray) or pixels.dtype not in (np.uint8, np.uint16):
        raise TypeError(f"colorize_pixels takes uint8 or uint16 arrays; got {kind_of(pixels)}")
    if pixels.ndim == 2:
        return np.broadcast_to(pixels[..., None], (*pixels.shape, 3))
    if pixels.ndim == 3 and pixels.shape[2] == 3:
        return pixels
    raise TypeError(f"colorize_pixels takes (H, W) or (H, W, 3) arrays; got {kind_of(pixels)}")


def grayscale(image: Image.Image | np.ndarray) -> Image.Image | np.ndarray:
    """The photo as the model sees it: its own L with no colour, at full resolution; pixels
    (8- or 16-bit) in, pixels out."""
    if isinstance(image, np.ndarray):
        return recombine(three_channels(image), None)
    return Image.fromarray(recombine(np.asarray(upright_rgb(image)), None))


def side_by_side(
    left: Image.Image | np.ndarray, right: Image.Image | np.ndarray, gap: int = 8
) -> Image.Image | np.ndarray:
    """Two same-size images next to each other on white, for before/after comparisons. Two
    pixel arrays give an array of their dtype (16-bit stays 16-bit)."""
    if isinstance(left, np.ndarray) and isinstance(right, np.ndarray):
        left, right = three_channels(left), three_channels(right)
        white = np.full((left.shape[0], gap, 3), np.iinfo(right.dtype).max, right.dtype)
        return np.concatenate([left.astype(right.dtype), white, right], axis=1)
    left, right = as_image(left), as_image(right)
    w, h = left.size
    canvas = Image.new("RGB", (w * 2 + gap, h), (255, 255, 255))
    canvas.paste(left.convert("RGB"), (0, 0))
    canvas.paste(right.convert("RGB"), (w + gap, 0))
    return canvas


def as_image(image: Image.Image | np.ndarray) -> Image.Image:
    if isinstance(image, Image.Image):
        return image
    return Image.fromarray(image if image.dtype == np.uint8 else to_8bit(image))
