"""Run the real console entry point in-process and capture what a user would see."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_cli(*args: str, timeout: float = 600) -> Result:
    """`kolorize ARGS` in a subprocess, exactly as a user runs it."""
    proc = subprocess.run(
        [sys.executable, "-m", "kolorize", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)
