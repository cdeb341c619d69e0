"""A contact sheet of photos colorized by several models side by side, for looking at them:
one row per photo (its gray version, then each model's colour), e.g. on real black-and-white
photos that have no truth to score against.

    .venv/bin/python scripts/model_sheet.py PHOTOS... -o sheet.jpg [--model M ...]
        [--render-size N] [--height 200] [--every K] [--truth]

PHOTOS are folders or files; MODEL a run directory or weights file (default: the shipped
colorizer), optionally as LABEL=PATH. `--every K` takes every K-th photo of the folders (and of
.txt lists of paths under --root, as scripts/judge_colorizer.py reads them); `--truth` adds
the photo itself as the last column (for colour photos).
"""

from __future__ import annotations

import argparse
from pathlib import Path

# the judge's reading of folders, files and .txt lists (scripts/ is on the path when run)
from judge_colorizer import SHARED, photo_paths
from PIL import Image, ImageDraw

from kolorize.data.images import load_rgb
from kolorize.inference.colorizer import Colorizer, grayscale
from kolorize.models.files import DEFAULT_MODEL

GAP = 4
LABEL = 18


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="+")
    parser.add_argument("-o", "--out", type=Path, required=True)
    parser.add_argument("--model", action="append", help="PATH or LABEL=PATH (repeatable)")
    parser.add_argument("--render-size", type=int)
    parser.add_argument("--height", type=int, default=200)
    parser.add_argument("--every", type=int, default=1)
    parser.add_argument("--truth", action="store_true")
    parser.add_argument("--root", type=Path, default=SHARED)
    args = parser.parse_args()
    models = []
    for spec in args.model or [str(DEFAULT_MODEL)]:
        label, _, path = spec.rpartition("=") if "=" in spec else (Path(spec).stem, "", spec)
        models.append((label, Colorizer.load(path, render_size=args.render_size)))
    columns = ["gray", *(label for label, _ in models), *(["original"] if args.truth else [])]
    rows = []
    for path in photo_paths(args.photos, args.root)[:: args.every]:
        photo = load_rgb(path).image
        tiles = [grayscale(photo), *(c.colorize(photo) for _, c in models)]
        if args.truth:
            tiles.append(photo)
        width = round(photo.width * args.height / photo.height)
        rows.append([t.resize((width, args.height), Image.LANCZOS) for t in tiles])
    if not rows:
        raise SystemExit("no photos found")
    widths = [max(row[i].width for row in rows) for i in range(len(columns))]
    sheet = Image.new(
        "RGB",
        (sum(widths) + GAP * (len(widths) - 1), LABEL + len(rows) * (args.height + GAP)),
        "white",
    )
    draw = ImageDraw.Draw(sheet)
    x = 0
    for i, name in enumerate(columns):
        draw.text((x + 2, 2), name, fill="black")
        for r, row in enumerate(rows):
            sheet.paste(row[i], (x, LABEL + r * (args.height + GAP)))
        x += widths[i] + GAP
    sheet.save(args.out, quality=90)
    print(f"wrote {args.out}: {len(rows)} photos x {len(columns)} columns")


if __name__ == "__main__":
    main()
