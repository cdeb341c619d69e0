"""Generator weights as a single self-describing safetensors file: the tensors, plus in its
metadata the generator's config and the image size it was trained at, so `Colorizer.load`,
`kolorize export` and `init_from` need nothing else."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from kolorize.config import GeneratorConfig, from_dict
from kolorize.errors import KolorizeError

FORMAT = "kolorize-generator/1"
GENERATOR_FILE = "generator.safetensors"
# The colorizer that ships inside the package (MODEL_CARD.md), used when no model is named.
DEFAULT_MODEL = Path(__file__).resolve().parent / "colorizer.safetensors"
# written by scripts/ship_model.py, checked by the tests
DEFAULT_MODEL_SHA256 = "fd23f179a9465b1c6ef45f4569c786aa3ff0babed27b1b28ae23cc580842c07e"


def save_generator(path: str | Path, net: nn.Module, cfg: GeneratorConfig, **meta: Any) -> Path:
    """Write atomically: a crash mid-write never leaves a broken file under the final name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    metadata = {"format": FORMAT, "generator": json.dumps(asdict(cfg))}
    metadata.update({k: json.dumps(v) for k, v in meta.items()})
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    save_file(tensors, str(tmp), metadata=metadata)
    os.replace(tmp, path)
    return path


def resolve_generator_file(path: str | Path) -> Path:
    """A run directory or a weights file -> the weights file."""
    path = Path(path)
    if path.is_dir():
        path = path / GENERATOR_FILE
        if not path.is_file():
            raise KolorizeError(f"{path.parent} holds no {GENERATOR_FILE} (has the run trained?)")
    elif path == DEFAULT_MODEL and not path.is_file():
        raise KolorizeError(
            f"this install of kolorize lacks its shipped model ({path}): reinstall it, or name "
            "a model with --model"
        )
    elif not path.is_file():
        raise KolorizeError(f"no such model file or run directory: {path}")
    return path


def read_generator(
    path: str | Path,
) -> tuple[dict[str, torch.Tensor], GeneratorConfig, dict[str, Any]]:
    """(state dict, generator config, other metadata) from a run dir or weights file."""
    from safetensors import safe_open

    path = resolve_generator_file(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
        tensors = load_file(str(path))
    except Exception as e:  # safetensors raises its own error types, which vary by version
        raise KolorizeError(f"{path} is not a readable safetensors file: {e}") from None
    if metadata.get("format") != FORMAT:
        raise KolorizeError(f"{path} is not a kolorize generator file")
    cfg = from_dict({"generator": json.loads(metadata["generator"])}).generator
    extra = {k: json.loads(v) for k, v in metadata.items() if k not in ("format", "generator")}
    return tensors, cfg, extra


def load_generator(path: str | Path) -> tuple[nn.Module, GeneratorConfig, dict[str, Any]]:
    """A ready generator (CPU, eval mode) with its config and metadata."""
    from kolorize.models import build_generator

    tensors, cfg, extra = read_generator(path)
    net = build_generator(cfg, load_pretrained=False)
    net.load_state_dict(tensors)
    return net.eval(), cfg, extra
