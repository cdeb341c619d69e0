"""Run the real console entry point and capture what a user would see: in a subprocess,
exactly as a user runs it, or in this process (with `capsys`), where a test's monkeypatches
reach it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class Result:
    code: int
    out: str
    err: str


# `kolorize` with some modules made unimportable, as on an install without their extra
_WITHOUT = """
import sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None
from kolorize.cli import main
main(sys.argv[2:])
"""


def run_cli(
    *args: str | Path,
    timeout: float = 600,
    cwd: Path | None = None,
    without: Sequence[str] = (),
    capsys: pytest.CaptureFixture[str] | None = None,
) -> Result:
    """`kolorize ARGS` in a subprocess; with `without`, on an install where those modules
    cannot be imported; with `capsys`, in this process (`kolorize.cli.main`)."""
    args = tuple(str(a) for a in args)
    if capsys is not None:
        return _in_this_process(args, capsys)
    entry = ["-c", _WITHOUT, ",".join(without)] if without else ["-m", "kolorize"]
    proc = subprocess.run(
        [sys.executable, *entry, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def _in_this_process(args: Sequence[str], capsys: pytest.CaptureFixture[str]) -> Result:
    from kolorize.cli import main  # here: the subprocess runs need no CLI in the test process

    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        main(list(args))
    captured = capsys.readouterr()
    code = stop.value.code
    return Result(code if isinstance(code, int) else 1, captured.out, captured.err)
