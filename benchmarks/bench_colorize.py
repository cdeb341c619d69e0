"""Colorizing speed and memory on the CPU: kolorize's full-resolution path against the
reference-style 256x256 path.

    .venv/bin/python benchmarks/bench_colorize.py [--megapixels 12] [--repeats 3] [--folder 24]

The generator is pix2pix's unet_256 at 256 px with RANDOM weights: speed does not depend on
what the weights are. Inputs are gray photos held in memory (decoding excluded): a real photo
resized to 256x256, and the same photo upscaled to 4000x3000 (12 MP). Each variant runs in a
fresh process; its peak memory (VmHWM) is restarted once the model is loaded, so the peak shown
belongs to the 12 MP photo (with the model in memory), next to the growth over the model alone:

  reference   pix2pix-style: resize to 256x256, Lab, plain eager fp32 forward (no_grad,
              NCHW), back to RGB: a 256x256 result whatever the photo's size
  eager       kolorize's full-resolution path, model run plainly (no_grad, NCHW, fp32)
  fast        kolorize's default PyTorch backend: inference_mode + channels_last
  onnx        the same path with the model exported to ONNX, run by onnxruntime

The folder test colorizes real photos from ../shared/data/photos end to end (decode,
colorize at full size, encode PNG) with `kolorize colorize`'s own code.
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

import numpy as np
import torch
from PIL import Image

from common import (
    SHARED_DATA,
    best_of,
    current_rss_mib,
    machine,
    peak_rss_mib,
    random_unet256,
    reset_peak_rss,
)

VARIANTS = ["reference", "eager", "fast", "onnx"]


def make_model(folder: Path) -> tuple[Path, Path]:
    """unet_256 with random weights as safetensors, and its ONNX export."""
    from kolorize.export import export_onnx

    weights = random_unet256(folder)
    return weights, export_onnx(weights, folder / "generator.onnx")


def test_photos(megapixels: float) -> dict[str, Image.Image]:
    source = Image.open(sorted((SHARED_DATA / "photos").glob("*.jpg"))[0]).convert("L")
    width = round((megapixels * 1e6 * 4 / 3) ** 0.5)
    return {
        "256x256": source.resize((256, 256), Image.Resampling.BICUBIC),
        f"{megapixels:g} MP": source.resize((width, width * 3 // 4), Image.Resampling.BICUBIC),
    }


class EagerPredictor:
    """The model as plain PyTorch runs it: fp32, NCHW, no_grad."""

    description = "eager"

    def __init__(self, net: torch.nn.Module) -> None:
        self.net = net.eval()

    def __call__(self, L: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return self.net(torch.from_numpy(L)).numpy()


def reference_colorize(net: torch.nn.Module, image: Image.Image) -> Image.Image:
    """The reference repository's test path: squeeze to 256x256 and stay there."""
    from kolorize.color import model_space_to_rgb, rgb_to_model_space, to_uint8

    small = torch.from_numpy(np.array(image.convert("RGB").resize((256, 256), Image.BICUBIC)))
    L, _ = rgb_to_model_space(small.permute(2, 0, 1)[None])
    with torch.no_grad():
        ab = net(L)
    return Image.fromarray(to_uint8(model_space_to_rgb(L, ab))[0].permute(1, 2, 0).numpy())


def one_variant(variant: str, weights: Path, onnx: Path, megapixels: float, repeats: int,
                folder: int) -> dict:  # fmt: skip
    from kolorize.inference.backends import TorchPredictor
    from kolorize.inference.colorizer import Colorizer
    from kolorize.models.files import load_generator
    from kolorize.photo_files import colorize_photos, find_inputs, plan

    if variant == "onnx":
        colorizer = Colorizer.load(onnx, "cpu")
    else:
        net = load_generator(weights)[0]
        predict = EagerPredictor(net) if variant in ("eager", "reference") else TorchPredictor(net)
        colorizer = Colorizer(predict, image_size=256, multiple=256, description=variant)

    def run(image: Image.Image) -> Image.Image:
        if variant == "reference":
            return reference_colorize(net, image)
        return colorizer.colorize(image)

    result: dict = {"variant": variant}
    photos = test_photos(megapixels)
    for name, image in photos.items():
        if name != "256x256":  # the peak of the big photo alone, on top of the loaded model
            result["rss_before_big_mib"] = round(current_rss_mib())
            result["peak_is_big_photo_only"] = reset_peak_rss()
        result[f"seconds {name}"] = round(best_of(lambda image=image: run(image), repeats), 3)
        result[f"output {name}"] = "x".join(map(str, run(image).size))
    result["peak_rss_mib"] = round(peak_rss_mib())
    if folder and variant != "reference":
        with tempfile.TemporaryDirectory() as out:
            files = sorted((SHARED_DATA / "photos").glob("*.jpg"))[:folder]
            jobs = plan(find_inputs([str(f) for f in files]), Path(out), "png")
            start = time.perf_counter()
            report = colorize_photos(colorizer, jobs, log=lambda _m: None)
            seconds = time.perf_counter() - start
        result["folder photos/s"] = round(len(report.done) / seconds, 2)
        result["folder mean MP"] = round(
            float(np.mean([np.prod(Image.open(f).size) for f in files])) / 1e6, 2
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megapixels", type=float, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--folder", type=int, default=24, help="photos in the folder test")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--one", nargs=3, metavar=("VARIANT", "WEIGHTS", "ONNX"),
                        help=argparse.SUPPRESS)  # fmt: skip
    args = parser.parse_args()
    if args.one:
        variant, weights, onnx = args.one
        row = one_variant(variant, Path(weights), Path(onnx), args.megapixels, args.repeats,
                          args.folder)  # fmt: skip
        print(json.dumps(row))
        return
    print(f"machine: {machine()}")
    print("model: unet_256 at 256 px, random weights; gray photos; best of "
          f"{args.repeats} after a warm-up", flush=True)  # fmt: skip
    tmp = Path(tempfile.mkdtemp())
    rows = []
    try:
        weights, onnx = make_model(tmp)
        for variant in VARIANTS:
            cmd = [sys.executable, __file__, "--one", variant, str(weights), str(onnx),
                   "--megapixels", str(args.megapixels), "--repeats", str(args.repeats),
                   "--folder", str(args.folder)]  # fmt: skip
            out = subprocess.run(cmd, capture_output=True, text=True, check=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    big = f"{args.megapixels:g} MP"
    ref = rows[0]
    print("\n| variant | 256x256 s | ratio | " + big + " s | ratio | output | peak RSS MiB "
          f"({big}: +over the loaded model) | photos/s (folder) |\n"
          "|---|---|---|---|---|---|---|---|")  # fmt: skip
    for r in rows:
        print(
            f"| {r['variant']} | {r['seconds 256x256']} "
            f"| {r['seconds 256x256'] / ref['seconds 256x256']:.2f}x "
            f"| {r[f'seconds {big}']} | {r[f'seconds {big}'] / ref[f'seconds {big}']:.2f}x "
            f"| {r[f'output {big}']} | {r['peak_rss_mib']} "
            f"(+{r['peak_rss_mib'] - r['rss_before_big_mib']}) "
            f"| {r.get('folder photos/s', '-')} |"
        )
    print("\nratio: time / the reference's time on the same photo (the reference returns "
          "256x256; kolorize returns the photo's own size).")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
