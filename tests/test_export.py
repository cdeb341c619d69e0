"""ONNX export and onnxruntime inference against PyTorch.

Tolerances: the raw ab the two backends predict agree within 1e-4 (scaled ab, i.e. about 0.01
in Lab units: float32 arithmetic in a different order). Finished photos agree within 1 level
of 255 at 99.9% of pixels and 3 levels anywhere: a pixel right at the edge of the sRGB gamut
may settle one bisection step apart.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from PIL import Image

from helpers.cli import run_cli
from helpers.colour import tiny_generator
from helpers.photos import real_photo_paths
from kolorize.config import GeneratorConfig
from kolorize.errors import KolorizeError
from kolorize.export import export_onnx
from kolorize.inference.backends import OnnxPredictor, TorchPredictor
from kolorize.inference.colorizer import Colorizer
from kolorize.models import build_generator
from kolorize.models.files import load_generator, save_generator


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """arch -> (safetensors, onnx); the U-Net exported through the command line."""
    root = tmp_path_factory.mktemp("models")
    unet = tiny_generator(root / "unet.safetensors", "unet")
    result = run_cli("export", str(unet), "--format", "onnx", "-o", str(root / "unet.onnx"))
    assert result.code == 0, result.err
    resnet = tiny_generator(root / "resnet.safetensors", "resnet18_unet", image_size=48)
    export_onnx(resnet, root / "resnet.onnx")
    dynamic = tiny_generator(root / "dynamic.safetensors", "resnet18_dynamic_unet", image_size=48)
    export_onnx(dynamic, root / "dynamic.onnx")
    return {
        "unet": (unet, root / "unet.onnx"),
        "resnet18_unet": (resnet, root / "resnet.onnx"),
        "resnet18_dynamic_unet": (dynamic, root / "dynamic.onnx"),
    }


def test_metadata_says_what_inference_needs(models: dict[str, tuple[Path, Path]]) -> None:
    for arch, (_, path) in models.items():
        props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
        assert props["kolorize.image_size"] == ("32" if arch == "unet" else "48")
        multiple = {"unet": "32", "resnet18_unet": "1", "resnet18_dynamic_unet": "8"}[arch]
        assert props["kolorize.input_multiple"] == multiple
        assert json.loads(props["kolorize.generator"])["arch"] == arch


@pytest.mark.parametrize(
    ("arch", "shapes"),
    [
        ("unet", [(1, 32, 32), (3, 64, 32), (2, 96, 160)]),
        ("resnet18_unet", [(1, 48, 48), (4, 37, 53), (2, 120, 75)]),
        ("resnet18_dynamic_unet", [(1, 48, 48), (3, 32, 64), (2, 120, 72)]),
    ],
)
def test_raw_predictions_agree_for_any_batch_and_size(
    models: dict[str, tuple[Path, Path]], arch: str, shapes: list[tuple[int, int, int]]
) -> None:
    weights, exported = models[arch]
    # fp32: `auto` may measure bf16 faster on a busy CPU, and bf16 is not what this compares
    torch_predict = TorchPredictor(load_generator(weights)[0], "cpu", precision="fp32")
    onnx_predict = OnnxPredictor(exported, "cpu")
    rng = np.random.default_rng(0)
    for n, h, w in shapes:
        L = rng.uniform(-1, 1, (n, 1, h, w)).astype(np.float32)
        expected, got = torch_predict(L), onnx_predict(L)
        assert got.shape == expected.shape == (n, 2, h, w)
        assert np.abs(got - expected).max() < 1e-4


@pytest.mark.parametrize("arch", ["unet", "resnet18_unet", "resnet18_dynamic_unet"])
def test_photos_agree(models: dict[str, tuple[Path, Path]], arch: str) -> None:
    weights, exported = models[arch]
    photos = [Image.open(p) for p in real_photo_paths(3)]
    photos[1] = photos[1].convert("L").crop((0, 0, 201, 133))
    from_torch = Colorizer.load(weights, "cpu", precision="fp32").colorize_batch(photos)
    onnx_colorizer = Colorizer.load(exported, "cpu")
    assert onnx_colorizer.image_size == (32 if arch == "unet" else 48)
    assert "onnxruntime" in onnx_colorizer.description
    for photo, a, b in zip(photos, from_torch, onnx_colorizer.colorize_batch(photos), strict=True):
        assert a.size == b.size == photo.size
        diff = np.abs(np.asarray(a, int) - np.asarray(b, int))
        # a near-black pixel may differ more: sRGB's linear toe multiplies a rounding-size
        # difference in linear light by 12.92 * 255 (up to 25 levels seen, in 1 of 10^5 pixels)
        assert (diff <= 1).mean() >= 0.999 and (diff <= 3).mean() >= 0.9999


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_unreadable_or_foreign_onnx_files_are_user_errors(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a model")
    with pytest.raises(KolorizeError, match="not a readable ONNX model"):
        Colorizer.load(garbage)
    foreign = tmp_path / "foreign.onnx"
    torch.onnx.export(torch.nn.Conv2d(1, 2, 1), (torch.zeros(1, 1, 8, 8),), str(foreign),
                      dynamo=False, input_names=["L"], output_names=["ab"])  # fmt: skip
    with pytest.raises(KolorizeError, match="not exported by `kolorize export`"):
        Colorizer.load(foreign)
    with pytest.raises(KolorizeError, match="no such ONNX model"):
        Colorizer.load(tmp_path / "missing.onnx")


def test_export_refuses_other_formats_and_names(tmp_path: Path) -> None:
    weights = tiny_generator(tmp_path / "g.safetensors")
    with pytest.raises(KolorizeError, match=r"must end in \.onnx"):
        export_onnx(weights, tmp_path / "model.bin")
    result = run_cli("export", str(weights), "--format", "tflite", "-o", str(tmp_path / "m"))
    assert result.code == 2 and "Invalid value for '--format'" in result.err
    assert list(tmp_path.iterdir()) == [weights]  # nothing half-written


def test_a_classes_model_with_hint_inputs_exports_and_agrees(tmp_path: Path) -> None:
    torch.manual_seed(2)
    cfg = GeneratorConfig(arch="resnet18_unet", width=8, depth=2, output="classes", hints=True)
    net = build_generator(cfg).eval()
    with torch.no_grad():
        net.classes.weight.mul_(50)  # a peaked distribution: colours that differ across pixels
        net.chroma_gain.fill_(0.7)  # the decoding's every term is in the graph
        net.flip_average.fill_(1.0)
    weights = save_generator(tmp_path / "g.safetensors", net, cfg, image_size=40)
    export_onnx(weights, tmp_path / "g.onnx")
    onnx_predict = OnnxPredictor(tmp_path / "g.onnx", "cpu")
    assert onnx_predict.takes_hints
    torch_predict = TorchPredictor(load_generator(weights)[0], "cpu", precision="fp32")
    rng = np.random.default_rng(0)
    L = rng.uniform(-1, 1, (2, 1, 40, 40)).astype(np.float32)
    hints = np.zeros((2, 3, 40, 40), np.float32)
    hints[:, :, 10:15, 10:15] = [[[0.3]], [[-0.2]], [[1.0]]]
    for x in (L, np.concatenate([L, hints], 1)):  # L alone means no hints, in both backends
        np.testing.assert_allclose(onnx_predict(x), torch_predict(x), atol=1e-4)
    assert Colorizer.load(tmp_path / "g.onnx").takes_hints
