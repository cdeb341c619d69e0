"""Writing a colorized photo: in the format asked for, atomically, 16-bit where the format
holds it (PNG, TIFF: `kolorize.write16`), refused in words where it is too big for the format."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image

from kolorize.atomic import atomic_write
from kolorize.data.images import (
    to_8bit,
)
from kolorize.write16 import write_png16, write_tiff16

# name -> (Pillow format, file suffix)
FORMATS = {
    "png": ("PNG", ".png"),
    "jpeg": ("JPEG", ".jpg"),
    "webp": ("WEBP", ".webp"),
    "tiff": ("TIFF", ".tif"),
}


# The formats that hold 16 bits a channel, and what writes them (Pillow cannot)
SIXTEEN_BIT = {"png": write_png16, "tiff": write_tiff16}


_OPTIONS: dict[str, dict[str, object]] = {"png": {}, "tiff": {"compression": "tiff_adobe_deflate"}}


# The largest side each format can store (PNG's limit is far beyond any photo).
MAX_SIDE = {"jpeg": 65_500, "webp": 16_383}


def check_fits_format(size: tuple[int, int], fmt: str) -> None:
    """Raise ValueError, in words, when an image is too big for the format (WebP: 16383 px)."""
    limit = MAX_SIDE.get(fmt)
    if limit is not None and max(size) > limit:
        raise ValueError(
            f"{fmt.upper()} stores at most {limit} px a side and this photo is "
            f"{size[0]}x{size[1]}; choose PNG"
        )


Picture = Image.Image | np.ndarray  # a PIL image, or (H, W, 3) uint8 or uint16 pixels


def _size(image: Picture) -> tuple[int, int]:
    return image.size if isinstance(image, Image.Image) else (image.shape[1], image.shape[0])


def save_image(image: Picture, fp: Path | BinaryIO, fmt: str, quality: int = 95) -> None:
    """Save `image` as `fmt` (a key of FORMATS) to a file or buffer; `quality` for the lossy
    formats. 16-bit pixels stay 16-bit in PNG and TIFF and become 8-bit in the others.
    Raises ValueError, in words, when the image is too big for the format."""
    check_fits_format(_size(image), fmt)
    if isinstance(image, np.ndarray) and image.dtype == np.uint16 and fmt in SIXTEEN_BIT:
        if isinstance(fp, Path):
            with open(fp, "wb") as f:
                SIXTEEN_BIT[fmt](image, f)
        else:
            SIXTEEN_BIT[fmt](image, fp)
        return
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image if image.dtype == np.uint8 else to_8bit(image))
    pil_format, _ = FORMATS[fmt]
    image.save(fp, format=pil_format, **_OPTIONS.get(fmt, {"quality": quality}))


def save_atomic(image: Picture, path: Path, fmt: str, quality: int = 95) -> None:
    """Write through a temporary file and a rename, so `path` is never half-written."""
    check_fits_format(_size(image), fmt)  # before atomic_write makes the folder: none left empty
    with atomic_write(path) as tmp:
        save_image(image, tmp, fmt, quality)
