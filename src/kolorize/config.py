"""The one typed configuration of a training run. YAML files and `--set key=value` overrides are
only ways to fill it; the resolved config is saved into every run directory.

Keys are `section.field` (e.g. `train.epochs`, `generator.width`); a bare field name works when
only one section has it (`epochs=2`). Unknown keys and ill-typed values are user errors with a
suggestion, never silently ignored.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

import yaml

from kolorize.errors import KolorizeError, quoted

Norm = Literal["batch", "instance", "none"]


@dataclass
class GeneratorConfig:
    arch: Literal["unet", "resnet18_unet", "resnet18_dynamic_unet"] = "unet"
    width: int = 64  # channels of the first level (pix2pix's ngf; ResNet's base width)
    levels: int = 8  # unet: down/up steps; inputs must be multiples of 2**levels
    depth: int = 4  # resnet18_*: residual stages used (1-4)
    dropout: float = 0.5  # unet: in the innermost 512-channel decoder blocks, as pix2pix
    norm: Norm = "batch"  # not resnet18_dynamic_unet: its decoder is fastai's, fixed
    pretrained: bool = False  # resnet18_*: start the encoder from ImageNet weights
    weights: str | None = None  # resnet18_*: local ImageNet weights file (offline machines)
    # resnet18_unet: colour as ab values (L1 / GAN) or as classes over ab (kolorize.ab_bins)
    output: Literal["ab", "classes"] = "ab"
    hints: bool = False  # resnet18_unet: also takes the user's colour hints (kolorize.hints)


@dataclass
class DiscriminatorConfig:
    width: int = 64
    layers: int = 3  # 3 -> the 70x70 PatchGAN
    norm: Norm = "batch"


@dataclass
class TrainConfig:
    phase: Literal["pretrain", "gan"] = "gan"
    epochs: int = 20
    batch_size: int = 16
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    gan_loss: Literal["vanilla", "lsgan", "hinge", "wgan-gp"] = "vanilla"
    lambda_l1: float = 100.0  # gan phase: weight of L1 beside the GAN loss (generator.output ab)
    lambda_ce: float = 1.0  # gan phase: weight of the cross-entropy (generator.output classes)
    rebalance: float = 0.5  # classes: Zhang's lambda, rare colours weigh more (1: all alike)
    # the side trained at (0: the dataset's); crop_min < 1: random resized crops whose side is
    # at least this share of the image's, so the model sees objects at several scales
    image_size: int = 0
    crop_min: float = 1.0
    ema: float = 0.0  # decay of an exponential moving average of G's weights (0: off)
    # stop (resumably) after this many minutes of training, counted across resumes in CPU time
    # over the threads (wall time alone on the machine; fair when shared); 0: no limit
    budget_minutes: float = 0.0
    hint_p: float = 0.125  # generator.hints: hints per image ~ geometric(p), at most 32
    hint_free_share: float = 0.25  # generator.hints: share of the images trained without hints
    # generator.hints: share of the hinted images with an object recoloured (kolorize.hints)
    hint_recolour_share: float = 0.0
    old_photo_share: float = 0.0  # share of the images whose input L looks like an old print
    gp_weight: float = 10.0  # wgan-gp only
    lr_decay_epochs: int = 0  # linear decay to zero over the last N epochs (0: constant lr)
    init_from: str | None = None  # run dir, .safetensors or "shipped": the G this run starts from
    seed: int = 123
    deterministic: bool = False
    device: str = "auto"  # auto, cpu, cuda, cuda:1, ...
    # fp32, or bf16 autocast; auto: bf16 on CUDA, on a CPU what a measurement there found faster
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    channels_last: bool = True  # NHWC: faster on CUDA and, with oneDNN, on the CPU too
    compile: bool = False  # torch.compile the networks (benchmarks/README.md: when it pays)
    cuda_graphs: bool = True  # on CUDA, capture the whole step once and replay it
    # keep the training images on the device (auto: on CUDA when they take <= 1/4 of its memory)
    data_on_device: Literal["auto", "on", "off"] = "auto"
    checkpoint_every: int = 0  # also checkpoint every N steps (0: only at epoch ends)
    keep_checkpoints: int = 2  # newest full checkpoints kept on disk
    log_every: int = 25  # steps between TensorBoard points
    samples: int = 8  # validation images in the per-epoch sample grid
    val_images: int = 256  # validation images scored (L1) after each epoch; 0 to skip
    loader_threads: int = 1
    # CPU: every few hundred steps, time 1 thread against all and train with the faster (on a
    # machine shared with other work, one thread can be several times faster)
    adaptive_threads: bool = False


@dataclass
class RunConfig:
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


# section -> field -> type, e.g. _TYPES["train"]["epochs"] is int
_TYPES: dict[str, dict[str, Any]] = {
    section: typing.get_type_hints(cls) for section, cls in typing.get_type_hints(RunConfig).items()
}
# (section, field) -> a value already checked against the field's type
_Values = dict[tuple[str, str], Any]


def _coerce(key: str, value: Any, kind: Any) -> Any:
    """Check (and gently convert) a YAML value against a field's type."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(kind)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(key, value, option)
            except KolorizeError as e:
                errors.append(str(e))
        raise KolorizeError(errors[0] if errors else f"{key}: bad value {quoted(value)}")
    if origin is Literal:
        allowed = typing.get_args(kind)
        if value not in allowed:
            raise KolorizeError(
                f"{key} must be one of {', '.join(map(str, allowed))}; got {quoted(value)}"
            )
        return value
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise KolorizeError(f"{key} must be true or false; got {quoted(value)}")
    if kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise KolorizeError(f"{key} must be a whole number; got {quoted(value)}")
    if kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)  # YAML reads "2e-4" as a string
            except ValueError:
                pass
        raise KolorizeError(f"{key} must be a number; got {quoted(value)}")
    if kind is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise KolorizeError(f"{key} must be text; got {quoted(value)}")
    raise TypeError(f"unsupported config type {kind} for {key}")


