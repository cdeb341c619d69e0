"""16-bit scans and TIFF files: read at 16 bits, colorized at 16 bits, written at 16 bits where
the format holds it (PNG, TIFF), with the scan's L kept.

Lightness tolerance at 16 bits: 0.01 of CIE L (0-100) at every pixel. Rounding to 16 bits
moves L by at most about 0.001; an 8-bit result would be off by up to about 0.2, so the test
tells the two apart.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

from helpers.cli import run_cli
from helpers.colour import tiny_generator
from helpers.photos import real_photo_paths
from kolorize.color import rgb_to_lab
from kolorize.data.images import load_rgb, orient_pixels, upright
from kolorize.inference.colorizer import Colorizer
from kolorize.photo_files import save_image
from kolorize.write16 import write_png16, write_tiff16

L_TOLERANCE_16 = 0.01


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_generator(tmp_path_factory.mktemp("model") / "generator.safetensors")


@pytest.fixture(scope="module")
def scan() -> np.ndarray:
    """A 16-bit gray scan: a real photo's lightness with detail below the 8-bit steps."""
    gray = np.asarray(Image.open(real_photo_paths(1)[0]).convert("L"), np.float64)
    fine = np.random.default_rng(0).uniform(-0.5, 0.5, gray.shape)
    return np.clip((gray + fine) * 257, 0, 65535).round().astype(np.uint16)


def _lightness16(pixels: np.ndarray) -> np.ndarray:
    rgb = pixels if pixels.ndim == 3 else np.repeat(pixels[..., None], 3, axis=2)
    return rgb_to_lab(torch.from_numpy(rgb / 65535.0).permute(2, 0, 1))[0].numpy()


def test_a_16bit_tiff_goes_in_and_a_16bit_tiff_comes_out_with_the_same_l(
    tmp_path: Path, model: Path, scan: np.ndarray
) -> None:
    Image.fromarray(scan).save(tmp_path / "scan.tif")  # Pillow: a 16-bit gray TIFF
    result = run_cli("colorize", str(tmp_path / "scan.tif"), "-m", str(model), "-o",
                     str(tmp_path / "out" / "scan.tif"))  # fmt: skip
    assert result.code == 0, result.err
    colour = tifffile.imread(tmp_path / "out" / "scan.tif")  # a reader that is not ours
    assert colour.dtype == np.uint16 and colour.shape == (*scan.shape, 3)
    assert np.abs(_lightness16(colour) - _lightness16(scan)).max() < L_TOLERANCE_16
    assert np.ptp(colour.astype(np.int64), axis=2).mean() > 500  # it is in colour
    # PNG holds 16 bits too; JPEG does not, and gets the 8-bit version
    for name, fmt, depth in (("scan.png", "png", np.uint16), ("scan.jpg", "jpeg", None)):
        save_image(colour, tmp_path / name, fmt)
        loaded = load_rgb(tmp_path / name, keep_16bit=True)
        assert (loaded.deep.dtype if loaded.deep is not None else None) == depth
        if depth is not None:
            assert np.array_equal(loaded.deep, colour)


def test_16bit_rgb_files_are_read_at_16_bits_through_pillow(tmp_path: Path) -> None:
    rgb = np.random.default_rng(1).integers(0, 65536, (37, 53, 3), dtype=np.uint16)
    for compression in (None, "zlib"):
        buf = io.BytesIO()
        tifffile.imwrite(buf, rgb, photometric="rgb", compression=compression)
        loaded = load_rgb(buf.getvalue(), min_side=1, keep_16bit=True)
        assert np.array_equal(loaded.deep, rgb), compression
        assert np.array_equal(np.asarray(loaded.image), rgb >> 8)  # the 8-bit view as before
    for write in (write_png16, write_tiff16):
        buf = io.BytesIO()
        write(rgb, buf)
        assert np.array_equal(load_rgb(buf.getvalue(), min_side=1, keep_16bit=True).deep, rgb)
    buf = io.BytesIO()
    write_tiff16(rgb, buf)
    assert np.array_equal(tifffile.imread(io.BytesIO(buf.getvalue())), rgb)
    eight = io.BytesIO()
    Image.fromarray((rgb >> 8).astype(np.uint8)).save(eight, "PNG")
    assert load_rgb(eight.getvalue(), min_side=1, keep_16bit=True).deep is None


@pytest.mark.parametrize("orientation", range(1, 9))
def test_16bit_pixels_turn_as_exif_says(orientation: int) -> None:
    gray = np.arange(6 * 10, dtype=np.uint16).reshape(6, 10) * 1000
    image = Image.fromarray(gray)
    exif = image.getexif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    image.save(buf, "TIFF", exif=exif.tobytes())
    expected = np.asarray(upright(Image.open(io.BytesIO(buf.getvalue())))[0])
    loaded = load_rgb(buf.getvalue(), min_side=1, keep_16bit=True)
    assert np.array_equal(loaded.deep, expected)
    assert np.array_equal(orient_pixels(gray, orientation), expected)


def test_colorize_pixels_keeps_the_depth_and_the_l(model: Path, scan: np.ndarray) -> None:
    colorizer = Colorizer.load(model, device="cpu")
    (colour16,) = colorizer.colorize_pixels([scan])
    assert colour16.dtype == np.uint16 and colour16.shape == (*scan.shape, 3)
    assert np.abs(_lightness16(colour16) - _lightness16(scan)).max() < L_TOLERANCE_16
    eight = ((scan.astype(np.uint32) + 128) // 257).astype(np.uint8)
    (colour8,) = colorizer.colorize_pixels([eight])
    assert colour8.dtype == np.uint8
    # the same colour at both depths, up to the 8-bit steps
    assert np.abs(colour16 / 257.0 - colour8).mean() < 1.5


def test_tiff_is_written_in_8_bits_too(tmp_path: Path) -> None:
    photo = Image.open(real_photo_paths(1)[0]).convert("RGB")
    save_image(photo, tmp_path / "a.tif", "tiff")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "a.tif")), np.asarray(photo))
