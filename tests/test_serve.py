"""The web API: uploads in, full-resolution colour photos out, limits with clear messages.
Every test talks HTTP to a real uvicorn server on 127.0.0.1 (httpx as the client)."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from helpers.badfiles import make_all
from helpers.cli import run_cli
from helpers.colour import hint_generator, live_server
from helpers.photos import real_photo_paths
from kolorize.inference.colorizer import Colorizer
from kolorize.serve import create_app
from kolorize.serve.app import STATIC

MAX_BYTES = 200_000


@pytest.fixture(scope="module")
def client(colorizer: Colorizer) -> Iterator[httpx.Client]:
    app = create_app(colorizer, max_bytes=MAX_BYTES, max_pixels=2_000_000)
    with live_server(app) as url, httpx.Client(base_url=url, timeout=120) as http:
        yield http


def test_page_and_its_files_are_served_without_any_cdn(client: httpx.Client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    for name in ("app.js", "style.css"):
        assert client.get(f"/static/{name}").status_code == 200
    for path in STATIC.iterdir():  # nothing from the internet: the page works offline
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", path.read_text()), path
    info = client.get("/api/info").json()
    assert info["max_bytes"] == MAX_BYTES and info["image_size"] == 32


def test_upload_returns_the_photo_in_colour_at_full_size(
    client: httpx.Client, colorizer: Colorizer
) -> None:
    photo = real_photo_paths(2)[1]
    data = photo.read_bytes()
    response = client.post("/api/colorize", files={"photo": (photo.name, data, "image/jpeg")})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert f'filename="{photo.stem}-colorized.png"' in response.headers["content-disposition"]
    result = Image.open(io.BytesIO(response.content))
    assert result.format == "PNG" and result.size == Image.open(photo).size
    expected = colorizer.colorize(Image.open(photo))
    np.testing.assert_array_equal(np.asarray(result), np.asarray(expected))
    as_jpeg = client.post(
        "/api/colorize?format=jpeg", files={"photo": (photo.name, data, "image/jpeg")}
    )
    assert Image.open(io.BytesIO(as_jpeg.content)).format == "JPEG"


@pytest.mark.parametrize(
    ("name", "content", "kind", "status", "message"),
    [
        ("notes.txt", b"hello" * 100, "text/plain", 415, "Please upload a photo"),
        ("notes.jpg", b"hello" * 100, "image/jpeg", 415, "not a photo"),
        ("corrupt.jpg", "corrupt.jpg", "image/jpeg", 422, "could not be read (corrupt)"),
        # just over the limit (found by the app) and far over it (refused before reading)
        ("big.jpg", MAX_BYTES + 1, "image/jpeg", 413, "too big: the limit is 195 KB"),
        ("huge.jpg", 3 * MAX_BYTES, "image/jpeg", 413, "too big: the limit is 195 KB"),
        ("bomb.png", "bomb.png", "image/png", 413, "too many pixels"),
    ],
)
def test_bad_uploads_get_a_clear_message(
    client: httpx.Client,
    name: str,
    content: bytes | str | int,
    kind: str,
    status: int,
    message: str,
) -> None:
    photo = real_photo_paths(1)[0]
    if isinstance(content, int):  # a real photo padded to this many bytes (still readable)
        data = photo.read_bytes()
        content = data + b"\0" * (content - len(data))
    elif isinstance(content, str):
        content = make_all(photo)[content][0]
    response = client.post("/api/colorize", files={"photo": (name, content, kind)})
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]


def test_upload_without_a_length_is_refused(client: httpx.Client) -> None:
    def chunks():
        yield b"--x\r\n"

    response = client.post(
        "/api/colorize",
        content=chunks(),
        headers={"content-type": "multipart/form-data; boundary=x"},
    )
    assert response.status_code == 411


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def test_concurrent_users_get_their_own_photos(colorizer: Colorizer) -> None:
    """Twelve uploads of six photos at once, through a real server: each user gets exactly
    the colorization of their own photo (same-size photos, so a mix-up cannot hide)."""
    photos = [Image.open(p).resize((96, 64) if i % 2 else (80, 120)) for i, p in
              enumerate(real_photo_paths(6))]  # fmt: skip
    expected = [np.asarray(colorizer.colorize(p)) for p in photos]
    with live_server(create_app(colorizer, workers=3)) as url:

        def upload(i: int) -> np.ndarray:
            files = {"photo": (f"user{i}.png", _png(photos[i]), "image/png")}
            response = httpx.post(f"{url}/api/colorize", files=files, timeout=120)
            response.raise_for_status()
            return np.asarray(Image.open(io.BytesIO(response.content)))

        with ThreadPoolExecutor(max_workers=6) as pool:
            results = list(pool.map(upload, [*range(6), *range(6)]))
    for i, got in enumerate(results):
        np.testing.assert_array_equal(got, expected[i % 6])


def test_serve_refuses_a_missing_model(tmp_path: Path) -> None:
    result = run_cli("serve", "--model", str(tmp_path / "none"), "--port", "1")
    assert result.code == 2 and "no such model file" in result.err


def test_an_animated_gif_comes_back_from_its_first_frame_with_a_note(client: httpx.Client) -> None:
    frames = [Image.new("RGB", (40, 32), (v, v, v)) for v in (40, 120, 200)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    response = client.post("/api/colorize", files={"photo": ("a.gif", buf.getvalue())})
    assert response.status_code == 200, response.text
    assert response.headers["x-kolorize-note"] == (
        "It holds 3 frames (an animation or pages): only the first was colorized."
    )
    assert (
        "x-kolorize-note"
        not in client.post("/api/colorize", files={"photo": ("b.png", _one_frame_png())}).headers
    )


def _one_frame_png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 32), (90, 90, 90)).save(buf, "PNG")
    return buf.getvalue()


# -- colour hints -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hint_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    model = hint_generator(tmp_path_factory.mktemp("hints") / "generator.safetensors")
    app = create_app(Colorizer.load(model, device="cpu"), max_bytes=MAX_BYTES)
    with live_server(app) as url, httpx.Client(base_url=url, timeout=120) as http:
        yield http


def _gray(size: tuple[int, int] = (400, 300)) -> bytes:
    return _png(Image.new("L", size, 128))


def _colorize(http: httpx.Client, hints: object = None, photo: bytes | None = None):
    data = (
        {} if hints is None else {"hints": hints if isinstance(hints, str) else json.dumps(hints)}
    )
    files = {"photo": ("old.png", photo or _gray(), "image/png")}
    return http.post("/api/colorize", files=files, data=data)


def _rgb(response: httpx.Response) -> np.ndarray:
    assert response.status_code == 200, response.text
    return np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"), float)


def test_info_says_whether_the_model_takes_hints(client, hint_client) -> None:
    assert client.get("/api/info").json()["hints"] is False
    info = hint_client.get("/api/info").json()
    assert info["hints"] is True and info["hint_radius_share"] == 0.02


def test_a_hint_colours_its_place_and_the_rest_stays(hint_client) -> None:
    plain = _rgb(_colorize(hint_client))
    hinted = _rgb(_colorize(hint_client, [{"x": 100, "y": 200, "color": "#2040ff"}]))
    near, far = (slice(198, 205), slice(102, 109)), (slice(0, 20), slice(380, 400))
    assert hinted[near][..., 2].mean() > plain[near][..., 2].mean() + 80
    assert np.abs(hinted[far] - plain[far]).max() <= 1
    # the same hint on a copy at a quarter of the size, at a quarter of the coordinates: the
    # page's preview, which must look as the full-resolution result does
    small = _rgb(_colorize(hint_client, [{"x": 25, "y": 50, "color": "#2040ff"}], _gray((100, 75))))
    big = np.asarray(Image.fromarray(hinted.astype(np.uint8)).resize((100, 75), Image.BOX), float)
    assert np.abs(small - big).mean() < 3


@pytest.mark.parametrize(
    ("hints", "message"),
    [
        ("{", "The hints must be a JSON list of {x, y, color} objects."),
        ('{"x": 1}', "The hints must be a JSON list of {x, y, color} objects."),
        ('[{"x": 1, "y": 2, "color": "<script>"}]', "Hint 1 is not valid: it needs numbers x"),
        ('[{"x": 1, "y": 2, "color": "red"}, {"x": "1", "y": 2, "color": "red"}]', "Hint 2 is"),
        ('[{"x": 1, "y": 2, "color": "red", "radius": -1}]', "Hint 1 is not valid"),
        ('[{"x": 1, "y": 300, "color": "red"}]', "Hint 1 lies outside the photo (400x300 pixels)."),
        (json.dumps([{"x": 1, "y": 1, "color": "red"}] * 201), "At most 200 hints"),
        ("[" * 100_000, "The hints must be a JSON list"),
    ],
)
def test_bad_hints_are_one_sentence_that_repeats_nothing_sent(hint_client, hints, message) -> None:
    response = _colorize(hint_client, hints)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail.startswith(message) and "script" not in detail and detail.count(".") <= 2
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" in response.headers


def test_hints_to_a_model_without_hint_inputs_are_refused(client) -> None:
    response = _colorize(client, [{"x": 1, "y": 1, "color": "red"}])
    assert response.status_code == 422
    assert response.json() == {"detail": "This model takes no colour hints."}
    assert _colorize(client, []).status_code == 200  # no hints: as without the field


def test_hints_sent_as_a_file_get_a_sentence_about_the_field(hint_client) -> None:
    files = {"photo": ("old.png", _gray(), "image/png"), "hints": ("h.json", b"[]", "text/json")}
    response = hint_client.post("/api/colorize", files=files)
    assert response.status_code == 422
    assert response.json()["detail"].startswith("The form field 'hints' must be text")
