"""Start a generator from a weights file whose network it extends, so that CPU hours add up
across retrainings: the shipped colorizer grows hint inputs or a classes head and still
begins as it was.

What may differ from the file's generator config: `hints` (new input channels start with zero
weights, so the output is unchanged until training uses them) and `output` (a new head starts
fresh; the encoder and decoder are shared). Everything else must match.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from kolorize.config import GeneratorConfig
from kolorize.errors import KolorizeError

EXTENSIBLE = ("hints", "output", "pretrained", "weights")


def warm_start(
    net: nn.Module,
    tensors: dict[str, torch.Tensor],
    saved: GeneratorConfig,
    cfg: GeneratorConfig,
    source: str | Path,
    log: Callable[[str], None] = print,
) -> None:
    """Load `tensors` (a file of config `saved`) into `net` (built from `cfg`)."""
    comparable = dataclasses.replace(saved, **{k: getattr(cfg, k) for k in EXTENSIBLE})
    if comparable != cfg:
        differ = [
            f.name
            for f in dataclasses.fields(cfg)
            if getattr(comparable, f.name) != getattr(cfg, f.name)
        ]
        raise KolorizeError(
            f"train.init_from={source}: its generator differs from this run's in "
            f"{', '.join('generator.' + d for d in differ)}"
        )
    state = net.state_dict()
    widened, dropped = [], []
    for key, value in tensors.items():
        if key not in state:
            dropped.append(key)
            continue
        target = state[key]
        if value.shape == target.shape:
            state[key] = value.to(target.dtype)
        elif _is_wider_input(value, target):
            grown = torch.zeros_like(target)
            grown[:, : value.shape[1]] = value
            state[key] = grown
            widened.append(key)
        else:
            raise KolorizeError(
                f"train.init_from={source}: {key} has shape {tuple(value.shape)}, this run's "
                f"{tuple(target.shape)}"
            )
    fresh = sorted({k.rsplit(".", 1)[0] for k in state if k not in tensors})
    net.load_state_dict(state)
    notes = [f"generator initialised from {source}"]
    if widened:
        notes.append(f"new input channels at zero in {', '.join(widened)}")
    if fresh:
        notes.append(f"new layers {', '.join(fresh)}")
    if dropped:
        notes.append(f"unused: {', '.join(sorted({k.split('.', 1)[0] for k in dropped}))}")
    log("; ".join(notes))


def _is_wider_input(saved: torch.Tensor, target: torch.Tensor) -> bool:
    """A conv weight (out, in, kh, kw) that only gains input channels."""
    return (
        saved.dim() == 4
        and target.dim() == 4
        and saved.shape[0] == target.shape[0]
        and saved.shape[2:] == target.shape[2:]
        and saved.shape[1] < target.shape[1]
    )
