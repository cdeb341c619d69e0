"""The two backends that turn the model-size lightness into colour, side by side: a PyTorch
generator (`TorchPredictor`) and an exported ONNX model in onnxruntime (`OnnxPredictor`).

Both take (N, 1, S, S) float32 L scaled to [-1, 1] and give (N, 2, S, S) float32 ab; everything
around them (resizing, the full-resolution recombination) is the `Colorizer`'s, so both give
the same photos.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from kolorize.device import autocast, resolve_device, resolve_precision
from kolorize.errors import KolorizeError
from kolorize.export import IMAGE_SIZE, INPUT_MULTIPLE, INPUT_NAME, META_PREFIX, OUTPUT_NAME
from kolorize.extras import require_extra


class Predictor(Protocol):
    """A backend: (N, 1, S, S) float32 L in [-1, 1] (or (N, 4, S, S): L and the hint
    channels, for a model with hint inputs) -> (N, 2, S, S) float32 ab in [-1, 1]."""

    description: str

    def __call__(self, L: np.ndarray, /) -> np.ndarray: ...


class TorchPredictor:
    """A generator on a device: inference mode, channels_last (faster on CPU as on GPU), at a
    precision: `auto` is bf16 autocast on CUDA and, on a CPU, a measurement kept from before
    or else bf16 only on CPUs with AMX. Colorizing measures nothing itself: a measurement
    (seconds) would cost more than a photo."""

    def __init__(
        self,
        net: torch.nn.Module,
        device: torch.device | str | None = None,
        *,
        precision: str = "auto",
        image_size: int = 256,
    ) -> None:
        self.device = resolve_device(device)
        self.net = net.eval().to(self.device, memory_format=torch.channels_last)
        self.precision = resolve_precision(
            precision, self.device, workload=f"colorize {type(net).__name__} {image_size}px"
        )
        self.description = f"pytorch on {self.device}, {self.precision}"

    def _run(self, L: np.ndarray, precision: str) -> np.ndarray:
        x = torch.from_numpy(L).to(self.device).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), autocast(self.device, precision):
            ab = self.net(x)
        return ab.float().cpu().numpy()

    def __call__(self, L: np.ndarray) -> np.ndarray:
        return self._run(L, self.precision)


class OnnxPredictor:
    """An exported generator in onnxruntime: the CUDA provider when asked for (or, by default,
    when installed and a GPU is present), else the CPU."""

    def __init__(self, path: str | Path, device: torch.device | str | None = None) -> None:
        require_extra("export", "running an .onnx model")
        import onnxruntime as ort

        providers = ["CPUExecutionProvider"]
        cuda = resolve_device(device).type == "cuda"
        if cuda and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        try:
            self.session = ort.InferenceSession(str(path), providers=providers)
        except Exception as e:  # onnxruntime raises its own, version-dependent error types
            raise KolorizeError(f"{path} is not a readable ONNX model: {e}") from None
        self.metadata = {
            k.removeprefix(META_PREFIX): v
            for k, v in self.session.get_modelmeta().custom_metadata_map.items()
            if k.startswith(META_PREFIX)
        }
        if IMAGE_SIZE not in self.metadata:
            raise KolorizeError(f"{path} was not exported by `kolorize export` (no image size)")
        self.description = f"onnxruntime, {self.session.get_providers()[0]}"
        self.channels = int(self.session.get_inputs()[0].shape[1])
        self.takes_hints = self.channels > 1

    def __call__(self, L: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(L, np.float32)
        if x.shape[1] < self.channels:  # L alone to a hint-capable model: no hints
            x = np.pad(x, ((0, 0), (0, self.channels - x.shape[1]), (0, 0), (0, 0)))
        (ab,) = self.session.run([OUTPUT_NAME], {INPUT_NAME: x})
        return ab


def load_onnx(
    path: str | Path, device: torch.device | str | None = None
) -> tuple[OnnxPredictor, int, int]:
    """(predictor, image size, input multiple) of an exported model."""
    path = Path(path)
    if not path.is_file():
        raise KolorizeError(f"no such ONNX model file: {path}")
    predict = OnnxPredictor(path, device)
    return (
        predict,
        int(predict.metadata[IMAGE_SIZE]),
        int(predict.metadata.get(INPUT_MULTIPLE, 1)),
    )


__all__ = ["OnnxPredictor", "Predictor", "TorchPredictor", "load_onnx"]
