"""Data pipeline speed: preparing the cache, and loading training batches from it.

    .venv/bin/python benchmarks/bench_data.py            # everything (a few minutes)
    .venv/bin/python benchmarks/bench_data.py --quick    # smaller counts

Loading is measured four ways, in the same run, on batches of 16 at 256x256:
  reference   decode the JPEG, resize and convert to Lab per image every step (the common
              pix2pix-colorization Dataset: PIL + skimage.color.rgb2lab), 1 process
  uint8       kolorize's cache: memory-mapped rows + flips, uint8 batches (what feeds a GPU,
              which then converts to Lab on the device)
  lab-numpy   the same, converted to the model's Lab space on the CPU (kolorize's CPU path)
  lab-torch   the same, converted with eager torch ops on the CPU (for comparison)
Peak memory of preparing N photos is measured in a fresh process per N (flat = streaming).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from common import SHARED_DATA, machine
from kolorize.color import batch_to_model_space, rgb_to_model_space
from kolorize.data.cache import ImageCache
from kolorize.data.loader import make_loader
from kolorize.data.sources import folder_candidates

PREPARE_CHILD = """
import json, sys, time
from common import peak_rss_mib
from kolorize.data.prepare import PrepareRequest, prepare
from kolorize.data.sources import folder_candidates
srcs, out, n = sys.argv[1].split(","), sys.argv[2], int(sys.argv[3])
t = time.perf_counter()
info = prepare(folder_candidates(srcs), out, PrepareRequest(n=n, val=n // 5), log=lambda *_: None)
print(json.dumps({"seconds": time.perf_counter() - t, "examined": info["examined"],
                  "count": info["count"],
                  "peak_rss_mib": peak_rss_mib()}))
"""


def prepare_in_child(sources: list[Path], out: Path, n: int) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", PREPARE_CHILD, ",".join(map(str, sources)), str(out), str(n)],
        capture_output=True, text=True, check=True, cwd=Path(__file__).parent,
    )  # fmt: skip
    return json.loads(proc.stdout.strip().splitlines()[-1])


def reference_batches(paths: list[Path], batches: int, size: int = 256) -> float:
    """images/s of decoding + resizing + rgb2lab per image, as common Colab loaders do."""
    from skimage.color import rgb2lab

    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for _ in range(batches):
        items = []
        for i in rng.choice(len(paths), 16, replace=False):
            img = Image.open(paths[i]).convert("RGB").resize((size, size), Image.BICUBIC)
            if rng.random() < 0.5:
                img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            lab = rgb2lab(np.asarray(img)).astype("float32")
            items.append(torch.from_numpy(lab).permute(2, 0, 1))
        batch = torch.stack(items)
        _L, _ab = batch[:, :1] / 50 - 1, batch[:, 1:] / 110
    return batches * 16 / (time.perf_counter() - start)


def cache_throughput(cache: ImageCache, mode: str, epochs: int, threads: int) -> float:
    loader = make_loader(
        cache, "train", 16, train=True, threads=threads, to_lab=mode == "lab-numpy"
    )
    images = 0
    start = time.perf_counter()
    for epoch in range(epochs):
        loader.sampler.set_epoch(epoch)
        for batch in loader:
            if mode == "lab-torch":
                rgb_to_model_space(batch)
            elif mode == "lab-numpy":
                batch_to_model_space(batch, "cpu")
            images += batch.shape[0]
    return images / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    photos = SHARED_DATA / "photos"
    results: dict[str, object] = {"machine": machine()}
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        n_all = len(folder_candidates([photos]))
        run = prepare_in_child([photos], tmp_path / "all", n_all)
        results["prepare"] = {
            "photos": run["examined"], "seconds": round(run["seconds"], 2),
            "images_per_s": round(run["examined"] / run["seconds"], 1),
        }  # fmt: skip
        print(f"prepare: {results['prepare']}", flush=True)

        cache = ImageCache(tmp_path / "all")
        epochs = 1 if args.quick else 3
        loading = {}
        for mode in ("uint8", "lab-numpy", "lab-torch"):
            for threads in (0, 1):
                key = f"{mode} (threads={threads})"
                loading[key] = round(cache_throughput(cache, mode, epochs, threads), 1)
                print(f"loading {key}: {loading[key]} img/s", flush=True)
        paths = sorted(photos.glob("*.jpg"))
        loading["reference (decode each step)"] = round(
            reference_batches(paths, 4 if args.quick else 12), 1
        )
        print(f"loading reference: {loading['reference (decode each step)']} img/s", flush=True)
        results["loading_images_per_s"] = loading

        memory = {}
        sources = [photos, SHARED_DATA / "clothing"]
        for n in (1000,) if args.quick else (1000, 5000):
            run = prepare_in_child(sources, tmp_path / f"mem{n}", n)
            memory[n] = {"peak_rss_mib": round(run["peak_rss_mib"], 1),
                         "images_per_s": round(run["examined"] / run["seconds"], 1)}  # fmt: skip
            print(f"prepare {n} photos: {memory[n]}", flush=True)
        results["prepare_memory"] = memory
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
