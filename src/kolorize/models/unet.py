"""pix2pix's U-Net generator (`unet_256` with 8 levels), written as two plain lists of blocks.

Down block i: [LeakyReLU(0.2)] Conv4x4/s2 [BatchNorm]   (no activation or norm on the input
level, no norm on the innermost, exactly as pix2pix). Up block i: ReLU ConvT4x4/s2 BatchNorm
[Dropout(0.5)], fed with its own down block's output concatenated to the deeper up block's
output; the outermost up block ends in tanh. Channels double from `width` up to 8x `width`;
dropout sits in the decoder blocks whose input and output both have 8x `width` channels (the
three innermost ones at 8 levels), the same rule pix2pix uses for any depth.
"""

from __future__ import annotations

import torch
from torch import nn

from kolorize.models.layers import norm_layer, uses_bias


class UNetGenerator(nn.Module):
    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 2,
        *,
        levels: int = 8,
        width: int = 64,
        dropout: float = 0.5,
        norm: str = "batch",
    ) -> None:
        super().__init__()
        if levels < 2:
            raise ValueError("a U-Net needs at least 2 levels")
        self.levels = levels
        ch = [width * min(2**i, 8) for i in range(levels)]
        bias = uses_bias(norm)

        downs = [nn.Sequential(nn.Conv2d(in_channels, ch[0], 4, 2, 1, bias=bias))]
        for i in range(1, levels):
            innermost = i == levels - 1
            layers: list[nn.Module] = [
                nn.LeakyReLU(0.2, True),
                nn.Conv2d(ch[i - 1], ch[i], 4, 2, 1, bias=bias),
            ]
            if not innermost:
                layers.append(norm_layer(norm, ch[i]))
            downs.append(nn.Sequential(*layers))

        ups = [
            nn.Sequential(
                nn.ReLU(True),
                nn.ConvTranspose2d(ch[0] * 2, out_channels, 4, 2, 1),
                nn.Tanh(),
            )
        ]
        for i in range(1, levels):
            innermost = i == levels - 1
            layers = [
                nn.ReLU(True),
                nn.ConvTranspose2d(ch[i] * (1 if innermost else 2), ch[i - 1], 4, 2, 1, bias=bias),
                norm_layer(norm, ch[i - 1]),
            ]
            if dropout > 0 and not innermost and ch[i - 1] == ch[i] == ch[-1]:
                layers.append(nn.Dropout(dropout))
            ups.append(nn.Sequential(*layers))
        self.downs = nn.ModuleList(downs)
        self.ups = nn.ModuleList(ups)

    @property
    def multiple(self) -> int:
        """Input sides must be multiples of this."""
        return 2**self.levels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        if h % self.multiple or w % self.multiple:
            raise ValueError(
                f"a U-Net with {self.levels} levels needs input sides that are multiples of "
                f"{self.multiple}, got {h}x{w}"
            )
        skips = []
        for down in self.downs:
            x = down(x)
            skips.append(x)
        x = self.ups[-1](skips[-1])
        for i in range(self.levels - 2, -1, -1):
            x = self.ups[i](torch.cat([skips[i], x], dim=1))
        return x