def _unknown(key: str, known: Iterable[str]) -> KolorizeError:
    # no key is longer than 40 characters: comparing a huge one would only cost time
    close = difflib.get_close_matches(key, list(known), n=1) if len(key) <= 100 else []
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return KolorizeError(f"unknown config key {quoted(key)}{hint}")


def all_keys() -> list[str]:
    return [f"{section}.{name}" for section, fields in _TYPES.items() for name in fields]


def resolve_key(key: str) -> tuple[str, str]:
    """'train.epochs' or a unique bare 'epochs' -> ('train', 'epochs')."""
    if "." in key:
        section, name = key.split(".", 1)
        if name in _TYPES.get(section, {}):
            return section, name
        raise _unknown(key, all_keys())
    owners = [section for section, fields in _TYPES.items() if key in fields]
    if len(owners) == 1:
        return owners[0], key
    if len(owners) > 1:
        raise KolorizeError(
            f"config key '{key}' is ambiguous: say {' or '.join(f'{s}.{key}' for s in owners)}"
        )
    raise _unknown(key, all_keys() + [k.split(".", 1)[1] for k in all_keys()])


# Keys of earlier versions, still read from the configs and checkpoints of older runs.
_RENAMED = {("train", "amp"): ("precision", {"auto": "auto", "bf16": "bf16", "off": "fp32"})}


