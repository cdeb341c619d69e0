"""Export a generator to an ONNX file (`kolorize.inference.backends.OnnxPredictor` runs it).

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

import torch

from kolorize.atomic import atomic_write
from kolorize.errors import KolorizeError
from kolorize.extras import require_extra
from kolorize.models import input_multiple, round_to_multiple
from kolorize.models.files import load_generator, trained_size

OPSET = 17
# The names an exported file is read by (`kolorize.inference.backends.OnnxPredictor`): the
# graph's input and output, and the metadata_props keys (each stored with META_PREFIX).
INPUT_NAME = "L"
OUTPUT_NAME = "ab"
META_PREFIX = "kolorize."
IMAGE_SIZE = "image_size"
INPUT_MULTIPLE = "input_multiple"


class _InputOnly(torch.nn.Module):
    """The generator called with its input alone (L, or L and the hint channels). The
    TorchScript exporter passes every parameter of `forward` that it is not given, keyword-only
    ones too (a `logits` switch), positionally with its default, which a keyword-only
    parameter refuses."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def export_onnx(model: str | Path, out: str | Path, *, opset: int = OPSET) -> Path:
    """Write the generator of a run directory or weights file as ONNX, atomically."""
    require_extra("export", "exporting to ONNX")
    import onnx

    out = Path(out)
    if out.suffix.lower() != ".onnx":
        raise KolorizeError(f"the output file must end in .onnx, got {out}")
    net, cfg, meta = load_generator(model)
    multiple = input_multiple(net)
    image_size = trained_size(meta)
    side = round_to_multiple(image_size, multiple, up=True)
    dummy = torch.zeros(2, getattr(net, "in_channels", 1), side, side)  # L (+ hint channels)
    axes = {0: "batch", 2: "height", 3: "width"}
    with atomic_write(out) as tmp:
        with warnings.catch_warnings():
            # the U-Net's input-size check is a Python `if` that tracing records as constant,
            # and the TorchScript exporter is deprecated (chosen on purpose, see above)
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(
                _InputOnly(net),
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
            IMAGE_SIZE: str(image_size),
            INPUT_MULTIPLE: str(multiple),
            "generator": json.dumps(asdict(cfg)),
            "epoch": json.dumps(meta.get("epoch")),
            "phase": json.dumps(meta.get("phase")),
            # what the Colorizer reads back to choose and cap its render size
            **{key: str(meta[key]) for key in ("crop_min", "render_size") if key in meta},
        }
        onnx.helper.set_model_props(graph, {META_PREFIX + k: v for k, v in props.items()})
        onnx.checker.check_model(graph)
        onnx.save(graph, str(tmp))
    return out


__all__ = [
    "IMAGE_SIZE",
    "INPUT_MULTIPLE",
    "INPUT_NAME",
    "META_PREFIX",
    "OPSET",
    "OUTPUT_NAME",
    "export_onnx",
]
