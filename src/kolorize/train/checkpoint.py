"""Full training checkpoints: networks, optimizers, schedulers, counters, RNG states and the
config, written atomically (`atomic_write`) so a crash never leaves a half file.
Names sort by progress; the newest readable one is where `--resume` continues, and newer ones
that cannot be read (a damaged disk, a hand edit) are renamed aside (`set_aside`): no longer
checkpoints, so neither overwritten when training reaches their step again nor pruned."""

from __future__ import annotations

import itertools
import os
import random
import re
from pathlib import Path
from typing import Any

import torch

from kolorize.atomic import atomic_write
from kolorize.errors import KolorizeError
from kolorize.rundir import CHECKPOINTS

_NAME = re.compile(r"^ckpt-e(\d+)-s(\d+)\.pt$")


def checkpoint_dir(run_dir: Path) -> Path:
    return run_dir / CHECKPOINTS


def _progress(path: Path) -> tuple[int, int]:
    m = _NAME.match(path.name)
    assert m is not None
    return int(m.group(1)), int(m.group(2))


def list_checkpoints(run_dir: Path) -> list[Path]:
    folder = checkpoint_dir(run_dir)
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.iterdir() if _NAME.match(p.name)), key=_progress)


def save_checkpoint(run_dir: Path, state: dict[str, Any], *, keep: int) -> Path:
    folder = checkpoint_dir(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"ckpt-e{state['epoch']:04d}-s{state['step']:09d}.pt"
    with atomic_write(path) as tmp:
        try:
            torch.save(state, tmp)
        except RuntimeError as e:  # torch reports a failed write (a full disk) as RuntimeError
            raise OSError(f"cannot write checkpoint {path} (is the disk full?): {e}") from None
    for old in list_checkpoints(run_dir)[:-keep]:
        old.unlink(missing_ok=True)
    return path


class UnreadableCheckpoint(KolorizeError):
    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"checkpoint {path} cannot be read: {reason}")
        self.path = path
        self.reason = reason


def load_checkpoint(path: Path) -> dict[str, Any]:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        # torch's first sentence says what is wrong; the rest is advice and where in its reader
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0].split(". ")[0]
        raise UnreadableCheckpoint(path, reason) from None


def latest_checkpoint(
    run_dir: Path, unreadable: list[UnreadableCheckpoint] | None = None
) -> tuple[Path, dict[str, Any]] | None:
    """The newest checkpoint that loads (an unreadable newest one is skipped, not trusted);
    the newer ones that did not load are added to `unreadable`, with why."""
    for path in reversed(list_checkpoints(run_dir)):
        try:
            return path, load_checkpoint(path)
        except UnreadableCheckpoint as e:
            if unreadable is not None:
                unreadable.append(e)
    return None


def set_aside(path: Path) -> Path:
    """Rename an unreadable checkpoint to `NAME.unreadable` (`-2`, `-3`, ... when that is
    taken), out of the way of training, and return its new path."""
    names = (f"{path.name}.unreadable" + (f"-{n}" if n > 1 else "") for n in itertools.count(1))
    target = next(path.with_name(name) for name in names if not (path.parent / name).exists())
    os.replace(path, target)
    return target


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(_as_tuple(state["python"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _as_tuple(value: Any) -> Any:
    # torch.load gives lists back where random.setstate needs tuples
    return tuple(_as_tuple(v) for v in value) if isinstance(value, (list, tuple)) else value
