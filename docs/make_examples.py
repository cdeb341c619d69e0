"""Render the README's example figure: gray | colorized | original, at full resolution, for
photos that ship with scikit-image, which the model never trained on.

    .venv/bin/python docs/make_examples.py [MODEL] [--out docs/examples.jpg]

MODEL is a run directory (e.g. demo/LS_GAN_30 after `make demo`) or a generator file; by
default the colorizer that ships with kolorize.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw

from kolorize import Colorizer
from kolorize.demo import sample_photo
from kolorize.inference.colorizer import grayscale

ROW_HEIGHT = 300
LABELS = ("gray input", "kolorize", "original")


def write_sheet(rows: list[list[Image.Image]], labels: tuple[str, ...], out: str) -> None:
    """Rows of equal-height panels side by side on white, a label over each column."""
    gap, label_h = 6, 22
    height = rows[0][0].height
    width = max(sum(p.width for p in row) + gap * (len(row) - 1) for row in rows)
    sheet = Image.new("RGB", (width, label_h + len(rows) * (height + gap)), "white")
    draw = ImageDraw.Draw(sheet)
    x = 0
    for label, panel in zip(labels, rows[0], strict=True):
        draw.text((x + 4, 4), label, fill="black")
        x += panel.width + gap
    for i, row in enumerate(rows):
        x, y = 0, label_h + i * (height + gap)
        for panel in row:
            sheet.paste(panel, (x, y))
            x += panel.width + gap
    sheet.save(out, quality=88)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?")
    parser.add_argument("--photos", default="chelsea,coffee,astronaut")
    parser.add_argument("--out", default=str(Path(__file__).parent / "examples.jpg"))
    args = parser.parse_args()
    colorizer = Colorizer.load(args.model)
    rows = []
    for name in args.photos.split(","):
        original = Image.fromarray(sample_photo(name))
        panels = [grayscale(original).convert("RGB"), colorizer.colorize(original), original]
        scale = ROW_HEIGHT / original.height
        size = (round(original.width * scale), ROW_HEIGHT)
        rows.append([p.resize(size, Image.Resampling.LANCZOS) for p in panels])
    write_sheet(rows, LABELS, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
