"""Which device to run on, and at which precision.

Precision is `fp32` or `bf16` (autocast: matrix work in bfloat16, the rest in fp32). `auto`
means bf16 on CUDA, and on a CPU whatever a measurement on this machine found faster: CPUs
with bf16 matrix units (AMX) run bf16 convolutions about twice as fast as fp32, while others
run them several times slower. The measurement is made once per machine, workload and torch
version, and kept in `precision.json` in kolorize's cache folder. A caller with no time to
measure (colorizing one photo) takes a kept measurement, else the CPU's flags' safe bet: bf16
only with AMX.
"""

from __future__ import annotations

import contextlib
import json
import platform
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import torch

from kolorize.atomic import atomic_write
from kolorize.errors import KolorizeError
from kolorize.user_cache import cache_dir

PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16")
# bf16 must beat fp32 by this factor to be chosen: a tie keeps the exact arithmetic.
BF16_MARGIN = 0.9


def resolve_device(device: torch.device | str | None = None, local_rank: int = 0) -> torch.device:
    """None or "auto" -> CUDA (the process's local GPU) when present, else the CPU; a name is
    checked against this machine."""
    if device is None or device == "auto":
        return torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, ValueError):
        raise KolorizeError(f"unknown device {device!r} (try cpu or cuda)") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise KolorizeError(f"device {device!r} asked for, but CUDA is not available here")
    if resolved.type not in ("cpu", "cuda"):
        raise KolorizeError(f"device {device!r} is not supported (use cpu or cuda)")
    return resolved


def autocast(
    device: torch.device, precision: str = "fp32", *, cache: bool = True
) -> AbstractContextManager[object]:
    """The autocast context for a resolved precision ("fp32" or "bf16"). `cache=False` is
    needed inside CUDA graph capture (autocast's weight cache must not outlive a replay)."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16, cache_enabled=cache)
    return nullcontext()


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def has_bf16_matrix_units() -> bool:
    """Whether the CPU has AMX for bf16 (Linux's flags; False where they cannot be read)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return "amx_bf16" in line.split(":", 1)[1].split()
    except OSError:
        pass
    return False


def machine_key(workload: str) -> str:
    threads = torch.get_num_threads()
    return f"{cpu_name()} | torch {torch.__version__} | {threads} threads | {workload}"


def time_precision(run: Callable[[], object], repeats: int = 2) -> float:
    """Best wall time of `run` after one untimed warm-up call."""
    run()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def resolve_precision(
    requested: str,
    device: torch.device,
    *,
    workload: str,
    measure: Callable[[str], float] | None = None,
    kept: bool = True,
    log: Callable[[str], None] = lambda _msg: None,
) -> str:
    """ "auto", "fp32" or "bf16" -> "fp32" or "bf16" for this device.

    On a CPU, "auto" calls `measure(precision)` (seconds for a representative piece of the
    workload) for both precisions, once per machine and workload; the choice is cached.
    Without `measure`, a cached choice is taken (unless `kept` is False), else
    `has_bf16_matrix_units` decides."""
    if requested not in PRECISIONS:
        raise KolorizeError(f"precision must be one of {', '.join(PRECISIONS)}; got {requested!r}")
    if requested != "auto":
        return requested
    if device.type == "cuda":
        return "bf16"
    key = machine_key(workload)
    path = cache_dir() / "precision.json"
    known = _read_json(path) if kept else {}
    entry = known.get(key)
    if isinstance(entry, dict) and entry.get("choice") in ("fp32", "bf16"):
        return str(entry["choice"])
    if measure is None:
        return "bf16" if has_bf16_matrix_units() else "fp32"
    seconds = {p: measure(p) for p in ("fp32", "bf16")}
    choice = "bf16" if seconds["bf16"] < BF16_MARGIN * seconds["fp32"] else "fp32"
    known[key] = {"choice": choice, **{p: round(s, 4) for p, s in seconds.items()}}
    log(
        f"precision: measured {workload} on this CPU: fp32 {seconds['fp32']:.3f} s, "
        f"bf16 {seconds['bf16']:.3f} s -> {choice} (kept in {path})"
    )
    _write_json(path, known)
    return choice


def _read_json(path: Path) -> dict:
    """The kept measurements; {} when there are none or the file is damaged."""
    try:
        known = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return known if isinstance(known, dict) else {}


def _write_json(path: Path, data: dict) -> None:
    """Best effort: an unwritable cache only means measuring again next time."""
    with contextlib.suppress(OSError), atomic_write(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")
