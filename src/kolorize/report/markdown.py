"""REPORT.md: the report as Markdown, its pictures referenced from report_assets/."""

from __future__ import annotations

from kolorize.evaluate.metrics import METRICS, PER_IMAGE_KEYS
from kolorize.evaluate.results import Results
from kolorize.report.content import (
    DISTRIBUTION_NOTE,
    Figure,
    ResultsTable,
    distribution_text,
    header,
    method_notes,
    summary_sentence,
    uncharted,
)


def render_markdown(
    results: Results,
    bars: list[Figure],
    figures: list[Figure],
    notes: list[str],
    generated: str,
    assets: str,
) -> str:
    """The whole report; pictures are the PNG files `assets`/NAME next to REPORT.md."""
    table = ResultsTable(results)
    lines = [
        "# Colorization study: results",
        "",
        summary_sentence(results),
        "",
        f"Generated {generated}.",
        "",
        "## Results",
        "",
        "| Model | " + " | ".join(header(m, results) for m in METRICS) + " |",
        "|---|" + "---:|" * len(METRICS),
    ]
    for row in results.rows:
        cells = []
        for metric in METRICS:
            value, spread, best = table.cell(row, metric)
            text = f"{value} {spread}".strip()
            cells.append(f"**{text}** ★" if best else text)
        name = f"*{row.name} (reference)*" if row.reference else row.name
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "↑ higher is better, ↓ lower is better, ≈ closest to the real photos is best; "
        "★ marks the best model per column (the ground truth is the reference, not a contender).",
        "",
    ]
    lines += [f"- [{i + 1}] n/a ({', '.join(lbl)}): {reason}" for i, (reason, lbl) in
              enumerate(table.notes)]  # fmt: skip
    if results.warnings:
        lines += ["", "**Warnings**", ""] + [f"- {w}" for w in results.warnings]
    lines += ["", "### Per-image distributions", "", *_distributions(results)]
    lines += ["", "## Metrics at a glance", ""]
    lines += [f"![{fig.title}]({assets}/{fig.name})" for fig in bars]
    if uncharted(results):
        lines += ["", uncharted(results)]
    for fig in figures:
        lines += ["", f"## {fig.title}", "", f"![{fig.title}]({assets}/{fig.name})"]
        if fig.caption:
            lines += ["", fig.caption]
    lines += ["", "## How the numbers were made", ""]
    lines += [f"- **{k}**: {v}" for k, v in method_notes(results).items()]
    lines += [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def _distributions(results: Results) -> list[str]:
    keys = [m for m in METRICS if m.key in PER_IMAGE_KEYS]
    out = [
        DISTRIBUTION_NOTE,
        "",
        "| Model | " + " | ".join(m.label for m in keys) + " |",
        "|---|" + "---|" * len(keys),
    ]
    for row in results.rows:
        cells = [distribution_text(row, m) for m in keys]
        out.append(f"| {row.name} | " + " | ".join(cells) + " |")
    return out
