"""Opening real-world image files (and PIL images handed to the API): every odd kind is either
converted to plain sRGB or rejected with a short reason that ends up in the skipped-files report.

Converted: CMYK (through its ICC profile when it has one), palette, 16-bit, alpha (composited
on white), EXIF orientation, non-sRGB ICC profiles; of an animation or a multi-page file, the
first frame is taken (and noted). Rejected: empty, not an image, truncated, corrupt, too small,
too large (decompression bombs). A 16-bit gray or RGB file (PNG, TIFF) also keeps its 16-bit
pixels (`LoadedImage.deep`), for a result with the scan's own depth. Grayscale detection lives
here too, but the caller decides what to do with a grayscale photo (training skips it,
colorizing wants it), and so does the resize to a model's square, shared by the dataset builder
and inference.
"""

from __future__ import annotations

import io
import struct
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageCms, ImageFile, ImageOps, UnidentifiedImageError

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".jfif", ".jpe"}
)

# Pillow's own decompression-bomb warning threshold (~89 MP): larger files are refused.
DEFAULT_MAX_PIXELS = 89_478_485
DEFAULT_MIN_SIDE = 64
# An image counts as grayscale when 99% of its pixels have max(R,G,B) - min(R,G,B) <= this.
GRAYSCALE_SPREAD = 12
_ORIENTATION = 0x0112


ImageFile.LOAD_TRUNCATED_IMAGES = False

# How a photo becomes a square: stretched whole (the study's choice) or centre-cropped.
Fit = Literal["stretch", "crop"]


class ImageRejected(Exception):
    """The file cannot be used; `reason` is a short category for reports."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass
class LoadedImage:
    image: Image.Image  # mode "RGB", upright
    conversions: list[str] = field(default_factory=list)
    source_mode: str = "RGB"
    original_size: tuple[int, int] = (0, 0)  # (width, height) of the file, upright
    # a 16-bit file's own pixels, upright: (H, W) gray or (H, W, 3) RGB uint16; else None
    deep: np.ndarray | None = None
    frames: int = 1  # an animated GIF, WebP or PNG, a multi-page TIFF: more (the first is used)

    @property
    def source_is_gray(self) -> bool:
        return self.source_mode in {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "F"}


_SRGB = ImageCms.createProfile("sRGB")


def _describes_srgb(icc: bytes) -> bool:
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return "srgb" in (ImageCms.getProfileDescription(profile) or "").lower()
    except (ImageCms.PyCMSError, OSError, ValueError):
        return True  # a broken profile: its values are taken to be sRGB


def _to_srgb_with_icc(img: Image.Image, conversions: list[str]) -> Image.Image:
    icc = img.info.get("icc_profile")
    if not icc or img.mode not in {"RGB", "CMYK"}:
        return img
    if img.mode == "RGB" and _describes_srgb(icc):
        return img
    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        out = ImageCms.profileToProfile(img, src, _SRGB, outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError):
        return img  # a broken profile: fall back to treating the values as sRGB
    conversions.append("icc->srgb")
    return out


def _composite_on_white(img: Image.Image) -> Image.Image:
    rgba = img.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _high_bit_depth_to_rgb(img: Image.Image) -> Image.Image:
    arr = np.asarray(img)
    if img.mode == "F":
        scaled = np.clip(arr, 0.0, 1.0) * 255.0
    else:  # 16-bit stored as I;16* or as 32-bit "I"
        scaled = np.clip(arr.astype(np.float64), 0, 65535) / 257.0
    gray = Image.fromarray(np.round(scaled).astype(np.uint8), mode="L")
    return gray.convert("RGB")


def _gray_16bit(img: Image.Image) -> np.ndarray:
    """A high-bit-depth gray image (I;16*, 32-bit I, float F in [0, 1]) as uint16 pixels."""
    arr = np.asarray(img)
    if img.mode == "F":
        return np.round(np.clip(arr, 0.0, 1.0) * 65535).astype(np.uint16)
    return np.clip(arr, 0, 65535).astype(np.uint16)


def to_8bit(pixels: np.ndarray) -> np.ndarray:
    """uint16 pixels -> uint8, rounding to the nearest 8-bit level (65535 / 255 = 257)."""
    return ((pixels.astype(np.uint32) + 128) // 257).astype(np.uint8)


_HIGH_BIT_GRAY = {"I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
# the other byte order of a 16-bit raw mode (N: this machine's own)
_OTHER_ORDER = {"B": "L", "L": "B", "N": "B" if sys.byteorder == "little" else "L"}


def _tile_rawmode(img: Image.Image) -> str | None:
    """How the file's pixels are stored (e.g. "RGB;16B"), read before decoding clears it."""
    if len(img.tile) != 1:
        return None
    args = img.tile[0][3]
    rawmode = args[0] if isinstance(args, tuple) else args
    return rawmode if isinstance(rawmode, str) else None


