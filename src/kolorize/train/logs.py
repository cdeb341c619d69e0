"""What a run leaves for people to look at: metrics.jsonl (one line per epoch), TensorBoard
scalars, and a per-epoch grid of gray | colorized | real validation images."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torchvision.utils import make_grid

from kolorize.atomic import atomic_write, write_text_atomic
from kolorize.color import model_space_to_rgb, to_uint8
from kolorize.rundir import METRICS_LOG, TENSORBOARD, read_metrics


class RunLog:
    def __init__(self, run_dir: Path, enabled: bool = True) -> None:
        self.run_dir = run_dir
        self.enabled = enabled
        self._tb: Any = None

    @property
    def tb(self) -> Any:
        if self._tb is None and self.enabled:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(self.run_dir / TENSORBOARD))
        return self._tb

    def scalars(self, step: int, values: dict[str, float], prefix: str = "train") -> None:
        if self.enabled:
            for k, v in values.items():
                self.tb.add_scalar(f"{prefix}/{k}", v, step)

    def epoch(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with open(self.run_dir / METRICS_LOG, "a") as f:
            f.write(json.dumps(record) + "\n")
        numbers = {k: v for k, v in record.items() if isinstance(v, (int, float))}
        self.scalars(record["step"], numbers, "epoch")
        self.tb.flush()

    def forget_epochs_after(self, epoch: int) -> None:
        """Drop metrics.jsonl records past `epoch`: a run killed between logging an epoch and
        checkpointing it trains that epoch again on resume, and logs it again."""
        records = read_metrics(self.run_dir)
        kept = [r for r in records if r.get("epoch", 0) <= epoch]
        if self.enabled and len(kept) < len(records):
            write_text_atomic(
                self.run_dir / METRICS_LOG, "".join(json.dumps(r) + "\n" for r in kept)
            )

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


def sample_grid(L: torch.Tensor, fake_ab: torch.Tensor, real_ab: torch.Tensor) -> Image.Image:
    """Rows of gray | colorized | real for each image."""
    gray = model_space_to_rgb(L, torch.zeros_like(real_ab))
    fake = model_space_to_rgb(L, fake_ab)
    real = model_space_to_rgb(L, real_ab)
    rows = torch.stack([gray, fake, real], dim=1).flatten(0, 1)
    grid = make_grid(rows.float().cpu(), nrow=3, padding=2, pad_value=1.0)
    return Image.fromarray(to_uint8(grid).permute(1, 2, 0).numpy())


def save_image_atomic(img: Image.Image, path: Path) -> None:
    with atomic_write(path) as tmp:
        img.save(tmp, format=Image.registered_extensions().get(path.suffix.lower(), "PNG"))
