"""pix2pix's PatchGAN discriminator. With 3 layers it is the 70x70 PatchGAN: five 4x4 convs
(stride 2, 2, 2, 1, 1), a norm after all but the first and last, LeakyReLU(0.2) after all but
the last; a 256x256 input gives a 30x30 map of logits, each judging a 70x70 patch."""

from __future__ import annotations

import torch
from torch import nn

from kolorize.models.layers import norm_layer, uses_bias


class PatchDiscriminator(nn.Module):
    def __init__(
        self, in_channels: int = 3, *, width: int = 64, layers: int = 3, norm: str = "batch"
    ) -> None:
        super().__init__()
        bias = uses_bias(norm)
        seq: list[nn.Module] = [nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < layers else 1
            seq += [
                nn.Conv2d(width * prev, width * mult, 4, stride, 1, bias=bias),
                norm_layer(norm, width * mult),
                nn.LeakyReLU(0.2, True),
            ]
        seq.append(nn.Conv2d(width * mult, 1, 4, 1, 1))
        self.model = nn.Sequential(*seq)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def receptive_field(layers: int = 3) -> int:
    """Side of the input patch seen by one output logit."""
    convs = [(4, 2)] * layers + [(4, 1), (4, 1)]
    field = 1
    for kernel, stride in reversed(convs):
        field = (field - 1) * stride + kernel
    return field
