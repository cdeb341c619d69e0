"""The results of an evaluation: `Results`, the ground truth's `Row`, the two baselines' (the
gray image and the mean-colour tint, scored like models but no contenders), one per model, and
their files: `metrics.json` (everything, for the report and for scripts) and `metrics.csv`
(the table), both written atomically.

JSON has no infinity: an infinite value (PSNR of identical images) is stored as the string
"inf", a missing one (no backbone weights) as null with the reason under "missing". A
metrics.json written before a metric existed still loads: that metric is n/a, with the reason.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from kolorize.atomic import write_text_atomic
from kolorize.errors import KolorizeError
from kolorize.evaluate.metrics import EXTRA_KEYS, METRICS, MetricInfo
from kolorize.rundir import METRICS_CSV, METRICS_JSON

# 2: PSNR as the mean of per-image PSNR (the study's); FID through torch-fidelity's resize
FORMAT = "kolorize-metrics/2"
GROUND_TRUTH = "Ground truth"
# the baseline rows' names, by the name `metrics.BEATS` knows them by
BASELINES = {"gray": "Gray image", "tint": "Mean-colour tint"}
NOT_MEASURED = "not in this metrics.json (scored before kolorize measured it); evaluate again"


@dataclass(kw_only=True)
class Row:
    """One row of the results table: a model, the ground truth (`reference`) or a baseline."""

    name: str
    reference: bool
    baseline: bool = False  # the gray image or the tint: scored like a model, never "best"
    run_dir: str | None  # absolute; None for the ground truth and a lone generator file
    generator: str | None = None  # the generator file scored; None for the ground truth
    epoch: int | None
    images: str | None  # its colorized images under the output folder, if they were saved
    n_images: int
    values: dict[str, float | None]  # every metric and EXTRA_KEYS; None: n/a (see `missing`)
    spread: dict[str, float]  # kid_std, is_std
    per_image: dict[str, dict[str, float]]  # metric -> mean, median, ci95_low, ci95_high
    identical: int  # colorized images equal to the real ones (infinite PSNR)


@dataclass(kw_only=True)
class Results:
    """What an evaluation measured and how: the content of metrics.json."""

    data: str  # the prepared dataset
    split: str
    n_images: int
    image_size: int
    device: str
    autocast: str
    inference_mode: str  # "eval" or "train"
    batch_size: int
    seed: int
    seconds: float
    metrics: list[dict[str, Any]]  # the MetricInfo of every metric, for scripts
    missing: dict[str, str]  # metric -> why it is n/a
    backbones: dict[str, str]
    settings: dict[str, str]  # how each number was made, for the report's notes
    warnings: list[str]
    rows: list[Row]  # the ground truth first, then the baselines, then the models
    provenance: dict[str, Any] | None = None  # what the study pipeline scored, to spot changes
    tint_ab: list[float] | None = None  # the mean-colour tint's (a, b), in Lab units

    @property
    def reference(self) -> Row:
        return next(r for r in self.rows if r.reference)

    @property
    def baselines(self) -> list[Row]:
        return [r for r in self.rows if r.baseline]

    @property
    def models(self) -> list[Row]:
        return [r for r in self.rows if not r.reference and not r.baseline]

    @property
    def not_measured(self) -> list[str]:
        """The metrics this metrics.json was written without (an older evaluation)."""
        return [k for k, reason in self.missing.items() if reason == NOT_MEASURED]

    def best_model(self, metric: MetricInfo) -> str | None:
        """The model (never the ground-truth reference nor a baseline) with the best value of
        `metric`."""
        scored = [(r.name, r.values.get(metric.key)) for r in self.models]
        scored = [(name, v) for name, v in scored if v is not None and not math.isnan(v)]
        if not scored:
            return None
        if metric.better == "closer":
            target = self.reference.values.get(metric.key)
            if target is None:
                return None
            return min(scored, key=lambda nv: abs(nv[1] - target))[0]
        sign = 1 if metric.better == "higher" else -1
        return max(scored, key=lambda nv: sign * nv[1])[0]

    def missing_by_reason(self) -> list[tuple[str, list[str]]]:
        """[(reason, [metric labels it makes n/a])], one entry per missing backbone."""
        grouped: dict[str, list[str]] = {}
        for metric in METRICS:
            reason = self.missing.get(metric.key)
            if reason is not None:
                grouped.setdefault(reason, []).append(metric.label)
        return list(grouped.items())

    def to_json(self) -> str:
        data = _encode({"format": FORMAT, **asdict(self)})
        return json.dumps(data, indent=2, allow_nan=False) + "\n"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Results:
        """metrics.json's content; keys this version does not know (older files hold the
        pipeline's settings under "pipeline") are left out, metrics it lacks are n/a."""
        data = _decode(data)
        rows = [Row(**_known(Row, row)) for row in data["rows"]]
        results = cls(**{**_known(cls, data), "rows": rows})
        _mark_not_measured(results)
        return results


