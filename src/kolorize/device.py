"""Which device to run on, and the one mixed-precision rule: bf16 autocast on CUDA, plain fp32
everywhere else (bf16 on a CPU is far slower than fp32)."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch

from kolorize.errors import KolorizeError


def resolve_device(device: torch.device | str | None = None, local_rank: int = 0) -> torch.device:
    """None or "auto" -> CUDA (the process's local GPU) when present, else the CPU; a name is
    checked against this machine."""
    if device is None or device == "auto":
        return torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, ValueError):
        raise KolorizeError(f"unknown device {device!r} (try cpu or cuda)") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise KolorizeError(f"device {device!r} asked for, but CUDA is not available here")
    if resolved.type not in ("cpu", "cuda"):
        raise KolorizeError(f"device {device!r} is not supported (use cpu or cuda)")
    return resolved


def autocast(device: torch.device, enabled: bool = True) -> AbstractContextManager[object]:
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()
