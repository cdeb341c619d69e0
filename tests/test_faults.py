"""Fault injection: training and preparing, each SIGKILLed at 20 seeded points, then run again.

A kill point is the Nth of the events a run goes through (an optimizer step, an epoch logged,
a checkpoint's bytes written, an fsync, each side of every rename, ...), drawn at random with a
fixed seed among all the events of an uninterrupted run, so every point is reproducible. The
run is a forked copy of this process that SIGKILLs itself at that point; then it is run again
(resumed) to the end. At every point nothing already written may be lost or half-written, and
in the end the results must equal the uninterrupted run's bit for bit, with no temporary,
partial or lock file left behind."""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from helpers.photos import copy_photos
from kolorize.config import load_config
from kolorize.data.prepare import PrepareRequest, prepare
from kolorize.data.sources import folder_candidates
from kolorize.errors import KolorizeError
from kolorize.models.files import read_generator
from kolorize.rundir import read_metrics
from kolorize.train.checkpoint import list_checkpoints, load_checkpoint
from kolorize.train.trainer import train

KILL_POINTS = 20
RUN = {
    "generator.arch": "unet", "generator.levels": 5, "generator.width": 4,
    "discriminator.width": 4, "train.batch_size": 4, "train.epochs": 2,
    "train.checkpoint_every": 1, "train.deterministic": True, "train.samples": 2,
    "train.val_images": 4, "train.log_every": 1,
    # fixed: `auto` measures once and writes its cache only in the first run, which would
    # make the runs' event counts differ
    "train.precision": "fp32",
}  # fmt: skip


class KillSwitch:
    """Counts events; SIGKILLs this process at event number `at` (never, when None)."""

    def __init__(self, at: int | None) -> None:
        self.at = at
        self.count = 0

    def tick(self, before_kill: Callable[[], None] | None = None) -> None:
        self.count += 1
        if self.count == self.at:
            if before_kill is not None:
                before_kill()
            os.kill(os.getpid(), signal.SIGKILL)


def _around(switch: KillSwitch, fn: Callable) -> Callable:
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        switch.tick()
        out = fn(*args, **kwargs)
        switch.tick()
        return out

    return wrapped


def _after(switch: KillSwitch, fn: Callable) -> Callable:
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        out = fn(*args, **kwargs)
        switch.tick()
        return out

    return wrapped


