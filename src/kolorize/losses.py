"""GAN losses on PatchGAN logit maps, and the colour term (L1 on ab, or cross-entropy on ab
classes).

vanilla: BCE with logits against all-ones / all-zeros maps (pix2pix's default);
lsgan: mean squared error against the same targets; hinge and wgan-gp for comparison.
Discriminator losses follow pix2pix: 0.5 * (loss on real + loss on fake). wgan-gp's critic
loss also carries a gradient penalty, which GANLoss adds (`with_penalty`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from kolorize.ab_bins import annealed_mean, classification_loss
from kolorize.config import TrainConfig

GAN_LOSSES = ("vanilla", "lsgan", "hinge", "wgan-gp")


class GANLoss:
    def __init__(self, kind: str, *, gp_weight: float = TrainConfig.gp_weight) -> None:
        if kind not in GAN_LOSSES:
            raise ValueError(f"unknown GAN loss {kind!r}; choose one of {', '.join(GAN_LOSSES)}")
        self.kind = kind
        self.gp_weight = gp_weight

    @property
    def has_gradient_penalty(self) -> bool:
        return self.kind == "wgan-gp"

    @property
    def penalty_names(self) -> tuple[str, ...]:
        """The terms `with_penalty` returns besides the loss, to be logged by these names."""
        return ("gradient_penalty",) if self.has_gradient_penalty else ()

    @property
    def no_graph_reason(self) -> str | None:
        """None when a step with this loss can be captured as a CUDA graph, else why not."""
        if self.has_gradient_penalty:
            return "wgan-gp's gradient penalty needs a double backward, which is not captured"
        return None

    def _against(self, logits: torch.Tensor, real: bool) -> torch.Tensor:
        target = torch.ones_like(logits) if real else torch.zeros_like(logits)
        if self.kind == "vanilla":
            return F.binary_cross_entropy_with_logits(logits, target)
        return F.mse_loss(logits, target)

    def discriminator(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        if self.kind in ("vanilla", "lsgan"):
            return 0.5 * (self._against(real_logits, True) + self._against(fake_logits, False))
        if self.kind == "hinge":
            return 0.5 * (F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean())
        return fake_logits.mean() - real_logits.mean()  # wgan-gp critic (see with_penalty)

    def with_penalty(
        self,
        loss_d: torch.Tensor,
        critic: Callable[[torch.Tensor], torch.Tensor],
        real: torch.Tensor,
        fake: torch.Tensor,
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The discriminator's loss with this kind's penalty on `critic` added (wgan-gp: the
        gradient penalty, weighted by gp_weight), and the unweighted penalties in the order of
        `penalty_names`. Other kinds return the loss as it is."""
        if not self.has_gradient_penalty:
            return loss_d, []
        gp = gradient_penalty(critic, real, fake)
        return loss_d + self.gp_weight * gp, [gp]

    def generator(self, fake_logits: torch.Tensor) -> torch.Tensor:
        if self.kind in ("vanilla", "lsgan"):
            return self._against(fake_logits, True)
        return -fake_logits.mean()


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor
) -> torch.Tensor:
    """WGAN-GP: (||grad critic(x_hat)|| - 1)^2 on random interpolates of real and fake."""
    alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype)
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    scores = critic(mixed)
    (grad,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def l1(fake_ab: torch.Tensor, real_ab: torch.Tensor) -> torch.Tensor:
    return F.l1_loss(fake_ab, real_ab)


class ColourLoss:
    """The colour term of a step: how the generator is called, its loss against the true ab,
    and the ab it produces (what D judges). L1 on the ab a regression generator outputs."""

    name = "loss_l1"

    def predict(self, G: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return G(x)

    def __call__(self, output: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        return l1(output.float(), ab)

    def colour(self, output: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        return output


class ClassLoss(ColourLoss):
    """Colour as classes (`kolorize.ab_bins`): rebalanced cross-entropy on the logits; the ab
    is their annealed mean at `temperature`, at the true ab's size."""

    name = "loss_ce"

    def __init__(self, weights: torch.Tensor | None, temperature: float) -> None:
        self.weights, self.temperature = weights, temperature

    def predict(self, G: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return G(x, logits=True)

    def __call__(self, output: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        return classification_loss(output, ab, self.weights)

    def colour(self, output: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        small = annealed_mean(output, self.temperature)
        return F.interpolate(small, size=ab.shape[-2:], mode="bilinear", align_corners=False)
