"""One optimisation step of either phase of the study:

    pretrain:  G(L) -> ab,  loss = L1                                   (U-Net_30)
    gan:       D step: 0.5 * (GAN(D(L, ab), real) + GAN(D(L, G(L)), fake))
               G step: GAN(D(L, G(L)), real) + lambda * L1(G(L), ab)    (pix2pix)

The colour term is L1 on ab, or for a classes generator the rebalanced cross-entropy over ab
classes (its ab, for D, the annealed mean); a hint-capable G also gets hint channels beside L
(D judges L and ab alone).

A step does no host work, so that it can be captured as a CUDA graph and replayed
(graphs.py): its batch holds device tensors, and it returns its losses stacked in one
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
from kolorize.config import TrainConfig
from kolorize.data.crops import crop_resize
from kolorize.data.loader import Batch
from kolorize.data.old_photos import degrade_lightness
from kolorize.device import autocast
from kolorize.errors import KolorizeError
from kolorize.hints import recolour_objects, true_colour_hints
from kolorize.train.build import load_optimizer_state
from kolorize.train.distributed import DistInfo


def no_graph_reason(
    train_cfg: TrainConfig, dist: DistInfo, gan_loss: losses.GANLoss | None
) -> str | None:
    """None when the step can be captured as a CUDA graph, else why not."""
    if dist.device.type != "cuda":
        return "not on CUDA"
    if not train_cfg.cuda_graphs:
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
class StepSettings:
    """Where and how a step computes."""

    device: torch.device
    precision: str  # "fp32" or "bf16"
    graphed: bool  # captured as a CUDA graph
    channels_last: bool
    image_size: int  # the side the networks train at (crop boxes are resampled to it)


@dataclass
class Discriminator:
    """The gan phase's second player: D, its Adam and schedule, and the GAN loss it and G are
    scored by; what a checkpoint keeps of it under `discriminator`, `opt_d` and `sched_d`."""

    net: nn.Module
    opt: torch.optim.Optimizer
    schedule: torch.optim.lr_scheduler.LRScheduler
    loss: losses.GANLoss

    def state(self) -> dict[str, Any]:
        return {
            "discriminator": self.net.state_dict(),
            "opt_d": self.opt.state_dict(),
            "sched_d": self.schedule.state_dict(),
        }

    def restore(self, state: dict[str, Any]) -> None:
        if "discriminator" not in state:
            raise KolorizeError("the checkpoint has no discriminator: it is not a GAN run")
        self.net.load_state_dict(state["discriminator"])
        load_optimizer_state(self.opt, state["opt_d"])
        self.schedule.load_state_dict(state["sched_d"])


class TrainingStep(ABC):
    """What both phases share: a batch on the device, turned into the generator's input and
    the true ab (`inputs`), the colour term, and the autocast the networks run under."""

    loss_names: tuple[str, ...]

    def __init__(self, settings: StepSettings, colour: losses.ColourLoss) -> None:
        self.settings = settings
        self.colour = colour

    @abstractmethod
    def __call__(self, batch: Batch) -> torch.Tensor:
        """Take the step on a batch already on the device; returns the losses stacked."""

    def on_device(self, batch: Batch) -> Batch:
        device = self.settings.device
        return batch.to(device) if device.type == "cuda" else batch

    def autocast(self) -> contextlib.AbstractContextManager:
        # autocast's weight cache would hold tensors across a graph's replays
        s = self.settings
        return autocast(s.device, s.precision, cache=not s.graphed)

    def inputs(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(the generator's input, L, ab) for a batch, in the step's memory layout: L in the
        model's space, cropped and resampled to the training size where the batch says, with
        the hint channels after it when the batch has hint patches (drawn from the ab with its
        recoloured objects, which are then the target too); the generator's L alone made an
        old print where the batch says (L and ab stay clean)."""
        L, ab = batch.model_space(self.settings.device)
        if batch.boxes is not None:
            lab = crop_resize(torch.cat([L, ab], 1), batch.boxes, self.settings.image_size)
            L, ab = lab[:, :1], lab[:, 1:]
        x = L
        if batch.hints is not None:
            if batch.recolours is not None:
                ab = recolour_objects(L, ab, batch.hints, batch.recolours).to(ab.dtype)
            x = torch.cat([L, true_colour_hints(batch.hints, ab)], 1)
        if batch.old_photos is not None:
            x = torch.cat([degrade_lightness(L, batch.old_photos), x[:, 1:]], 1)
        return self._in_layout(x), self._in_layout(L), self._in_layout(ab)

    def _in_layout(self, t: torch.Tensor) -> torch.Tensor:
        if self.settings.channels_last:
            return t.contiguous(memory_format=torch.channels_last)
        return t.contiguous()


