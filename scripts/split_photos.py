"""Lay out the shipped colorizer's photos as three folders of links into ../shared/data, so that
`kolorize data prepare` makes its dataset and the judge finds its photos:

    .venv/bin/python scripts/split_photos.py OUT [--shared ../shared/data]
    kolorize data prepare OUT/train --val-src OUT/validation --out DATA --size 256 \
        --n 4944 --val 424

OUT/validation: the photos of splits/validation_photos.txt; OUT/heldout: those of
splits/heldout_photos.txt (never trained on, for the final judgement); OUT/train: every other
natural-scene photo (coco, photos, photos_extra, photos_more; not clothing, not bw). Links are
named SOURCE__FILE, so photos of two sources never collide.
"""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("coco", "photos", "photos_extra", "photos_more")


def listed(name: str) -> list[str]:
    lines = (ROOT / "splits" / name).read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    validation, heldout = listed("validation_photos.txt"), listed("heldout_photos.txt")
    kept_apart = set(validation) | set(heldout)
    everything = sorted(
        f"{s}/{p.name}" for s in SOURCES for p in (args.shared / s).iterdir() if p.is_file()
    )
    train = [p for p in everything if p not in kept_apart]
    for folder, items in (("train", train), ("validation", validation), ("heldout", heldout)):
        target = args.out / folder
        target.mkdir(parents=True, exist_ok=True)
        for item in items:
            link = target / item.replace("/", "__")
            if not link.exists():
                link.symlink_to((args.shared / item).resolve())
        print(f"{target}: {len(items)} photos")


if __name__ == "__main__":
    main()
