"""Progress bars: tqdm on a terminal, silent in logs, pipes and tests or when --quiet is given."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")
_quiet = False


def set_quiet(quiet: bool) -> None:
    global _quiet
    _quiet = quiet


def progress(iterable: Iterable[T] | None = None, **kwargs: Any) -> tqdm:
    # disable=None lets tqdm switch itself off when stderr is not a terminal.
    return tqdm(iterable, disable=True if _quiet else None, dynamic_ncols=True, **kwargs)
