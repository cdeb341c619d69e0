"""What the report says, whatever its format: the results table's cells (best marks,
n/a notes), the per-image distributions, the hue accuracy by sector, and the notes on how the
numbers were made."""

from __future__ import annotations

from dataclasses import dataclass

from kolorize.evaluate.metrics import FID_FULL_RANK, HUE_SECTOR_KEYS, METRICS, MetricInfo
from kolorize.evaluate.results import Results, Row
from kolorize.evaluate.yardsticks import SECTORS

SPREAD = {"kid": "kid_std", "is": "is_std"}
NOT_COMPARED = "–"  # a baseline's share of wins over itself
SECTOR_NOTE = (
    "Hue accuracy (%) in each hue sector: the share of the real photos' clearly coloured "
    "pixels of that sector given the right hue; – where the validation photos have none."
)
DISTRIBUTION_NOTE = (
    "Mean, median and 95% bootstrap interval of the mean over the validation images. PSNR "
    "is per image, averaged, as the study defines it (the results table shows the same mean; "
    "the PSNR of the squared error pooled over the whole set is in metrics.csv as "
    "psnr_pooled)."
)


@dataclass
class Figure:
    name: str  # file name under report_assets/
    title: str
    png: bytes
    caption: str = ""


def arrow(metric: MetricInfo) -> str:
    return {"higher": "↑", "lower": "↓", "closer": "≈"}[metric.better]


def header(metric: MetricInfo, results: Results) -> str:
    label = metric.label
    if metric.key == "fid" and not results.missing.get("fid"):
        label += f" (n={results.n_images})" + (" ⚠" if results.n_images < FID_FULL_RANK else "")
    return f"{label} {arrow(metric)}"


class ResultsTable:
    """The results table's cells, shared by the Markdown and HTML renderings."""

    def __init__(self, results: Results) -> None:
        self.results = results
        self.best = {m.key: results.best_model(m) for m in METRICS}
        self.notes = results.missing_by_reason()
        self.note_of = {
            m.key: i + 1
            for i, (reason, _labels) in enumerate(self.notes)
            for m in METRICS
            if results.missing.get(m.key) == reason
        }

    def cell(self, row: Row, metric: MetricInfo) -> tuple[str, str, bool]:
        """(value text, spread text, is best) for one cell."""
        value = row.values.get(metric.key)
        if value is None:
            mark = self.note_of.get(metric.key)
            if mark is None:  # nothing is missing: a baseline against itself
                return NOT_COMPARED, "", False
            return f"n/a [{mark}]", "", False
        spread_key = SPREAD.get(metric.key)
        spread = row.spread.get(spread_key) if spread_key else None
        spread_text = f"± {metric.format(spread)}" if spread is not None else ""
        contender = not row.reference and not row.baseline
        best = contender and self.best[metric.key] == row.name
        return metric.format(value), spread_text, best


def legend(results: Results) -> str:
    if not results.baselines:
        yardsticks = "the ground truth is the reference, not a contender"
        return (
            "↑ higher is better, ↓ lower is better, ≈ closest to the real photos is best; "
            f"★ marks the best model per column ({yardsticks})."
        )
    return (
        "↑ higher is better, ↓ lower is better, ≈ closest to the real photos is best; ★ marks "
        "the best model per column (the ground truth and the baselines are yardsticks, not "
        f"contenders); {NOT_COMPARED}: a baseline is not compared with itself."
    )


def sector_cells(results: Results) -> list[tuple[Row, list[str]]]:
    """Each row's hue accuracy per sector (in `SECTORS` order) as text; [] for a
    metrics.json that has none."""
    if all(row.values.get(k) is None for row in results.rows for k in HUE_SECTOR_KEYS):
        return []
    hue = next(m for m in METRICS if m.key == "hue")
    return [
        (row, [hue.format(v) if (v := row.values.get(k)) is not None else NOT_COMPARED
               for k in HUE_SECTOR_KEYS])
        for row in results.rows
    ]  # fmt: skip


def sector_names() -> list[str]:
    return [name.capitalize() for name in SECTORS]


def distribution_parts(row: Row, metric: MetricInfo) -> tuple[str, str]:
    """(mean, 'median …; 95% CI …') of one per-image distribution, or ('n/a', '')."""
    d = row.per_image.get(metric.key)
    if d is None:
        return "n/a", ""
    f = metric.format
    return f(d["mean"]), (
        f"median {f(d['median'])}; 95% CI {f(d['ci95_low'])} – {f(d['ci95_high'])}"
    )


def distribution_text(row: Row, metric: MetricInfo) -> str:
    mean, detail = distribution_parts(row, metric)
    return f"{mean} ({detail})" if detail else mean


def summary_sentence(results: Results) -> str:
    baselines = [f"the {r.name.lower()}" for r in results.baselines]
    yardsticks = f" and {len(baselines)} baselines ({' and '.join(baselines)})" if baselines else ""
    return (
        f"{len(results.models)} model(s), the ground truth{yardsticks}, scored on "
        f"{results.n_images} validation images at {results.image_size}x{results.image_size} "
        f"px from `{results.data}` (inference in {results.inference_mode} mode on "
        f"{results.device})."
    )


def _ground_truth_note(results: Results) -> str:
    note = (
        "the validation photos scored against themselves (PSNR ∞, SSIM 1, LPIPS 0, FID ≈ 0) "
        "and on their own (Colorfulness, IS): the reference for every model row"
    )
    if not results.baselines:
        return note
    # its "beats" shares are computed like a model's, and what they say is the ceiling
    return note + (
        ". Its hue accuracy is 100 % by definition (every pixel has its own hue), and it "
        "beats the gray image and the tint on every photo that they do not reproduce exactly "
        "(its PSNR is infinite, theirs finite; an exact match would be a tie, counted as no "
        "win): 100 % is the ceiling a colorizer can reach, not a measurement of anything"
    )


def method_notes(results: Results) -> dict[str, str]:
    labels = {m.key: m.label for m in METRICS}
    labels.update({"images": "Images", "per_image": "Per-image distributions",
                   "baselines": "Baselines"})  # fmt: skip
    notes = {labels.get(k, k): v for k, v in results.settings.items()}
    notes["Ground truth"] = _ground_truth_note(results)
    mode = (
        "model.eval() (BatchNorm running statistics, no dropout)"
        if results.inference_mode == "eval"
        else "pix2pix train mode (BatchNorm batch statistics, dropout on, seeded)"
    )
    notes["Inference"] = (
        f"{mode}, batches of {results.batch_size}, {results.device}, autocast: {results.autocast}"
    )
    return notes


def uncharted(results: Results) -> str:
    labels = [m.label for m in METRICS if results.missing.get(m.key)]
    if not labels:
        return ""
    return f"No charts for {', '.join(labels)}: n/a (see the notes under the results table)."
