"""Training-step speed and memory: kolorize's step against a reference-style pix2pix step.

    .venv/bin/python benchmarks/bench_train.py [--batch 16] [--size 256] [--steps 20]
        [--phase gan|pretrain] [--archs unet_256,...] [--variants reference,kolorize,...]
        [--compile]

For each generator (pix2pix unet_256, the light ResNet18 U-Net, the study's fastai-style
ResNet18 DynamicUnet) with the 70x70 PatchGAN, one full step
(GAN: D step + G step, vanilla loss + 100 * L1; pretrain: L1 only) is timed in a fresh
process per variant, all in the same run so the ratios compare like with like:
  reference       pix2pix's optimize_parameters written plainly: fp32, NCHW, D called on fake
                  and real separately, a host batch every step, no tricks
  kolorize-eager  Trainer's step from host batches, no CUDA graph (what kolorize did before)
  kolorize        Trainer's step as configured by default: channels_last, train.precision=auto
                  (bf16 on CUDA; on a CPU the measured faster one), on CUDA also the training
                  images resident on the GPU and the whole step replayed as a CUDA graph
  kolorize-nchw   the default step without channels_last, to show what that layout buys
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

from common import SHARED_DATA, forever, machine, peak_rss_mib

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


def one_variant(
    arch: str, variant: str, data: str, batch: int, steps: int, compile_: bool, phase: str
) -> dict:
    from torch.utils.flop_counter import FlopCounterMode

    from kolorize.color import batch_to_model_space
    from kolorize.config import load_config
    from kolorize.data.cache import ImageCache
    from kolorize.data.loader import make_loader
    from kolorize.train.trainer import Trainer

    overrides = {**ARCHS[arch], "train.batch_size": batch, "train.seed": 0, "train.phase": phase}
    if variant == "kolorize-nchw":
        overrides["train.channels_last"] = False
    if variant in ("kolorize-eager", "reference"):
        overrides.update({"train.cuda_graphs": False, "train.data_on_device": "off"})
    if compile_:
        overrides["train.compile"] = True
    cfg = load_config(None, overrides)
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(cfg, data, Path(run_dir) / "r", log=lambda _m: None)
        device = trainer.device
        if variant == "reference":
            loader = make_loader(
                ImageCache(data), "train", batch, train=True, to_lab=device.type == "cpu"
            )
            G = trainer.G.to(memory_format=torch.contiguous_format)
            D = trainer.disc.net.to(memory_format=torch.contiguous_format)
            rgb = next(iter(loader)).pixels

            def step() -> None:
                L, ab = batch_to_model_space(rgb, device)
                if phase == "gan":
                    reference_step(G, D, trainer.opt_g, trainer.disc.opt, L, ab)
                else:
                    reference_pretrain_step(G, trainer.opt_g, L, ab)
        else:
            items = forever(trainer.batches)

            def step() -> None:
                trainer.take_step(next(items))

        for _ in range(3):  # warm-up: cuDNN autotuning, a graph's capture
            step()
        flops = FlopCounterMode(display=False)
        if variant == "reference" or device.type == "cpu":
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
    total_flops = flops.get_total_flops()
    result = {
        "arch": arch, "variant": variant, "phase": phase, "batch": batch,
        "precision": trainer.precision if variant != "reference" else "fp32",
        "cuda_graph": variant != "reference" and trainer.no_graph_reason is None,
        "seconds_per_step": round(seconds, 4),
        "images_per_s": round(batch / seconds, 2),
        "gflop_per_image": round(total_flops / batch / 1e9, 1) if total_flops else None,
        "achieved_gflops": round(total_flops / seconds / 1e9, 1) if total_flops else None,
        "peak_rss_mib": round(peak_rss_mib(), 0),
    }  # fmt: skip
    if device.type == "cuda":
        result["peak_gpu_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 0)
    return result


def reference_pretrain_step(G, opt_g, L, ab):
    fake = G(L)
    opt_g.zero_grad()
    (fake - ab).abs().mean().backward()
    opt_g.step()


def prepare_data(folder: Path, size: int, n: int) -> Path:
    from kolorize.data.prepare import PrepareRequest, prepare
    from kolorize.data.sources import folder_candidates

    out = folder / f"data{size}"
    prepare(folder_candidates([_photos()]), out,
            PrepareRequest(size=size, n=n, val=8), log=lambda *_: None)  # fmt: skip
    return out


def _photos() -> Path:
    """../shared/data/photos where it exists (a development machine), else scikit-image's own
    sample photos written out (a GPU machine that carries only the repository)."""
    if (SHARED_DATA / "photos").is_dir():
        return SHARED_DATA / "photos"
    import skimage.data
    from PIL import Image

    folder = Path(tempfile.mkdtemp()) / "photos"
    folder.mkdir()
    for name in ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "retina"):
        image = getattr(skimage.data, name)()
        for i, flip in enumerate((image, image[:, ::-1], image[::-1], image[::-1, ::-1])):
            Image.fromarray(flip.copy()).save(folder / f"{name}_{i}.png")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--phase", choices=("gan", "pretrain"), default="gan")
    parser.add_argument("--archs", default=",".join(ARCHS))
    parser.add_argument("--variants", default="reference,kolorize-eager,kolorize,kolorize-nchw")
    parser.add_argument("--compile", action="store_true", help="torch.compile (CUDA only)")
    parser.add_argument(
        "--one", nargs=3, metavar=("ARCH", "VARIANT", "DATA"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.one:
        arch, variant, data = args.one
        row = one_variant(arch, variant, data, args.batch, args.steps, args.compile, args.phase)
        print(json.dumps(row))
        return
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    peak = matmul_peak_gflops(device, dtype)
    print(f"machine: {machine()}\nmatmul peak ({dtype}): {peak:.0f} GFLOP/s", flush=True)
    variants = args.variants.split(",")
    tmp = Path(tempfile.mkdtemp())
    try:
        data = prepare_data(tmp, args.size, 4 * args.batch + 8)
        rows = []
        for arch in args.archs.split(","):
            counted = 0.0  # GFLOP per image of the reference step
            for variant in variants:
                cmd = [sys.executable, __file__, "--one", arch, variant, str(data),
                       "--batch", str(args.batch), "--steps", str(args.steps),
                       "--phase", args.phase]  # fmt: skip
                if args.compile:
                    cmd.append("--compile")
                out = subprocess.run(cmd, capture_output=True, text=True, check=True)
                row = json.loads(out.stdout.strip().splitlines()[-1])
                if variant == "reference":
                    counted = row["gflop_per_image"]
                # the same model maths in every variant: a replayed graph is not counted
                gflop = row["gflop_per_image"] or counted
                row["fraction_of_peak"] = round(gflop * row["images_per_s"] / peak, 3)
                rows.append(row)
                print(json.dumps(row), flush=True)
            mine = [r for r in rows if r["arch"] == arch]
            base = next((r for r in mine if r["variant"] == "reference"), None)
            for r in mine if base is not None else []:
                if r["variant"] != "reference":
                    speedup = base["seconds_per_step"] / r["seconds_per_step"]
                    print(
                        f"{arch}: {r['variant']} is {speedup:.2f}x the reference step "
                        f"({r['images_per_s']} img/s, {r['fraction_of_peak']:.1%} of the chip)",
                        flush=True,
                    )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
