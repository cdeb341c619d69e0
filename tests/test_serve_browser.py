"""The web page in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright):
pick photos, drop a photo, get each back in colour at its own size with its own download, see
an upload refused by name, drag the divider, send a TIFF, follow a clip; place, colour, drag
and delete colour hints, and download them and the photo made with them."""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from helpers.colour import hint_generator, live_server, tiny_generator
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
def browser() -> Iterator:
    """One Chromium for the module: Playwright's sync API runs one instance at a time."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def page(server: str, browser) -> Iterator:
    tab = browser.new_page(viewport={"width": 1100, "height": 900})
    tab.goto(server)
    yield tab
    tab.close()


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
    from helpers.badfiles import make_all

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


# -- colour hints ---------------------------------------------------------------------------
# With colorhelp.hint_generator, whose colour is a known brown except on a hint's own patch:
# where a pin's colour shows, and where it does not, says whether the page sent the hint to
# the right place, and whether it sent it at all.


@pytest.fixture(scope="module")
def hint_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hint_generator(tmp_path_factory.mktemp("hints") / "generator.safetensors")


@pytest.fixture(scope="module")
def hint_page(hint_model: Path, browser) -> Iterator:
    app = create_app(Colorizer.load(hint_model, device="cpu"), max_bytes=2 * 2**20)
    with live_server(app) as url:
        tab = browser.new_page(viewport={"width": 1100, "height": 900}, accept_downloads=True)
        tab.goto(url)
        yield tab
        tab.close()


@pytest.fixture
def gray_photo(tmp_path: Path) -> Path:
    """A black-and-white photo, 4:3, larger than the page's preview copy (1024 px), so that
    the previews' hints are scaled: 1280 x 960."""
    path = tmp_path / "old.jpg"
    photo = Image.open(real_photo_paths(1)[0]).convert("L")
    photo.resize(PHOTO_SIZE, Image.Resampling.BICUBIC).save(path, quality=95)
    return path


PHOTO_SIZE = (1280, 960)
GRID = (64, 48)  # what the shown colour is sampled at: cells of 20 x 20 photo pixels


def _shown(page) -> np.ndarray:
    """The colour the card shows now, (48, 64, 3), whatever the size of the image shown."""
    data = page.evaluate(
        """([w, h]) => {
            const canvas = document.createElement('canvas');
            canvas.width = w;
            canvas.height = h;
            const context = canvas.getContext('2d');
            context.imageSmoothingQuality = 'high';
            context.drawImage(document.querySelector('#results .card .after'), 0, 0, w, h);
            return Array.from(context.getImageData(0, 0, w, h).data);
        }""",
        list(GRID),
    )
    return np.asarray(data, float).reshape(GRID[1], GRID[0], 4)[..., :3]


def _cell(rgb: np.ndarray, fx: float, fy: float) -> np.ndarray:
    """The mean colour of the 3x3 cells around (fx, fy), given as shares of the photo's sides."""
    x, y = round(fx * GRID[0]), round(fy * GRID[1])
    return rgb[y - 1 : y + 2, x - 1 : x + 2].reshape(-1, 3).mean(0)


def _most(change: np.ndarray, fx: float, fy: float, channel: int) -> float:
    """The largest change of one channel within 2 cells of (fx, fy): a hint's patch is a model
    pixel (40 x 30 photo pixels here), not centred on the pin to the pixel."""
    x, y = round(fx * GRID[0]), round(fy * GRID[1])
    return float(change[y - 2 : y + 3, x - 2 : x + 3, channel].max())


def _preview(page) -> None:
    """Wait for the preview asked for by the latest change (it fails on a failed preview)."""
    page.wait_for_selector(
        "#results .card:is([data-preview='ready'], [data-preview='failed'])",
        state="attached",
        timeout=SLOW_MS,
    )
    card = page.locator("#results .card")
    assert card.get_attribute("data-preview") == "ready", card.locator(".hint-status").inner_text()


def _figure_box(page) -> dict:
    """Where the photo is in the viewport, having brought all of it in (the mouse acts there,
    and filling a field below the photo may have scrolled it away)."""
    figure = page.locator("#results .card .compare")
    figure.scroll_into_view_if_needed()
    return figure.bounding_box()


def _click_photo(page, fx: float, fy: float, **options) -> tuple[float, float]:
    box = _figure_box(page)
    x, y = box["x"] + fx * box["width"], box["y"] + fy * box["height"]
    page.mouse.click(x, y, **options)
    return x, y


def _open(page, photo: Path) -> np.ndarray:
    page.set_input_files("#file", str(photo))
    (card,) = _cards(page, 1)
    assert card["state"] == "done"
    assert page.is_visible("#results .card .hints")
    return _shown(page)


