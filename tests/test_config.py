"""Loading a run config: a YAML file and `--set` overrides typed by one path, the result checked
once as a whole."""

import dataclasses
import time

import pytest

from kolorize.config import apply_overrides, from_dict, load_config
from kolorize.errors import KolorizeError


def test_file_errors_name_the_file_and_suggest_the_key(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("train:\n  epoch: 2\n")
    with pytest.raises(KolorizeError) as err:
        load_config(cfg)
    assert str(err.value) == (
        f"{cfg}: unknown config key 'train.epoch' (did you mean 'train.epochs'?)"
    )
    cfg.write_text("train:\n  epochs: 0\n")
    with pytest.raises(KolorizeError) as err:
        load_config(cfg)
    assert str(err.value) == f"{cfg}: train.epochs must be in [1, 1000000]; got 0"


def test_the_whole_config_is_checked_after_the_overrides(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("train:\n  epochs: 2\n  lr_decay_epochs: 5\n")
    assert load_config(cfg, {"epochs": 10}).train.lr_decay_epochs == 5
    with pytest.raises(KolorizeError, match=r"^train.lr_decay_epochs must be in \[0, epochs\]$"):
        load_config(cfg, {"train.seed": 1})


def test_files_and_overrides_take_the_same_values():
    from_file = from_dict({"train": {"lr_g": "1e-3", "epochs": 4.0, "amp": "off"}})
    overridden = apply_overrides(from_dict({}), {"lr_g": "1e-3", "train.epochs": 4.0})
    assert from_file.train.lr_g == overridden.train.lr_g == 1e-3
    assert type(from_file.train.epochs) is type(overridden.train.epochs) is int
    assert from_file.train.precision == "fp32"  # the old `amp` key
    with pytest.raises(KolorizeError, match="ambiguous"):
        apply_overrides(from_file, {"width": 8})
    assert apply_overrides(from_file, {"generator.width": 8}).train == from_file.train


def test_a_yaml_bomb_in_a_known_key_is_refused_at_once_in_a_short_line(tmp_path):
    anchors = ["&a0 [" + ", ".join(["1"] * 9) + "]"]
    anchors += [f"&a{k} [" + ", ".join([f"*a{k - 1}"] * 9) + "]" for k in range(1, 9)]
    cfg = tmp_path / "bomb.yaml"
    cfg.write_text("train: {epochs: [" + ", ".join(anchors) + "]}\n")
    started = time.perf_counter()
    with pytest.raises(KolorizeError) as err:
        load_config(cfg)
    assert time.perf_counter() - started < 2
    message = str(err.value)
    assert message.startswith(f"{cfg}: train.epochs must be a whole number; got [[")
    assert len(message) < 300 + len(str(cfg)) and "\n" not in message


def test_values_are_quoted_shortened_in_messages():
    with pytest.raises(KolorizeError) as err:
        apply_overrides(from_dict({}), {"train.gan_loss": "w" * 10_000})
    assert "..." in str(err.value) and len(str(err.value)) < 200
    with pytest.raises(KolorizeError) as err:
        apply_overrides(from_dict({}), {"k" * 10_000: 1})
    assert "..." in str(err.value) and len(str(err.value)) < 200
    with pytest.raises(KolorizeError, match=r"precision must be one of .*; got \[1, 2\]$"):
        from_dict({"train": {"amp": [1, 2]}})  # the old key, with a value that is no name


@pytest.mark.parametrize("seed", [-1, 2**32, 99999999999999999999999, 10**400])
def test_seeds_must_fit_in_32_bits(seed):
    with pytest.raises(KolorizeError, match=r"^train.seed must be in \[0, 4294967295\]; got "):
        apply_overrides(from_dict({}), {"train.seed": seed})
    assert apply_overrides(from_dict({}), {"train.seed": 2**32 - 1}).train.seed == 2**32 - 1


@pytest.mark.parametrize(
    "key, value",
    [("samples", -1), ("val_images", -1), ("loader_threads", -1), ("gp_weight", float("nan")),
     ("gp_weight", -1.0), ("lambda_l1", float("inf")), ("lr_g", float("nan")),
     ("budget_minutes", float("inf")), ("batch_size", 10**30), ("keep_checkpoints", 0),
     ("checkpoint_every", -1), ("image_size", 10**9), ("epochs", 0)],
)  # fmt: skip
def test_every_training_number_has_a_range(key, value):
    with pytest.raises(KolorizeError, match=rf"^train.{key} must be in .*; got "):
        apply_overrides(from_dict({}), {f"train.{key}": value})


def test_every_training_number_is_covered_by_a_range():
    from kolorize.config import TRAIN_RANGES, TrainConfig

    numbers = {f.name for f in dataclasses.fields(TrainConfig) if f.type in ("int", "float")}
    assert numbers == set(TRAIN_RANGES)


def test_a_config_file_that_is_not_utf8_is_one_line(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_bytes(b"\xff\xfe")
    with pytest.raises(KolorizeError, match=r"is not UTF-8 text \(byte 0xff at offset 0\)$"):
        load_config(cfg)
    cfg.write_bytes("\ufefftrain: {epochs: 3}\n".encode())  # a UTF-8 byte-order mark is fine
    assert load_config(cfg).train.epochs == 3


def test_an_integer_too_long_to_read_is_one_line(tmp_path):
    from kolorize.config import parse_set_options

    digits = "9" * 5000  # Python refuses to read integers of over 4300 digits
    with pytest.raises(KolorizeError, match=r"^train.seed must be a whole number; got '999"):
        apply_overrides(from_dict({}), parse_set_options([f"train.seed={digits}"]))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"train: {{seed: {digits}}}\n")
    with pytest.raises(KolorizeError, match="is not valid YAML: Exceeds the limit"):
        load_config(cfg)
