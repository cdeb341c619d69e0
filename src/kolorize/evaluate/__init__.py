"""Evaluation and report: the study's metrics on the validation split (five models plus the
ground-truth row), metrics.json/.csv, and REPORT.md + a self-contained report.html.

    evaluate_runs(run_dirs, data_dir, out_dir, ...)   -> writes OUT/metrics.json, metrics.csv
    write_report(study_dir, bw_dir=None)               -> writes REPORT.md, report.html
"""

from kolorize.evaluate.evaluate import evaluate_runs
from kolorize.evaluate.report import write_report

__all__ = ["evaluate_runs", "write_report"]
