"""The web page in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright):
pick a photo, drop a photo, get it back in colour at its own size, see an upload refused."""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from colorhelp import live_server, tiny_generator
from conftest import real_photo_paths
from kolorize.inference.colorizer import Colorizer
from kolorize.serve import create_app

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason=f"needs {CHROMIUM}"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    model = tiny_generator(tmp_path_factory.mktemp("model") / "generator.safetensors")
    app = create_app(Colorizer.load(model, device="cpu"), max_bytes=2 * 2**20)
    with live_server(app) as url:
        yield url


@pytest.fixture(scope="module")
def page(server: str) -> Iterator:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        tab = browser.new_page(viewport={"width": 1100, "height": 900})
        tab.goto(server)
        yield tab
        browser.close()


def _wait_for_result(page) -> dict:
    # selectors, not wait_for_function: the page's Content-Security-Policy forbids eval
    page.wait_for_selector("#compare[data-ready='true']", state="attached")
    return page.evaluate(
        """() => {
            const img = document.getElementById('result');
            const link = document.getElementById('download');
            return {w: img.naturalWidth, h: img.naturalHeight, complete: img.complete,
                    href: link.href, name: link.download,
                    error: document.getElementById('error').hidden};
        }"""
    )


def test_pick_a_photo_and_get_it_in_colour(page, tmp_path: Path) -> None:
    photo = real_photo_paths(3)[2]
    page.set_input_files("#file", str(photo))
    shown = _wait_for_result(page)
    assert (shown["w"], shown["h"]) == Image.open(photo).size
    assert shown["complete"] and shown["error"]  # the error box stays hidden
    assert shown["href"].startswith("blob:") and shown["name"] == f"{photo.stem}-colorized.jpg"
    assert "Done" in page.inner_text("#status")
    shot = tmp_path / "page.png"
    page.screenshot(path=str(shot), full_page=True)
    assert Image.open(shot).size[0] >= 1000


def test_drop_a_rotated_photo_and_get_it_upright(page, tmp_path: Path) -> None:
    from badfiles import make_all

    photo = real_photo_paths(3)[0]
    data = make_all(photo)["rotated.jpg"][0]  # stored sideways, EXIF says turn it
    rotated = tmp_path / "rotated.jpg"
    rotated.write_bytes(data)
    upright = ImageOps.exif_transpose(Image.open(rotated)).size
    transfer = page.evaluate_handle(
        """(b64) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], 'rotated.jpg', {type: 'image/jpeg'}));
            return dt;
        }""",
        base64.b64encode(data).decode(),
    )
    page.dispatch_event("#drop", "drop", {"dataTransfer": transfer})
    shown = _wait_for_result(page)
    assert (shown["w"], shown["h"]) == upright != Image.open(rotated).size
    assert page.inner_text("#status").startswith("Done: rotated.jpg")


def test_a_file_that_is_not_a_photo_gets_a_clear_message(page, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo")
    page.set_input_files("#file", str(notes))
    page.wait_for_selector("#error:not([hidden])")
    assert "Please choose a photo" in page.inner_text("#error")
    too_big = tmp_path / "big.jpg"
    too_big.write_bytes(real_photo_paths(1)[0].read_bytes() + b"\0" * (3 * 2**20))
    page.set_input_files("#file", str(too_big))
    page.wait_for_selector("#error:has-text('limit')")
    assert "the limit is 2 MB" in page.inner_text("#error")


CLIP_ID = "c" * 22


def _send_a_clip(page, tmp_path: Path) -> None:
    """Pick a clip whose upload the server (stood in for by `route`) accepts as CLIP_ID; its
    progress is asked from the real server unless the test routes that too."""
    page.route(
        "**/api/video",
        lambda route: route.fulfill(status=202, json={"id": CLIP_ID, "frames": 3}),
    )
    clip = tmp_path / "reel.mp4"
    clip.write_bytes(b"\0" * 100)
    page.set_input_files("#file", str(clip))


def test_a_clip_the_server_no_longer_knows_gets_a_clear_message(page, tmp_path: Path) -> None:
    try:
        _send_a_clip(page, tmp_path)  # the real server never saw it: 404, as after a restart
        page.wait_for_selector("#error:not([hidden])")
        assert "no longer knows this clip" in page.inner_text("#error")
        assert page.get_attribute("#drop", "aria-busy") is None
    finally:
        page.unroute("**/api/video")


def test_an_older_clip_does_not_overwrite_a_newer_photo(page, tmp_path: Path) -> None:
    held = []
    page.route(f"**/api/video/{CLIP_ID}", lambda route: held.append(route))  # answered late
    try:
        with page.expect_request(f"**/api/video/{CLIP_ID}"):
            _send_a_clip(page, tmp_path)
        photo = real_photo_paths(1)[0]
        page.set_input_files("#file", str(photo))  # a newer upload while the clip's is pending
        _wait_for_result(page)
        with page.expect_response(f"**/api/video/{CLIP_ID}"):
            held[0].fulfill(json={"state": "failed", "done": 0, "total": 3, "detail": "old"})
        page.wait_for_timeout(500)  # time for the old poll to act on its answer, if it would
        assert page.is_hidden("#error") and page.inner_text("#status").startswith("Done:")
    finally:
        page.unroute(f"**/api/video/{CLIP_ID}")
        page.unroute("**/api/video")