def _deep_pixels(img: Image.Image, data: bytes, rawmode: str | None) -> np.ndarray | None:
    """A 16-bit file's pixels (not yet upright), or None for 8-bit files and the kinds kept
    at 8 bits (16-bit with alpha, non-sRGB RGB profiles)."""
    if img.mode in _HIGH_BIT_GRAY:
        return _gray_16bit(img)
    if img.mode != "RGB" or rawmode not in ("RGB;16B", "RGB;16L", "RGB;16N"):
        return None
    icc = img.info.get("icc_profile")
    if icc and not _describes_srgb(icc):
        return None
    low = _low_bytes(data, f"RGB;16{_OTHER_ORDER[rawmode[-1]]}")
    if low is None:
        return None
    return (np.asarray(img).astype(np.uint16) << 8) | low


def _low_bytes(data: bytes, rawmode: str) -> np.ndarray | None:
    """Pillow holds 16-bit RGB as 8 bits, the high byte of each sample. Decoding the file again
    as if its samples had the other byte order gives the low bytes: with the high ones, all
    16 bits, through Pillow's own PNG and TIFF decoders (any compression)."""
    try:
        again = Image.open(io.BytesIO(data))
        tile = again.tile[0]
        args = (rawmode, *tile[3][1:]) if isinstance(tile[3], tuple) else rawmode
        again.tile = [tile._replace(args=args) if hasattr(tile, "_replace") else (*tile[:3], args)]
        return np.asarray(again.convert("RGB") if again.mode != "RGB" else again)
    except Exception:  # a Pillow that decodes differently: the photo stays 8-bit
        return None


