"""A study: the runs of one study file trained in order (runs.py), then scored and reported
(pipeline.py), everything in one folder.

    run_study(load_study(FILE), data_dir, out)   -> trains OUT/<run> for every run of FILE
    run_full_study(FILE, data_dir, out)           -> and writes OUT/metrics.json, REPORT.md, ...
"""

from kolorize.study.pipeline import run_full_study
from kolorize.study.runs import default_parallel, load_study, run_study

__all__ = ["default_parallel", "load_study", "run_full_study", "run_study"]
