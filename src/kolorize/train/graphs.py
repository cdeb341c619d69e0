"""A training step captured once as a CUDA graph and replayed.

A pix2pix step at batch 16 launches about a thousand small kernels; on a GPU the host cannot
launch them as fast as the GPU runs them, so the chip idles. A CUDA graph records the whole
step (forward, backward, both optimizers) once and replays it with a single launch.

What a captured step must keep to: no host work inside it (no tensors built from Python
numbers, no `.item()`), fixed shapes, optimizers with `capturable=True` (their step counter
and learning rate live on the device), and autocast without its weight cache. The first
`warmup` calls run eagerly on a side stream (cuDNN picks its algorithms, optimizer state is
created), exactly as real steps: capturing changes no step's arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from kolorize.data.loader import Batch


class GraphedStep:
    """Calls `step(batch)` eagerly `warmup` times, then captures it and replays the graph for
    every later call, copying the batch into the graph's own buffers first. The returned
    tensor is the graph's output buffer: read it (or add it somewhere) before the next call.

    If capture fails, the reason is logged and every later call runs eagerly.
    """

    def __init__(
        self,
        step: Callable[[Batch], torch.Tensor],
        *,
        warmup: int = 3,
        log: Callable[[str], None] = print,
    ) -> None:
        self.step = step
        self.warmup = warmup
        self.log = log
        self.calls = 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self.failure: str | None = None
        self._batch: Batch | None = None
        self._output: torch.Tensor | None = None

    @property
    def captured(self) -> bool:
        return self.graph is not None

    def __call__(self, batch: Batch) -> torch.Tensor:
        self.calls += 1
        if self.graph is None:
            if self.failure is not None:
                return self.step(batch)
            if self.calls <= self.warmup:
                return self._on_side_stream(batch)
            return self._capture(batch)
        assert self._batch is not None
        self._batch.copy_(batch)
        self.graph.replay()
        assert self._output is not None
        return self._output

    def _on_side_stream(self, batch: Batch) -> torch.Tensor:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            out = self.step(batch)
        torch.cuda.current_stream().wait_stream(side)
        return out

    def _capture(self, batch: Batch) -> torch.Tensor:
        self._batch = batch.clone()
        torch.cuda.synchronize()
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph):
                output = self.step(self._batch)
        except RuntimeError as e:
            # Capture records kernels without running them, so no weight has changed: this
            # step runs eagerly instead and nothing is lost.
            self.failure = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            self.log(f"note: CUDA graph capture failed ({self.failure}); training eagerly")
            self._batch = None
            torch.cuda.synchronize()
            return self.step(batch)
        self.graph, self._output = graph, output
        graph.replay()
        return output
