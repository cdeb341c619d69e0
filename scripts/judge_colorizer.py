"""Judge colorizers on photos they never saw, at the photos' full resolution, against the gray
image and the mean-colour tint (`kolorize.evaluate.yardsticks`).

    .venv/bin/python scripts/judge_colorizer.py PHOTOS... [--model M ...] [--out judge.json]
        [--render-size N,...] [--temperature T,...] [--unbalance B,...] [--chroma-gain G,...]
        [--flip-average F,...]
        [--hints K,...] [--tint A,B] [--old-photo SEED] [--sheet sheet.jpg]

PHOTOS are folders, image files, or `.txt` lists of paths (relative to the list's
`--root`, by default ../shared/data beside the checkout), e.g. splits/heldout_photos.txt.
Each MODEL (a run directory or weights file; default the shipped colorizer) colorizes every
photo's gray version through `Colorizer` (full-resolution recombination, as users get it).
Per model: mean per-image PSNR, the share of photos where it beats the gray image and the
tint, Colorfulness, and hue accuracy (balanced over 6 hue sectors, and per sector). The tint
is the training photos' mean ab recorded in the first model's metadata (`mean_ab`), or --tint.
`--temperature T1,T2,...` scores a classes model at each annealed-mean T, `--unbalance
B1,B2,...` with each share of its rebalancing undone (`kolorize.ab_bins.unbalancing_offset`),
`--chroma-gain G1,G2,...` with each share of the expected chroma given back
(`kolorize.ab_bins.annealed_mean`), `--flip-average 0,1` without and with its logits averaged
with the mirrored photo's (a row for each combination);
`--hints K1,K2,...` also scores hint-capable models given K hints taken from the truth (the
photo's mean colour over each hint's square, at seeded random points; a row per K);
`--old-photo SEED` colorizes every photo's gray version made an old print first (the
training augmentation `kolorize.data.old_photos`, its parameters drawn from (SEED, the photo's
index), blur scaled to the photo's size) and scores the predicted colour on the photo's own,
clean L, so only the colour is judged: a yardstick of robustness to old prints;
`--sheet` draws photos spread over the list as gray (the old print with --old-photo) | tint |
each row | original.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from kolorize.ab_bins import unbalancing_offset
from kolorize.color import AB_SCALE, model_space_to_rgb, to_uint8, uint8_to_model_lightness_numpy
from kolorize.data.images import load_rgb
from kolorize.data.old_photos import degrade_lightness, draw_old_photo
from kolorize.evaluate.colorfulness import colorfulness
from kolorize.evaluate.metrics import psnr_per_image
from kolorize.evaluate.yardsticks import SECTORS, HueTally
from kolorize.inference.colorizer import Colorizer
from kolorize.inference.recombine import recombine
from kolorize.inference.user_hints import DEFAULT_RADIUS_SHARE, Hint
from kolorize.models.files import DEFAULT_MODEL, read_generator_metadata

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
IMAGE_TYPES = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp"}


def photo_paths(sources: list[str], root: Path) -> list[Path]:
    paths: list[Path] = []
    for source in map(Path, sources):
        if source.suffix == ".txt":
            lines = [ln.strip() for ln in source.read_text().splitlines()]
            paths += [root / ln for ln in lines if ln and not ln.startswith("#")]
        elif source.is_dir():
            paths += sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_TYPES)
        else:
            paths.append(source)
    return paths


def truth_hints(truth: np.ndarray, k: int, *, seed: int) -> list[Hint]:
    """k hints at seeded random points of a photo, each with the photo's mean colour over
    the square it covers (the default radius)."""
    if k == 0:
        return []
    height, width, _ = truth.shape
    rng = np.random.default_rng([2026, seed])
    radius = DEFAULT_RADIUS_SHARE * min(width, height)
    hints = []
    for x, y in zip(rng.integers(0, width, k), rng.integers(0, height, k), strict=True):
        r = max(1, round(radius))
        patch = truth[max(0, y - r) : y + r + 1, max(0, x - r) : x + r + 1]
        colour = tuple(int(v) for v in patch.reshape(-1, 3).mean(0).round())
        hints.append(Hint(float(x), float(y), colour))
    return hints


def old_print(truth: np.ndarray, seed: int, index: int) -> np.ndarray:
    """A photo's gray version made an old print, (H, W, 3) uint8: parameters from (seed,
    index), always on, the blur sigma scaled from a 128 px side to the photo's short side."""
    params = draw_old_photo(np.random.default_rng([seed, index]), 1, 1.0)
    params[:, 3] *= min(truth.shape[:2]) / 128
    taps = 2 * math.ceil(2.5 * float(params[0, 3])) + 1  # 2.5 sigma either side, as trained
    L = torch.from_numpy(uint8_to_model_lightness_numpy(truth))[None, None]
    L = degrade_lightness(L, torch.from_numpy(params), taps)
    gray = model_space_to_rgb(L, torch.zeros(1, 2, *L.shape[-2:]))
    return to_uint8(gray)[0].permute(1, 2, 0).numpy()


