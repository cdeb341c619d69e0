"""Fuzzing the image loader and the upload endpoint with mutated bytes of a real photo.

The seeds are one real photo, small, saved in every format the page and the command line take
(and with EXIF orientation, an ICC profile, alpha, a palette); each case mutates one seed in a
seeded way (flipped bytes, random runs, cuts, repeats, inserted noise, big numbers in size
fields, one format's header on another's body). Every answer must be a decoded photo or one of
the documented refusals: never a traceback, never a 500."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from PIL import Image, ImageCms

from helpers.colour import live_server
from helpers.photos import real_photo_paths
from kolorize.data.images import ImageRejected, load_rgb
from kolorize.inference.colorizer import Colorizer
from kolorize.serve import create_app

LOADER_CASES = 400
UPLOAD_CASES = 150
REASONS = {"empty file", "not an image", "truncated", "corrupt", "too small", "too large"}
ANSWERS = {200, 413, 415, 422}  # the page's documented answers to a photo

# Pillow warns (and goes on) about the damaged EXIF and TIFF tags these cases are full of.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _save(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


@pytest.fixture(scope="module")
def seeds() -> list[bytes]:
    photo = Image.open(real_photo_paths(1)[0]).convert("RGB")
    photo.thumbnail((48, 48))
    exif = Image.Exif()
    exif[0x0112] = 6
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return [
        _save(photo, "JPEG", quality=90),
        _save(photo, "JPEG", quality=90, exif=exif, progressive=True),
        _save(photo, "PNG"),
        _save(photo, "PNG", icc_profile=srgb),
        _save(photo.convert("RGBA"), "PNG"),
        _save(photo.quantize(64), "GIF"),
        _save(photo, "WEBP", quality=80),
        _save(photo, "BMP"),
        _save(photo, "TIFF"),
        _save(photo.convert("CMYK"), "JPEG"),
    ]


def mutate(data: bytes, rng: np.random.Generator, others: list[bytes]) -> bytes:
    b = bytearray(data)
    kind = rng.integers(8)
    n = len(b)
    if kind == 0:  # flip a few bytes
        for i in rng.integers(0, n, rng.integers(1, 9)):
            b[i] ^= 1 << int(rng.integers(8))
    elif kind == 1:  # a run of random bytes
        i = int(rng.integers(0, n))
        run = rng.integers(0, 256, int(rng.integers(1, 64)), dtype=np.uint8).tobytes()
        b[i : i + len(run)] = run
    elif kind == 2:  # cut short
        b = b[: int(rng.integers(0, n))]
    elif kind == 3:  # a piece repeated
        i, j = sorted(int(x) for x in rng.integers(0, n, 2))
        b[j:j] = b[i:j] * int(rng.integers(1, 4))
    elif kind == 4:  # noise inserted
        i = int(rng.integers(0, n))
        b[i:i] = rng.integers(0, 256, int(rng.integers(1, 200)), dtype=np.uint8).tobytes()
    elif kind == 5:  # a huge number where sizes usually live (headers)
        i = int(rng.integers(0, min(n, 64)))
        b[i : i + 4] = int(rng.integers(0, 2**32)).to_bytes(4, "big")
    elif kind == 6:  # another format's header on this body
        other = others[int(rng.integers(len(others)))]
        cut = int(rng.integers(1, 64))
        b = bytearray(other[:cut]) + b[cut:]
    else:  # 0xFF or 0x00 runs, as on damaged media
        i = int(rng.integers(0, n))
        b[i : i + int(rng.integers(1, 32))] = bytes([0xFF if rng.integers(2) else 0]) * 16
    return bytes(b)


def cases(seeds: list[bytes], count: int, seed: int) -> Iterator[bytes]:
    rng = np.random.default_rng(seed)
    for _ in range(count):
        data = seeds[int(rng.integers(len(seeds)))]
        for _ in range(int(rng.integers(1, 4))):
            data = mutate(data, rng, seeds)
        yield data


def test_the_loader_decodes_or_refuses_every_mutated_photo(seeds, colorizer: Colorizer) -> None:
    started = time.monotonic()
    outcomes: dict[str, int] = {}
    for data in cases(seeds, LOADER_CASES, seed=1):
        try:
            loaded = load_rgb(data, min_side=1, max_pixels=2_000_000)
        except ImageRejected as e:
            assert e.reason in REASONS, e
            outcomes[e.reason] = outcomes.get(e.reason, 0) + 1
            continue
        outcomes["decoded"] = outcomes.get("decoded", 0) + 1
        assert loaded.image.mode == "RGB"
        if loaded.image.width * loaded.image.height <= 100_000:  # (bounded in time)
            result = colorizer.colorize(loaded.image)  # what was decoded can be colorized
            assert result.size == loaded.image.size
    assert sum(outcomes.values()) == LOADER_CASES
    assert outcomes.get("decoded", 0) > 20 and len(outcomes) >= 3, outcomes  # a real mix
    assert time.monotonic() - started < 60


def test_the_upload_endpoint_answers_every_mutated_photo(seeds, colorizer: Colorizer) -> None:
    app = create_app(colorizer, max_bytes=200_000, max_pixels=2_000_000)
    kinds = ["image/jpeg", "image/png", "image/webp", "image/gif", "application/octet-stream"]
    names = ["a.jpg", "b.png", "c.webp", "d.gif", "e.bmp", "noext", "x.tif"]
    rng = np.random.default_rng(2)
    statuses: dict[int, int] = {}
    started = time.monotonic()
    with live_server(app) as url, httpx.Client(base_url=url, timeout=60) as http:
        for data in cases(seeds, UPLOAD_CASES, seed=3):
            name = names[int(rng.integers(len(names)))]
            kind = kinds[int(rng.integers(len(kinds)))]
            fmt = ["png", "jpeg", "webp"][int(rng.integers(3))]
            answer = http.post(f"/api/colorize?format={fmt}", files={"photo": (name, data, kind)})
            assert answer.status_code in ANSWERS, (answer.status_code, answer.text[:200])
            if answer.status_code != 200:
                assert answer.json()["detail"]
            statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
    assert sum(statuses.values()) == UPLOAD_CASES and statuses.get(200, 0) > 10, statuses
    assert time.monotonic() - started < 60
