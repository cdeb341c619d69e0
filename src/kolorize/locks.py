"""One process at a time on a folder: a dataset being prepared, a run being trained.

The lock is a file next to the folder (`.NAME.lock`) that holds its owner's PID and is locked
with flock. The kernel drops the lock when its owner dies, however it dies, so a lock file left
by a killed process is stale and simply taken over; a live owner is named in the refusal.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kolorize.errors import KolorizeError


def lock_path(folder: Path) -> Path:
    return folder.parent / f".{folder.name}.lock"


@contextmanager
def folder_lock(folder: str | Path, doing: str) -> Iterator[None]:
    """Hold `folder`'s lock for the block, or raise KolorizeError naming the process that holds
    it. `doing` says what the owner does to the folder ("preparing", "training in")."""
    folder = Path(folder)
    path = lock_path(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = _acquire(path, folder, doing)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        path.unlink(missing_ok=True)  # before unlocking, so nobody locks a file on its way out
        os.close(fd)


def _acquire(path: Path, folder: Path, doing: str) -> int:
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise KolorizeError(
                f"another kolorize process (PID {owner}) is {doing} {folder}; "
                "wait for it to finish or stop it"
            ) from None
        # The previous owner may have removed the file between our open and our lock: then
        # we hold a lock on a file nobody else can see, and must try again.
        try:
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


__all__ = ["folder_lock", "lock_path"]
