"""Writing files so that a crash, a kill or a full disk never leaves a half-written one.

`atomic_write` is the one way every writer in kolorize replaces a file: write a temporary file
next to it, fsync, rename over the final name. On any failure the temporary file is removed, so
a failed write leaves the old file (if any) untouched and nothing else behind.
"""

from __future__ import annotations

import os
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


__all__ = ["atomic_write"]
