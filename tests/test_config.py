"""Loading a run config: a YAML file and `--set` overrides typed by one path, the result checked
once as a whole."""

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
    assert str(err.value) == f"{cfg}: train.epochs must be at least 1"


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
