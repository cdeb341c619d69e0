"""Run the real console entry point in-process and capture what a user would see."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_main(capsys, *args: str | Path) -> Result:
    """`kolorize ARGS` through the console entry point in this process (no interpreter start,
    no torch import per call); `capsys` is pytest's fixture."""
    from kolorize.cli import main

    capsys.readouterr()
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def run_cli(*args: str, timeout: float = 600, cwd: Path | None = None) -> Result:
    """`kolorize ARGS` in a subprocess, exactly as a user runs it."""
    proc = subprocess.run(
        [sys.executable, "-m", "kolorize", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


# `kolorize` with some modules made unimportable, as on an install without their extra
_WITHOUT = """
import sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None
from kolorize.cli import main
main(sys.argv[2:])
"""


def run_cli_without(modules: Sequence[str], *args: str, timeout: float = 600) -> Result:
    """`kolorize ARGS` in a subprocess in which `modules` cannot be imported."""
    proc = subprocess.run(
        [sys.executable, "-c", _WITHOUT, ",".join(modules), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)
