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


class GraphedStep:
    """Calls `step(*inputs)` eagerly `warmup` times, then captures it and replays the graph for
    every later call, copying the inputs into the graph's own buffers first. The returned
    tensor is the graph's output buffer: read it (or add it somewhere) before the next call.

    If capture fails, the reason is logged and every later call runs eagerly.
    """

    def __init__(
        self,
        step: Callable[..., torch.Tensor],
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
        self._inputs: list[torch.Tensor] = []
        self._output: torch.Tensor | None = None

    @property
    def captured(self) -> bool:
        return self.graph is not None

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.graph is None:
            if self.failure is not None:
                return self.step(*inputs)
            if self.calls <= self.warmup:
                return self._on_side_stream(inputs)
            return self._capture(inputs)
        for buffer, x in zip(self._inputs, inputs, strict=True):
            buffer.copy_(x, non_blocking=True)
        self.graph.replay()
        assert self._output is not None
        return self._output

    def _on_side_stream(self, inputs: tuple[torch.Tensor, ...]) -> torch.Tensor:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            out = self.step(*inputs)
        torch.cuda.current_stream().wait_stream(side)
        return out

    def _capture(self, inputs: tuple[torch.Tensor, ...]) -> torch.Tensor:
        self._inputs = [x.detach().clone() for x in inputs]
        torch.cuda.synchronize()
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph):
                output = self.step(*self._inputs)
        except RuntimeError as e:
            # Capture records kernels without running them, so no weight has changed: this
            # step runs eagerly instead and nothing is lost.
            self.failure = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            self.log(f"note: CUDA graph capture failed ({self.failure}); training eagerly")
            self._inputs = []
            torch.cuda.synchronize()
            return self.step(*inputs)
        self.graph, self._output = graph, output
        graph.replay()
        return output
