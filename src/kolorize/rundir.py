"""What kolorize's run and study folders hold, and reading them (every file in them is
written with `kolorize.atomic`).

A training run's folder:

    config.yaml            the run's full configuration (CONFIG)
    run.json               progress: epoch, step, epochs, precision, ... (RUN_STATE)
    generator.safetensors  the weights for users, refreshed every epoch (GENERATOR)
    checkpoints/           ckpt-eEEE-sSSSSSSS.pt, enough to resume exactly (CHECKPOINTS)
    metrics.jsonl          one line per epoch (METRICS_LOG)
    samples/epoch_NNN.png  gray | colorized | real validation grids (SAMPLES, sample_name)
    tb/                    TensorBoard scalars (TENSORBOARD)

A study's folder holds one run folder per model, and what evaluation and the report add:

    metrics.json, metrics.csv      the scores (METRICS_JSON, METRICS_CSV)
    colorized/<model>/NNNNN.png    the colorized validation images (COLORIZED)
    REPORT.md, report.html         the report (REPORT_MD, REPORT_HTML)
    report_assets/                 its pictures (REPORT_ASSETS)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CONFIG = "config.yaml"
RUN_STATE = "run.json"
GENERATOR = "generator.safetensors"
CHECKPOINTS = "checkpoints"
METRICS_LOG = "metrics.jsonl"
SAMPLES = "samples"
TENSORBOARD = "tb"

METRICS_JSON = "metrics.json"
METRICS_CSV = "metrics.csv"
COLORIZED = "colorized"
REPORT_MD = "REPORT.md"
REPORT_HTML = "report.html"
REPORT_ASSETS = "report_assets"


def sample_name(epoch: int) -> str:
    return f"epoch_{epoch:03d}.png"


def read_run_state(run_dir: str | Path) -> dict[str, Any]:
    """run.json's content, or {} for a run that has not saved any progress yet."""
    path = Path(run_dir) / RUN_STATE
    return json.loads(path.read_text()) if path.is_file() else {}


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """metrics.jsonl's records, one per epoch, in order."""
    path = Path(run_dir) / METRICS_LOG
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut short by a full disk or a kill
            continue
    return records


def is_run_dir(path: str | Path) -> bool:
    return (Path(path) / RUN_STATE).is_file()


def is_finished(run_dir: str | Path, epochs: int | None = None) -> bool:
    """Whether the run trained `epochs` epochs (by default those it was asked for) and left
    its generator."""
    state = read_run_state(run_dir)
    if not state or not (Path(run_dir) / GENERATOR).is_file():
        return False
    target = state.get("epochs") if epochs is None else epochs
    return state.get("epoch", 0) >= target
