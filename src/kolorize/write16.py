"""16-bit RGB PNG and TIFF files, which Pillow cannot write (it has no 16-bit RGB mode).

Both are written whole, compressed with zlib after the format's own byte-wise predictor (PNG's
"Up" filter, TIFF's horizontal differencing), which is what makes photos compress; any PNG or
TIFF reader opens them (Pillow, libtiff, tifffile, browsers for the PNG).
"""

from __future__ import annotations

import struct
import zlib
from typing import BinaryIO

import numpy as np

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TIFF_STRIP_BYTES = 1 << 18  # uncompressed bytes per TIFF strip, as libtiff suggests ~8-256 KB
_SHORT, _LONG = 3, 4  # TIFF field types


def write_png16(pixels: np.ndarray, fp: BinaryIO) -> None:
    """(H, W, 3) uint16 sRGB -> a 48-bit PNG."""
    height, width, _ = pixels.shape
    rows = pixels.astype(">u2").view(np.uint8).reshape(height, -1)
    filtered = np.empty((height, rows.shape[1] + 1), np.uint8)
    filtered[:, 0] = 2  # "Up": each byte minus the one above it (wrapping), row 0 as it is
    filtered[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)  # 16 bits, RGB
    fp.write(_PNG_SIGNATURE)
    for kind, data in ((b"IHDR", header), (b"IDAT", zlib.compress(filtered, 6)), (b"IEND", b"")):
        fp.write(struct.pack(">I", len(data)) + kind + data)
        fp.write(struct.pack(">I", zlib.crc32(kind + data)))


def write_tiff16(pixels: np.ndarray, fp: BinaryIO) -> None:
    """(H, W, 3) uint16 sRGB -> a 48-bit little-endian TIFF (deflate, horizontal predictor)."""
    height, width, _ = pixels.shape
    diff = pixels.astype("<u2")  # a copy: the predictor works in place on it
    diff[:, 1:] -= pixels[:, :-1].astype("<u2")  # each sample minus its left neighbour's
    rows_per_strip = max(1, _TIFF_STRIP_BYTES // (width * 6))
    strips = [
        zlib.compress(diff[r : r + rows_per_strip].tobytes(), 6)
        for r in range(0, height, rows_per_strip)
    ]
    offsets, at = [], 8
    for strip in strips:
        offsets.append(at)
        at += len(strip)
    entries = [
        (256, _LONG, [width]),
        (257, _LONG, [height]),
        (258, _SHORT, [16, 16, 16]),  # bits per sample
        (259, _SHORT, [8]),  # deflate
        (262, _SHORT, [2]),  # RGB
        (273, _LONG, offsets),
        (277, _SHORT, [3]),  # samples per pixel
        (278, _LONG, [rows_per_strip]),
        (279, _LONG, [len(s) for s in strips]),
        (284, _SHORT, [1]),  # samples interleaved
        (317, _SHORT, [2]),  # horizontal differencing
    ]
    fp.write(b"II*\x00" + struct.pack("<I", at))
    for strip in strips:
        fp.write(strip)
    fp.write(_ifd(entries, at))


def _ifd(entries: list[tuple[int, int, list[int]]], at: int) -> bytes:
    """The image file directory written at offset `at`: values of more than 4 bytes follow it."""
    table = struct.pack("<H", len(entries))
    extra = b""
    extra_at = at + 2 + 12 * len(entries) + 4
    for tag, kind, values in entries:
        packed = struct.pack(f"<{len(values)}{'H' if kind == _SHORT else 'I'}", *values)
        if len(packed) <= 4:
            field = packed.ljust(4, b"\0")
        else:
            field = struct.pack("<I", extra_at + len(extra))
            extra += packed + b"\0" * (len(packed) % 2)  # values start on a word boundary
        table += struct.pack("<HHI", tag, kind, len(values)) + field
    return table + struct.pack("<I", 0) + extra


__all__ = ["write_png16", "write_tiff16"]
