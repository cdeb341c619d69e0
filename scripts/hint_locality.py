"""How far one colour hint reaches beyond its object: the figures behind MODEL_CARD's hint
locality.

    .venv/bin/python scripts/hint_locality.py PHOTOS... [--model M ...] [--every N]
        [--out locality.json]

PHOTOS as for judge_colorizer.py (folders, files, `.txt` lists under --root). Per MODEL
(default the shipped colorizer), two probes, each as "far / near": the mean move of the ab
far from the hint over the mean move near it (0: the hint stays on its object; 1: it repaints
everything alike).
- flat: a dark square on a light ground, one hint in the square's middle, blue then green;
  far is the ground's corner (16 x 16 px of 128), near is the square's middle (32 x 32 px).
- photos: every Nth photo with one hint of another colour (blue, green, red in turn) at a
  seeded point in its central half; far is more than 0.4 of the short side away, near within
  0.05 of it. The means are over all photos' pixels, far and near apart, then divided.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from judge_colorizer import SHARED, photo_paths
from PIL import Image

from kolorize.color import AB_SCALE, uint8_to_model_space_numpy
from kolorize.data.images import load_rgb
from kolorize.inference.colorizer import Colorizer
from kolorize.inference.user_hints import Hint
from kolorize.models.files import DEFAULT_MODEL

COLOURS = ("#2f5aa8", "#30a040", "#c03030")  # blue, green, red


def ab_of(photo: Image.Image) -> np.ndarray:
    """(2, H, W) Lab ab of an RGB photo."""
    return uint8_to_model_space_numpy(np.asarray(photo)[None])[0, 1:] * AB_SCALE


def flat_probe(colorizer: Colorizer) -> dict[str, float]:
    gray = np.full((128, 128), 200, np.uint8)
    gray[40:88, 40:88] = 100
    photo = Image.fromarray(gray).convert("RGB")
    auto = ab_of(colorizer.colorize(photo))
    out = {}
    for name, colour in zip(("blue", "green"), COLOURS, strict=False):
        moved = np.abs(ab_of(colorizer.colorize(photo, hints=[Hint(64, 64, colour)])) - auto)
        out[name] = float(moved[:, :16, :16].mean() / moved[:, 48:80, 48:80].mean())
    return out


def photo_probe(colorizer: Colorizer, paths: list[Path]) -> dict[str, float]:
    near, far = [], []
    for i, path in enumerate(paths):
        photo = load_rgb(path).image
        w, h = photo.size
        rng = np.random.default_rng(i)
        x, y = int(rng.integers(w // 4, 3 * w // 4)), int(rng.integers(h // 4, 3 * h // 4))
        hint = Hint(x, y, COLOURS[i % len(COLOURS)])
        moved = np.abs(
            ab_of(colorizer.colorize(photo, hints=[hint])) - ab_of(colorizer.colorize(photo))
        ).sum(0)
        ys, xs = np.mgrid[:h, :w]
        d = np.hypot(xs - x, ys - y) / min(w, h)
        near.append(moved[d < 0.05])
        far.append(moved[d > 0.4])
    near_mean, far_mean = float(np.concatenate(near).mean()), float(np.concatenate(far).mean())
    return {"near": near_mean, "far": far_mean, "far_over_near": far_mean / near_mean}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("photos", nargs="+")
    ap.add_argument("--model", action="append", help="default: the shipped colorizer")
    ap.add_argument("--root", type=Path, default=SHARED)
    ap.add_argument("--every", type=int, default=4, help="probe every Nth photo")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    paths = photo_paths(args.photos, args.root)[:: args.every]
    if not paths:
        raise SystemExit("no photos to probe")
    results = {}
    for model in args.model or [str(DEFAULT_MODEL)]:
        colorizer = Colorizer.load(model, precision="fp32")
        flat, photos = flat_probe(colorizer), photo_probe(colorizer, paths)
        results[model] = {"flat": flat, "photos": photos, "n_photos": len(paths)}
        print(
            f"{model}: flat far/near blue {flat['blue']:.2f} green {flat['green']:.2f}; "
            f"{len(paths)} photos far/near {photos['far_over_near']:.2f} "
            f"(near {photos['near']:.1f}, far {photos['far']:.1f})"
        )
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
