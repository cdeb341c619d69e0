"""`kolorize report STUDY_DIR`: REPORT.md and a self-contained report.html from what
`kolorize evaluate` wrote (STUDY_DIR/metrics.json) and the run directories: the results
table, a bar chart per metric, training curves, image grids and, given a folder, a few real
black-and-white photos colorized by every model.

The words and cells both formats share are in content.py; markdown.py and html.py lay them
out, plots.py and gallery.py draw the pictures. Nothing here computes a score: the numbers
come from kolorize.evaluate.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kolorize.atomic import atomic_folder, write_text_atomic
from kolorize.errors import KolorizeError
from kolorize.evaluate.metrics import METRICS
from kolorize.evaluate.results import Results, read_results
from kolorize.report import gallery, plots
from kolorize.report.content import Figure
from kolorize.report.html import render_html
from kolorize.report.markdown import render_markdown
from kolorize.rundir import REPORT_ASSETS, REPORT_HTML, REPORT_MD, read_metrics


def _run_histories(results: Results, study_dir: Path) -> dict[str, list[dict[str, Any]]]:
    histories = {}
    for row in results.models:
        run_dir = Path(row.run_dir) if row.run_dir else study_dir / row.name
        if not run_dir.is_dir():
            run_dir = study_dir / row.name
        histories[row.name] = read_metrics(run_dir)
    return histories


def _bar_figures(results: Results, colors: dict[str, str]) -> list[Figure]:
    """One bar chart per metric that has values (n/a metrics are explained by the table)."""
    figures = []
    for metric in METRICS:
        values = {r.name: r.values.get(metric.key) for r in results.models}
        baselines = {r.name: r.values.get(metric.key) for r in results.baselines}
        if all(v is None for v in (*values.values(), *baselines.values())):
            continue
        reference = results.reference.values.get(metric.key)
        png = plots.metric_bars(
            metric, values, reference, results.best_model(metric), colors, baselines
        )
        figures.append(Figure(f"metric_{metric.key}.png", metric.label, png))
    return figures


def _write_assets(study_dir: Path, figures: list[Figure]) -> None:
    with atomic_folder(study_dir / REPORT_ASSETS) as folder:
        for fig in figures:
            (folder / fig.name).write_bytes(fig.png)


def _pictures(
    results: Results,
    study_dir: Path,
    colors: dict[str, str],
    bw_paths: list[Path],
    log: Callable[[str], None],
) -> tuple[list[Figure], list[str]]:
    """Training curves and image grids, with a note for each one that cannot be drawn."""
    figures: list[Figure] = []
    notes: list[str] = []
    curves = plots.loss_curves(_run_histories(results, study_dir), colors)
    if curves is None:
        notes.append("No training logs (metrics.jsonl) were found in the run directories.")
    else:
        figures.append(Figure("loss_curves.png", "Training curves", curves,
                              "Per-epoch means from each run's metrics.jsonl."))  # fmt: skip
    files = gallery.generator_files(results, study_dir, log)
    if not files:
        notes.append("No generator files were found, so the report has no image grids.")
        return figures, notes
    try:
        grid = gallery.validation_grid(results, files, seed=results.seed)
        figures.append(Figure("validation_grid.png", "Validation images", grid.png, grid.caption))
    except KolorizeError as e:
        notes.append(f"No image grid: {e}.")
    bw = gallery.bw_grid(bw_paths, files, log) if bw_paths else None
    if bw is not None:
        figures.append(Figure("bw_photos.png", "Real black-and-white photos", bw.png, bw.caption))
    return figures, notes


def write_report(
    study_dir: str | Path,
    *,
    bw_dir: str | Path | None = None,
    log: Callable[[str], None] = print,
) -> tuple[Path, Path]:
    """Write STUDY_DIR/REPORT.md (+ report_assets/) and STUDY_DIR/report.html from
    STUDY_DIR/metrics.json; returns their paths. `bw_dir`: a folder of black-and-white photos,
    a few of which every model colorizes for the report."""
    study_dir = Path(study_dir)
    results = read_results(study_dir)
    bw_paths = gallery.bw_photos(Path(bw_dir)) if bw_dir is not None else []
    colors = {
        **plots.baseline_colors([r.name for r in results.baselines]),
        **plots.model_colors([r.name for r in results.models]),
    }
    bars = _bar_figures(results, colors)
    figures, notes = _pictures(results, study_dir, colors, bw_paths, log)
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    _write_assets(study_dir, bars + figures)
    md_path, html_path = study_dir / REPORT_MD, study_dir / REPORT_HTML
    markdown = render_markdown(results, bars, figures, notes, generated, REPORT_ASSETS)
    write_text_atomic(md_path, markdown)
    write_text_atomic(html_path, render_html(results, bars, figures, notes, colors, generated))
    log(f"report: {md_path} and {html_path}")
    return md_path, html_path