def colour_on_truth(c: Colorizer, gray: np.ndarray, truth: np.ndarray, hints) -> np.ndarray:
    """The colour `c` predicts for `gray`, put on the truth's own L (not the gray's)."""
    _, ab = c.predict([Image.fromarray(gray)], hints=[hints])
    return recombine(truth, ab[0])


class Decoding:
    """How a classes model turns its logits into colour: the annealed mean's T, the share of
    its rebalancing undone, its chroma gain and whether it averages with the mirrored photo;
    each the model's own where not given."""

    def __init__(
        self,
        net,
        t: float | None,
        strength: float | None,
        gain: float | None,
        weights,
        flip: float | None = None,
    ) -> None:
        self.net = net
        self.t = float(net.temperature) if t is None else t
        self.gain = float(net.chroma_gain) if gain is None else gain
        self.flip = float(net.flip_average) if flip is None else flip
        self.offset = net.logit_offset.clone()
        if strength is not None:
            self.offset = unbalancing_offset(torch.tensor(weights), strength)
        given = (("T", t), ("B", strength), ("G", gain), ("F", flip))
        self.label = "".join(f" {k}={v:g}" for k, v in given if v is not None)

    def apply(self) -> None:
        self.net.temperature.fill_(self.t)
        self.net.chroma_gain.fill_(self.gain)
        self.net.flip_average.fill_(self.flip)
        self.net.logit_offset.copy_(self.offset)


