"""Ctrl+C as the command line sees it.

Python turns Ctrl+C into a KeyboardInterrupt wherever the main thread happens to be, and a
library that guards an optional import with a bare `except` can swallow it: a Ctrl+C sent
while torch loads can vanish, and `kolorize serve` would then go on to serve. The watch
remembers every Ctrl+C, and the two places where a
command settles into a long stretch of work check that none was lost on the way: every
progress bar as it starts (`kolorize.progress`) and the web server before it waits. It also
lets the command line say "interrupted" where Typer turns Ctrl+C into a silent exit 130.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType


class InterruptWatch:
    """Notes each Ctrl+C, then raises KeyboardInterrupt as Python's own handler would. Installed
    only over Python's default handler and only from the main thread: an embedding program's
    own handler is left alone."""

    def __init__(self) -> None:
        self.seen = False
        self.installed = False
        try:
            if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
                signal.signal(signal.SIGINT, self._handle)
                self.installed = True
        except ValueError:  # not the main thread
            pass

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.seen = True
        signal.default_int_handler(signum, frame)

    def restore(self) -> None:
        global _active
        if self.installed and signal.getsignal(signal.SIGINT) == self._handle:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        if _active is self:
            _active = None


_active: InterruptWatch | None = None


def watch_interrupts() -> InterruptWatch:
    """Start noting Ctrl+C for this process; `restore()` ends it."""
    global _active
    _active = InterruptWatch()
    return _active


def raise_if_interrupted() -> None:
    """Raise the KeyboardInterrupt that something swallowed, if a Ctrl+C has been pressed.
    Only in the main thread, where Python itself raises it: a worker thread (the web page's
    clip jobs) is stopped by its owner, not by an exception it does not expect."""
    if (
        _active is not None
        and _active.seen
        and threading.current_thread() is threading.main_thread()
    ):
        raise KeyboardInterrupt
