"""Render the README's hints figure: gray | automatic | with 3 hints | original, for photos that
ship with scikit-image (never trained on). Each hint's colour is the original's mean colour
around its point, as a user who remembers the colour would give it; pins are drawn as rings.

    .venv/bin/python docs/make_hints_figure.py [MODEL] [--out docs/hints.jpg]

MODEL is a hint-capable run directory or generator file; by default the shipped colorizer.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from make_examples import write_sheet  # docs/ is on the path when run
from PIL import Image, ImageDraw

from kolorize import Colorizer, Hint
from kolorize.demo import sample_photo
from kolorize.inference.colorizer import grayscale

ROW_HEIGHT = 260
LABELS = ("gray input", "automatic", "with 3 hints", "original")
# (photo, [(x, y) as shares of the width and height]): where the automatic colour is wrong
HINTS = {
    "astronaut": [(0.2, 0.75), (0.55, 0.65), (0.05, 0.42)],
    "coffee": [(0.3, 0.2), (0.75, 0.5), (0.15, 0.8)],
}


def true_colour(photo: np.ndarray, x: int, y: int, radius: int) -> str:
    patch = photo[max(0, y - radius) : y + radius + 1, max(0, x - radius) : x + radius + 1]
    r, g, b = patch.reshape(-1, 3).mean(axis=0).round().astype(int)
    return f"#{r:02x}{g:02x}{b:02x}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?")
    parser.add_argument("--out", default=str(Path(__file__).parent / "hints.jpg"))
    args = parser.parse_args()
    colorizer = Colorizer.load(args.model)
    if not colorizer.takes_hints:
        raise SystemExit(f"{colorizer.description} has no hint inputs")
    rows = []
    for name, points in HINTS.items():
        pixels = sample_photo(name)
        original = Image.fromarray(pixels)
        h, w = pixels.shape[:2]
        radius = round(0.02 * min(w, h))
        hints = [
            Hint(round(fx * w), round(fy * h), true_colour(pixels, round(fx * w), round(fy * h),
                                                            radius))
            for fx, fy in points
        ]  # fmt: skip
        hinted = colorizer.colorize(original, hints=hints)
        draw = ImageDraw.Draw(hinted)
        ring = max(6, 3 * radius)
        for hint in hints:
            box = (hint.x - ring, hint.y - ring, hint.x + ring, hint.y + ring)
            draw.ellipse(box, outline="white", width=3)
            draw.ellipse(box, outline="black", width=1)
        panels = [grayscale(original).convert("RGB"), colorizer.colorize(original), hinted,
                  original]  # fmt: skip
        scale = ROW_HEIGHT / h
        size = (round(w * scale), ROW_HEIGHT)
        rows.append([p.resize(size, Image.Resampling.LANCZOS) for p in panels])
    write_sheet(rows, LABELS, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
