"""Judge a colorizer the way issue 9 asks: on photos it never saw, does it beat the gray image
(a = b = 0) in PSNR on most of them, and is it visibly coloured (Colorfulness)?

    .venv/bin/python scripts/judge_colorizer.py DATA [MODEL] [--out judge.json]

DATA is a prepared dataset (its validation split is used); MODEL a run directory or weights
file, by default the shipped colorizer. Prints per-image PSNR against the original for the
model and for the gray image, the share of photos where the model wins, and Colorfulness of
the model's output and of the originals (fp32, model.eval(), at the dataset's size).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from kolorize.data.cache import ImageCache
from kolorize.evaluate.colorfulness import colorfulness
from kolorize.evaluate.metrics import psnr_per_image
from kolorize.inference.tensors import colorize_tensors, grayscale_tensors, to_nchw
from kolorize.models.files import DEFAULT_MODEL, load_generator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("model", nargs="?", default=str(DEFAULT_MODEL))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    net = load_generator(args.model)[0]  # fp32, eval mode
    val = ImageCache(args.data).split("val")
    rows = {"model": [], "gray": [], "cf_model": [], "cf_real": []}
    for start in range(0, len(val), 32):
        real = to_nchw(val[start : start + 32], torch.device("cpu"))
        fake, gray = colorize_tensors(net, real), grayscale_tensors(real)
        rows["model"] += psnr_per_image(fake, real).tolist()
        rows["gray"] += psnr_per_image(gray, real).tolist()
        rows["cf_model"] += colorfulness(fake).tolist()
        rows["cf_real"] += colorfulness(real).tolist()
    model, gray = np.array(rows["model"]), np.array(rows["gray"])
    result = {
        "model": str(args.model),
        "images": len(model),
        "psnr_model_mean": round(float(model.mean()), 3),
        "psnr_gray_mean": round(float(gray.mean()), 3),
        "share_model_beats_gray": round(float((model > gray).mean()), 3),
        "colorfulness_model_mean": round(float(np.mean(rows["cf_model"])), 2),
        "colorfulness_real_mean": round(float(np.mean(rows["cf_real"])), 2),
    }
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
