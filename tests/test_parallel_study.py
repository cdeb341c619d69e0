"""`kolorize study --parallel N`: runs that only need finished runs train at the same time, each
in its own process, and each ends exactly as it would have alone."""

from pathlib import Path

import pytest
from safetensors.torch import load_file

from helpers.cli import run_cli
from helpers.interrupts import interrupt_watch, swallow_a_ctrl_c
from kolorize.errors import KolorizeError
from kolorize.study import default_parallel, load_study, run_study

REPO = Path(__file__).resolve().parents[1]
QUICK = REPO / "configs" / "study_quick.yaml"
RUNS = ("U-Net_30", "Vanilla_GAN_20", "LS_GAN_20", "LS_GAN_30", "VANILLA_LOW_LAMBDA_20")
SMALL = ["--set", "train.epochs=1", "--set", "generator.width=4", "--set",
         "discriminator.width=4", "--deterministic", "--no-evaluate"]  # fmt: skip


def _weights(run: Path) -> dict:
    return load_file(str(run / "generator.safetensors"))


@pytest.mark.slow
def test_parallel_runs_equal_runs_trained_one_by_one(tiny_dataset, tmp_path):
    common = ["study", str(QUICK), "--data", str(tiny_dataset), *SMALL]
    alone = run_cli(*common, "--out", str(tmp_path / "one"), "--parallel", "1")
    assert alone.code == 0, alone.err
    together = run_cli(*common, "--out", str(tmp_path / "two"), "--parallel", "2")
    assert together.code == 0, together.err
    assert "training in process" in together.err
    for name in RUNS:
        a, b = _weights(tmp_path / "one" / name), _weights(tmp_path / "two" / name)
        assert a.keys() == b.keys()
        for key in a:
            assert (a[key] == b[key]).all(), f"{name}: {key} differs"
    # the GAN runs really differ from each other (the comparison above could not pass vacuously)
    v, ls = _weights(tmp_path / "two" / "Vanilla_GAN_20"), _weights(tmp_path / "two" / "LS_GAN_20")
    assert any(not (v[k] == ls[k]).all() for k in v)


def test_a_failed_run_stops_the_study_with_its_name(tiny_dataset, tmp_path):
    study = load_study(QUICK)
    overrides = {"train.epochs": 1, "generator.width": 4, "discriminator.width": 4,
                 "generator.arch": "unet", "generator.levels": 9}  # fmt: skip
    with pytest.raises(KolorizeError, match="U-Net_30 stopped with exit code 2"):
        run_study(study, tiny_dataset, tmp_path / "S", overrides, parallel=2, log=lambda _m: None)


def test_parallel_defaults_to_one_on_the_cpu():
    assert default_parallel("cpu") == 1
    with pytest.raises(KolorizeError):
        run_study(load_study(QUICK), "x", "y", parallel=0)


def test_the_default_parallel_follows_the_device_the_configs_name(tmp_path, monkeypatch):
    """A bare `--set device=cpu` (or a device in the study or run files) is what the default
    goes by, not only a literal train.device override."""
    import kolorize.study.runs as runs

    asked: list[str] = []
    monkeypatch.setattr(runs, "default_parallel", lambda device: asked.append(device) or 0)
    with pytest.raises(KolorizeError, match="--parallel must be at least 1"):
        run_study(load_study(QUICK), "x", tmp_path / "S", {"device": "cpu"})
    assert asked and set(asked) == {"cpu"}


def test_a_parallel_study_stops_its_children_for_a_swallowed_ctrl_c(
    tmp_path, monkeypatch, python_ctrl_c
):
    """The parent only waits (no progress bar of its own): a Ctrl+C that a library swallowed
    while the children started still stops them."""
    import multiprocessing

    from kolorize.study import runs

    started, stopped = [], []

    class Child:  # a training child that never ends on its own
        pid = 4242

        def __init__(self, **_):
            self.polls = 0

        def start(self):
            started.append(self)
            swallow_a_ctrl_c()

        @property
        def exitcode(self):
            self.polls += 1
            assert self.polls < 25, "the parent kept waiting after the Ctrl+C"

        def terminate(self):
            stopped.append(self)

        def join(self):
            pass

    class Spawn:
        Process = Child

    monkeypatch.setattr(multiprocessing, "get_context", lambda method: Spawn)
    monkeypatch.setattr(runs, "_prepare_run", lambda study, run, out, o: (None, out, False))
    study = load_study(QUICK)
    first = [run for run in study.runs if not (run.init_from or run.continue_from)]
    with interrupt_watch(), pytest.raises(KeyboardInterrupt):
        runs._train_in_parallel(study, first, set(), tmp_path, tmp_path, {}, 2, print)
    assert started and stopped == started
