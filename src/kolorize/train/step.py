"""One optimisation step of either phase of the study:

    pretrain:  G(L) -> ab,  loss = L1                                   (U-Net_30)
    gan:       D step: 0.5 * (GAN(D(L, ab), real) + GAN(D(L, G(L)), fake))
               G step: GAN(D(L, G(L)), real) + lambda * L1(G(L), ab)    (pix2pix)

A step does no host work, so that it can be captured as a CUDA graph and replayed
(graphs.py): its arguments are device tensors, and it returns its losses stacked in one
detached device tensor, in the order of its `loss_names`.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from kolorize import losses
from kolorize.color import batch_to_model_space, rgb_to_model_space
from kolorize.config import TrainConfig
from kolorize.data.loader import gather_batch
from kolorize.device import autocast
from kolorize.train.distributed import DistInfo


def no_graph_reason(t: TrainConfig, dist: DistInfo, gan_loss: losses.GANLoss | None) -> str | None:
    """None when the step can be captured as a CUDA graph, else why not."""
    if dist.device.type != "cuda":
        return "not on CUDA"
    if not t.cuda_graphs:
        return "train.cuda_graphs is false"
    if dist.enabled:
        return "multi-process training (DDP all-reduces gradients outside the graph)"
    return gan_loss.no_graph_reason if gan_loss is not None else None


class DiscriminatorPair(nn.Module):
    """D on the real and the fake pair in one forward call, so DistributedDataParallel sees
    exactly one forward per backward, while BatchNorm still sees real and fake apart as in
    pix2pix."""

    def __init__(self, d: nn.Module) -> None:
        super().__init__()
        self.d = d

    def forward(self, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.d(real), self.d(fake)


@dataclass(frozen=True)
class Placement:
    """Where and how a step computes."""

    device: torch.device
    precision: str  # "fp32" or "bf16"
    graphed: bool  # captured as a CUDA graph
    channels_last: bool
    device_images: torch.Tensor | None  # the split held on the device (DeviceBatches)


class TrainingStep(ABC):
    """What both phases share: the step's arguments from a loader item, (L, ab) in model
    space on the device, and the autocast the networks run under."""

    loss_names: tuple[str, ...]

    def __init__(self, placement: Placement) -> None:
        self.placement = placement

    @abstractmethod
    def __call__(self, *arguments: torch.Tensor) -> torch.Tensor:
        """Take the step on `arguments(item)`; returns the losses stacked."""

    def arguments(self, item: Any) -> tuple[torch.Tensor, ...]:
        """What the step takes for one item of the batches: a host batch (moved to the
        device), or the (indices, flips) of a batch that is held on the device."""
        if isinstance(item, tuple):
            return item
        device = self.placement.device
        if device.type == "cuda":
            return (item.to(device, non_blocking=True),)
        return (item,)

    def autocast(self) -> contextlib.AbstractContextManager:
        # autocast's weight cache would hold tensors across a graph's replays
        p = self.placement
        return autocast(p.device, p.precision, cache=not p.graphed)

    def to_model_space(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(L, ab) on the device, in the step's memory layout, for a loader batch."""
        return self._in_layout(*batch_to_model_space(batch, self.placement.device))

    def _model_space(
        self, arguments: tuple[torch.Tensor, ...]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(L, ab) for the step's arguments, whichever way the batch came."""
        if len(arguments) == 2:
            images = self.placement.device_images
            assert images is not None
            rgb = gather_batch(images, *arguments)
            return self._in_layout(*rgb_to_model_space(rgb))
        return self.to_model_space(arguments[0])

    def _in_layout(self, L: torch.Tensor, ab: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.placement.channels_last:
            L = L.contiguous(memory_format=torch.channels_last)
            ab = ab.contiguous(memory_format=torch.channels_last)
        return L, ab


class PretrainStep(TrainingStep):
    """G alone, on L1."""

    loss_names = ("loss_l1",)

    def __init__(self, G: nn.Module, opt_g: torch.optim.Optimizer, placement: Placement) -> None:
        super().__init__(placement)
        self.G, self.opt_g = G, opt_g

    def __call__(self, *arguments: torch.Tensor) -> torch.Tensor:
        L, ab = self._model_space(arguments)
        with self.autocast():
            fake = self.G(L)
        loss = losses.l1(fake.float(), ab)
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        return loss.detach()[None]


class GANStep(TrainingStep):
    """pix2pix's D step, then its G step. `G` and `D_pair` (D in a DiscriminatorPair) are
    the networks as for_training wraps them; the gradient penalty and the G step call the bare
    `D`, whose own gradients the G step switches off."""

    def __init__(
        self,
        G: nn.Module,
        opt_g: torch.optim.Optimizer,
        D: nn.Module,
        D_pair: nn.Module,
        opt_d: torch.optim.Optimizer,
        gan_loss: losses.GANLoss,
        lambda_l1: float,
        placement: Placement,
    ) -> None:
        super().__init__(placement)
        self.G, self.opt_g, self.D, self.D_pair, self.opt_d = G, opt_g, D, D_pair, opt_d
        self.gan_loss, self.lambda_l1 = gan_loss, lambda_l1
        self.loss_names = (
            "loss_d", "loss_g", "loss_g_gan", "loss_l1", "d_real", "d_fake",
            *gan_loss.penalty_names,
        )  # fmt: skip

    def __call__(self, *arguments: torch.Tensor) -> torch.Tensor:
        L, ab = self._model_space(arguments)
        with self.autocast():
            fake = self.G(L)

        real_pair = torch.cat([L, ab], dim=1)
        self.D.requires_grad_(True)
        self.opt_d.zero_grad(set_to_none=True)
        with self.autocast():
            fake_pair = torch.cat([L, fake.detach().to(L.dtype)], dim=1)
            real_logits, fake_logits = self.D_pair(real_pair, fake_pair)
            loss_d = self.gan_loss.discriminator(real_logits.float(), fake_logits.float())
        loss_d, penalties = self.gan_loss.with_penalty(
            loss_d, self.D, real_pair, fake_pair.detach()
        )
        loss_d.backward()
        self.opt_d.step()

        self.D.requires_grad_(False)  # G's step only needs gradients through D, not for it
        self.opt_g.zero_grad(set_to_none=True)
        with self.autocast():
            logits = self.D(torch.cat([L, fake.to(L.dtype)], dim=1))
            loss_gan = self.gan_loss.generator(logits.float())
            loss_l1 = losses.l1(fake.float(), ab)
            loss_g = loss_gan + self.lambda_l1 * loss_l1
        loss_g.backward()
        self.opt_g.step()
        values = [loss_d, loss_g, loss_gan, loss_l1, real_logits.float().mean(),
                  fake_logits.float().mean(), *penalties]  # fmt: skip
        return torch.stack([v.detach().float() for v in values])
