"""Networks and their construction from the typed config."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from kolorize.ab_bins import n_classes
from kolorize.config import DiscriminatorConfig, GeneratorConfig
from kolorize.errors import KolorizeError
from kolorize.models.dynamic_unet import ResNet18DynamicUNet
from kolorize.models.layers import init_pix2pix
from kolorize.models.patchgan import PatchDiscriminator
from kolorize.models.resnet_unet import HINT_CHANNELS, ResNetUNetGenerator
from kolorize.models.unet import UNetGenerator
from kolorize.weights import load_state_dict, locate_weights


def build_generator(cfg: GeneratorConfig, *, load_pretrained: bool = True) -> nn.Module:
    """A generator mapping L (N, 1, H, W) to ab (N, 2, H, W) in [-1, 1] (tanh-bounded, except
    `resnet18_dynamic_unet`'s linear output, as fastai's). A `generator.hints` one also takes
    (N, 4, H, W): L and the hint channels (`kolorize.hints`).

    `load_pretrained=False` skips fetching ImageNet weights (e.g. when a checkpoint will
    overwrite them anyway)."""
    if cfg.arch == "unet":
        net: nn.Module = UNetGenerator(
            1, 2, levels=cfg.levels, width=cfg.width, dropout=cfg.dropout, norm=cfg.norm
        )
        init_pix2pix(net)
        return net
    if cfg.arch in ("resnet18_unet", "resnet18_dynamic_unet"):
        if cfg.arch == "resnet18_unet":
            net = ResNetUNetGenerator(
                1 + HINT_CHANNELS * cfg.hints, 2, width=cfg.width, depth=cfg.depth,
                norm=cfg.norm, classes=n_classes() if cfg.output == "classes" else 0,
            )  # fmt: skip
        else:
            net = ResNet18DynamicUNet(1, 2, width=cfg.width, depth=cfg.depth)
        if cfg.pretrained and load_pretrained:
            net.encoder.load_imagenet(_imagenet_resnet18(cfg.weights))
        return net
    raise ValueError(f"unknown generator arch {cfg.arch!r}")


def _imagenet_resnet18(weights: str | None) -> dict:
    """`generator.weights` may name the weights file itself or a folder holding it."""
    if weights is not None and not Path(weights).exists():
        raise KolorizeError(f"generator.weights: no such file or folder: {weights}")
    if weights is not None and Path(weights).is_file():
        return load_state_dict(Path(weights))
    return load_state_dict(locate_weights("resnet18", weights))


def build_discriminator(cfg: DiscriminatorConfig) -> nn.Module:
    net = PatchDiscriminator(3, width=cfg.width, layers=cfg.layers, norm=cfg.norm)
    init_pix2pix(net)
    return net


def input_multiple(generator: nn.Module) -> int:
    """Input sides the generator accepts must be multiples of this."""
    return int(getattr(generator, "multiple", 1))


def round_to_multiple(size: int, multiple: int, *, up: bool = False) -> int:
    """A side the generator accepts: the nearest positive multiple of `multiple` to `size`, or
    with `up` the smallest one not below it (a training size is never shrunk)."""
    if up:
        return -(-size // multiple) * multiple
    return max(multiple, round(size / multiple) * multiple)
