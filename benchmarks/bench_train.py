"""Training-step speed and memory: kolorize's step against a reference-style pix2pix step.

    .venv/bin/python benchmarks/bench_train.py [--batch 16] [--size 256] [--steps 2]
        [--archs unet_256,...] [--variants reference,kolorize,kolorize-nchw]

For each generator (pix2pix unet_256, the light ResNet18 U-Net, the study's fastai-style
ResNet18 DynamicUnet) with the 70x70 PatchGAN, one full GAN
step (D step + G step, vanilla loss + 100 * L1) is timed in a fresh process per variant:
  reference  pix2pix's optimize_parameters written plainly: fp32, NCHW, D called on fake and
             real separately, no tricks
  kolorize   Trainer.train_step as configured by default (channels_last; on CUDA also bf16
             autocast, and torch.compile with --compile)
  kolorize-nchw  the same without channels_last, to show what that layout buys
FLOPs of one step come from torch.utils.flop_counter; the fraction is against a measured fp32
(or bf16 on CUDA) matmul peak of this machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from common import SHARED_DATA, machine, peak_rss_mib

ARCHS = {
    "unet_256": {"generator.arch": "unet", "generator.levels": 8},
    "resnet18_unet": {"generator.arch": "resnet18_unet", "generator.depth": 4},
    "resnet18_dynamic_unet": {"generator.arch": "resnet18_dynamic_unet", "generator.depth": 4},
}


def matmul_peak_gflops(device: torch.device, dtype: torch.dtype) -> float:
    n = 4096 if device.type == "cpu" else 8192
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    _sync(device)
    start = time.perf_counter()
    reps = 3 if device.type == "cpu" else 20
    for _ in range(reps):
        a @ b
    _sync(device)
    return 2 * n**3 * reps / (time.perf_counter() - start) / 1e9


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def reference_step(G, D, opt_g, opt_d, L, ab, lambda_l1=100.0):
    """pix2pix's optimize_parameters, plainly."""
    bce = torch.nn.BCEWithLogitsLoss()
    fake = G(L)
    for p in D.parameters():
        p.requires_grad_(True)
    opt_d.zero_grad()
    pred_fake = D(torch.cat([L, fake.detach()], 1))
    pred_real = D(torch.cat([L, ab], 1))
    loss_d = 0.5 * (
        bce(pred_fake, torch.zeros_like(pred_fake)) + bce(pred_real, torch.ones_like(pred_real))
    )
    loss_d.backward()
    opt_d.step()
    for p in D.parameters():
        p.requires_grad_(False)
    opt_g.zero_grad()
    pred = D(torch.cat([L, fake], 1))
    loss_g = bce(pred, torch.ones_like(pred)) + lambda_l1 * (fake - ab).abs().mean()
    loss_g.backward()
    opt_g.step()


def one_variant(arch: str, variant: str, data: str, batch: int, steps: int, compile_: bool) -> dict:
    from torch.utils.flop_counter import FlopCounterMode

    from kolorize.color import batch_to_model_space
    from kolorize.config import load_config
    from kolorize.data.cache import ImageCache
    from kolorize.data.loader import make_loader
    from kolorize.train.trainer import Trainer

    overrides = {**ARCHS[arch], "train.batch_size": batch, "train.seed": 0}
    if variant == "kolorize-nchw":
        overrides["train.channels_last"] = False
    if compile_:
        overrides["train.compile"] = True
    cfg = load_config(None, overrides)
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(cfg, data, Path(run_dir) / "r", log=lambda _m: None)
        device = trainer.device
        loader = make_loader(
            ImageCache(data), "train", batch, train=True, to_lab=device.type == "cpu"
        )
        rgb = next(iter(loader))
        if variant == "reference":
            G, D = trainer.G.to(memory_format=torch.contiguous_format), trainer.D
            D = D.to(memory_format=torch.contiguous_format)
            L, ab = batch_to_model_space(rgb, device)
            L, ab = L.contiguous(), ab.contiguous()

            def step() -> None:
                reference_step(G, D, trainer.opt_g, trainer.opt_d, L, ab)
        else:

            def step() -> None:
                trainer.train_step(rgb)

        flops = FlopCounterMode(display=False)
        with flops:
            step()
        _sync(device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        step()
        _sync(device)
        start = time.perf_counter()
        for _ in range(steps):
            step()
        _sync(device)
        seconds = (time.perf_counter() - start) / steps
    result = {
        "arch": arch, "variant": variant, "batch": batch,
        "seconds_per_step": round(seconds, 3),
        "images_per_s": round(batch / seconds, 3),
        "gflop_per_image": round(flops.get_total_flops() / batch / 1e9, 1),
        "achieved_gflops": round(flops.get_total_flops() / seconds / 1e9, 1),
        "peak_rss_mib": round(peak_rss_mib(), 0),
    }  # fmt: skip
    if device.type == "cuda":
        result["peak_gpu_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 0)
    return result


def prepare_data(folder: Path, size: int, n: int) -> Path:
    from kolorize.data.prepare import PrepareRequest, prepare
    from kolorize.data.sources import folder_candidates

    out = folder / f"data{size}"
    prepare(folder_candidates([SHARED_DATA / "photos"]), out,
            PrepareRequest(size=size, n=n, val=8), log=lambda *_: None)  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--archs", default=",".join(ARCHS))
    parser.add_argument("--variants", default="reference,kolorize,kolorize-nchw")
    parser.add_argument("--compile", action="store_true", help="torch.compile (CUDA only)")
    parser.add_argument(
        "--one", nargs=3, metavar=("ARCH", "VARIANT", "DATA"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.one:
        arch, variant, data = args.one
        print(json.dumps(one_variant(arch, variant, data, args.batch, args.steps, args.compile)))
        return
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    peak = matmul_peak_gflops(device, dtype)
    print(f"machine: {machine()}\nmatmul peak ({dtype}): {peak:.0f} GFLOP/s", flush=True)
    variants = args.variants.split(",")
    tmp = Path(tempfile.mkdtemp())
    try:
        data = prepare_data(tmp, args.size, args.batch + 8)
        rows = []
        for arch in args.archs.split(","):
            for variant in variants:
                cmd = [sys.executable, __file__, "--one", arch, variant, str(data),
                       "--batch", str(args.batch), "--steps", str(args.steps)]  # fmt: skip
                if args.compile:
                    cmd.append("--compile")
                out = subprocess.run(cmd, capture_output=True, text=True, check=True)
                row = json.loads(out.stdout.strip().splitlines()[-1])
                row["fraction_of_peak"] = round(row["achieved_gflops"] / peak, 3)
                rows.append(row)
                print(json.dumps(row), flush=True)
            mine = [r for r in rows if r["arch"] == arch]
            base = next((r for r in mine if r["variant"] == "reference"), None)
            for r in mine if base is not None else []:
                if r["variant"] != "reference":
                    speedup = base["seconds_per_step"] / r["seconds_per_step"]
                    print(
                        f"{arch}: {r['variant']} is {speedup:.2f}x the reference step", flush=True
                    )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