def _mark_not_measured(results: Results) -> None:
    """Metrics that no row of an older metrics.json holds become n/a, with the reason."""
    metric_keys = tuple(m.key for m in METRICS)
    for key in (*metric_keys, *EXTRA_KEYS):
        if all(key not in row.values for row in results.rows):
            for row in results.rows:
                row.values[key] = None
            if key in metric_keys:
                results.missing.setdefault(key, NOT_MEASURED)


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    return {f.name: data[f.name] for f in fields(cls) if f.name in data}


def _encode(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return "inf" if obj > 0 else "-inf" if obj < 0 else "nan"
    if isinstance(obj, dict):
        return {k: _encode(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_encode(v) for v in obj]
    return obj


def _decode(obj: Any) -> Any:
    if obj in ("inf", "-inf", "nan"):
        return float(obj)
    if isinstance(obj, dict):
        return {k: _decode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v) for v in obj]
    return obj


def csv_text(results: Results) -> str:
    """One row per model (ground truth first), every metric; n/a and the reason in `notes`."""
    notes = "; ".join(
        f"{', '.join(labels)} n/a: {reason}" for reason, labels in results.missing_by_reason()
    )
    columns = [
        "model",
        "role",
        *(m.key for m in METRICS),
        *EXTRA_KEYS,
        "kid_std",
        "is_std",
        *(f"{k}_median" for k in ("psnr", "ssim", "lpips")),
        "n_images",
        "notes",
    ]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, columns, lineterminator="\n")
    writer.writeheader()
    for row in results.rows:
        out: dict[str, Any] = {
            "model": row.name, "role": _role(row), "n_images": row.n_images, "notes": notes,
        }  # fmt: skip
        for key in (*(m.key for m in METRICS), *EXTRA_KEYS):
            out[key] = _cell(row.values.get(key))
        for key in ("kid_std", "is_std"):
            out[key] = _cell(row.spread.get(key))
        for key in ("psnr", "ssim", "lpips"):
            out[f"{key}_median"] = _cell(row.per_image.get(key, {}).get("median"))
        writer.writerow(out)
    return buf.getvalue()


def _role(row: Row) -> str:
    return "reference" if row.reference else "baseline" if row.baseline else "model"


def _cell(value: float | None) -> str:
    if value is None:
        return "n/a"
    return repr(value) if math.isfinite(value) else "inf" if value > 0 else str(value)


def write_results(out_dir: str | Path, results: Results) -> tuple[Path, Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, csv_path = out_dir / METRICS_JSON, out_dir / METRICS_CSV
    write_text_atomic(json_path, results.to_json())
    write_text_atomic(csv_path, csv_text(results))
    return json_path, csv_path


def read_results(study_dir: str | Path) -> Results:
    path = Path(study_dir) / METRICS_JSON
    if not path.is_file():
        raise KolorizeError(
            f"{study_dir} has no {METRICS_JSON}; run 'kolorize evaluate RUN... --data DIR "
            f"--out {study_dir}' first"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise KolorizeError(f"{path} is not valid JSON ({e}); evaluate again") from None
    found = data.get("format") if isinstance(data, dict) else None
    if found != FORMAT:
        raise KolorizeError(f"{path}: unknown format {found!r}; evaluate again")
    try:
        return Results.from_json(data)
    except (KeyError, TypeError) as e:
        raise KolorizeError(f"{path} is incomplete ({e}); evaluate again") from None
