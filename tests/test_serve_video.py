"""Short clips through the web API: upload, progress, the coloured clip back; limits said plainly.
A real uvicorn server on 127.0.0.1, httpx as the client."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

pytest.importorskip("av")

from helpers.colour import live_server
from helpers.video import audio_packets, cut_short, panned, read_frames, write_clip
from kolorize.inference.colorizer import Colorizer
from kolorize.serve import create_app


@pytest.fixture(scope="module")
def client(colorizer: Colorizer) -> Iterator[httpx.Client]:
    app = create_app(colorizer, max_bytes=300_000, max_video_seconds=1)
    with live_server(app) as url, httpx.Client(base_url=url, timeout=60) as http:
        yield http


def _wait(client: httpx.Client, job: str) -> list[dict]:
    states = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        states.append(client.get(f"/api/video/{job}").json())
        if states[-1]["state"] in ("done", "failed"):
            return states
        time.sleep(0.1)
    raise AssertionError(f"the clip did not finish: {states[-1]}")


def test_a_clip_comes_back_in_colour_with_its_sound(client: httpx.Client, tmp_path: Path) -> None:
    src = write_clip(tmp_path / "reel.mp4", panned(12))
    info = client.get("/api/info").json()
    assert info["video"] is True and info["max_video_seconds"] == 1

    sent = client.post("/api/video", files={"video": ("reel.mp4", src.read_bytes(), "video/mp4")})

    assert sent.status_code == 202, sent.text
    assert sent.json()["frames"] == 12
    states = _wait(client, sent.json()["id"])
    assert states[-1] == {"state": "done", "done": 12, "total": 12, "detail": ""}
    got = client.get(f"/api/video/{sent.json()['id']}/result")
    assert got.status_code == 200 and got.headers["content-type"] == "video/mp4"
    assert 'filename="reel-colorized.mp4"' in got.headers["content-disposition"]
    out = tmp_path / "back.mp4"
    out.write_bytes(got.content)
    assert len(read_frames(out)) == 12
    assert audio_packets(out) == audio_packets(src)


def test_a_clip_cut_short_fails_with_its_frame_count(client: httpx.Client, tmp_path: Path) -> None:
    whole = write_clip(tmp_path / "whole.mp4", panned(20), faststart=True)
    sent = client.post("/api/video", files={"video": ("cut.mp4", cut_short(whole, 0.6))})
    assert sent.status_code == 202, sent.text
    states = _wait(client, sent.json()["id"])
    assert states[-1]["state"] == "failed" and states[-1]["total"] == 20
    assert re.fullmatch(r"the clip: the video ends after \d+ of its 20 frames \(the file is cut "
                        r"short\)", states[-1]["detail"])  # fmt: skip
    assert client.get(f"/api/video/{sent.json()['id']}/result").status_code == 409


@pytest.mark.parametrize(
    ("name", "make", "kind", "status", "message"),
    [
        ("long.mp4", lambda p: write_clip(p, panned(30)).read_bytes(), "video/mp4", 413,
         "The clip is 1.2 s long: the limit is 1 s"),
        ("notes.mp4", lambda p: b"not a film" * 50, "video/mp4", 422,
         "This clip: is not a video that can be read"),
        ("notes.txt", lambda p: b"hello", "text/plain", 415, "MP4, WebM or MOV"),
        ("big.mp4", lambda p: b"\0" * 300_001, "video/mp4", 413,
         "The clip is too big: the limit is 293 KB"),
        ("huge.mp4", lambda p: b"\0" * 400_000, "video/mp4", 413,  # refused by its length
         "The clip is too big: the limit is 293 KB"),
        ("still.mp4", lambda p: _png_bytes(), "video/mp4", 422,
         "This clip: is a still image, not a video"),
    ],
)  # fmt: skip
def test_bad_clips_get_a_clear_message(
    client: httpx.Client, tmp_path: Path, name: str, make, kind: str, status: int, message: str
) -> None:
    data = make(tmp_path / name)
    response = client.post("/api/video", files={"video": (name, data, kind)})
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]


def _png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(panned(1)[0]).save(buf, "PNG")
    return buf.getvalue()


def test_unknown_or_unfinished_clips(client: httpx.Client) -> None:
    assert client.get("/api/video/" + "x" * 22).status_code == 404
    assert client.get("/api/video/../../etc/passwd").status_code == 404
    assert client.get("/api/video/" + "x" * 22 + "/result").status_code == 404