def orient_pixels(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Pixels turned as EXIF `orientation` (1-8) says, as `upright` turns an image."""
    turned = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
        8: lambda a: np.rot90(a, 1),
    }
    return np.ascontiguousarray(turned[orientation](pixels)) if orientation in turned else pixels


def _convert_mode(img: Image.Image, conversions: list[str]) -> Image.Image:
    mode = img.mode
    if mode == "RGB":
        return img
    if mode == "CMYK":
        conversions.append("cmyk->rgb")
        return img.convert("RGB")
    if mode in {"P", "PA"}:
        conversions.append("palette->rgb")
        if mode == "PA" or "transparency" in img.info:
            return _composite_on_white(img)
        return img.convert("RGB")
    if mode in {"RGBA", "RGBa", "LA", "La"}:
        conversions.append("alpha->white")
        return _composite_on_white(img.convert("LA") if mode == "La" else img)
    if mode in {"I", "I;16", "I;16B", "I;16L", "I;16N", "F"}:
        conversions.append("16bit->8bit")
        return _high_bit_depth_to_rgb(img)
    conversions.append(f"{mode.lower()}->rgb")
    return img.convert("RGB")


def exif_orientation(img: Image.Image) -> int:
    """The EXIF orientation (1-8) of an image; 1 when it has none or its EXIF block is malformed
    (scanners write broken ones, and Pillow raises anything from SyntaxError to struct.error)."""
    try:
        value = img.getexif().get(_ORIENTATION, 1)
    except Exception:  # a malformed EXIF block should not cost the photo
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def upright(img: Image.Image) -> tuple[Image.Image, int]:
    """(the image turned as its EXIF orientation says, that orientation). The one place that
    reads EXIF orientation, for files and for images handed to the API alike."""
    orientation = exif_orientation(img)
    if orientation == 1:
        return img, 1
    try:
        return ImageOps.exif_transpose(img), orientation
    except Exception:  # the same malformed block, met again while rewriting it
        return img, 1


def upright_rgb(image: Image.Image) -> Image.Image:
    """Any PIL image -> upright 8-bit sRGB, converted exactly as `load_rgb` converts a file
    (CMYK, 16-bit, alpha, palette, HSV, non-sRGB ICC profiles). An image with no pixels raises
    ImageRejected."""
    if 0 in image.size:
        raise ImageRejected("too small", f"{image.width}x{image.height} pixels")
    image, _ = upright(image)
    return _to_rgb(image, [])


def _to_rgb(img: Image.Image, conversions: list[str]) -> Image.Image:
    """A decoded, upright image in any mode -> 8-bit sRGB, noting each conversion."""
    return _convert_mode(_to_srgb_with_icc(img, conversions), conversions)


def load_rgb(
    source: bytes | str | Path,
    *,
    min_side: int = DEFAULT_MIN_SIDE,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    draft_size: int | None = None,
    keep_16bit: bool = False,
) -> LoadedImage:
    """Decode an image file (path or bytes) into an upright 8-bit sRGB PIL image.

    `draft_size` lets JPEG decoding skip detail that a later resize to that size would discard
    (the image may then come out smaller than the file, but never below `draft_size`).
    `keep_16bit` also keeps a 16-bit file's own pixels in `deep`.
    Raises ImageRejected with a short reason for anything that cannot be used.
    """
    data = Path(source).read_bytes() if isinstance(source, (str, Path)) else source
    if len(data) == 0:
        raise ImageRejected("empty file")
    conversions: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            width, height = img.size
            if width * height > max_pixels:
                raise ImageRejected("too large", f"{width}x{height} pixels (limit {max_pixels})")
            frames = frame_count(img)  # before decoding: counting seeks through the file
            if draft_size and img.format == "JPEG":
                img.draft(img.mode, (draft_size, draft_size))
            rawmode = _tile_rawmode(img)
            img.load()
            deep = _deep_pixels(img, data, rawmode) if keep_16bit else None
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageRejected("too large", str(e)) from None
    except UnidentifiedImageError:
        raise ImageRejected("not an image") from None
    except OSError as e:
        reason = "truncated" if "truncat" in str(e).lower() else "corrupt"
        raise ImageRejected(reason, str(e)) from None
    except (ValueError, SyntaxError, EOFError, IndexError, TypeError, struct.error) as e:
        raise ImageRejected("corrupt", str(e)) from None

    source_mode = img.mode
    if frames > 1:
        conversions.append("first frame")
    img, orientation = upright(img)
    if orientation != 1:
        conversions.append("exif-rotated")
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    if min(width, height) < min_side:
        raise ImageRejected("too small", f"{width}x{height} (minimum side {min_side})")
    if deep is not None:
        deep = orient_pixels(deep, orientation)
    rgb = _to_rgb(img, conversions)
    return LoadedImage(rgb, conversions, source_mode, (width, height), deep, frames)


def frame_count(img: Image.Image) -> int:
    """How many frames (or pages) an opened file holds. A camera's MPO JPEG counts as one: its
    second picture is a preview or a depth map, not more of the photo."""
    if img.format == "MPO":
        return 1
    try:
        return int(getattr(img, "n_frames", 1))
    except Exception:  # a damaged frame table: the first frame, already decoded, is what counts
        return 1


def resize_photo(img: Image.Image, size: int, fit: Fit) -> Image.Image:
    """The square (size x size, bicubic) a photo is shown to a model as, in training data and
    at inference alike."""
    if fit == "crop":
        return ImageOps.fit(img, (size, size), Image.Resampling.BICUBIC)
    return img.resize((size, size), Image.Resampling.BICUBIC)


def is_grayscale(rgb: np.ndarray, spread: int = GRAYSCALE_SPREAD) -> bool:
    """True when an (H, W, 3) uint8 image carries (almost) no colour to learn from."""
    channel_spread = rgb.max(axis=-1).astype(np.int16) - rgb.min(axis=-1)
    return bool(np.percentile(channel_spread, 99) <= spread)


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")
