"""Training steps as tests look at them."""

from __future__ import annotations

import torch

from kolorize.data.loader import Batch
from kolorize.train.trainer import Trainer


def named_losses(trainer: Trainer, batch: Batch) -> dict[str, torch.Tensor]:
    """One optimisation step on a loader batch; its losses by name, as detached tensors of
    their own (the step's output buffer is overwritten by the next step)."""
    values = trainer.take_step(batch).clone()
    return dict(zip(trainer.loss_names, values.unbind(0), strict=True))
