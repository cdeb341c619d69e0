"""The results of an evaluation on disk: `metrics.json` (everything, for the report and for
scripts) and `metrics.csv` (the table), both written atomically.

JSON has no infinity: an infinite value (PSNR of identical images) is stored as the string
"inf", a missing one (no backbone weights) as null with the reason under "missing".
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

from kolorize.errors import KolorizeError
from kolorize.evaluate.metrics import EXTRA_KEYS, METRICS, MetricInfo
from kolorize.rundir import METRICS_CSV, METRICS_JSON, write_text_atomic

# 2: PSNR as the mean of per-image PSNR (the study's); FID through torch-fidelity's resize
FORMAT = "kolorize-metrics/2"
GROUND_TRUTH = "Ground truth"


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


def csv_text(results: dict[str, Any]) -> str:
    """One row per model (ground truth first), every metric; n/a and the reason in `notes`."""
    notes = "; ".join(
        f"{', '.join(labels)} n/a: {reason}" for reason, labels in missing_by_reason(results)
    )
    fields = [
        "model",
        *(m.key for m in METRICS),
        *EXTRA_KEYS,
        "kid_std",
        "is_std",
        *(f"{k}_median" for k in ("psnr", "ssim", "lpips")),
        "n_images",
        "notes",
    ]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fields, lineterminator="\n")
    writer.writeheader()
    for row in results["rows"]:
        out: dict[str, Any] = {"model": row["name"], "n_images": row["n_images"], "notes": notes}
        for key in (*(m.key for m in METRICS), *EXTRA_KEYS):
            out[key] = _cell(row["values"].get(key))
        for key in ("kid_std", "is_std"):
            out[key] = _cell(row["spread"].get(key))
        for key in ("psnr", "ssim", "lpips"):
            out[f"{key}_median"] = _cell(row["per_image"].get(key, {}).get("median"))
        writer.writerow(out)
    return buf.getvalue()


def missing_by_reason(results: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """[(reason, [metric labels it makes n/a])], one entry per missing backbone."""
    grouped: dict[str, list[str]] = {}
    for metric in METRICS:
        reason = results["missing"].get(metric.key)
        if reason is not None:
            grouped.setdefault(reason, []).append(metric.label)
    return list(grouped.items())


def _cell(value: float | None) -> str:
    if value is None:
        return "n/a"
    return repr(value) if math.isfinite(value) else "inf" if value > 0 else str(value)


def write_results(out_dir: str | Path, results: dict[str, Any]) -> tuple[Path, Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, csv_path = out_dir / METRICS_JSON, out_dir / METRICS_CSV
    text = json.dumps(_encode({"format": FORMAT, **results}), indent=2, allow_nan=False)
    write_text_atomic(json_path, text + "\n")
    write_text_atomic(csv_path, csv_text(results))
    return json_path, csv_path


def read_results(study_dir: str | Path) -> dict[str, Any]:
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
    if data.get("format") != FORMAT:
        raise KolorizeError(f"{path}: unknown format {data.get('format')!r}; evaluate again")
    return _decode(data)


def best_model(results: dict[str, Any], metric: MetricInfo) -> str | None:
    """The model (never the ground-truth reference) with the best value of `metric`."""
    models = [r for r in results["rows"] if not r["reference"]]
    scored = [(r["name"], r["values"][metric.key]) for r in models]
    scored = [(name, v) for name, v in scored if v is not None and not math.isnan(v)]
    if not scored:
        return None
    if metric.better == "closer":
        target = next(r["values"][metric.key] for r in results["rows"] if r["reference"])
        return min(scored, key=lambda nv: abs(nv[1] - target))[0]
    sign = 1 if metric.better == "higher" else -1
    return max(scored, key=lambda nv: sign * nv[1])[0]
