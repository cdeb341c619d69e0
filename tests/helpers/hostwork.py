"""A check that code does no host work: no tensors built from Python data, no reads of tensor
values back to Python. On a GPU each of these is a host-device copy or a sync, and none may
happen inside a training step that is captured as a CUDA graph. Runs on the CPU too, where it
catches the same code."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch.overrides import TorchFunctionMode

import kolorize

_PACKAGE = str(Path(kolorize.__file__).resolve().parent)
_FORBIDDEN = {
    torch.tensor, torch.as_tensor, torch.from_numpy, torch.Tensor.item, torch.Tensor.tolist,
    torch.Tensor.cpu, torch.Tensor.numpy, torch.Tensor.__bool__, torch.Tensor.__float__,
    torch.Tensor.__int__,
}  # fmt: skip


class NoHostWork(TorchFunctionMode):
    """Records every forbidden call made directly by kolorize's own code (torch's internals,
    e.g. a CPU optimizer reading its step count, are not kolorize's to change)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in _FORBIDDEN:
            caller = sys._getframe(1)
            if str(Path(caller.f_code.co_filename).resolve()).startswith(_PACKAGE):
                name = getattr(func, "__qualname__", str(func))
                self.calls.append(f"{name} at {caller.f_code.co_filename}:{caller.f_lineno}")
        return func(*args, **(kwargs or {}))
