"""Choosing the number of CPU threads a training step uses while it runs.

On a machine shared with other work, a step split over every core waits at each of its
thread barriers for the thread that the scheduler put aside: measured on 2 cores with other
jobs running, the resnet18_unet step at 64 px did 7-8 images/s with 2 threads and 26-29 with
one (benchmarks/README.md). Alone on the machine, 2 threads win. `ThreadTuner` (for
train.adaptive_threads) times both every `period` steps and keeps the faster one until the
next check.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch


class ThreadTuner:
    """Call `before_step()` before and `after_step()` after every training step."""

    def __init__(
        self,
        *,
        period: int = 400,
        probe: int = 8,
        most: int | None = None,
        log: Callable[[str], None] = print,
    ) -> None:
        self.period, self.probe = period, probe
        self.most = most or torch.get_num_threads()
        self.log = log
        self.chosen = self.most
        self._step = 0
        self._started = 0.0
        self._timings: dict[int, list[float]] = {}

    def _probing(self) -> int | None:
        """The thread count under test at this step of the period, or None."""
        at = self._step % self.period
        if at < self.probe:
            return 1
        if at < 2 * self.probe:
            return self.most
        return None

    def before_step(self) -> None:
        threads = self._probing() or self.chosen
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        self._started = time.perf_counter()

    def after_step(self) -> None:
        probing = self._probing()
        if probing is not None:
            # the first step after a switch pays for the change: not counted
            if self._step % self.period not in (0, self.probe):
                self._timings.setdefault(probing, []).append(time.perf_counter() - self._started)
            if self._step % self.period == 2 * self.probe - 1:
                self._choose()
        self._step += 1

    def _choose(self) -> None:
        means = {n: sum(t) / len(t) for n, t in self._timings.items() if t}
        self._timings = {}
        if len(means) < 2:
            return
        best = min(means, key=means.__getitem__)
        if best != self.chosen:
            shown = ", ".join(f"{n} thread(s) {s:.2f} s/step" for n, s in sorted(means.items()))
            self.log(f"note: training with {best} thread(s) now ({shown})")
        self.chosen = best
