"""Evaluation throughput and memory for the full metric set (PSNR, SSIM, LPIPS, FID, KID, IS,
Colorfulness) as `kolorize evaluate` runs it.

    .venv/bin/python benchmarks/bench_evaluate.py [--size 256] [--val 64] [--models 5]
        [--device cpu] [--weights-dir DIR]

A dataset of real photos (../shared/data/photos) is prepared at --size with --val validation
images; --models generators of the study's architecture (ResNet18 U-Net, random init: the
speed of a trained one is the same) are scored against it, plus the ground-truth row. The real
set goes through InceptionV3 once; LPIPS runs AlexNet on both sides of every pair, so on the
real images again for every model (about 2% of the time on a CPU).

Without the pretrained weights (no --weights-dir, nothing in the torch hub cache, offline),
random weights of the real architectures are used: timings are real, metric values are not.
The output says which.

Reported: images scored per second (validation images x (models + ground truth) / wall
time, everything included: colorizing, every metric, FID's 2048x2048 eigendecomposition per
model), seconds per image set, and peak memory (process RSS; CUDA peak when on a GPU).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from common import SHARED_DATA, machine, peak_rss_mib

REPO = Path(__file__).resolve().parents[1]


def prepare_data(folder: Path, size: int, val: int) -> Path:
    from kolorize.data.prepare import PrepareRequest, prepare
    from kolorize.data.sources import folder_candidates

    out = folder / "data"
    request = PrepareRequest(size=size, n=val + 8, val=val)
    prepare(folder_candidates([SHARED_DATA / "photos"]), out, request, log=lambda *_: None)
    return out


def make_runs(folder: Path, count: int, size: int) -> list[Path]:
    """Run directories holding randomly initialised generators of the study's U-Net_30."""
    from kolorize.config import load_config
    from kolorize.models import build_generator
    from kolorize.models.files import save_generator
    from kolorize.rundir import GENERATOR

    cfg = load_config(REPO / "configs" / "unet_30.yaml", {"generator.pretrained": False})
    runs = []
    for i in range(count):
        run = folder / f"model_{i + 1}"
        torch.manual_seed(i)
        save_generator(run / GENERATOR, build_generator(cfg.generator), cfg.generator,
                       image_size=size, epoch=0, phase="pretrain")  # fmt: skip
        runs.append(run)
    return runs


def backbones_for(weights_dir: Path | None, folder: Path) -> tuple[object, str]:
    from kolorize.evaluate.backbones import load_backbones, write_random_weights

    found = load_backbones(weights_dir, download=False)
    if not found.missing:
        return found, "pretrained weights"
    for key in ("alexnet", "inception"):
        write_random_weights(key, folder / "weights")
    return (
        load_backbones(folder / "weights", require_all=True, download=False),
        "RANDOM weights of the real architectures (pretrained weights absent): timings are "
        "real, metric values are meaningless",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--val", type=int, default=64)
    parser.add_argument("--models", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (the issue asks for cpu)")
    parser.add_argument("--weights-dir", type=Path, default=None)
    args = parser.parse_args()

    from kolorize.evaluate import evaluate_runs

    with tempfile.TemporaryDirectory(prefix="kolorize-bench-eval-") as tmp:
        folder = Path(tmp)
        data = prepare_data(folder, args.size, args.val)
        runs = make_runs(folder, args.models, args.size)
        backbones, kind = backbones_for(args.weights_dir, folder)
        print(f"machine: {machine()}")
        print(f"backbones: {kind}")
        if args.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        evaluate_runs(
            runs, data, folder / "out", backbones=backbones, batch_size=args.batch_size,
            device=args.device, log=lambda _msg: None,
        )  # fmt: skip
        seconds = time.perf_counter() - start

    sets = args.models + 1
    result = {
        "benchmark": "evaluate",
        "machine": machine(),
        "device": args.device,
        "backbones": kind,
        "image_size": args.size,
        "val_images": args.val,
        "models": args.models,
        "seconds": round(seconds, 2),
        "images_per_s": round(args.val * sets / seconds, 2),
        "seconds_per_image_set": round(seconds / sets, 2),
        "peak_rss_mib": round(peak_rss_mib(), 1),
    }
    if args.device.startswith("cuda"):
        result["cuda_peak_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    print(
        f"{args.val} images x {sets} sets at {args.size}px on {args.device}: "
        f"{result['images_per_s']} images/s, peak RSS {result['peak_rss_mib']} MiB"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
