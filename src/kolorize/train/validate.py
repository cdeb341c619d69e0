"""The end-of-epoch look at the validation split: mean L1 of the generator's ab on the first
train.val_images images, and a grid of gray | colorized | real for the first train.samples."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from kolorize.config import TrainConfig
from kolorize.data.cache import ImageCache
from kolorize.data.loader import Augmentation, make_loader
from kolorize.train.logs import sample_grid, save_image_atomic
from kolorize.train.step import TrainingStep


@torch.no_grad()
def validate(
    G: nn.Module, data: ImageCache, t: TrainConfig, step: TrainingStep, grid_path: Path
) -> dict[str, float]:
    """{"val_l1": ...} (empty without validation images), with the sample grid written to
    `grid_path`; G is in eval mode meanwhile, in the step's model space and autocast."""
    out: dict[str, float] = {}
    if data.n_val == 0:
        return out
    G.eval()
    size = step.settings.image_size
    whole = Augmentation(size, resize=size != data.size)  # whole photos at the training size
    try:
        val = make_loader(data, "val", t.batch_size, train=False, threads=0, augmentation=whole)
        total: torch.Tensor | None = None  # summed on the device: one sync at the end
        seen, scored, first = 0, 0, None
        for batch in val:
            if seen >= max(t.val_images, t.samples):
                break
            x, L, ab = step.inputs(batch)
            with step.autocast():
                fake = G(x).float()
            if first is None:
                first = (L[: t.samples], fake[: t.samples], ab[: t.samples])
            k = min(len(batch), t.val_images - seen)  # only the first val_images count
            if k > 0:
                error = (fake[:k] - ab[:k]).abs().mean(dim=(1, 2, 3)).sum()
                total = error if total is None else total + error
                scored += k
            seen += len(batch)
        if total is not None:
            out["val_l1"] = total.item() / scored
        if first is not None and t.samples:
            save_image_atomic(sample_grid(*(x.float() for x in first)), grid_path)
    finally:
        G.train()
    return out