def _renamed(section: str, values: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(values)
    for (sec, old), (new, mapping) in _RENAMED.items():
        if sec == section and old in out:
            value = out.pop(old)
            # only a name is renamed; anything else is left for the type check to refuse
            out.setdefault(new, mapping.get(value, value) if isinstance(value, str) else value)
    return out


def _flatten(data: Any) -> dict[str, Any]:
    """Nested mappings (a YAML file) -> `{'section.field': value}`, older keys renamed."""
    if not isinstance(data, Mapping):
        raise KolorizeError(
            "a config must be a mapping of sections (generator, discriminator, train)"
        )
    flat: dict[str, Any] = {}
    for section, fields in data.items():
        if section not in _TYPES:
            raise _unknown(str(section), _TYPES)
        if fields is None:
            fields = {}
        if not isinstance(fields, Mapping):
            raise KolorizeError(f"config section '{section}' must be a mapping")
        flat.update({f"{section}.{name}": v for name, v in _renamed(section, fields).items()})
    return flat


def _typed(settings: Mapping[str, Any]) -> _Values:
    """`{key: value}` (full or unique bare keys) -> each value checked against its field's type."""
    values: _Values = {}
    for key, value in settings.items():
        section, name = resolve_key(str(key))
        values[section, name] = _coerce(f"{section}.{name}", value, _TYPES[section][name])
    return values


def _build(base: RunConfig, values: _Values) -> RunConfig:
    """`base` with `values` set, checked as a whole."""
    changes: dict[str, dict[str, Any]] = {section: {} for section in _TYPES}
    for (section, name), value in values.items():
        changes[section][name] = value
    cfg = RunConfig(**{s: dataclasses.replace(getattr(base, s), **c) for s, c in changes.items()})
    validate(cfg)
    return cfg


def from_dict(data: Mapping[str, Any]) -> RunConfig:
    """Build a config from nested dicts (a YAML file), checking every key and value."""
    return _build(RunConfig(), _typed(_flatten(data)))


def apply_overrides(cfg: RunConfig, overrides: Mapping[str, Any]) -> RunConfig:
    """A new config with `{key: value}` applied (values already parsed from YAML)."""
    return _build(cfg, _typed(overrides))


def parse_set_options(items: Iterable[str]) -> dict[str, Any]:
    """['train.epochs=2', 'width=8'] -> {'train.epochs': 2, 'width': 8}."""
    parsed: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise KolorizeError(f"--set expects key=value, got {quoted(item)}")
        try:
            parsed[key.strip()] = yaml.safe_load(raw) if raw.strip() else None
        except (yaml.YAMLError, ValueError):  # ValueError: an integer of over 4300 digits
            parsed[key.strip()] = raw
    return parsed


class Range(NamedTuple):
    """The values a number may take, written as an interval: [low, high], with an end left out
    (round bracket) when `low_open` / `high_open`. NaN and infinities are never in one."""

    low: float
    high: float
    low_open: bool = False
    high_open: bool = False

    def holds(self, value: float) -> bool:
        # only floats: math.isfinite overflows on a huge int, which the bounds refuse exactly
        if isinstance(value, float) and not math.isfinite(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def __str__(self) -> str:
        low, high = _number(self.low), _number(self.high)
        return f"{'(' if self.low_open else '['}{low}, {high}{')' if self.high_open else ']'}"


def _number(x: float) -> str:
    return str(x) if isinstance(x, int) else f"{x:g}"


_STEPS = 2**31 - 1  # counters of steps and images: what every library takes as an int
# Every number of TrainConfig; the upper ends are far beyond use, there to keep a typo (or a
# hostile file) from reaching numpy, torch or the disk as an absurd value.
TRAIN_RANGES: dict[str, Range] = {
    "epochs": Range(1, 1_000_000),
    "batch_size": Range(1, 65_536),
    "lr_g": Range(0, 1, low_open=True),
    "lr_d": Range(0, 1, low_open=True),
    "beta1": Range(0, 1, high_open=True),
    "beta2": Range(0, 1, high_open=True),
    "lambda_l1": Range(0, 1_000_000),
    "lambda_ce": Range(0, 1_000_000),
    "rebalance": Range(0, 1),
    "image_size": Range(0, 8192),
    "crop_min": Range(0.1, 1),
    "ema": Range(0, 1, high_open=True),
    "budget_minutes": Range(0, 10_000_000),
    "hint_p": Range(0, 1, low_open=True),
    "hint_free_share": Range(0, 1),
    "hint_recolour_share": Range(0, 1),
    "old_photo_share": Range(0, 1),
    "gp_weight": Range(0, 1_000_000),
    "lr_decay_epochs": Range(0, 1_000_000),
    "seed": Range(0, 2**32 - 1),  # numpy's seeds
    "checkpoint_every": Range(0, _STEPS),
    "keep_checkpoints": Range(1, 1000),
    "log_every": Range(1, _STEPS),
    "samples": Range(0, 1024),
    "val_images": Range(0, _STEPS),
    "loader_threads": Range(0, 256),
}


def _check_ranges(t: TrainConfig) -> None:
    for name, allowed in TRAIN_RANGES.items():
        value = getattr(t, name)
        if not allowed.holds(value):
            raise KolorizeError(f"train.{name} must be in {allowed}; got {quoted(value)}")


def validate(cfg: RunConfig) -> None:
    g, d, t = cfg.generator, cfg.discriminator, cfg.train
    _check_ranges(t)
    checks = [
        (g.width >= 1, "generator.width must be at least 1"),
        (1 <= g.levels <= 10, "generator.levels must be between 1 and 10"),
        (1 <= g.depth <= 4, "generator.depth must be between 1 and 4"),
        (0 <= g.dropout < 1, "generator.dropout must be in [0, 1)"),
        (not (g.pretrained and g.arch != "unet" and g.width != 64),
         "generator.pretrained needs generator.width 64 (ImageNet ResNet18's width)"),
        (g.arch != "resnet18_dynamic_unet" or g.norm == "batch",
         "generator.norm does not apply to resnet18_dynamic_unet (fastai's decoder is fixed)"),
        (g.arch == "resnet18_unet" or (g.output == "ab" and not g.hints),
         "generator.output: classes and generator.hints need generator.arch resnet18_unet"),
        (d.width >= 1 and d.layers >= 1, "discriminator.width and layers must be at least 1"),
        (t.image_size == 0 or t.image_size >= 16, "train.image_size must be 0 or at least 16"),
        (t.lr_decay_epochs <= t.epochs, "train.lr_decay_epochs must be in [0, epochs]"),
    ]  # fmt: skip
    for ok, message in checks:
        if not ok:
            raise KolorizeError(message)


def _read_text(path: Path) -> str:
    """A config file's text: UTF-8 (a byte-order mark allowed), as YAML files are written."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise KolorizeError(
            f"{path} is not UTF-8 text (byte 0x{e.object[e.start]:02x} at offset {e.start})"
        ) from None


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise KolorizeError(f"no such config file: {path}")
    try:
        data = yaml.safe_load(_read_text(path)) or {}
    except (yaml.YAMLError, ValueError) as e:  # ValueError: an integer of over 4300 digits
        raise KolorizeError(f"{path} is not valid YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise KolorizeError(f"{path} must hold a mapping")
    return data


def load_config(
    path: str | Path | None = None, overrides: Mapping[str, Any] | None = None
) -> RunConfig:
    """Defaults <- YAML file <- overrides: every value typed once, the whole checked once."""
    overrides = overrides or {}
    values: _Values = {}
    if path is not None:
        data = load_yaml(path)
        try:
            values = _typed(_flatten(data))
        except KolorizeError as e:
            raise KolorizeError(f"{path}: {e}") from None
    values.update(_typed(overrides))
    try:
        return _build(RunConfig(), values)
    except KolorizeError as e:
        if path is None or overrides:  # the file alone did not make this config
            raise
        raise KolorizeError(f"{path}: {e}") from None
