"""Shared bits for the benchmark scripts: machine description and timing helpers."""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable
from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def machine() -> str:
    # here, so that memory measurements of torch-free work stay torch-free
    import torch

    from kolorize.device import cpu_name

    cpu = cpu_name()
    gpu = f", GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    return (
        f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads){gpu}"
    )


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far. VmHWM rather than ru_maxrss: Linux carries
    ru_maxrss over fork+exec, so a child started by a big process would report the parent's."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def best_of(fn: Callable[[], object], repeats: int = 3, warmup: int = 1) -> float:
    """Fastest wall time of `repeats` calls, after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def current_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak_rss() -> bool:
    """Restart VmHWM from the current RSS (Linux >= 4.0), so a later peak belongs to what ran
    in between rather than to loading the model."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def random_unet256(folder: Path) -> Path:
    """The study's pix2pix unet_256 with random weights, as a generator file: timings need
    the real architecture, not trained weights."""
    import torch

    from kolorize.config import GeneratorConfig
    from kolorize.models import build_generator
    from kolorize.models.files import save_generator
    from kolorize.rundir import GENERATOR

    torch.manual_seed(0)
    cfg = GeneratorConfig(arch="unet", levels=8, width=64)
    return save_generator(folder / GENERATOR, build_generator(cfg), cfg,
                          image_size=256, epoch=0, phase="random")  # fmt: skip


def forever(batches):
    """A trainer's batches epoch after epoch, endlessly (for timing a fixed number of steps)."""
    epoch = 0
    while True:
        batches.sampler.set_epoch(epoch)
        yield from batches
        epoch += 1
