"""One Adam step over the shipped colorizer's 14.4 M parameters: PyTorch's default CPU Adam
(a loop over the tensors), the foreach variant and the fused kernel the trainer uses.

    .venv/bin/python benchmarks/bench_adam.py [--threads 1] [--steps 10]
"""

from __future__ import annotations

import argparse
import time

import torch

from common import machine
from kolorize.config import load_config
from kolorize.config_files import find_config
from kolorize.models import build_generator

VARIANTS = {"per-tensor (default)": {"foreach": False}, "foreach": {"foreach": True},
            "fused": {"fused": True}}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"# {machine()}")
    generator = load_config(find_config("colorizer")).generator
    for name, options in VARIANTS.items():
        net = build_generator(generator, load_pretrained=False)
        opt = torch.optim.Adam(net.parameters(), lr=2e-4, betas=(0.5, 0.99), **options)
        for p in net.parameters():
            p.grad = torch.randn_like(p)
        for _ in range(3):
            opt.step()
        start = time.perf_counter()
        for _ in range(args.steps):
            opt.step()
        ms = (time.perf_counter() - start) / args.steps * 1000
        print(f"{name}: {ms:.1f} ms a step")


if __name__ == "__main__":
    main()
