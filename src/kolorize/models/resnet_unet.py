"""The "ResNet18 U-Net" colorizer: a ResNet18 encoder (ImageNet-initialised when asked, its
first conv taking the L channel by summing the RGB kernels, as fastai's `create_body` does)
and a U-Net decoder with a skip connection at every scale, ending in tanh.

The encoder keeps torchvision's module names (conv1, bn1, layer1..layer4), so torchvision's
ImageNet state dict loads into it directly. `width` and `depth` shrink it for tests.

Two options, both for the shipped colorizer:
- `hints`: the input is (L, hint a, hint b, hint mask) (`kolorize.hints`); an input of L alone
  is taken as "no hints" (the three channels zero).
- `classes`: colour as classes (`kolorize.ab_bins`): a 1x1 conv on the decoder's half-size
  features gives logits over the ab classes, `forward` turns them into ab by the annealed mean
  at the `temperature` buffer, after adding the `logit_offset` buffer, its chroma raised by the
  `chroma_gain` buffer, the logits averaged with those of the mirrored input where the
  `flip_average` buffer is 1 (all four stored with the weights and chosen on validation
  photos: `kolorize.ab_bins.unbalancing_offset`, `annealed_mean`), and upsamples it to the
  input's size. `forward(x, logits=True)` gives the logits for training. Files written before
  `chroma_gain` or `flip_average` existed load with its default, 0 (`OPTIONAL_BUFFERS`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from kolorize.ab_bins import annealed_mean
from kolorize.models.layers import init_pix2pix, norm_layer

HINT_CHANNELS = 3  # hint a, hint b, mask
DEFAULT_TEMPERATURE = 0.38  # Zhang et al. 2016's annealed-mean T
# Decoding buffers a weights file or checkpoint may lack (written before they existed): the
# network's own initial values stand in, which decode as such files always did.
OPTIONAL_BUFFERS = ("chroma_gain", "flip_average")


def _default_optional_buffers(module: nn.Module, state: dict, prefix: str, *_: object) -> None:
    for name in OPTIONAL_BUFFERS:
        state.setdefault(prefix + name, getattr(module, name).clone())


class BasicBlock(nn.Module):
    """ResNet's two-conv residual block, written here rather than imported from torchvision,
    whose import costs seconds (it pulls in torch._dynamo): the same modules, names and
    creation order, so torchvision's state dicts load and a seeded init draws the same."""

    def __init__(
        self, in_ch: int, out_ch: int, stride: int = 1, downsample: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


def _stage(in_ch: int, out_ch: int, stride: int) -> nn.Sequential:
    down = None
    if stride != 1 or in_ch != out_ch:
        down = nn.Sequential(
            nn.Conv2d(in_ch, out_ch, 1, stride, bias=False), nn.BatchNorm2d(out_ch)
        )
    return nn.Sequential(BasicBlock(in_ch, out_ch, stride, down), BasicBlock(out_ch, out_ch))


class ResNet18Encoder(nn.Module):
    def __init__(self, in_channels: int = 1, width: int = 64, depth: int = 4) -> None:
        super().__init__()
        self.depth = depth
        self.conv1 = nn.Conv2d(in_channels, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        widths = [width, width * 2, width * 4, width * 8][:depth]
        self.channels = [width, *widths]  # channels of each feature map, finest first
        for i, w in enumerate(widths):
            prev = width if i == 0 else widths[i - 1]
            setattr(self, f"layer{i + 1}", _stage(prev, w, 1 if i == 0 else 2))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.relu(self.bn1(self.conv1(x)))
        features = [x]  # 1/2
        x = self.maxpool(x)
        for i in range(self.depth):
            x = getattr(self, f"layer{i + 1}")(x)
            features.append(x)  # 1/4, 1/8, 1/16, 1/32
        return features

    def load_imagenet(self, state: dict[str, torch.Tensor]) -> None:
        """Load torchvision's resnet18 weights, adapting conv1 to our input channels."""
        state = {k: v for k, v in state.items() if not k.startswith("fc.")}
        state = {
            k: v for k, v in state.items() if not k.startswith("layer") or int(k[5]) <= self.depth
        }
        conv1 = state["conv1.weight"]
        if self.conv1.in_channels != conv1.shape[1]:
            if self.conv1.in_channels != 1:
                raise ValueError("ImageNet weights adapt to 1 or 3 input channels only")
            state["conv1.weight"] = conv1.sum(dim=1, keepdim=True)
        self.load_state_dict(state, strict=True)


class _UpBlock(nn.Module):
    """Upsample x2, concatenate the skip, two 3x3 convs."""

    def __init__(self, in_ch: int, skip_ch: int, out_ch: int, norm: str) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_ch + skip_ch, out_ch, 3, 1, 1, bias=norm != "batch"),
            norm_layer(norm, out_ch),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=norm != "batch"),
            norm_layer(norm, out_ch),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.body(torch.cat([x, skip], dim=1))


class ResNetUNetGenerator(nn.Module):
    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 2,
        *,
        width: int = 64,
        depth: int = 4,
        norm: str = "batch",
        classes: int = 0,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.encoder = ResNet18Encoder(in_channels, width, depth)
        ch = self.encoder.channels  # e.g. [64, 64, 128, 256, 512]
        # Each decoder block returns to the resolution (and the channel count) of its skip.
        self.decoder = nn.ModuleList(
            _UpBlock(ch[i + 1], ch[i], ch[i], norm) for i in range(len(ch) - 2, -1, -1)
        )
        self.multiple = 1  # decoder blocks resize to their skip, so any input size works
        init_pix2pix(self.decoder)
        self.n_classes = classes
        if classes:
            self.classes = nn.Conv2d(ch[0], classes, 1)
            self.register_buffer("temperature", torch.tensor(DEFAULT_TEMPERATURE))
            self.register_buffer("logit_offset", torch.zeros(classes))
            self.register_buffer("chroma_gain", torch.tensor(0.0))
            self.register_buffer("flip_average", torch.tensor(0.0))
            self.register_load_state_dict_pre_hook(_default_optional_buffers)
            init_pix2pix(self.classes)
        else:
            head = max(width // 2, 8)
            self.head = _UpBlock(ch[0], in_channels, head, norm)  # full size, sees L itself
            self.out = nn.Conv2d(head, out_channels, 1)
            init_pix2pix(self.head)
            init_pix2pix(self.out)

    def forward(self, x: torch.Tensor, *, logits: bool = False) -> torch.Tensor:
        if x.shape[1] < self.in_channels:  # L alone: no hints
            x = F.pad(x, (0, 0, 0, 0, 0, self.in_channels - x.shape[1]))
        y = self._decoded(x)
        if not self.n_classes:
            return torch.tanh(self.out(self.head(y, x)))
        scores = self.classes(y)
        if logits:
            return scores
        # Read here, unlike the other buffers: only this decoding path does, whose colour goes
        # to the host next anyway, and an exported graph keeps the file's branch.
        if self.flip_average:
            scores = (scores + self.classes(self._decoded(x.flip(-1))).flip(-1)) / 2
        offset = self.logit_offset[:, None, None]
        ab = annealed_mean(scores + offset, self.temperature, self.chroma_gain)
        return F.interpolate(ab, size=x.shape[-2:], mode="bilinear", align_corners=False)

    def _decoded(self, x: torch.Tensor) -> torch.Tensor:
        """The decoder's last (half-size) features of a full input."""
        features = self.encoder(x)
        y = features[-1]
        for block, skip in zip(self.decoder, reversed(features[:-1]), strict=True):
            y = block(y, skip)
        return y
