"""Progress bars: tqdm on a terminal, silent in logs, pipes and tests or when --quiet is given."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any, TypeVar

from tqdm.auto import tqdm

from kolorize.interrupts import raise_if_interrupted

T = TypeVar("T")
_quiet = False


def set_quiet(quiet: bool) -> None:
    global _quiet
    _quiet = quiet


def progress(iterable: Iterable[T] | None = None, *, enabled: bool = True, **kwargs: Any) -> tqdm:
    """A bar for a long loop about to start; a Ctrl+C that a library swallowed while the
    command loaded (see `kolorize.interrupts`) stops the command here instead."""
    raise_if_interrupted()
    # disable=None lets tqdm switch itself off when stderr is not a terminal.
    disable = True if (_quiet or not enabled) else None
    return tqdm(iterable, disable=disable, dynamic_ncols=True, **kwargs)


def notice(message: str) -> None:
    """A line for a person watching (what is happening before a bar can show), on stderr when
    it is a terminal; like the bars, nothing in logs, pipes and tests, or with --quiet."""
    if not _quiet and sys.stderr.isatty():
        print(message, file=sys.stderr, flush=True)
