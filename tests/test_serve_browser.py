"""The web page in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright):
pick photos, drop a photo, get each back in colour at its own size with its own download, see
an upload refused by name, drag the divider, send a TIFF, follow a clip."""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from helpers.colour import live_server, tiny_generator
from helpers.photos import real_photo_paths
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

# photos at full resolution, one after another, on a CPU that other work may share
SLOW_MS = 180_000

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


def _cards(page, count: int) -> list[dict]:
    """The cards of the latest choice once all `count` have ended (done or failed)."""
    # selectors, not wait_for_function: the page's Content-Security-Policy forbids eval
    page.wait_for_selector(
        f"#results .card:nth-child({count}):is([data-state='done'], [data-state='failed'])",
        state="attached",
        timeout=SLOW_MS,
    )
    page.wait_for_selector("#drop:not([aria-busy])", state="attached", timeout=SLOW_MS)
    return page.evaluate(
        """() => [...document.querySelectorAll('#results .card')].map((card) => {
            const img = card.querySelector('.after');
            const link = card.querySelector('.download');
            return {state: card.dataset.state, name: card.querySelector('.name').textContent,
                    w: img && img.naturalWidth, h: img && img.naturalHeight,
                    href: link.href, download: link.download,
                    shown: !card.querySelector('.result').hidden,
                    error: card.querySelector('.error').hidden ? null
                           : card.querySelector('.error').textContent};
        })"""
    )


def test_pick_a_photo_and_get_it_in_colour(page, tmp_path: Path) -> None:
    photo = real_photo_paths(3)[2]
    page.set_input_files("#file", str(photo))
    (card,) = _cards(page, 1)
    assert card["state"] == "done" and card["error"] is None and card["shown"]
    assert (card["w"], card["h"]) == Image.open(photo).size
    assert card["href"].startswith("blob:") and card["download"] == f"{photo.stem}-colorized.jpg"
    assert page.inner_text("#status") == "Done: 1 of 1 in colour."
    shot = tmp_path / "page.png"
    page.screenshot(path=str(shot), full_page=True)
    assert Image.open(shot).size[0] >= 1000


def test_several_photos_at_once_each_with_its_own_result(page) -> None:
    photos = real_photo_paths(3)
    page.set_input_files("#file", [str(p) for p in photos])
    cards = _cards(page, 3)
    assert [c["name"] for c in cards] == [p.name for p in photos]
    assert all(c["state"] == "done" and c["shown"] for c in cards)
    assert [(c["w"], c["h"]) for c in cards] == [Image.open(p).size for p in photos]
    assert len({c["href"] for c in cards}) == 3
    assert [c["download"] for c in cards] == [f"{p.stem}-colorized.jpg" for p in photos]
    assert page.inner_text("#status") == "Done: 3 of 3 in colour."


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
    (card,) = _cards(page, 1)
    assert (card["w"], card["h"]) == upright != Image.open(rotated).size
    assert card["name"] == "rotated.jpg"


def test_a_refused_file_is_named_and_leaves_no_old_result(page, tmp_path: Path) -> None:
    good = real_photo_paths(1)[0]
    page.set_input_files("#file", str(good))
    assert _cards(page, 1)[0]["state"] == "done"
    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo")
    too_big = tmp_path / "big.jpg"
    too_big.write_bytes(good.read_bytes() + b"\0" * (3 * 2**20))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    page.set_input_files("#file", [str(notes), str(too_big), str(broken)])
    cards = _cards(page, 3)  # the earlier photo's card and download are gone
    assert [c["state"] for c in cards] == ["failed"] * 3
    assert not any(c["shown"] for c in cards)
    assert "Please choose a photo" in cards[0]["error"] and '"notes.txt"' in cards[0]["error"]
    assert cards[1]["error"] == '"big.jpg" is 3 MB; the limit is 2 MB.'
    assert cards[2]["error"].startswith('"broken.png": ')
    assert page.inner_text("#status") == "Done: 0 of 3 in colour."


def test_the_divider_follows_a_drag_on_the_photo(page) -> None:
    page.set_input_files("#file", str(real_photo_paths(1)[0]))
    _cards(page, 1)
    figure = page.locator("#results .card .compare")
    box = figure.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.5, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.2, y, steps=4)
    page.mouse.up()
    assert figure.evaluate("f => f.style.getPropertyValue('--split')") == "20%"
    assert page.input_value("#results .card .slider") == "20"
    page.fill("#results .card .slider", "70")  # the slider still works, for the keyboard
    assert figure.evaluate("f => f.style.getPropertyValue('--split')") == "70%"


def test_a_tiff_goes_in_and_the_original_side_shows_its_lightness(page, tmp_path: Path) -> None:
    photo = real_photo_paths(1)[0]
    scan = tmp_path / "scan.tif"
    Image.open(photo).convert("L").save(scan)
    page.set_input_files("#file", str(scan))
    (card,) = _cards(page, 1)
    assert card["state"] == "done" and (card["w"], card["h"]) == Image.open(photo).size
    assert card["download"] == "scan-colorized.png"  # browsers cannot show a TIFF
    assert page.inner_text("#results .card .tag-before") == "Original (gray)"


def test_without_pyav_the_page_asks_for_photos_only(server: str, page) -> None:
    info = page.evaluate("() => fetch('/api/info').then((r) => r.json())")
    page.route("**/api/info", lambda route: route.fulfill(json={**info, "video": False}))
    try:
        page.reload()
        page.wait_for_selector("#model:not(:empty)", state="attached")
        assert page.inner_text("#drop-what") == "Drop photos here"
        assert "clips" not in page.inner_text("#limits")
        assert "video/mp4" not in page.get_attribute("#file", "accept")
    finally:
        page.unroute("**/api/info")
        page.reload()
    page.wait_for_selector("#model:not(:empty)", state="attached")
    assert page.inner_text("#drop-what") == "Drop photos or short clips here"


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
        (card,) = _cards(page, 1)
        assert 'no longer knows "reel.mp4"' in card["error"]
        assert page.get_attribute("#drop", "aria-busy") is None
    finally:
        page.unroute("**/api/video")


def test_an_older_clip_does_not_change_a_newer_choice(page, tmp_path: Path) -> None:
    held = []
    page.route(f"**/api/video/{CLIP_ID}", lambda route: held.append(route))  # answered late
    try:
        with page.expect_request(f"**/api/video/{CLIP_ID}"):
            _send_a_clip(page, tmp_path)
        photo = real_photo_paths(1)[0]
        page.set_input_files("#file", str(photo))  # a newer choice while the clip's is pending
        (card,) = _cards(page, 1)
        with page.expect_response(f"**/api/video/{CLIP_ID}"):
            held[0].fulfill(json={"state": "failed", "done": 0, "total": 3, "detail": "old"})
        page.wait_for_timeout(500)  # time for the old poll to act on its answer, if it would
        assert page.locator("#results .card").count() == 1
        assert card["name"] == photo.name and page.is_hidden("#results .card .error")
        assert page.inner_text("#status").startswith("Done:")
    finally:
        page.unroute(f"**/api/video/{CLIP_ID}")
        page.unroute("**/api/video")
