"""How every file and folder kolorize writes is written.

`atomic_write` is the one way a file is replaced (a temporary file next to it, fsync,
rename over the final name) and `atomic_folder` the one way a folder is; on any failure the
temporary is removed, so a failed write leaves the old file or folder untouched and nothing
else behind. A SIGKILL runs no cleanup: the temporaries that dead processes left beside a
target are removed the first time a process writes into that folder, and `private_temp_folder`
removes the folders of dead processes.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path


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
