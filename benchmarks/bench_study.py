"""The whole study, timed stage by stage, and projected to its real size.

    .venv/bin/python benchmarks/bench_study.py [--photos N] [--size 256] [--scale 0.05]
        [--parallel N] [--study configs/study.yaml] [--set key=value ...]

Prepares N photos (../shared/data when present, else scikit-image's samples, flipped and
rotated into enough images) at --size, runs the real `kolorize study` pipeline on them with
each run's epochs scaled by --scale (at least 1), and prints the time of every stage: each
epoch of each run (from its metrics.jsonl), checkpoints, evaluation and report. Then projects
the full study (8,000 train / 2,000 val images, 30 + 20 + 20 + 10 + 20 = 100 epochs), by
scaling the training wall time with the number of training images and the evaluation time
with the number of validation images, and the fraction of the chip used (FLOPs of one step of
each phase, counted by torch.utils.flop_counter, against a measured matmul peak).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import torch
import yaml

from bench_train import _photos, matmul_peak_gflops
from common import machine

REPO = Path(__file__).resolve().parents[1]
FULL_TRAIN, FULL_VAL = 8000, 2000


def scaled_study(study: Path, scale: float, folder: Path) -> tuple[Path, int]:
    """A copy of the study file with every run's epochs scaled; returns it and its epochs."""
    from kolorize.config import load_config
    from kolorize.study import load_study

    data = yaml.safe_load(study.read_text())
    epochs: dict[str, int] = {}
    for entry, run in zip(data["runs"], load_study(study).runs, strict=True):
        if run.continue_from is not None:
            entry["extra_epochs"] = max(1, round(run.extra_epochs * scale))
            epochs[run.name] = epochs[run.continue_from] + entry["extra_epochs"]
            continue
        real = load_config(run.config, data.get("set") or {}).train.epochs
        n = max(1, round(real * scale))
        entry["set"] = {**(entry.get("set") or {}), "train.epochs": n}
        entry["config"] = str(run.config)
        epochs[run.name] = n
    out = folder / study.name
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    trained = sum(
        n - (epochs[r.continue_from] if r.continue_from else 0)
        for r, n in zip(load_study(study).runs, epochs.values(), strict=True)
    )
    return out, trained


def step_gflop_per_image(size: int, phase: str, sets: dict) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    from kolorize.config import load_config
    from kolorize.models import build_discriminator, build_generator

    cfg = load_config(REPO / "configs" / "unet_30.yaml", {**sets, "generator.pretrained": False})
    G, D = build_generator(cfg.generator), build_discriminator(cfg.discriminator)
    L, ab = torch.zeros(2, 1, size, size), torch.zeros(2, 2, size, size)
    with FlopCounterMode(display=False) as counter:
        fake = G(L)
        loss = (fake - ab).abs().mean()
        if phase == "gan":  # D on real and fake, then D again for G's loss
            loss = loss + D(torch.cat([L, ab], 1)).mean() + 2 * D(torch.cat([L, fake], 1)).mean()
        loss.backward()
    return counter.get_total_flops() / 2 / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=2000)
    parser.add_argument("--val", type=int, default=200)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument("--parallel", type=int, default=None)
    parser.add_argument("--study", type=Path, default=REPO / "configs" / "study.yaml")
    parser.add_argument("--set", dest="sets", action="append", default=[])
    parser.add_argument("--keep", type=Path, help="Keep the study folder here.")
    parser.add_argument("--photos-dir", type=Path, help="Photos to prepare (default: see above).")
    args = parser.parse_args()

    from kolorize.config import parse_set_options
    from kolorize.data.prepare import PrepareRequest, prepare
    from kolorize.data.sources import folder_candidates
    from kolorize.study import run_full_study

    sets = {"generator.pretrained": False, **parse_set_options(args.sets)}
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    parallel = args.parallel  # None: run_study's default for the configs' device
    print(f"machine: {machine()}; --parallel {parallel or 'default'}", flush=True)
    tmp = Path(tempfile.mkdtemp())
    try:
        start = time.perf_counter()
        data = tmp / "data"
        prepare(folder_candidates([args.photos_dir or _photos()]), data,
                PrepareRequest(size=args.size, n=args.photos, val=args.val),
                log=lambda *_: None)  # fmt: skip
        info = json.loads((data / "info.json").read_text())
        seconds = time.perf_counter() - start
        print(f"prepare: {seconds:.1f} s for {info['count']} photos ({info['train']} train / "
              f"{info['val']} val at {args.size} px)", flush=True)  # fmt: skip
        study, epochs_here = scaled_study(args.study, args.scale, tmp)
        out = args.keep or tmp / "study"
        stages: list[tuple[str, float]] = []
        last = time.perf_counter()
        train_start = last

        def log(message: str) -> None:
            nonlocal last
            now = time.perf_counter()
            print(f"[{now - train_start:8.1f} s] {message}", flush=True)
            last = now
            if message.startswith(("evaluat", "scor", "wrote", "report")):
                stages.append((message[:60], now))

        t0 = time.perf_counter()
        run_full_study(study, data, out, sets, parallel=parallel, evaluate=False, log=log)
        t_train = time.perf_counter() - t0
        t0 = time.perf_counter()
        run_full_study(study, data, out, sets, parallel=parallel, evaluate=True, log=log)
        t_eval = time.perf_counter() - t0
        for run in sorted(out.iterdir()):
            metrics = run / "metrics.jsonl"
            if metrics.is_file():
                for line in metrics.read_text().splitlines():
                    r = json.loads(line)
                    if "seconds" in r:
                        print(f"  {run.name} epoch {r['epoch']}: {r['seconds']:.1f} s, "
                              f"{r['images_per_s']:.0f} img/s")  # fmt: skip
        images_here = epochs_here * info["train"]
        full_train = t_train * (100 * FULL_TRAIN) / images_here
        full_eval = t_eval * FULL_VAL / info["val"]
        print(f"training: {t_train:.1f} s for {epochs_here} epochs of {info['train']} images "
              f"({images_here / t_train:.0f} img/s over the whole study)")  # fmt: skip
        print(f"evaluation + report: {t_eval:.1f} s for {info['val']} validation images")
        print(f"projected full study (8,000 train / 2,000 val, 100 epochs): "
              f"{(full_train + full_eval) / 60:.1f} min "
              f"(training {full_train / 60:.1f}, evaluation {full_eval / 60:.1f})")  # fmt: skip
        dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
        peak = matmul_peak_gflops(device, dtype)
        pre = step_gflop_per_image(args.size, "pretrain", sets)
        gan = step_gflop_per_image(args.size, "gan", sets)
        # U-Net_30 is 30 of the 100 epochs, the GAN runs 70
        flop = (0.3 * pre + 0.7 * gan) * images_here
        print(f"GFLOP per image: pretrain step {pre:.1f}, GAN step {gan:.1f}; "
              f"chip used while training: {flop / t_train / peak:.1%} of "
              f"{peak:.0f} GFLOP/s ({dtype})")  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
