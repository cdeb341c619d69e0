"""REPORT.md: the report as Markdown, its pictures referenced from report_assets/."""

from __future__ import annotations

from kolorize.evaluate.metrics import METRICS, PER_IMAGE_KEYS
from kolorize.evaluate.results import Results, Row
from kolorize.report.content import (
    DISTRIBUTION_NOTE,
    SECTOR_NOTE,
    Figure,
    ResultsTable,
    distribution_text,
    header,
    legend,
    method_notes,
    sector_cells,
    sector_names,
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
        lines.append(f"| {_name(row)} | " + " | ".join(cells) + " |")
    lines += ["", legend(results), ""]
    lines += [f"- [{i + 1}] n/a ({', '.join(lbl)}): {reason}" for i, (reason, lbl) in
              enumerate(table.notes)]  # fmt: skip
    if results.warnings:
        lines += ["", "**Warnings**", ""] + [f"- {w}" for w in results.warnings]
    lines += ["", "### Per-image distributions", "", *_distributions(results)]
    lines += _sectors(results)
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


def _name(row: Row) -> str:
    if row.reference:
        return f"*{row.name} (reference)*"
    return f"*{row.name} (baseline)*" if row.baseline else row.name


def _sectors(results: Results) -> list[str]:
    cells = sector_cells(results)
    if not cells:
        return []
    names = sector_names()
    out = ["", "### Hue accuracy by sector", "", SECTOR_NOTE, ""]
    out += ["| Model | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    out += [f"| {_name(row)} | " + " | ".join(texts) + " |" for row, texts in cells]
    return out


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
