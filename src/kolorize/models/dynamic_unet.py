"""fastai's `DynamicUnet` on a ResNet18 body, in plain PyTorch: the generator of the tutorial the
study follows,

    body = create_body(resnet18(), n_in=1, pretrained=True, cut=-2)
    net = DynamicUnet(body, 2, (256, 256))      # 31.1 M parameters, 19.9 M in the decoder

reproduced layer for layer (same layers, same order, same initialisation; fastai's state dict
loads into it tensor for tensor, see tests/test_dynamic_unet.py), with no fastai at run time.

What sets it apart from `resnet_unet` (the lighter ResNet18 U-Net kolorize also has):
- a middle block on the deepest features: BatchNorm, ReLU, two 3x3 convs (512 -> 1024 -> 512);
- upsampling by a 1x1 conv and PixelShuffle, initialised with ICNR (so that at the start it
  acts like nearest-neighbour upsampling, without checkerboard artefacts);
- BatchNorm on each skip feature map, but none inside the decoder's convs (fastai's
  `norm_type=None`): every decoder conv has a bias and is followed by ReLU;
- channel counts that grow with the skips (up_in/2 + skip in, as many out; halved at the last
  block), then one more PixelShuffle back to the input size;
- a residual block on [features, input L] and a linear 1x1 output: no tanh, so the ab it
  predicts is not bounded to [-1, 1].

`width` (ResNet's base width, 64) and `depth` (residual stages, 4; fastai's `cut=-2`, 3 is
`cut=-3`) shrink it for tests. The encoder keeps torchvision's module names, so torchvision's
ImageNet state dict loads into it, conv1 summed over RGB as fastai's create_body does for one
input channel.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from kolorize.models.resnet_unet import ResNet18Encoder


def icnr_(weight: torch.Tensor, scale: int = 2) -> torch.Tensor:
    """ICNR init (Aitken et al. 2017) of a conv that feeds PixelShuffle(scale), in place: the
    `scale**2` output channels that become one upsampled channel start with the same kernel
    (a kaiming-normal one). Written as fastai's `icnr_init`, so one seed gives the same tensor."""
    out_ch, in_ch, h, w = weight.shape
    sub = out_ch // scale**2
    k = nn.init.kaiming_normal_(weight.new_zeros(sub, in_ch, h, w)).transpose(0, 1)
    k = k.contiguous().view(sub, in_ch, -1).repeat(1, 1, scale**2)
    with torch.no_grad():
        weight.copy_(k.contiguous().view(in_ch, out_ch, h, w).transpose(0, 1))
    return weight


def _decoder_norm(channels: int) -> nn.BatchNorm2d:
    bn = nn.BatchNorm2d(channels)
    nn.init.ones_(bn.weight)
    nn.init.constant_(bn.bias, 1e-3)  # fastai's BatchNorm init
    return bn


def _conv_relu(in_ch: int, out_ch: int, kernel: int = 3, *, relu: bool = True) -> nn.Sequential:
    """fastai's ConvLayer with norm_type=None: a conv with a bias, then ReLU."""
    conv = nn.Conv2d(in_ch, out_ch, kernel, padding=(kernel - 1) // 2)
    nn.init.kaiming_normal_(conv.weight)
    nn.init.zeros_(conv.bias)
    return nn.Sequential(conv, nn.ReLU()) if relu else nn.Sequential(conv)


class PixelShuffleUp(nn.Sequential):
    """x2 upsampling: 1x1 conv to 4x the channels, ReLU, PixelShuffle (fastai's
    PixelShuffle_ICNR with norm_type=None and no blur)."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        conv = _conv_relu(in_ch, out_ch * 4, 1)
        icnr_(conv[0].weight)
        super().__init__(conv, nn.PixelShuffle(2))


class UNetBlock(nn.Module):
    """Upsample, BatchNorm the skip, concatenate, ReLU, two 3x3 convs (fastai's UnetBlock)."""

    def __init__(self, up_ch: int, skip_ch: int, *, final: bool) -> None:
        super().__init__()
        self.shuf = PixelShuffleUp(up_ch, up_ch // 2)
        self.bn = _decoder_norm(skip_ch)
        cat_ch = up_ch // 2 + skip_ch
        self.out_channels = cat_ch // 2 if final else cat_ch
        self.conv1 = _conv_relu(cat_ch, self.out_channels)
        self.conv2 = _conv_relu(self.out_channels, self.out_channels)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        up = self.shuf(x)
        if up.shape[-2:] != skip.shape[-2:]:  # odd sizes: fastai resizes, nearest
            up = F.interpolate(up, skip.shape[-2:], mode="nearest")
        return self.conv2(self.conv1(self.relu(torch.cat([up, self.bn(skip)], dim=1))))


class ResBlock(nn.Module):
    """relu(x + conv(relu(conv(x)))), 3x3 convs with biases (fastai's ResBlock(1, n, n) with
    norm_type=None)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.convpath = nn.Sequential(
            _conv_relu(channels, channels), _conv_relu(channels, channels, relu=False)
        )
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.convpath(x) + x)


class ResNet18DynamicUNet(nn.Module):
    def __init__(
        self, in_channels: int = 1, out_channels: int = 2, *, width: int = 64, depth: int = 4
    ) -> None:
        super().__init__()
        self.encoder = ResNet18Encoder(in_channels, width, depth)
        _init_like_torchvision(self.encoder)
        ch = self.encoder.channels  # [64, 64, 128, 256, 512]: stem, then each residual stage
        deepest = ch[-1]
        self.middle = nn.Sequential(
            _decoder_norm(deepest),
            nn.ReLU(),
            nn.Sequential(_conv_relu(deepest, deepest * 2), _conv_relu(deepest * 2, deepest)),
        )
        skips = ch[-2::-1]
        blocks, up = [], deepest
        for i, skip in enumerate(skips):
            blocks.append(UNetBlock(up, skip, final=i == len(skips) - 1))
            up = blocks[-1].out_channels
        self.blocks = nn.ModuleList(blocks)
        self.final_up = PixelShuffleUp(up, up)  # the stem works at 1/2 size: back to full size
        self.refine = ResBlock(up + in_channels)
        self.out = nn.Conv2d(up + in_channels, out_channels, 1)
        nn.init.normal_(self.out.bias, 0.0, 0.01)  # weight: PyTorch's default, as fastai
        # Sides that are multiples of this need no resizing inside; other sizes work (nearest
        # resizing, as fastai), but inference and ONNX export stick to multiples.
        self.multiple = 2 ** (depth + 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.encoder(x)
        y = self.middle(features[-1])
        for block, skip in zip(self.blocks, reversed(features[:-1]), strict=True):
            y = block(y, skip)
        y = self.final_up(y)
        if y.shape[-2:] != x.shape[-2:]:
            y = F.interpolate(y, x.shape[-2:], mode="nearest")
        return self.out(self.refine(torch.cat([y, x], dim=1)))


def _init_like_torchvision(encoder: ResNet18Encoder) -> None:
    """torchvision's ResNet init (kaiming-normal fan-out convs; BatchNorm 1 and 0 is already
    PyTorch's), except conv1: create_body replaces it by a fresh nn.Conv2d for one input
    channel, which keeps PyTorch's default init. ImageNet weights, when asked, overwrite all."""
    for name, m in encoder.named_modules():
        if isinstance(m, nn.Conv2d) and name != "conv1":
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