class PretrainStep(TrainingStep):
    """G alone, on its colour term."""

    def __init__(
        self,
        G: nn.Module,
        opt_g: torch.optim.Optimizer,
        settings: StepSettings,
        colour: losses.ColourLoss,
    ) -> None:
        super().__init__(settings, colour)
        self.G, self.opt_g = G, opt_g
        self.loss_names = (colour.name,)

    def __call__(self, batch: Batch) -> torch.Tensor:
        x, _, ab = self.inputs(batch)
        with self.autocast():
            output = self.colour.predict(self.G, x)
        loss = self.colour(output, ab)
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        return loss.detach()[None]


class GANStep(TrainingStep):
    """pix2pix's D step, then its G step. `G` and `D_pair` (D in a DiscriminatorPair) are
    the networks as for_training wraps them; the gradient penalty and the G step call the bare
    D, whose own gradients the G step switches off."""

    def __init__(
        self,
        G: nn.Module,
        opt_g: torch.optim.Optimizer,
        disc: Discriminator,
        D_pair: nn.Module,
        colour_weight: float,
        settings: StepSettings,
        colour: losses.ColourLoss,
    ) -> None:
        super().__init__(settings, colour)
        self.G, self.opt_g, self.disc, self.D_pair = G, opt_g, disc, D_pair
        self.colour_weight = colour_weight
        self.loss_names = (
            "loss_d",
            "loss_g",
            "loss_g_gan",
            colour.name,
            "d_real",
            "d_fake",
            *disc.loss.penalty_names,
        )

    def __call__(self, batch: Batch) -> torch.Tensor:
        x, L, ab = self.inputs(batch)
        with self.autocast():
            output = self.colour.predict(self.G, x)
            fake = self.colour.colour(output, ab)
        real_pair = torch.cat([L, ab], dim=1)
        loss_d, real_logits, fake_logits, penalties = self._discriminator_step(real_pair, L, fake)
        loss_g, loss_gan, loss_colour = self._generator_step(L, fake, output, ab)
        values = [
            loss_d,
            loss_g,
            loss_gan,
            loss_colour,
            real_logits.float().mean(),
            fake_logits.float().mean(),
            *penalties,
        ]
        return torch.stack([v.detach().float() for v in values])

    def _discriminator_step(
        self, real_pair: torch.Tensor, L: torch.Tensor, fake: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """0.5 * (GAN(D(L, ab), real) + GAN(D(L, G(L)), fake)), plus any penalty."""
        D, gan = self.disc.net, self.disc.loss
        D.requires_grad_(True)
        self.disc.opt.zero_grad(set_to_none=True)
        with self.autocast():
            fake_pair = torch.cat([L, fake.detach().to(L.dtype)], dim=1)
            real_logits, fake_logits = self.D_pair(real_pair, fake_pair)
            loss_d = gan.discriminator(real_logits.float(), fake_logits.float())
        loss_d, penalties = gan.with_penalty(loss_d, D, real_pair, fake_pair.detach())
        loss_d.backward()
        self.disc.opt.step()
        return loss_d, real_logits, fake_logits, penalties

    def _generator_step(
        self, L: torch.Tensor, fake: torch.Tensor, output: torch.Tensor, ab: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """GAN(D(L, G(L)), real) + lambda * colour(G(L), ab)."""
        self.disc.net.requires_grad_(False)  # G's step only needs gradients through D, not for it
        self.opt_g.zero_grad(set_to_none=True)
        with self.autocast():
            logits = self.disc.net(torch.cat([L, fake.to(L.dtype)], dim=1))
            loss_gan = self.disc.loss.generator(logits.float())
            loss_colour = self.colour(output, ab)
            loss_g = loss_gan + self.colour_weight * loss_colour
        loss_g.backward()
        self.opt_g.step()
        return loss_g, loss_gan, loss_colour
