"""Loss means and throughput over a stretch of training steps (a logging window, an epoch).

Each step's losses are added on the device, so adding costs no host sync; reading the sums
back is the sync, and the loop does it only when it logs or checkpoints.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class LossSummary:
    sums: dict[str, float]
    means: dict[str, float]  # per step
    images_per_s: float
    seconds: float


class RunningMeans:
    """Sums of the stacked per-step losses (named by `names`), the steps and the images they
    came from, and the time since the start. An epoch resumed mid-way starts from the sums and
    the step count its checkpoint saved; images and time count from this start."""

    def __init__(
        self,
        names: Sequence[str],
        device: torch.device,
        *,
        sums: dict[str, float] | None = None,
        steps: int = 0,
    ) -> None:
        self.names = tuple(names)
        self._sums = torch.tensor([(sums or {}).get(k, 0.0) for k in self.names], device=device)
        self._restart(steps)

    def _restart(self, steps: int) -> None:
        self.steps = steps
        self.images = 0
        self.start = time.perf_counter()

    def add(self, losses: torch.Tensor, images: int) -> None:
        self._sums += losses
        self.steps += 1
        self.images += images

    def sums(self) -> dict[str, float]:
        """The sums as numbers: waits for the device."""
        return dict(zip(self.names, self._sums.tolist(), strict=True))

    def read(self) -> LossSummary:
        sums = self.sums()
        seconds = time.perf_counter() - self.start
        means = {k: v / max(self.steps, 1) for k, v in sums.items()}
        return LossSummary(sums, means, self.images / max(seconds, 1e-9), seconds)

    def restart(self) -> None:
        """Start a new stretch: sums, steps, images and time from zero."""
        self._sums.zero_()
        self._restart(0)
