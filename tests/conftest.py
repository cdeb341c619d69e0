"""Shared fixtures; what tests import lives in the `helpers` package."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers.photos import copy_photos


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
    from helpers.colour import tiny_generator
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
