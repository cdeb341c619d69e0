"""Helpers for the evaluation and report tests: a small random Inception stand-in (injected
through `Backbones`, the path the real network takes), tiny trained runs, and a metrics.json
as an older kolorize wrote it."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from kolorize.config import load_config
from kolorize.evaluate.yardsticks import SECTORS
from kolorize.train.trainer import train

TINY = {
    "generator.arch": "unet", "generator.levels": 5, "generator.width": 4,
    "discriminator.width": 4, "train.batch_size": 8, "train.log_every": 2,
    "train.epochs": 1, "train.samples": 4, "train.val_images": 8,
}  # fmt: skip


class SmallInception(nn.Module):
    """uint8 RGB -> (16-d "pool" features, 10 logits), like InceptionPoolAndLogits but tiny
    and random. Counts the images it sees, to check that each set goes through once."""

    def __init__(self, dim: int = 16, classes: int = 10) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(1)
        self.conv = nn.Conv2d(3, dim, 5, stride=2)
        self.fc = nn.Linear(dim, classes)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)
        self.images_seen = 0

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.images_seen += x.shape[0]
        h = torch.relu(self.conv((x.float() - 128) / 128))
        pool = h.mean(dim=(2, 3)) + 0.1 * h.amax(dim=(2, 3))
        return pool, self.fc(pool)


def train_tiny_runs(data: Path, root: Path) -> list[Path]:
    """An L1-pretrained U-Net and a GAN fine-tuned from it: 1 epoch each on the tiny dataset."""
    quiet = lambda _msg: None  # noqa: E731
    unet = train(
        load_config(None, {**TINY, "train.phase": "pretrain"}), data, root / "U-Net_1", log=quiet
    )
    gan = train(
        load_config(None, {**TINY, "train.init_from": str(unet / "generator.safetensors")}),
        data, root / "GAN_1", log=quiet,
    )  # fmt: skip
    return [unet, gan]


def as_written_before_the_yardsticks(data: dict) -> dict:
    """A metrics.json as kolorize wrote it before the baselines, beats and hue metrics."""
    new_keys = {"beats_gray", "beats_tint", "hue", *(f"hue_{s}" for s in SECTORS)}
    old = {k: v for k, v in data.items() if k != "tint_ab"}
    old["settings"] = {k: v for k, v in data["settings"].items()
                       if k not in new_keys and k != "baselines"}  # fmt: skip
    old["metrics"] = [m for m in data["metrics"] if m["key"] not in new_keys]
    old["rows"] = [
        {**{k: v for k, v in row.items() if k != "baseline"},
         "values": {k: v for k, v in row["values"].items() if k not in new_keys}}
        for row in data["rows"]
        if not row["baseline"]
    ]  # fmt: skip
    return old
