"""The user's cache folder: what kolorize can rebuild (downloads, the precision choice)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Where kolorize keeps what it can rebuild (downloads, the precision choice):
    $KOLORIZE_CACHE, else $XDG_CACHE_HOME/kolorize, else ~/.cache/kolorize."""
    if os.environ.get("KOLORIZE_CACHE"):
        return Path(os.environ["KOLORIZE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME")
    return Path(base) / "kolorize" if base else Path.home() / ".cache" / "kolorize"
