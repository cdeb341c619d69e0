"""What kolorize's folders hold, and how every file in them is written.

A training run's folder:

    config.yaml            the run's full configuration (CONFIG)
    run.json               progress: epoch, step, epochs, precision, ... (RUN_STATE)
    generator.safetensors  the weights for users, refreshed every epoch (GENERATOR)
    checkpoints/           ckpt-eEEE-sSSSSSSS.pt, enough to resume exactly (CHECKPOINTS)
    metrics.jsonl          one line per epoch (METRICS_LOG)
    samples/epoch_NNN.png  gray | colorized | real validation grids (SAMPLES, sample_name)
    tb/                    TensorBoard scalars (TENSORBOARD)

A study's folder holds one run folder per model, and what evaluation and the report add:

    metrics.json, metrics.csv      the scores (METRICS_JSON, METRICS_CSV)
    colorized/<model>/NNNNN.png    the colorized validation images (COLORIZED)
    REPORT.md, report.html         the report (REPORT_MD, REPORT_HTML)
    report_assets/                 its pictures (REPORT_ASSETS)

Writes: `atomic_write` is the one way a file is replaced (a temporary file next to it, fsync,
rename over the final name) and `atomic_folder` the one way a folder is; on any failure the
temporary is removed, so a failed write leaves the old file or folder untouched and nothing
else behind. A SIGKILL runs no cleanup: the temporaries that dead processes left beside a
target are removed the first time a process writes into that folder, and `private_temp_folder`
removes the folders of dead processes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

CONFIG = "config.yaml"
RUN_STATE = "run.json"
GENERATOR = "generator.safetensors"
CHECKPOINTS = "checkpoints"
METRICS_LOG = "metrics.jsonl"
SAMPLES = "samples"
TENSORBOARD = "tb"

METRICS_JSON = "metrics.json"
METRICS_CSV = "metrics.csv"
COLORIZED = "colorized"
REPORT_MD = "REPORT.md"
REPORT_HTML = "report.html"
REPORT_ASSETS = "report_assets"


def cache_dir() -> Path:
    """Where kolorize keeps what it can rebuild (downloads, the precision choice):
    $KOLORIZE_CACHE, else $XDG_CACHE_HOME/kolorize, else ~/.cache/kolorize."""
    if os.environ.get("KOLORIZE_CACHE"):
        return Path(os.environ["KOLORIZE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME")
    return Path(base) / "kolorize" if base else Path.home() / ".cache" / "kolorize"


def sample_name(epoch: int) -> str:
    return f"epoch_{epoch:03d}.png"


def read_run_state(run_dir: str | Path) -> dict[str, Any]:
    """run.json's content, or {} for a run that has not saved any progress yet."""
    path = Path(run_dir) / RUN_STATE
    return json.loads(path.read_text()) if path.is_file() else {}


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """metrics.jsonl's records, one per epoch, in order."""
    path = Path(run_dir) / METRICS_LOG
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut short by a full disk or a kill
            continue
    return records


def is_run_dir(path: str | Path) -> bool:
    return (Path(path) / RUN_STATE).is_file()


def is_finished(run_dir: str | Path, epochs: int | None = None) -> bool:
    """Whether the run trained `epochs` epochs (by default those it was asked for) and left
    its generator."""
    state = read_run_state(run_dir)
    if not state or not (Path(run_dir) / GENERATOR).is_file():
        return False
    target = state.get("epochs") if epochs is None else epochs
    return state.get("epoch", 0) >= target


@contextmanager
def atomic_write(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write `path`'s new content to; it replaces `path` when the
    block ends without an error, and is deleted when it does not."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _sweep_once(path.parent)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: str | Path, text: str) -> None:
    with atomic_write(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


@contextmanager
def atomic_folder(folder: str | Path) -> Iterator[Path]:
    """Yield an empty hidden folder to fill; it replaces `folder` as a whole when the block
    ends without an error (so nothing of the old content lingers), and is deleted when it
    does not."""
    folder = Path(folder)
    partial = folder.parent / f".{folder.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)  # left by a killed process
    partial.mkdir(parents=True)
    try:
        yield partial
        old = folder.parent / f".{folder.name}.old"
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            folder.rename(old)
        partial.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


_TEMP = re.compile(r"^\..+\.tmp-(\d+)$")


def remove_stale_temps(folder: str | Path, *, below: bool = True) -> list[Path]:
    """Delete the temporary files in `folder` (and, with `below`, in its sub-folders) that
    `atomic_write` left in processes that no longer exist (a SIGKILL runs no cleanup). Those
    of live processes are theirs: they are left alone."""
    folder = Path(folder)
    removed = []
    for path in folder.rglob(".*.tmp-*") if below else folder.glob(".*.tmp-*"):
        m = _TEMP.match(path.name)
        if m and path.is_file() and not _alive(int(m.group(1))):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


_swept: set[str] = set()  # folders this process has cleaned already
_SWEPT_MAX = 4096  # a long-lived server writes into a new folder per job: forget, not grow


def _sweep_once(folder: Path) -> None:
    """`remove_stale_temps` beside a target, once per folder and process: a folder of 10,000
    photos is listed once, not once per photo."""
    key = os.path.abspath(folder)
    if key in _swept:
        return
    if len(_swept) >= _SWEPT_MAX:
        _swept.clear()
    with suppress(OSError):  # a folder we may write in but not clean: write anyway
        remove_stale_temps(folder, below=False)
    _swept.add(key)


def private_temp_folder(prefix: str) -> Path:
    """A new folder in the system's temporary folder, named for this process; the ones with
    the same prefix that dead processes left (a SIGKILL runs no atexit) are removed first."""
    root = Path(tempfile.gettempdir())
    for old in root.glob(f"{prefix}*"):
        m = re.match(rf"^{re.escape(prefix)}(\d+)-", old.name)
        if m and old.is_dir() and not _alive(int(m.group(1))):
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True
