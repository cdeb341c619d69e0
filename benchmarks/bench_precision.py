"""fp32 against bf16 autocast on this machine's CPU (or GPU): what `precision=auto` decides.

    .venv/bin/python benchmarks/bench_precision.py [--size 256] [--archs ...] [--repeats 5]

For each generator: one 256 px image through the network (inference, best of --repeats) and
one forward + backward pass of G and the PatchGAN at batch 4 (training), in fp32 and under bf16
autocast, plus the mean |delta ab| of bf16's prediction against fp32's (ab in [-1, 1]), and
what `kolorize.device.resolve_precision("auto", ...)` chooses from the same kind of timing.
"""

from __future__ import annotations

import argparse
import json

import torch

from common import best_of, machine

ARCHS = {
    "unet_256": {"arch": "unet", "levels": 8},
    "resnet18_unet": {"arch": "resnet18_unet"},
    "resnet18_dynamic_unet": {"arch": "resnet18_dynamic_unet"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--archs", default=",".join(ARCHS))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from kolorize.config import DiscriminatorConfig, GeneratorConfig
    from kolorize.device import BF16_MARGIN, autocast, resolve_device
    from kolorize.models import build_discriminator, build_generator

    device = resolve_device("auto")
    print(f"machine: {machine()}")
    D = build_discriminator(DiscriminatorConfig()).to(device, memory_format=torch.channels_last)
    for name in args.archs.split(","):
        torch.manual_seed(0)
        G = build_generator(GeneratorConfig(**ARCHS[name]))
        G = G.to(device, memory_format=torch.channels_last)
        one = (torch.rand(1, 1, args.size, args.size, device=device) * 2 - 1).contiguous(
            memory_format=torch.channels_last
        )
        four = one.repeat(4, 1, 1, 1)
        row: dict = {"arch": name, "size": args.size}
        outputs = {}
        for precision in ("fp32", "bf16"):

            def infer(G=G, one=one, precision=precision, outputs=outputs) -> None:
                with torch.inference_mode(), autocast(device, precision):
                    outputs[precision] = G.eval()(one).float()
                if device.type == "cuda":
                    torch.cuda.synchronize()

            def train(G=G, four=four, precision=precision) -> None:
                G.train()
                with autocast(device, precision):
                    fake = G(four)
                    loss = fake.float().abs().mean() + D(torch.cat([four, fake], 1)).float().mean()
                loss.backward()
                if device.type == "cuda":
                    torch.cuda.synchronize()

            row[f"infer_ms_{precision}"] = round(1000 * best_of(infer, args.repeats), 1)
            row[f"train_s_{precision}"] = round(best_of(train, 2), 3)
        row["mean_abs_delta_ab"] = round((outputs["fp32"] - outputs["bf16"]).abs().mean().item(), 5)
        row["bf16_faster_infer"] = row["infer_ms_bf16"] < BF16_MARGIN * row["infer_ms_fp32"]
        row["bf16_faster_train"] = row["train_s_bf16"] < BF16_MARGIN * row["train_s_fp32"]
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
