"""GAN losses on PatchGAN logit maps, and the L1 term.

vanilla: BCE with logits against all-ones / all-zeros maps (pix2pix's default);
lsgan: mean squared error against the same targets; hinge and wgan-gp for comparison.
Discriminator losses follow pix2pix: 0.5 * (loss on real + loss on fake).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

GAN_LOSSES = ("vanilla", "lsgan", "hinge", "wgan-gp")


class GANLoss:
    def __init__(self, kind: str) -> None:
        if kind not in GAN_LOSSES:
            raise ValueError(f"unknown GAN loss {kind!r}; choose one of {', '.join(GAN_LOSSES)}")
        self.kind = kind

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
        return fake_logits.mean() - real_logits.mean()  # wgan-gp critic (penalty added apart)

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
