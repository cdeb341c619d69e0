"""Test photos, cut from the colour photos that ship with scikit-image (so the suite runs in a
fresh clone), and the real photo collection in ../shared/data for the few tests that need it."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SHARED_DATA = Path(
    os.environ.get("KOLORIZE_SHARED_DATA")
    or Path(__file__).resolve().parents[3] / "shared" / "data"
)
# scikit-image's colour photos, all in its wheel (no download), most varied first
COLOUR_SAMPLES = (
    "astronaut", "coffee", "chelsea", "rocket",
    "motorcycle_left", "immunohistochemistry", "hubble_deep_field", "retina",
)  # fmt: skip
VARIANTS = 8  # crops of each colour photo: 64 photos, the most a test asks for is 60
SHORT_SIDE = 256  # as in ../shared/data/photos


def shared_data(folder: str) -> Path:
    """A real photo collection in ../shared/data (or $KOLORIZE_SHARED_DATA), for the few tests
    that need more than scikit-image ships. Without it a test skips, except in CI (CI=true),
    where a skipped test would pass unrun: there it fails, saying what is missing."""
    path = SHARED_DATA / folder
    if not path.is_dir():
        message = f"needs the real photos in {path} (KOLORIZE_SHARED_DATA names their folder)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must provide them", pytrace=False)
        pytest.skip(message)
    return path


def copy_photos(folder: Path, n: int) -> Path:
    """`folder` (made if missing) with copies of `n` test photos in it."""
    folder.mkdir(parents=True, exist_ok=True)
    for p in real_photo_paths(n):
        shutil.copy(p, folder / p.name)
    return folder


def real_photo_paths(n: int) -> list[Path]:
    """`n` distinct colour photos, JPEG files of this test session: the first eight are
    scikit-image's colour photos, then further crops of them."""
    photos = _derived_photos()
    if n > len(photos):
        raise ValueError(f"asked for {n} photos; the tests have {len(photos)}")
    return photos[:n]


@functools.cache
def _derived_photos() -> list[Path]:
    """Crop k of every photo (k = 0, 1, ...): 3:2 or 2:3 windows shrinking from the whole
    photo to 2/5 of it at seeded positions, odd ones mirrored, short side 256 px, JPEG q90."""
    folder = Path(tempfile.mkdtemp(prefix="kolorize-test-photos-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    from kolorize.demo import sample_photo

    rng = np.random.default_rng(0)
    sources = [sample_photo(name) for name in COLOUR_SAMPLES]
    paths = []
    for k in range(VARIANTS):
        for name, photo in zip(COLOUR_SAMPLES, sources, strict=True):
            h, w = photo.shape[:2]
            aspect = 2 / 3 if k % 3 == 2 else 3 / 2  # width / height
            height = min(h, w / aspect) * (1 - 0.6 * k / (VARIANTS - 1))
            crop_h, crop_w = round(height), round(height * aspect)
            y, x = rng.integers(0, h - crop_h + 1), rng.integers(0, w - crop_w + 1)
            crop = Image.fromarray(photo[y : y + crop_h, x : x + crop_w])
            scale = SHORT_SIDE / min(crop_h, crop_w)
            size = (round(crop_w * scale), round(crop_h * scale))
            crop = crop.resize(size, Image.Resampling.LANCZOS)
            if k % 2:
                crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            paths.append(folder / f"{name}_{k}.jpg")
            crop.save(paths[-1], quality=90)
    return paths
