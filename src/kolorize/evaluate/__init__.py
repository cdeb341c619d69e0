"""Evaluation: the study's metrics on the validation split (five models plus the ground-truth
row), written to metrics.json/.csv. Rendering them is kolorize.report's job.

    evaluate_runs(run_dirs, data_dir, out_dir, ...)   -> writes OUT/metrics.json, metrics.csv
"""

from kolorize.evaluate.evaluate import evaluate_runs

__all__ = ["evaluate_runs"]
