"""A study: several training runs chained by one YAML file, run in order, each in OUT/<name>.

    set: {generator.pretrained: false}        # optional, applies to every run
    runs:
      - name: U-Net_30
        config: unet_30.yaml                  # relative to the study file
      - name: Vanilla_GAN_20
        config: vanilla_gan_20.yaml
        init_from: U-Net_30                   # starts from that run's generator
      - name: LS_GAN_30
        continue_from: LS_GAN_20              # the same run, trained for more epochs
        extra_epochs: 10

Running a study again skips what is finished and resumes what was interrupted, so re-running
after a crash finishes it. Overrides from the command line apply to every run (a
continuation inherits them from the run it continues).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kolorize.atomic import atomic_write
from kolorize.config import RunConfig, apply_overrides, from_dict, load_config, load_yaml
from kolorize.device import resolve_device
from kolorize.errors import KolorizeError, quoted
from kolorize.interrupts import raise_if_interrupted
from kolorize.rundir import CONFIG, GENERATOR, is_finished
from kolorize.train.checkpoint import checkpoint_dir, latest_checkpoint, list_checkpoints
from kolorize.train.trainer import train

_RUN_KEYS = {"name", "config", "init_from", "continue_from", "extra_epochs", "set"}


@dataclass
class StudyRun:
    name: str
    config: Path | None = None
    init_from: str | None = None
    continue_from: str | None = None
    extra_epochs: int = 0
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass
class Study:
    path: Path
    runs: list[StudyRun]
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.runs]


def load_study(path: str | Path) -> Study:
    path = Path(path)
    data = load_yaml(path)
    unknown = set(map(str, data)) - {"runs", "set"}
    if unknown:
        raise KolorizeError(f"{path}: unknown study key(s) {', '.join(sorted(unknown))}")
    runs: list[StudyRun] = []
    for i, entry in enumerate(data.get("runs") or []):
        if not isinstance(entry, Mapping) or "name" not in entry:
            raise KolorizeError(f"{path}: run #{i + 1} needs at least a name")
        if not isinstance(entry["name"], (str, int)) or isinstance(entry["name"], bool):
            raise KolorizeError(f"{path}: run #{i + 1}: name must be text; got "
                                f"{quoted(entry['name'])}")  # fmt: skip
        bad = set(map(str, entry)) - _RUN_KEYS
        if bad:
            raise KolorizeError(
                f"{path}: run {entry['name']}: unknown key(s) {', '.join(sorted(bad))}"
            )
        config = _optional_text(path, entry, "config")
        run = StudyRun(
            name=str(entry["name"]),
            config=(path.parent / config) if config else None,
            init_from=_optional_text(path, entry, "init_from"),
            continue_from=_optional_text(path, entry, "continue_from"),
            extra_epochs=_whole_number(path, entry, "extra_epochs"),
            overrides=dict(entry.get("set") or {}),
        )
        earlier = [r.name for r in runs]
        for ref in (run.init_from, run.continue_from):
            if ref is not None and ref not in earlier:
                raise KolorizeError(
                    f"{path}: run {run.name} refers to {ref}, which is not an earlier run"
                )
        if (run.config is None) == (run.continue_from is None):
            raise KolorizeError(f"{path}: run {run.name} needs either config or continue_from")
        if run.name in earlier:
            raise KolorizeError(f"{path}: two runs are named {run.name}")
        runs.append(run)
    if not runs:
        raise KolorizeError(f"{path}: a study needs at least one run")
    return Study(path, runs, dict(data.get("set") or {}))


def _optional_text(path: Path, entry: dict[str, Any], key: str) -> str | None:
    value = entry.get(key)
    if value is not None and not isinstance(value, str):
        raise KolorizeError(f"{path}: run {entry['name']}: {key} must be text, got {quoted(value)}")
    return value


def _whole_number(path: Path, entry: dict[str, Any], key: str) -> int:
    value = entry.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise KolorizeError(
            f"{path}: run {entry['name']}: {key} must be a whole number, got {quoted(value)}"
        )
    return value


def run_config(study: Study, run: StudyRun, out: Path, overrides: Mapping[str, Any]) -> RunConfig:
    """The resolved config of one run of the study."""
    if run.continue_from is not None:
        parent = out / run.continue_from
        saved = parent / CONFIG
        if not saved.is_file():
            raise KolorizeError(f"{run.name} continues {run.continue_from}, which has not run yet")
        base = from_dict(load_yaml(saved))
        more = {"train.epochs": base.train.epochs + run.extra_epochs}
        return apply_overrides(base, {**more, **run.overrides})
    chained = {"train.init_from": str(out / run.init_from / GENERATOR)} if run.init_from else {}
    return load_config(run.config, {**study.overrides, **run.overrides, **overrides, **chained})


def _seed_continuation(parent: Path, run_dir: Path) -> None:
    """Start a continuation from the parent's newest checkpoint (copied, never moved)."""
    found = latest_checkpoint(parent)
    if found is None:
        raise KolorizeError(f"{parent} has no checkpoint to continue from")
    target = checkpoint_dir(run_dir)
    with atomic_write(target / found[0].name) as tmp:
        shutil.copyfile(found[0], tmp)


