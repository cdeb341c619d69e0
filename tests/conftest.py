"""Shared fixtures. Test photos are cut from the colour photos that ship with scikit-image, so
the suite runs in a fresh clone; only tests that need a real photo collection read ../shared/data
(never copied into the repository)."""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

SHARED_DATA = Path(
    os.environ.get("KOLORIZE_SHARED_DATA")
    or Path(__file__).resolve().parents[2] / "shared" / "data"
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


@pytest.fixture(autouse=True)
def _seed_and_threads() -> None:
    torch.manual_seed(0)
    np.random.seed(0)


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """kolorize's cache (the measured CPU precision) in a folder of the test session's own,
    so tests neither read nor write the user's."""
    import os

    os.environ["KOLORIZE_CACHE"] = str(tmp_path_factory.mktemp("kolorize-cache"))


@pytest.fixture
def python_ctrl_c() -> Iterator[None]:
    """SIGINT handled as Python handles it in a terminal (KeyboardInterrupt), whatever the
    test runner inherited: a runner started in the background by a non-interactive shell has
    SIGINT ignored, and the Ctrl+C watch then (rightly) leaves it alone."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def swallow_a_ctrl_c() -> None:
    """A Ctrl+C pressed while a command loads, swallowed as a library's bare `except` around
    an optional import swallows it."""
    with contextlib.suppress(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)


@contextlib.contextmanager
def interrupt_watch() -> Iterator[None]:
    """kolorize's Ctrl+C watch, as `kolorize` installs it (needs the `python_ctrl_c` fixture)."""
    from kolorize.interrupts import watch_interrupts

    watch = watch_interrupts()
    try:
        assert watch.installed
        yield
    finally:
        watch.restore()


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No hub cache, and weight downloads that fail at once (a closed port on this machine)."""
    from kolorize.weights import WEIGHTS, WeightFile

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    for key, spec in list(WEIGHTS.items()):
        url = f"http://127.0.0.1:9/{spec.filename}"
        monkeypatch.setitem(WEIGHTS, key, WeightFile(key, spec.filename, url, spec.purpose))


@pytest.fixture
def photo_dir(tmp_path: Path) -> Path:
    """A folder of 24 real photos (copies in the test's temp dir)."""
    return copy_photos(tmp_path / "photos", 24)


@pytest.fixture(scope="module")
def colorizer(tmp_path_factory: pytest.TempPathFactory):
    """A Colorizer around a tiny random generator trained at 32 px."""
    from colorhelp import tiny_generator
    from kolorize.inference.colorizer import Colorizer

    path = tiny_generator(tmp_path_factory.mktemp("model") / "generator.safetensors")
    return Colorizer.load(path, device="cpu")


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A prepared 32x32 cache of 40 real photos (32 train / 8 val), shared by many tests."""
    from kolorize.data.prepare import PrepareRequest, prepare
    from kolorize.data.sources import folder_candidates

    src = tmp_path_factory.mktemp("src")
    copy_photos(src, 40)
    out = tmp_path_factory.mktemp("data") / "tiny"
    prepare(
        folder_candidates([src]),
        out,
        PrepareRequest(size=32, n=40, val=8),
        workers=1,
        log=lambda *_: None,
    )
    return out
