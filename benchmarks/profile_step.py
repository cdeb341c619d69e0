"""What the GPU does during training steps: a torch.profiler trace of 20 steps, summarised.

    .venv/bin/python benchmarks/profile_step.py DATA [--steps 20] [--phase gan] [--set k=v ...]

Runs the Trainer's default step (CUDA graph, data on the device, bf16 on CUDA) and, for
comparison, the eager step, each under torch.profiler, and prints the kernels by total device
time and the share of wall time the device was busy. Read it before guessing.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from common import forever


def run(data: str, steps: int, phase: str, sets: dict, graphs: bool) -> None:
    from kolorize.config import load_config
    from kolorize.train.trainer import Trainer

    cfg = load_config(
        None,
        {"generator.arch": "resnet18_unet", "train.phase": phase, "train.cuda_graphs": graphs,
         **sets},
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, data, Path(tmp) / "r", log=print)

        items = forever(trainer.batches)
        for _ in range(5):
            trainer.take_step(next(items))
        sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
        sync()
        activities = [ProfilerActivity.CPU]
        if torch.cuda.is_available():
            activities.append(ProfilerActivity.CUDA)
        start = time.perf_counter()
        with profile(activities=activities) as prof:
            for _ in range(steps):
                trainer.take_step(next(items))
            sync()
        wall = time.perf_counter() - start
    events = prof.key_averages()
    device_us = sum(e.self_device_time_total for e in events)
    print(f"\n== {phase}, cuda_graphs={graphs}: {steps} steps in {wall:.3f} s "
          f"({steps * cfg.train.batch_size / wall:.0f} img/s); device busy "
          f"{device_us / 1e6 / wall:.0%} of wall time")  # fmt: skip
    sort = "self_device_time_total" if torch.cuda.is_available() else "self_cpu_time_total"
    print(events.table(sort_by=sort, row_limit=25, max_name_column_width=60))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--phase", choices=("gan", "pretrain"), default="gan")
    parser.add_argument("--set", dest="sets", action="append", default=[])
    args = parser.parse_args()
    from kolorize.config import parse_set_options

    sets = {"generator.pretrained": False, **parse_set_options(args.sets)}
    for graphs in (False, True):
        run(args.data, args.steps, args.phase, sets, graphs)


if __name__ == "__main__":
    main()