def instrument_training(patch: Callable, switch: KillSwitch) -> None:
    from kolorize.train import checkpoint, logs, trainer

    real_save = torch.save

    def save_torn(obj: Any, path: Any) -> None:  # a kill here leaves half the bytes written
        real_save(obj, path)
        switch.tick(lambda: os.truncate(path, os.path.getsize(path) // 2))

    patch(checkpoint.torch, "save", save_torn)
    patch(os, "replace", _around(switch, os.replace))
    patch(os, "fsync", _around(switch, os.fsync))
    patch(trainer.Trainer, "take_step", _after(switch, trainer.Trainer.take_step))
    patch(logs.RunLog, "epoch", _after(switch, logs.RunLog.epoch))


def instrument_preparing(patch: Callable, switch: KillSwitch) -> None:
    from kolorize.data import cache

    patch(cache.CacheWriter, "add", _after(switch, cache.CacheWriter.add))
    patch(shutil, "rmtree", _around(switch, shutil.rmtree))
    patch(os, "rename", _around(switch, os.rename))
    patch(Path, "write_text", _around(switch, Path.write_text))


def killed_at(point: int, instrument: Callable, work: Callable[[], Any]) -> None:
    """Run `work` in a forked child that SIGKILLs itself at event `point`."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 0
        try:
            instrument(setattr, KillSwitch(point))
            work()
        except BaseException:
            code = 3
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, (point, status)


def kill_points(total: int, seed: int) -> list[int]:
    rng = np.random.default_rng(seed)
    return sorted(int(p) for p in rng.choice(np.arange(1, total + 1), KILL_POINTS, replace=False))


def leftovers(folder: Path) -> list[Path]:
    names = (".tmp-", ".partial", ".lock", ".old")
    return [p for p in folder.parent.rglob("*") if any(n in p.name for n in names)]


@pytest.fixture
def one_thread():
    # the same numerics in the parent and its forked children, and OpenMP safe across fork
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("photos")
    copy_photos(src, 20)
    return src


def _quiet(*_: Any) -> None:
    pass


@pytest.mark.slow
@pytest.mark.filterwarnings("error:Detected call of `lr_scheduler.step")
def test_training_killed_at_20_points_resumes_to_the_same_weights(
    tmp_path: Path, photos: Path, monkeypatch: pytest.MonkeyPatch, one_thread: None
) -> None:
    data = tmp_path / "data"
    prepare(folder_candidates([photos]), data, PrepareRequest(size=32, n=12, val=4), workers=1,
            log=_quiet)  # fmt: skip
    cfg = load_config(None, RUN)
    with monkeypatch.context() as m:  # the uninterrupted run, counting its events
        counter = KillSwitch(None)
        instrument_training(m.setattr, counter)
        straight = train(cfg, data, tmp_path / "straight", log=_quiet)
    expected_g = load_file(straight / "generator.safetensors")
    expected_d = load_checkpoint(list_checkpoints(straight)[-1])["discriminator"]

    lost = 0
    points = kill_points(counter.count, seed=20)
    for point in points:
        run = tmp_path / f"killed-{point}"
        killed_at(point, instrument_training, lambda run=run: train(cfg, data, run, log=_quiet))
        # what the kill left: every checkpoint and weights file under its final name is whole
        for path in list_checkpoints(run):
            try:
                load_checkpoint(path)
            except KolorizeError:
                lost += 1
        if (run / "generator.safetensors").exists():
            try:
                read_generator(run / "generator.safetensors")
            except KolorizeError:
                lost += 1
        train(cfg, data, run, resume=True, log=_quiet)
        got_g = load_file(run / "generator.safetensors")
        got_d = load_checkpoint(list_checkpoints(run)[-1])["discriminator"]
        assert all(torch.equal(expected_g[k], got_g[k]) for k in expected_g), point
        assert all(torch.equal(expected_d[k], got_d[k]) for k in expected_d), point
        assert [r["epoch"] for r in read_metrics(run)] == [1, 2], point
        assert leftovers(run) == [], (point, leftovers(run))
    assert lost == 0
    assert len(points) == KILL_POINTS and counter.count > KILL_POINTS


def _images(folder: Path) -> bytes | None:
    """A whole dataset's images, or None when `folder` holds no whole dataset."""
    try:
        info = (folder / "info.json").read_text()
        images = (folder / "images.u8").read_bytes()
    except OSError:
        return None
    return images if '"size": 32' in info else None


def test_preparing_killed_at_20_points_rebuilds_the_same_dataset(
    tmp_path: Path, photos: Path, monkeypatch: pytest.MonkeyPatch, one_thread: None
) -> None:
    """A --force rebuild (seed 2) over an existing dataset (seed 1), killed anywhere: the old
    dataset stays whole (or the new one is whole), and running it again gives the new one."""
    candidates = folder_candidates([photos])
    old_req, new_req = (
        PrepareRequest(size=32, n=16, val=2, seed=1),
        PrepareRequest(size=32, n=16, val=2, seed=2),
    )

    def rebuild(out: Path) -> None:
        prepare(candidates, out, new_req, workers=1, force=True, log=_quiet)

    reference = tmp_path / "reference"
    prepare(candidates, reference, old_req, workers=1, log=_quiet)
    old = _images(reference)
    with monkeypatch.context() as m:
        counter = KillSwitch(None)
        instrument_preparing(m.setattr, counter)
        rebuild(reference)
    new = _images(reference)
    assert old is not None and new is not None and old != new

    lost = 0
    for point in kill_points(counter.count, seed=21):
        out = tmp_path / f"killed-{point}" / "data"
        prepare(candidates, out, old_req, workers=1, log=_quiet)
        killed_at(point, instrument_preparing, lambda out=out: rebuild(out))
        kept = _images(out)
        if kept != new and kept != old and _images(out.with_name(".data.old")) != old:
            lost += 1
        rebuild(out)
        assert _images(out) == new, point
        assert (out / "manifest.csv").read_text() == (reference / "manifest.csv").read_text()
        assert leftovers(out) == [], (point, leftovers(out))
    assert lost == 0
