"""Seconds per photo of `Colorizer.colorize` without and with the flip average (the model run
twice at its render size, the second time mirrored), on one photo at full resolution.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_flip_average.py PHOTO [--model M]
"""

from __future__ import annotations

import argparse
import time

from kolorize.data.images import load_rgb
from kolorize.inference.colorizer import Colorizer
from kolorize.models.files import DEFAULT_MODEL


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photo")
    parser.add_argument("--model", default=str(DEFAULT_MODEL))
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    photo = load_rgb(args.photo).image
    colorizer = Colorizer.load(args.model)
    net = colorizer._predict.net
    for flip in (0.0, 1.0):
        net.flip_average.fill_(flip)
        colorizer.colorize(photo)  # warm-up
        start = time.perf_counter()
        for _ in range(args.repeats):
            colorizer.colorize(photo)
        seconds = (time.perf_counter() - start) / args.repeats
        print(
            f"flip_average {flip:g}: {seconds * 1000:.0f} ms per photo "
            f"({photo.size[0]}x{photo.size[1]})"
        )


if __name__ == "__main__":
    main()
