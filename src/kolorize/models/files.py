"""Generator weights as a single self-describing safetensors file: the tensors, plus in its
metadata the generator's config and the image size it was trained at, so `Colorizer.load`,
`kolorize export` and `init_from` need nothing else."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save
from torch import nn

from kolorize.atomic import atomic_write
from kolorize.config import GeneratorConfig, from_dict
from kolorize.errors import KolorizeError
from kolorize.models import build_generator
from kolorize.rundir import GENERATOR

FORMAT = "kolorize-generator/1"
# The colorizer that ships inside the package (MODEL_CARD.md), used when no model is named.
DEFAULT_MODEL = Path(__file__).resolve().parent / "colorizer.safetensors"
# written by scripts/ship_model.py, checked by the tests
DEFAULT_MODEL_SHA256 = "efc2c258790bfb272eab68c4c3c0a910927360ecf29320ae2664d3559545d760"
# What names the shipped colorizer where a model is asked for (e.g. train.init_from: shipped,
# so that each retraining of it continues the last).
SHIPPED = "shipped"
# The training size of a weights file that does not record one: the study's.
DEFAULT_IMAGE_SIZE = 256


def save_generator(path: str | Path, net: nn.Module, cfg: GeneratorConfig, **meta: Any) -> Path:
    """Write atomically: a crash mid-write never leaves a broken file under the final name."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    return save_generator_tensors(path, tensors, cfg, **meta)


def save_generator_tensors(
    path: str | Path, tensors: dict[str, torch.Tensor], cfg: GeneratorConfig, **meta: Any
) -> Path:
    """`save_generator` for a state dict already in hand (e.g. converted to float16)."""
    path = Path(path)
    metadata = {"format": FORMAT, "generator": json.dumps(asdict(cfg))}
    metadata.update({k: json.dumps(v) for k, v in meta.items()})
    blob = _sorted_header(save(tensors, metadata=metadata))
    with atomic_write(path) as tmp:
        tmp.write_bytes(blob)
    return path


def _sorted_header(blob: bytes) -> bytes:
    """A safetensors file with its header's keys sorted. safetensors writes the metadata in a
    random order (a Rust hash map), so equal weights and metadata would give different bytes
    and the shipped file's SHA-256 would change with every writing of it."""
    n = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8 : 8 + n])
    header["__metadata__"] = dict(sorted(header.get("__metadata__", {}).items()))
    text = json.dumps(dict(sorted(header.items())), separators=(",", ":"), ensure_ascii=False)
    raw = text.encode()
    raw += b" " * (-len(raw) % 8)  # the tensors' bytes start 8-aligned, as safetensors pads
    return len(raw).to_bytes(8, "little") + raw + blob[8 + n :]


def resolve_generator_file(path: str | Path) -> Path:
    """A run directory or a weights file (or `shipped`: the shipped colorizer) -> the weights
    file."""
    path = DEFAULT_MODEL if str(path) == SHIPPED else Path(path)
    if path.is_dir():
        path = path / GENERATOR
        if not path.is_file():
            raise KolorizeError(f"{path.parent} holds no {GENERATOR} (has the run trained?)")
    elif path == DEFAULT_MODEL and not path.is_file():
        raise KolorizeError(
            f"this install of kolorize lacks its shipped model ({path}): reinstall it, or name "
            "a model with --model"
        )
    elif not path.is_file():
        raise KolorizeError(f"no such model file or run directory: {path}")
    return path


def read_generator(
    path: str | Path,
) -> tuple[dict[str, torch.Tensor], GeneratorConfig, dict[str, Any]]:
    """(state dict, generator config, other metadata) from a run dir or weights file."""
    path = resolve_generator_file(path)
    extra = read_generator_metadata(path)
    try:
        tensors = load_file(str(path))
    except Exception as e:  # safetensors raises its own error types, which vary by version
        raise KolorizeError(f"{path} is not a readable safetensors file: {e}") from None
    if "generator" not in extra:
        raise KolorizeError(f"{path} has damaged metadata: no generator config")
    try:
        cfg = from_dict({"generator": extra.pop("generator")}).generator
    except (TypeError, AttributeError, KolorizeError) as e:
        raise KolorizeError(f"{path} has damaged metadata: {e}") from None
    size = extra.get("image_size", DEFAULT_IMAGE_SIZE)
    if not (isinstance(size, int) and 1 <= size <= 1 << 16):
        raise KolorizeError(f"{path} has damaged metadata: image_size {size!r}")
    return tensors, cfg, extra


def read_generator_metadata(path: str | Path) -> dict[str, Any]:
    """A generator file's metadata (its generator config, image size, epoch, ...), decoded,
    without reading its tensors."""
    from safetensors import safe_open

    path = resolve_generator_file(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
    except Exception as e:  # safetensors raises its own error types, which vary by version
        raise KolorizeError(f"{path} is not a readable safetensors file: {e}") from None
    if metadata.get("format") != FORMAT:
        raise KolorizeError(f"{path} is not a kolorize generator file")
    try:
        return {k: json.loads(v) for k, v in metadata.items() if k != "format"}
    except (json.JSONDecodeError, TypeError) as e:
        raise KolorizeError(f"{path} has damaged metadata: {e}") from None


def trained_size(meta: dict[str, Any]) -> int:
    """The image size a generator was trained at, from its metadata (`read_generator`'s)."""
    return int(meta.get("image_size", DEFAULT_IMAGE_SIZE))


@dataclass(frozen=True)
class RenderSizes:
    """Where a generator predicts colour: `default` unless asked otherwise (its training size,
    or the size chosen by measurement when it was shipped), at most `largest`: the training size
    over its smallest crop, the finest scale at which it ever saw a photo's objects, or less
    where measured so when it was shipped (`largest_render_size`). Beyond it colour goes wrong
    (floods of one hue, blotches), so larger sizes are refused, not tried."""

    default: int
    largest: int


def render_sizes(meta: dict[str, Any]) -> RenderSizes:
    trained = trained_size(meta)
    largest = round(trained / float(meta.get("crop_min", 1.0)))
    largest = min(largest, int(meta.get("largest_render_size", largest)))
    return RenderSizes(min(int(meta.get("render_size", trained)), largest), largest)


def load_weights(net: nn.Module, tensors: dict[str, torch.Tensor], source: str | Path) -> None:
    """Put `tensors` into `net`, or say in one line why they do not fit (a missing key, a
    wrong shape: a damaged or hand-edited file)."""
    try:
        net.load_state_dict(tensors)
    except RuntimeError as e:
        first = next((line.strip() for line in str(e).splitlines()[1:] if line.strip()), str(e))
        raise KolorizeError(f"{source} does not fit its generator config: {first}") from None


def load_generator(path: str | Path) -> tuple[nn.Module, GeneratorConfig, dict[str, Any]]:
    """A ready generator (CPU, eval mode) with its config and metadata."""
    tensors, cfg, extra = read_generator(path)
    net = build_generator(cfg, load_pretrained=False)
    load_weights(net, tensors, path)
    return net.eval(), cfg, extra