def test_a_pin_colours_the_photo_around_it_and_deleting_it_restores_the_result(
    hint_page, gray_photo
) -> None:
    page = hint_page
    auto = _open(page, gray_photo)
    page.click("#results .card .hint-mode")
    assert page.get_attribute("#results .card .hint-mode", "aria-pressed") == "true"
    x, y = _click_photo(page, 0.25, 0.5)
    page.wait_for_selector("#results .card .hint-row")
    pin = page.locator("#results .card .pin").bounding_box()
    assert abs(pin["x"] + pin["width"] / 2 - x) < 3 and abs(pin["y"] + pin["height"] / 2 - y) < 3
    _preview(page)
    page.fill("#results .card .hint-colour", "#2040ff")  # the browser's colour picker's field
    _preview(page)
    hinted = _shown(page)
    assert _most(hinted - auto, 0.25, 0.5, 2) > 60  # bluer
    for fx, fy in ((0.75, 0.5), (0.25, 0.15), (0.25, 0.85), (0.9, 0.9)):  # far from the pin
        assert np.abs(_cell(hinted, fx, fy) - _cell(auto, fx, fy)).max() < 4, (fx, fy)
    label = page.get_attribute("#results .card .pin", "aria-label")
    assert label == "Hint 1, #2040ff, at 320, 480"

    page.click("#results .card .pin", button="right")  # right-click deletes
    _preview(page)
    assert page.locator("#results .card .pin").count() == 0
    assert np.array_equal(_shown(page), auto)  # the automatic result itself, as it was


def test_pins_by_keyboard_move_and_go_with_the_delete_key(hint_page, gray_photo) -> None:
    page = hint_page
    auto = _open(page, gray_photo)
    page.click("#results .card .hint-centre")  # a hint for those without a pointer
    page.wait_for_selector("#results .card .pin:focus")
    page.fill("#results .card .hint-colour", "#ff2020")
    page.focus("#results .card .pin")
    for _ in range(20):  # 1 % of the photo each: 20 x 13 px to the right
        page.keyboard.press("ArrowRight")
    _preview(page)
    assert page.inner_text("#results .card .hint-where") == "at 900, 480"
    moved = _shown(page)
    assert _most(moved - auto, 0.7, 0.5, 0) > 30  # redder
    assert np.abs(_cell(moved, 0.5, 0.5) - _cell(auto, 0.5, 0.5)).max() < 4  # it left the middle
    page.keyboard.press("Delete")
    _preview(page)
    assert page.locator("#results .card .pin").count() == 0
    assert np.array_equal(_shown(page), auto)


def test_drag_a_pin_then_download_the_hints_and_the_photo_at_full_size(
    hint_page, gray_photo, hint_model, tmp_path
) -> None:
    from kolorize.inference.user_hints import load_hints

    page = hint_page
    auto = _open(page, gray_photo)
    page.click("#results .card .hint-mode")
    _click_photo(page, 0.3, 0.3)
    page.wait_for_selector("#results .card .hint-row")
    page.fill("#results .card .hint-colour", "#20c020")
    page.fill("#results .card .hint-colour", "#ff2020")  # the newest colour is what shows
    box = _figure_box(page)
    pin = page.locator("#results .card .pin").bounding_box()
    page.mouse.move(pin["x"] + pin["width"] / 2, pin["y"] + pin["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + 0.7 * box["width"], box["y"] + 0.6 * box["height"], steps=8)
    page.mouse.up()
    _preview(page)
    dragged = _shown(page)
    assert _most(dragged - auto, 0.7, 0.6, 0) > 30  # redder
    assert np.abs(_cell(dragged, 0.3, 0.3) - _cell(auto, 0.3, 0.3)).max() < 4

    with page.expect_download() as hints_file:
        page.click("#results .card .hints-json")
    saved = tmp_path / hints_file.value.suggested_filename
    hints_file.value.save_as(saved)
    assert saved.name == "old-hints.json"
    (hint,) = json.loads(saved.read_text())
    assert hint["color"] == "#ff2020"
    assert abs(hint["x"] - 0.7 * 1280) <= 4 and abs(hint["y"] - 0.6 * 960) <= 4

    with page.expect_download(timeout=SLOW_MS) as photo_file:
        page.click("#results .card .download")
    photo_file.value.save_as(tmp_path / "full.jpg")
    full = Image.open(tmp_path / "full.jpg")
    assert full.size == PHOTO_SIZE
    # the file the page offers is what the same hints give through the Python API (--hints)
    expected = Colorizer.load(hint_model, device="cpu").colorize(
        gray_photo, hints=load_hints(saved)
    )
    difference = np.abs(np.asarray(full, float) - np.asarray(expected, float))
    assert difference.mean() < 1.5 and np.percentile(difference, 99) < 12


def test_a_model_without_hint_inputs_shows_no_hints(page) -> None:
    page.set_input_files("#file", str(real_photo_paths(1)[0]))
    assert _cards(page, 1)[0]["state"] == "done"
    assert page.is_hidden("#results .card .hints")
    assert page.locator("#results .card .pin").count() == 0
