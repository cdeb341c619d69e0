"""The full-resolution recombination alone: kolorize's `recombine` against plain clipping.

    .venv/bin/python benchmarks/bench_recombine.py [--size 1920x1080] [--saturation 1.6]

One real colour photo from ../shared/data/photos, resized to the frame size. The predicted ab
is the photo's own, taken at 256x256 and multiplied by `--saturation` (vivid colours, some
out of the sRGB gamut, as a model early in training predicts); a second row uses the photo in
gray (B&W input, the common case, which takes the gray lightness table).

  plain      F.interpolate (bilinear) + `color.lab_to_rgb` with clipping, in row chunks
             like recombine's: R, G and B clipped one by one (L changes where they clip)
  recombine  kolorize's: the photo's own L, ab upsampled, out-of-gamut colours brought in by
             reducing their chroma at constant L (bisection)

Best of 5 after a warm-up, on the CPU.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from common import SHARED_DATA, best_of, machine
from kolorize.color import denormalize_ab, denormalize_l, lab_to_rgb, to_uint8
from kolorize.color import uint8_to_model_space_numpy as to_model_space
from kolorize.inference.recombine import CHUNK_PIXELS, recombine


def plain(rgb: np.ndarray, ab_small: np.ndarray) -> np.ndarray:
    height, width, _ = rgb.shape
    big = F.interpolate(torch.from_numpy(ab_small)[None], (height, width), mode="bilinear")
    out = np.empty_like(rgb)
    rows = max(1, CHUNK_PIXELS // width)
    for r0 in range(0, height, rows):
        L = torch.from_numpy(to_model_space(rgb[None, r0 : r0 + rows])[:, :1])
        lab = torch.cat([denormalize_l(L), denormalize_ab(big[:, :, r0 : r0 + rows])], dim=1)
        out[r0 : r0 + rows] = to_uint8(lab_to_rgb(lab))[0].permute(1, 2, 0).numpy()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--saturation", type=float, default=1.6)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    photo = Image.open(sorted((SHARED_DATA / "photos").glob("*.jpg"))[0]).convert("RGB")
    colour = np.asarray(photo.resize((width, height), Image.Resampling.BICUBIC))
    gray = np.repeat(np.asarray(Image.fromarray(colour).convert("L"))[..., None], 3, axis=2)
    small = np.asarray(photo.resize((256, 256), Image.Resampling.BICUBIC))
    ab = to_model_space(small[None])[0, 1:] * np.float32(args.saturation)

    print(machine())
    print(f"{width}x{height}, predicted ab x{args.saturation}\n")
    print("| input | plain clipping, ms | recombine, ms | ratio |")
    print("|---|---:|---:|---:|")
    for name, rgb in (("colour photo", colour), ("gray photo", gray)):
        t_plain = best_of(lambda rgb=rgb: plain(rgb, ab), repeats=5)
        t_ours = best_of(lambda rgb=rgb: recombine(rgb, ab), repeats=5)
        print(f"| {name} | {t_plain * 1e3:.0f} | {t_ours * 1e3:.0f} | {t_ours / t_plain:.2f}x |")


if __name__ == "__main__":
    main()
