"""Export a generator to ONNX, and run an exported one with onnxruntime.

The exported graph maps L (N, 1, H, W) to ab (N, 2, H, W), with the batch and both sides
dynamic (for the pix2pix U-Net the sides must stay multiples of 2**levels). Everything around
it (resizing, full-resolution recombination) is `kolorize.inference`'s, shared with PyTorch,
so both backends give the same photos. What inference needs is stored in the model's
metadata_props: `kolorize.image_size` and `kolorize.input_multiple` (plus the generator
config, for reference).

The exporter is TorchScript-based (`dynamo=False`): the networks are plain convolutions, and
the dynamo exporter would need the extra `onnxscript` package for no gain here.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from kolorize.errors import KolorizeError
from kolorize.rundir import atomic_write

OPSET = 17
INPUT_NAME = "L"
OUTPUT_NAME = "ab"
META_PREFIX = "kolorize."


def export_onnx(model: str | Path, out: str | Path, *, opset: int = OPSET) -> Path:
    """Write the generator of a run directory or weights file as ONNX, atomically."""
    import onnx

    from kolorize.models import input_multiple, round_to_multiple
    from kolorize.models.files import load_generator, trained_size

    out = Path(out)
    if out.suffix.lower() != ".onnx":
        raise KolorizeError(f"the output file must end in .onnx, got {out}")
    net, cfg, meta = load_generator(model)
    multiple = input_multiple(net)
    image_size = trained_size(meta)
    side = round_to_multiple(image_size, multiple, up=True)
    dummy = torch.zeros(2, 1, side, side)
    axes = {0: "batch", 2: "height", 3: "width"}
    with atomic_write(out) as tmp:
        with warnings.catch_warnings():
            # the U-Net's input-size check is a Python `if` that tracing records as constant,
            # and the TorchScript exporter is deprecated (chosen on purpose, see above)
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(
                net,
                (dummy,),
                str(tmp),
                dynamo=False,
                opset_version=opset,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_axes={INPUT_NAME: axes, OUTPUT_NAME: axes},
            )
        graph = onnx.load(str(tmp))
        props = {
            "image_size": str(image_size),
            "input_multiple": str(multiple),
            "generator": json.dumps(asdict(cfg)),
            "epoch": json.dumps(meta.get("epoch")),
            "phase": json.dumps(meta.get("phase")),
        }
        onnx.helper.set_model_props(graph, {META_PREFIX + k: v for k, v in props.items()})
        onnx.checker.check_model(graph)
        onnx.save(graph, str(tmp))
    return out


class OnnxPredictor:
    """An exported generator in onnxruntime: the CUDA provider when asked for (or, by default,
    when installed and a GPU is present), else the CPU."""

    def __init__(self, path: str | Path, device: torch.device | str | None = None) -> None:
        import onnxruntime as ort

        from kolorize.device import resolve_device

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
        if "image_size" not in self.metadata:
            raise KolorizeError(f"{path} was not exported by `kolorize export` (no image size)")
        self.description = f"onnxruntime, {self.session.get_providers()[0]}"

    def __call__(self, L: np.ndarray) -> np.ndarray:
        (ab,) = self.session.run([OUTPUT_NAME], {INPUT_NAME: np.ascontiguousarray(L, np.float32)})
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
        int(predict.metadata["image_size"]),
        int(predict.metadata.get("input_multiple", 1)),
    )


__all__ = ["OnnxPredictor", "export_onnx", "load_onnx"]
