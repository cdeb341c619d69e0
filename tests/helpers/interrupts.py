"""Ctrl+C as a user presses it, and kolorize's watch for it."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

from kolorize.interrupts import watch_interrupts


def swallow_a_ctrl_c() -> None:
    """A Ctrl+C pressed while a command loads, swallowed as a library's bare `except` around
    an optional import swallows it."""
    with contextlib.suppress(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)


@contextlib.contextmanager
def interrupt_watch() -> Iterator[None]:
    """kolorize's Ctrl+C watch, as `kolorize` installs it (needs the `python_ctrl_c` fixture)."""
    watch = watch_interrupts()
    try:
        assert watch.installed
        yield
    finally:
        watch.restore()