def default_parallel(device: str = "auto") -> int:
    """How many runs train at once by default: 1 on the CPU (one run already uses every core);
    on CUDA as many as fit, counting 8 GiB each (a 256 px run at batch 16 with its data on the
    GPU takes about 5), at most 4, beyond which the GPU is busy anyway."""
    import torch

    resolved = resolve_device(device)
    if resolved.type != "cuda":
        return 1
    free, _total = torch.cuda.mem_get_info(resolved)
    return max(1, min(4, int(free // (8 * 2**30))))


def _dependencies(run: StudyRun) -> set[str]:
    return {r for r in (run.init_from, run.continue_from) if r is not None}


def _train_in_child(cfg: RunConfig, data_dir: str | Path, run_dir: Path, resume: bool) -> None:
    """A run in its own process: its own RNG streams and CUDA context, exactly as alone."""
    import sys

    name = run_dir.name
    try:
        train(cfg, data_dir, run_dir, resume=resume,
              log=lambda msg: print(f"[{name}] {msg}", flush=True))  # fmt: skip
    except KolorizeError as e:
        print(f"[{name}] error: {e}", file=sys.stderr, flush=True)
        sys.exit(2)


def run_study(
    study: Study,
    data_dir: str | Path,
    out: str | Path,
    overrides: Mapping[str, Any] | None = None,
    *,
    parallel: int | None = None,
    log: Callable[[str], None] = print,
) -> list[Path]:
    """Train every run that is not finished; returns the run directories in study order.

    With `parallel` > 1, runs whose dependencies are finished train at the same time, each in
    its own process (the study's three GAN runs only need U-Net_30). By default, as many as
    `default_parallel` allows on the devices the runs' configs name."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    overrides = dict(overrides or {})
    devices = {  # checks every config before spending time on training
        run_config(study, run, out, overrides).train.device
        for run in study.runs
        if run.continue_from is None  # a continuation trains where the run it continues did
    }
    if parallel is None:
        parallel = min(default_parallel(device) for device in devices)
    if parallel < 1:
        raise KolorizeError("--parallel must be at least 1")
    done: set[str] = set()
    todo: list[StudyRun] = []
    for run in study.runs:
        if run.continue_from is None or (out / run.continue_from / CONFIG).is_file():
            cfg = run_config(study, run, out, overrides)
            if is_finished(out / run.name, cfg.train.epochs):
                log(f"{run.name}: finished ({cfg.train.epochs} epochs), skipping")
                done.add(run.name)
                continue
        todo.append(run)
    if not todo:
        log(f"all {len(study.runs)} runs of the study are finished: nothing to train")
    elif parallel == 1:
        for run in todo:
            cfg, run_dir, resume = _prepare_run(study, run, out, overrides)
            train(cfg, data_dir, run_dir, resume=resume, log=log)
    else:
        _train_in_parallel(study, todo, done, data_dir, out, overrides, parallel, log)
    return [out / r.name for r in study.runs]


def _prepare_run(
    study: Study, run: StudyRun, out: Path, overrides: Mapping[str, Any]
) -> tuple[RunConfig, Path, bool]:
    """(config, run folder, whether to resume) of a run about to train; a continuation's
    folder starts from its parent's newest checkpoint."""
    run_dir = out / run.name
    cfg = run_config(study, run, out, overrides)
    if run.continue_from is not None and not list_checkpoints(run_dir):
        _seed_continuation(out / run.continue_from, run_dir)
    return cfg, run_dir, bool(list_checkpoints(run_dir))


def _train_in_parallel(
    study: Study,
    todo: list[StudyRun],
    done: set[str],
    data_dir: str | Path,
    out: Path,
    overrides: Mapping[str, Any],
    parallel: int,
    log: Callable[[str], None],
) -> None:
    import multiprocessing as mp
    import time

    ctx = mp.get_context("spawn")  # a fresh interpreter: no CUDA state shared with the parent
    running: dict[str, Any] = {}
    waiting = list(todo)
    try:
        while waiting or running:
            for run in list(waiting):
                if len(running) >= parallel:
                    break
                if _dependencies(run) <= done:
                    cfg, run_dir, resume = _prepare_run(study, run, out, overrides)
                    proc = ctx.Process(
                        target=_train_in_child,
                        args=(cfg, data_dir, run_dir, resume),
                        name=f"kolorize-{run.name}",
                    )
                    proc.start()
                    running[run.name] = proc
                    waiting.remove(run)
                    log(f"{run.name}: training in process {proc.pid}")
            if not running:  # nothing can start: a dependency failed or is missing
                names = ", ".join(r.name for r in waiting)
                raise KolorizeError(f"cannot train {names}: what they start from did not finish")
            time.sleep(0.2)
            raise_if_interrupted()  # the children train on their own: no progress bar here
            for name, proc in list(running.items()):
                if proc.exitcode is None:
                    continue
                del running[name]
                if proc.exitcode != 0:
                    raise KolorizeError(
                        f"{name} stopped with exit code {proc.exitcode} (its error is above); "
                        "run the study again to resume it"
                    )
                done.add(name)
    finally:
        for proc in running.values():
            proc.terminate()
            proc.join()
