"""Colorizing tensors for evaluation and the report: uint8 RGB images already at the
model's size in (N, 3, S, S), uint8 RGB out; no resizing, no recombination (`Colorizer` does
those for photos of any size).

Inference mode: `model.eval()` by default (BatchNorm uses its running statistics and dropout
is off, so an image's colorization does not depend on the rest of its batch and is
repeatable). `train_mode=True` gives pix2pix's own test-time behaviour instead (BatchNorm on
batch statistics, dropout 0.5 on: the "noise" of the pix2pix paper); it then depends on the
batch size and on the seed.

Precision: float32 everywhere unless `precision="bf16"` asks for bf16 autocast of the generator
(faster on GPUs and CPUs with bf16 units, but it moves the metrics: a study's numbers come
from the fp32 forward pass).
Colour conversion and metrics stay float32/64 either way.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from kolorize.color import batch_to_model_space, model_space_to_rgb, to_uint8
from kolorize.device import autocast
from kolorize.errors import KolorizeError
from kolorize.models import input_multiple


def ready_generator(net: nn.Module, device: torch.device, *, train_mode: bool = False) -> nn.Module:
    return net.to(device).train(train_mode)


def check_size(net: nn.Module, name: str, side: int) -> None:
    multiple = input_multiple(net)
    if side % multiple:
        raise KolorizeError(
            f"{name} needs image sides that are multiples of {multiple}; the images are {side} px"
        )


def to_nchw(rgb_nhwc: np.ndarray, device: torch.device) -> torch.Tensor:
    """Cache rows (N, H, W, 3) uint8 -> (N, 3, H, W) uint8 on `device`."""
    return torch.from_numpy(np.array(rgb_nhwc)).to(device).permute(0, 3, 1, 2)


@torch.no_grad()
def colorize_tensors(net: nn.Module, rgb: torch.Tensor, *, precision: str = "fp32") -> torch.Tensor:
    """uint8 RGB (N, 3, H, W) -> the generator's colorization of its L channel, uint8 RGB."""
    L, _ = batch_to_model_space(rgb, rgb.device)
    with autocast(rgb.device, precision):
        ab = net(L)
    return to_uint8(model_space_to_rgb(L, ab.float()))


@torch.no_grad()
def grayscale_tensors(rgb: torch.Tensor) -> torch.Tensor:
    """uint8 RGB -> its L channel alone (a = b = 0) as uint8 RGB: what the generator sees."""
    L, ab = batch_to_model_space(rgb, rgb.device)
    return to_uint8(model_space_to_rgb(L, torch.zeros_like(ab)))
