"""Images per second of the shipped colorizer's recipe variants: the real Trainer step
(loader, crops, hints, loss, Adam, EMA), each variant in a fresh process, in one run.

    .venv/bin/python benchmarks/bench_recipe.py [--data DIR] [--steps 12] [--variants a,b]

DATA is a prepared dataset (default: a synthetic 256 px one of random images, made in a
temporary folder: the step's cost does not depend on what the pictures show). Variants vary
one thing at a time from `classes-128`: the objective (ab regression with L1, classes; +
LSGAN), the training side (64 / 96 / 128 px, as random resized crops of the cache), hints,
precision (fp32 / bf16 autocast) and torch.compile. The first 4 steps are warm-up.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE = {
    "generator.arch": "resnet18_unet", "generator.output": "classes", "train.phase": "pretrain",
    "train.image_size": 128, "train.crop_min": 0.5, "train.ema": 0.999, "train.batch_size": 16,
    "train.precision": "bf16", "train.val_images": 0, "train.samples": 0,
}  # fmt: skip
VARIANTS = {
    "classes-128": {},
    "classes-128-fp32": {"train.precision": "fp32"},
    "ab-l1-128": {"generator.output": "ab"},
    "ab-lsgan-128": {"generator.output": "ab", "train.phase": "gan", "train.gan_loss": "lsgan"},
    "classes-lsgan-128": {"train.phase": "gan", "train.gan_loss": "lsgan"},
    "classes-96": {"train.image_size": 96},
    "classes-64": {"train.image_size": 64},
    "classes-hints-64": {"train.image_size": 64, "generator.hints": True},
    "classes-hints-lsgan-64": {
        "train.image_size": 64,
        "generator.hints": True,
        "train.phase": "gan",
        "train.gan_loss": "lsgan",
    },
    "classes-64-batch32": {"train.image_size": 64, "train.batch_size": 32},
    "classes-64-compiled": {"train.image_size": 64, "train.compile": True},
    "classes-hints-96": {"train.image_size": 96, "generator.hints": True},
    "classes-hints-96-compiled": {
        "train.image_size": 96,
        "generator.hints": True,
        "train.compile": True,
    },
}


def _child(data: str, name: str, steps: int, warmup: int) -> None:
    import torch

    from common import forever
    from kolorize.config import load_config
    from kolorize.train.trainer import Trainer

    cfg = load_config(None, {**BASE, **VARIANTS[name]})
    with tempfile.TemporaryDirectory() as run:
        trainer = Trainer(cfg, data, Path(run) / "r", log=lambda _m: None)
        batches = forever(trainer.batches)
        for _ in range(warmup):
            trainer.take_step(next(batches))
        start = time.perf_counter()
        for _ in range(steps):
            losses = trainer.take_step(next(batches))
        losses.sum().item()
        seconds = (time.perf_counter() - start) / steps
    n = cfg.train.batch_size
    row = {"variant": name, "s_per_step": round(seconds, 3), "images_per_s": round(n / seconds, 1)}
    print(json.dumps({**row, "threads": torch.get_num_threads()}))


def _synthetic(folder: Path) -> Path:
    import numpy as np
    from PIL import Image

    from kolorize.data.prepare import PrepareRequest, prepare
    from kolorize.data.sources import folder_candidates

    rng = np.random.default_rng(0)
    src = folder / "src"
    src.mkdir()
    for i in range(48):  # smooth random colour fields, so no photo is rejected as gray
        small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        Image.fromarray(small).resize((256, 256), Image.BICUBIC).save(src / f"{i}.png")
    out = folder / "data"
    prepare(folder_candidates([src]), out, PrepareRequest(size=256, n=48, val=8), workers=1,
            log=lambda *_: None)  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--warmup", type=int, default=4)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        _child(args.data, args.child, args.steps, args.warmup)
        return
    from common import machine

    print(f"# {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or str(_synthetic(Path(tmp)))
        for name in args.variants.split(","):
            cmd = [sys.executable, __file__, "--child", name, "--data", data,
                   "--steps", str(args.steps), "--warmup", str(args.warmup)]  # fmt: skip
            subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main()
