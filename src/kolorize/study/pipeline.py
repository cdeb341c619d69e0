"""A study from start to finish: train what is missing, score the models, write the report.
Each stage is skipped when its output is newer than its inputs, so running the same command
again does nothing (and says so) and re-running after a crash finishes the study."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from kolorize.data.cache import manifest_digest
from kolorize.errors import KolorizeError
from kolorize.evaluate import evaluate_runs
from kolorize.evaluate.results import read_results
from kolorize.report import write_report
from kolorize.rundir import GENERATOR, METRICS_JSON, REPORT_HTML, REPORT_MD
from kolorize.study.runs import load_study, run_study


def _mtime(path: Path) -> float:
    return path.stat().st_mtime if path.exists() else 0.0


def _scores_are_current(out: Path, run_dirs: list[Path], settings: dict[str, Any]) -> bool:
    try:
        saved = read_results(out)
    except (OSError, KolorizeError):  # none yet, or unreadable: score again
        return False
    newest = max(_mtime(d / GENERATOR) for d in run_dirs)
    return (
        {row.name for row in saved.models} == {d.name for d in run_dirs}
        and _mtime(out / METRICS_JSON) > newest
        and saved.provenance == settings
        and not saved.not_measured  # scored before a metric existed: score again
    )


def run_full_study(
    study_file: str | Path,
    data_dir: str | Path,
    out: str | Path,
    overrides: Mapping[str, Any] | None = None,
    *,
    weights_dir: str | Path | None = None,
    require_all: bool = False,
    bw_dir: str | Path | None = None,
    evaluate: bool = True,
    parallel: int | None = None,
    log: Callable[[str], None] = print,
) -> Path | None:
    """Train, evaluate and report; returns the report.html path (None without evaluation)."""
    out = Path(out)
    run_dirs = run_study(
        load_study(study_file), data_dir, out, overrides, parallel=parallel, log=log
    )
    if not evaluate:
        return None
    # the photos themselves, not the folder's name: a dataset prepared again in the same
    # folder makes the old scores stale (metrics.json names the folder anyway)
    settings = {
        "manifest": manifest_digest(data_dir),
        "weights_dir": str(weights_dir) if weights_dir else None,
        "require_all": require_all,
    }
    if _scores_are_current(out, run_dirs, settings):
        log(f"{out / METRICS_JSON} is up to date: nothing to evaluate")
    else:
        evaluate_runs(
            run_dirs, data_dir, out, weights_dir=weights_dir, require_all=require_all,
            provenance=settings, log=log,
        )  # fmt: skip
    html, md = out / REPORT_HTML, out / REPORT_MD
    if bw_dir is None and _mtime(html) > _mtime(out / METRICS_JSON) and md.is_file():
        log(f"the report is up to date: {md} and {html}")
    else:
        md, html = write_report(out, bw_dir=bw_dir, log=log)
    return html
