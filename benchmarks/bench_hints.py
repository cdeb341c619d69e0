"""Colour hints on the web page: milliseconds from a click on the photo to the updated preview,
for a 12 MP photo, in headless Chromium with real clicks (Playwright, as the browser tests).

    .venv/bin/python benchmarks/bench_hints.py -m HINT_MODEL [--megapixels 12] [--clicks 6]

What is timed, per click: from the pointerdown on the photo (a new pin) or the colour field's
change to the moment the page has the new preview decoded and shown (its data-preview turns
"ready"): the page's own work (the pin, the hints scaled to its preview copy, the request),
the server's (decode the 1024 px copy, one model call at the model's size, recombine, JPEG)
and the browser decoding the answer. Each click adds a pin, so the k-th preview carries k
hints. Also timed: the preview request alone (httpx, no browser), and the full-resolution
request with hints that the download makes.

The photo is a scikit-image photo in gray, upscaled to the size asked for (content does not
change the timings). The model must take hints (generator.hints).
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from common import machine

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
# where the pins go, as shares of the photo's sides
CLICKS = [(0.3, 0.4), (0.7, 0.3), (0.5, 0.7), (0.2, 0.8), (0.8, 0.8), (0.5, 0.2), (0.4, 0.5)]

# records when a pointerdown or a colour change happens and when the card's preview is ready
_WATCH = """() => {
    const card = document.querySelector('#results .card');
    const mark = {};
    window.__mark = mark;
    const start = () => { if (mark.t0 === undefined) mark.t0 = performance.now(); };
    window.addEventListener('pointerdown', start, {capture: true});
    window.addEventListener('input', start, {capture: true});
    new MutationObserver(() => {
        if (card.dataset.preview === 'ready' && mark.t0 !== undefined && mark.t1 === undefined)
            mark.t1 = performance.now();
    }).observe(card, {attributes: true, attributeFilter: ['data-preview']});
}"""
_RESET = "() => { delete window.__mark.t0; delete window.__mark.t1; }"


def photo_bytes(megapixels: float) -> tuple[bytes, tuple[int, int]]:
    from skimage import data

    width = round((megapixels * 1e6 * 4 / 3) ** 0.5)
    size = (width, round(width * 3 / 4))
    gray = Image.fromarray(data.astronaut()).convert("L").resize(size, Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    gray.save(buf, "JPEG", quality=90)
    return buf.getvalue(), size


def start_server(model: Path, max_bytes: int) -> tuple[str, object]:
    import uvicorn

    from kolorize.inference.colorizer import Colorizer
    from kolorize.serve import create_app
    from kolorize.serve.app import server_config

    colorizer = Colorizer.load(model, device="cpu")
    if not colorizer.takes_hints:
        sys.exit(f"{model} takes no colour hints: give a model trained with generator.hints")
    app = create_app(colorizer, max_bytes=max_bytes, max_pixels=60_000_000)
    server = uvicorn.Server(server_config(app, host="127.0.0.1", port=8765))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return "http://127.0.0.1:8765", server


def time_requests(url: str, photo: bytes, size: tuple[int, int], repeats: int) -> dict:
    import httpx

    small = Image.open(io.BytesIO(photo))
    small.thumbnail((1024, 1024), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    small.convert("RGB").save(buf, "JPEG", quality=95)
    sx = small.width / size[0]
    hints = [{"x": fx * size[0], "y": fy * size[1], "color": "#2f5aa8"} for fx, fy in CLICKS[:3]]
    scaled = [{**h, "x": h["x"] * sx, "y": h["y"] * sx} for h in hints]
    times = []
    with httpx.Client(base_url=url, timeout=600) as http:
        for _ in range(repeats + 1):  # the first warms the model up
            start = time.perf_counter()
            r = http.post("/api/colorize?format=jpeg", data={"hints": json.dumps(scaled)},
                          files={"photo": ("p.jpg", buf.getvalue(), "image/jpeg")})  # fmt: skip
            times.append((time.perf_counter() - start) * 1000)
            assert r.status_code == 200, r.text
        start = time.perf_counter()
        r = http.post("/api/colorize?format=jpeg", data={"hints": json.dumps(hints)},
                      files={"photo": ("p.jpg", photo, "image/jpeg")})  # fmt: skip
        full = (time.perf_counter() - start) * 1000
        assert r.status_code == 200, r.text
    return {"preview_request_ms": times[1:], "full_request_ms": full,
            "preview_size": [small.width, small.height]}  # fmt: skip


def time_page(url: str, photo: bytes, clicks: int) -> dict:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        path = Path(tmp) / "old.jpg"
        path.write_bytes(photo)
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(url)
        start = time.perf_counter()
        page.set_input_files("#file", str(path))
        page.wait_for_selector("#results .card[data-state='done']", state="attached",
                               timeout=600_000)  # fmt: skip
        first = time.perf_counter() - start
        page.click("#results .card .hint-mode")  # makes the preview copy
        page.wait_for_timeout(3000)
        page.evaluate(_WATCH)
        figure = page.locator("#results .card .compare")
        pins, colours = [], []
        for k in range(clicks):
            figure.scroll_into_view_if_needed()
            box = figure.bounding_box()
            fx, fy = CLICKS[k % len(CLICKS)]
            page.evaluate(_RESET)
            page.mouse.click(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
            pins.append(_wait(page))
            page.evaluate(_RESET)
            page.locator("#results .card .hint-colour").nth(k).fill("#2f5aa8")
            colours.append(_wait(page))
        browser.close()
    return {"first_result_s": first, "pin_ms": pins, "colour_ms": colours}


def _wait(page) -> float:
    for _ in range(60_000):
        mark = page.evaluate("() => window.__mark")
        if "t1" in mark:
            return mark["t1"] - mark["t0"]
        time.sleep(0.01)
    raise TimeoutError("no preview")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-m", "--model", type=Path, required=True, help="a hint-capable model")
    parser.add_argument("--megapixels", type=float, default=12)
    parser.add_argument("--clicks", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    photo, size = photo_bytes(args.megapixels)
    url, _server = start_server(args.model, max_bytes=len(photo) * 2)
    requests = time_requests(url, photo, size, args.repeats)
    page = time_page(url, photo, args.clicks)
    med = statistics.median
    print(f"machine: {machine()}")
    print(f"photo: {size[0]}x{size[1]} ({len(photo) / 2**20:.1f} MB JPEG), model {args.model}")
    print(f"preview request alone ({requests['preview_size'][0]}x{requests['preview_size'][1]}"
          f" copy, 3 hints): median {med(requests['preview_request_ms']):.0f} ms, "
          f"{np.round(requests['preview_request_ms']).astype(int).tolist()}")  # fmt: skip
    print(
        f"full-resolution request with 3 hints (the download): {requests['full_request_ms']:.0f} ms"
    )
    print(f"page, first automatic result: {page['first_result_s']:.1f} s")
    print(
        f"page, click -> preview (a new pin each): median {med(page['pin_ms']):.0f} ms, "
        f"{np.round(page['pin_ms']).astype(int).tolist()}"
    )
    print(
        f"page, colour chosen -> preview: median {med(page['colour_ms']):.0f} ms, "
        f"{np.round(page['colour_ms']).astype(int).tolist()}"
    )


if __name__ == "__main__":
    main()
