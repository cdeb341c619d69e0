"""Make a trained generator the model that ships inside the package.

    .venv/bin/python scripts/ship_model.py RUN_DIR_OR_SAFETENSORS [--note TEXT]
        [--temperature T] [--unbalance B] [--chroma-gain G] [--flip-average 0|1]
        [--render-size N] [--largest-render-size N]

Writes src/kolorize/models/colorizer.safetensors: the generator's tensors in float16 (BatchNorm
counters stay integers), the config and training metadata as before (its training record
included) plus `shipped_from` and `note`, and records the file's SHA-256 in
src/kolorize/models/files.py, which the tests check. `--temperature`: a classes model's
annealed-mean T, `--unbalance` the share of its class rebalancing undone, `--chroma-gain` the
share of the expected chroma given back (`kolorize.ab_bins.annealed_mean`), `--flip-average 1`
its logits averaged with the mirrored photo's (`kolorize.models.resnet_unet`), `--render-size` the
side it predicts colour at by default, `--largest-render-size` the largest it allows (below
its training side over its smallest crop where larger sizes measured worse): each as chosen on
validation photos (scripts/judge_colorizer.py --temperature / --unbalance / --chroma-gain /
--flip-average / --render-size).
"""

from __future__ import annotations

import argparse
import hashlib
import re
from pathlib import Path

import torch

from kolorize.ab_bins import unbalancing_offset
from kolorize.models.files import (
    DEFAULT_MODEL,
    read_generator,
    render_sizes,
    save_generator_tensors,
)

FILES_PY = Path(__file__).resolve().parents[1] / "src" / "kolorize" / "models" / "files.py"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source")
    parser.add_argument("--note", default="")
    parser.add_argument("--temperature", type=float)
    parser.add_argument("--unbalance", type=float, help="share of the rebalancing undone")
    parser.add_argument("--chroma-gain", type=float, help="share of the expected chroma")
    parser.add_argument("--flip-average", type=int, choices=(0, 1), help="1: mirrored average")
    parser.add_argument("--render-size", type=int, help="the default side colour is predicted at")
    parser.add_argument("--largest-render-size", type=int, help="the largest side allowed")
    args = parser.parse_args()
    tensors, cfg, meta = read_generator(args.source)
    decoding = {  # a classes model's decoding buffers (kolorize.models.resnet_unet)
        "temperature": args.temperature,
        "chroma_gain": args.chroma_gain,
        "flip_average": args.flip_average,
    }
    for name, value in decoding.items():
        if value is None:
            continue
        if "temperature" not in tensors:
            what = name.replace("_", " ")
            raise SystemExit(f"{args.source} is not a classes model: it has no {what}")
        tensors[name] = torch.tensor(float(value))
    if args.unbalance is not None:
        if "class_weights" not in meta:
            raise SystemExit(f"{args.source} records no class_weights to undo")
        weights = torch.tensor(meta["class_weights"])
        tensors["logit_offset"] = unbalancing_offset(weights, args.unbalance)
        meta["unbalance"] = args.unbalance
    if args.render_size is not None:
        largest = render_sizes(meta).largest
        if not 0 < args.render_size <= largest:
            raise SystemExit(f"--render-size must be in 1..{largest} for this model")
        meta["render_size"] = args.render_size
    if args.largest_render_size is not None:
        sizes = render_sizes(meta)
        if not sizes.default <= args.largest_render_size <= sizes.largest:
            raise SystemExit(f"--largest-render-size must be in {sizes.default}..{sizes.largest}")
        meta["largest_render_size"] = args.largest_render_size
    half = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in tensors.items()}
    shipped_from = Path(args.source).resolve().name
    meta.update(shipped_from=shipped_from, note=args.note)  # a shipped file may be the source
    save_generator_tensors(DEFAULT_MODEL, half, cfg, **meta)
    digest = hashlib.sha256(DEFAULT_MODEL.read_bytes()).hexdigest()
    text = FILES_PY.read_text()
    text, n = re.subn(
        r'DEFAULT_MODEL_SHA256 = "[0-9a-f]*"', f'DEFAULT_MODEL_SHA256 = "{digest}"', text
    )
    if n != 1:
        raise SystemExit(f"DEFAULT_MODEL_SHA256 not found in {FILES_PY}")
    FILES_PY.write_text(text)
    size = DEFAULT_MODEL.stat().st_size / 2**20
    params = sum(v.numel() for v in tensors.values() if v.is_floating_point())
    print(f"wrote {DEFAULT_MODEL} ({size:.1f} MiB, {params / 1e6:.1f} M values, sha256 {digest})")


if __name__ == "__main__":
    main()
