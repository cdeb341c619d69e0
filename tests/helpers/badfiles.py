"""Makers of every kind of awkward image file a real photo folder contains."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_bytes(width: int, height: int, bit_depth: int, color_type: int, raw_rows: bytes) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + (_png_chunk(b"IDAT", zlib.compress(raw_rows)) if raw_rows else b"")
        + _png_chunk(b"IEND", b"")
    )


def png16_rgb(arr: np.ndarray) -> bytes:
    """A 48-bit RGB PNG (Pillow cannot write these itself)."""
    h, w, _ = arr.shape
    rows = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))
    return png_bytes(w, h, 16, 2, rows)


def bomb_png() -> bytes:
    """A tiny file whose header claims 40000x40000 pixels."""
    return png_bytes(40_000, 40_000, 8, 2, b"")


def _save(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def make_all(photo: Path) -> dict[str, tuple[bytes, str]]:
    """name -> (file bytes, expected outcome): 'ok', 'ok:<conversion>' or a skip reason."""
    rgb = Image.open(photo).convert("RGB")
    jpeg = photo.read_bytes()
    corrupt = bytearray(jpeg)
    for i in range(2000, len(corrupt) - 100, 50):
        corrupt[i] = 0xFF
    rgba = rgb.convert("RGBA")
    alpha = np.full(rgb.size[::-1], 255, np.uint8)
    alpha[:, : rgb.size[0] // 2] = 0
    rgba.putalpha(Image.fromarray(alpha))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    gray16 = Image.fromarray(np.asarray(rgb.convert("L"), np.uint16) * 257)
    low_byte = np.random.default_rng(0).integers(0, 256, (*rgb.size[::-1], 3))
    arr16 = (np.asarray(rgb, np.uint16) * 256 + low_byte).astype(np.uint16)
    return {
        "good.jpg": (jpeg, "ok"),
        "corrupt.jpg": (bytes(corrupt), "corrupt"),
        "truncated.jpg": (jpeg[: len(jpeg) // 2], "truncated"),
        "empty.jpg": (b"", "empty file"),
        "notes.jpg": (b"this is not an image\n" * 20, "not an image"),
        "cmyk.jpg": (_save(rgb.convert("CMYK"), "JPEG", quality=95), "ok:cmyk->rgb"),
        "palette.png": (_save(rgb.quantize(256), "PNG"), "ok:palette->rgb"),
        "rgb16.png": (png16_rgb(arr16), "ok"),
        "gray16.png": (_save(gray16, "PNG"), "grayscale"),
        "alpha.png": (_save(rgba, "PNG"), "ok:alpha->white"),
        "rotated.jpg": (_save(rgb, "JPEG", quality=95, exif=exif), "ok:exif-rotated"),
        "gray.jpg": (_save(rgb.convert("L"), "JPEG"), "grayscale"),
        "gray_as_rgb.jpg": (_save(rgb.convert("L").convert("RGB"), "JPEG"), "grayscale"),
        "tiny.png": (_save(rgb.resize((40, 30)), "PNG"), "too small"),
        "bomb.png": (bomb_png(), "too large"),
    }


def write_all(photo: Path, folder: Path) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    expected = {}
    for name, (data, outcome) in make_all(photo).items():
        (folder / name).write_bytes(data)
        expected[name] = outcome
    return expected


Maker = Callable[[Path], dict[str, tuple[bytes, str]]]
