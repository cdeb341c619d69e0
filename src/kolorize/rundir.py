"""Writing files so that a crash, a kill or a full disk never leaves a half-written one.

`atomic_write` is the one way every writer in kolorize replaces a file: write a temporary file
next to it, fsync, rename over the final name. On any failure the temporary file is removed, so
a failed write leaves the old file (if any) untouched and nothing else behind.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_write(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write `path`'s new content to; it replaces `path` when the
    block ends without an error, and is deleted when it does not."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
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


_TEMP = re.compile(r"^\..+\.tmp-(\d+)$")


def remove_stale_temps(folder: str | Path) -> list[Path]:
    """Delete the temporary files under `folder` that `atomic_write` left in processes that
    no longer exist (a SIGKILL runs no cleanup). Call it holding the folder's lock."""
    removed = []
    for path in Path(folder).rglob(".*.tmp-*"):
        m = _TEMP.match(path.name)
        if m and path.is_file() and not _alive(int(m.group(1))):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


__all__ = ["atomic_write", "remove_stale_temps"]
