"""Start-up: one photo colorized end to end from the command line, against importing torch,
in the same run.

    .venv/bin/python benchmarks/bench_startup.py [--repeats 7] [--src OTHER/src ...]

Each repeat runs, in fresh processes and in turn: `python -c "import torch"`, then
`kolorize colorize photo.jpg -o out.jpg` (a 960x640 gray JPEG, the shipped colorizer, its own
fresh output) for this checkout and for every `--src` folder given (another checkout's `src/`,
e.g. an older commit's, to compare). Taking them in turn means a machine that other work keeps
busy slows all of them alike, so the ratio of the medians is what to read: the absolute
seconds depend on that load. One untimed round first warms the disk cache (and lets an older
kolorize keep its precision measurement, which it makes on its first run).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from common import machine

REPO = Path(__file__).resolve().parents[1]


def make_photo(folder: Path) -> Path:
    """A 960x640 gray JPEG cut from the README's example sheet."""
    sheet = Image.open(REPO / "docs" / "examples.jpg").convert("L")
    side = sheet.height
    photo = sheet.crop((0, 0, side, side)).resize((960, 640), Image.Resampling.BICUBIC)
    path = folder / "photo.jpg"
    photo.save(path, quality=92)
    return path


def seconds(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--src", type=Path, action="append", default=[], help="another src/")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        photo = make_photo(folder)
        env = {**os.environ, "KOLORIZE_CACHE": str(folder / "cache")}
        variants = {"import torch": ([sys.executable, "-c", "import torch"], env)}
        for label, src in [("this checkout", REPO / "src"), *((str(s), s) for s in args.src)]:
            out = folder / f"{len(variants)}.jpg"
            command = [sys.executable, "-m", "kolorize", "colorize", str(photo), "-o", str(out)]
            variants[label] = (command, {**env, "PYTHONPATH": str(src.resolve())})
        times: dict[str, list[float]] = {label: [] for label in variants}
        for round_ in range(args.repeats + 1):
            for label, (command, variant_env) in variants.items():
                taken = seconds(command, variant_env)
                if round_:  # the first round only warms up
                    times[label].append(taken)
        load = os.getloadavg()
    torch_median = statistics.median(times["import torch"])
    print(f"machine: {machine()}; load average {load[0]:.1f} (other work running if above 0)")
    for label, taken in times.items():
        median = statistics.median(taken)
        print(
            f"{label:>16}: median {median:5.2f} s (min {min(taken):.2f}, max {max(taken):.2f}), "
            f"{median / torch_median:.2f}x import torch"
        )


if __name__ == "__main__":
    main()