class Row:
    """One colorizer's tallies over the photos."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.psnr: list[float] = []
        self.colorfulness: list[float] = []
        self.hue = HueTally()

    def add(self, out: np.ndarray, truth: torch.Tensor) -> None:
        x = torch.from_numpy(out).permute(2, 0, 1)[None]
        self.psnr.append(float(psnr_per_image(x, truth)[0]))
        self.colorfulness.append(float(colorfulness(x)[0]))
        self.hue.add(x, truth)

    def summary(self, gray: Row | None, tint: Row | None) -> dict:
        psnr = np.array(self.psnr)
        out = {
            "psnr": round(float(psnr.mean()), 3),
            "colorfulness": round(float(np.mean(self.colorfulness)), 2),
            "hue_balanced": _pct(self.hue.balanced()),
            "hue_by_sector": {k: _pct(v) for k, v in self.hue.by_sector().items()},
        }
        for other, key in ((gray, "beats_gray"), (tint, "beats_tint")):
            if other is not None and other is not self:
                out[key] = _pct(float((psnr > np.array(other.psnr)).mean()))
        return out


def _pct(share: float | None) -> float | None:
    return None if share is None else round(100 * share, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="+")
    parser.add_argument("--model", action="append", help="repeatable; default: the shipped one")
    parser.add_argument("--root", type=Path, default=SHARED)
    parser.add_argument("--render-size", help="N or N1,N2,...: sides colour is predicted at")
    parser.add_argument("--temperature", help="T or T1,T2,...: classes models' annealed mean")
    parser.add_argument("--unbalance", help="B or B1,B2,...: classes models' unbalancing")
    parser.add_argument("--chroma-gain", help="G or G1,G2,...: classes models' chroma gain")
    parser.add_argument("--flip-average", help="0, 1 or 0,1: classes models' mirrored average")
    parser.add_argument("--tint", help="A,B: the tint's ab (default: the model's mean_ab)")
    parser.add_argument("--hints", help="K1,K2,...: hint counts for hint-capable models")
    parser.add_argument(
        "--old-photo",
        type=int,
        metavar="SEED",
        help="colorize each photo's gray made an old print (faded, toned, soft, grainy; "
        "seeded by SEED and the photo's index) and score the predicted colour on the photo's "
        "own clean L",
    )
    parser.add_argument("--out", type=Path)
    parser.add_argument("--sheet", type=Path)
    parser.add_argument("--sheet-photos", type=int, default=8)
    args = parser.parse_args()

    models = args.model or [str(DEFAULT_MODEL)]
    if args.tint:
        tint = tuple(float(v) for v in args.tint.split(","))
    else:
        recorded = read_generator_metadata(models[0]).get("mean_ab")
        if recorded is None:
            raise SystemExit(f"{models[0]} records no mean_ab: give --tint A,B")
        tint = tuple(recorded)
    temperatures = [float(t) for t in args.temperature.split(",")] if args.temperature else [None]
    strengths = [float(b) for b in args.unbalance.split(",")] if args.unbalance else [None]
    gains = [float(g) for g in args.chroma_gain.split(",")] if args.chroma_gain else [None]
    flips = [float(f) for f in args.flip_average.split(",")] if args.flip_average else [None]
    hint_counts = [int(k) for k in args.hints.split(",")] if args.hints else [0]
    colorizers: dict[str, tuple[Colorizer, Decoding | None, int]] = {}
    sizes = [int(n) for n in args.render_size.split(",")] if args.render_size else [None]
    for m, size in ((m, size) for m in models for size in sizes):
        name = Path(m).name if Path(m).is_dir() else Path(m).stem
        name += f" r{size}" if len(sizes) > 1 else ""
        c = Colorizer.load(m, render_size=size, precision="fp32")
        net = getattr(c._predict, "net", None)  # a TorchPredictor's generator
        decodings: list[Decoding | None] = [None]
        if net is not None and hasattr(net, "temperature"):
            weights = read_generator_metadata(m).get("class_weights")
            decodings = [
                Decoding(net, t, b, g, weights, f)
                for t in temperatures
                for b in (strengths if weights is not None else [None])
                for g in gains
                for f in flips
            ]
        for d in decodings:
            for k in hint_counts if c.takes_hints else [0]:
                key = name + (d.label if d is not None else "")
                key += f" k={k}" if args.hints else ""
                colorizers[key] = (c, d, k)
    gray, tinted = Row("gray"), Row("tint")
    rows = {key: Row(key) for key in colorizers}
    tint_map = (np.array(tint, np.float32) / AB_SCALE)[:, None, None]
    sheet_rows: list[list[np.ndarray]] = []
    truth_colorfulness: list[float] = []
    paths = photo_paths(args.photos, args.root)
    for i, path in enumerate(paths):
        photo = load_rgb(path).image
        truth_np = np.array(photo)  # writable: torch.from_numpy wants it
        truth = torch.from_numpy(truth_np).permute(2, 0, 1)[None]
        truth_colorfulness.append(float(colorfulness(truth)[0]))
        outs = [recombine(truth_np, None), recombine(truth_np, tint_map)]
        gray.add(outs[0], truth)
        tinted.add(outs[1], truth)
        old = None if args.old_photo is None else old_print(truth_np, args.old_photo, i)
        for key, (c, d, k) in colorizers.items():
            if d is not None:
                d.apply()
            hints = truth_hints(truth_np, k, seed=i)
            if old is None:
                out = np.asarray(c.colorize(photo, hints=hints))
            else:
                out = colour_on_truth(c, old, truth_np, hints)
            rows[key].add(out, truth)
            outs.append(out)
        if args.sheet and i % max(1, len(paths) // args.sheet_photos) == 0:
            sheet_rows.append([outs[0] if old is None else old, *outs[1:], truth_np])
    result = {
        "photos": len(paths),
        "render_sizes": sizes,
        "temperatures": temperatures,
        "tint_ab": list(tint),
        "old_photo": args.old_photo,
        "truth_colorfulness": None,
        "rows": {
            "gray": gray.summary(None, None),
            "tint": tinted.summary(gray, None),
            **{r.name: r.summary(gray, tinted) for r in rows.values()},
        },
    }
    result["truth_colorfulness"] = round(float(np.mean(truth_colorfulness)), 2)
    print(json.dumps(result, indent=2))
    _print_table(result)
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    if args.sheet and sheet_rows:
        _write_sheet(args.sheet, sheet_rows)


def _print_table(result: dict) -> None:
    print(f"\n{result['photos']} photos; truth Colorfulness {result['truth_colorfulness']}")
    heads = " ".join(s[:4] for s in SECTORS)
    print(f"{'':34} {'PSNR':>6} {'>gray':>6} {'>tint':>6} {'Colf':>6} {'hue':>6}  {heads}")
    for name, r in result["rows"].items():
        shares = r["hue_by_sector"].values()
        sectors = " ".join(f"{v if v is not None else '-':>4}" for v in shares)
        print(
            f"{name[:34]:34} {r['psnr']:6.2f} {r.get('beats_gray', '-'):>6} "
            f"{r.get('beats_tint', '-'):>6} {r['colorfulness']:6.1f} {r['hue_balanced']:6}  "
            + sectors
        )


def _write_sheet(path: Path, rows: list[list[np.ndarray]], height: int = 160) -> None:
    tiles = []
    for row in rows:
        scaled = [
            Image.fromarray(t).resize((round(t.shape[1] * height / t.shape[0]), height))
            for t in row
        ]
        width = sum(s.width for s in scaled) + 4 * (len(scaled) - 1)
        line = Image.new("RGB", (width, height), "white")
        x = 0
        for s in scaled:
            line.paste(s, (x, 0))
            x += s.width + 4
        tiles.append(line)
    sheet = Image.new("RGB", (max(t.width for t in tiles), (height + 4) * len(tiles)), "white")
    for i, t in enumerate(tiles):
        sheet.paste(t, (0, i * (height + 4)))
    sheet.save(path, quality=90)


if __name__ == "__main__":
    main()
