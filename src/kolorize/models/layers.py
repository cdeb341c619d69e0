"""Small pieces shared by the networks: normalisation choice and pix2pix's weight init."""

from __future__ import annotations

from torch import nn


def norm_layer(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}")


def uses_bias(norm: str) -> bool:
    # A conv followed by BatchNorm gets its bias from the norm, as in pix2pix.
    return norm != "batch"


def init_pix2pix(module: nn.Module, gain: float = 0.02) -> None:
    """pix2pix's 'normal' init: conv weights N(0, 0.02), norm scales N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)
