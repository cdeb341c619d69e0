"""report.html: one self-contained page (styles inline, pictures as data URIs, no scripts),
so it can be mailed or archived alone."""

from __future__ import annotations

import base64
import html

from kolorize.evaluate.metrics import METRICS, PER_IMAGE_KEYS
from kolorize.evaluate.results import Results, Row
from kolorize.report.content import (
    DISTRIBUTION_NOTE,
    SECTOR_NOTE,
    Figure,
    ResultsTable,
    distribution_parts,
    header,
    legend,
    method_notes,
    sector_cells,
    sector_names,
    summary_sentence,
    uncharted,
)

HEADLINE = {"higher": "Highest", "lower": "Lowest", "closer": "Closest to the real photos:"}

CSS = """
:root { --ink:#1f2933; --muted:#616e7c; --line:#e4e7eb; --soft:#f5f7fa; --best:#2f9e44;
        --bestbg:#ebfbee; --warn:#b7791f; --warnbg:#fff8e6; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.55 -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       color:var(--ink); background:#fff; }
main { max-width:1180px; margin:0 auto; padding:32px 28px 64px; }
header.hero { background:linear-gradient(120deg,#243b53,#486581 55%,#9f6b3d); color:#fff;
              padding:36px 28px 30px; }
header.hero div { max-width:1180px; margin:0 auto; }
header.hero h1 { margin:0 0 6px; font-size:30px; letter-spacing:-0.5px; }
header.hero p { margin:0; opacity:.88; }
h2 { font-size:21px; margin:44px 0 12px; padding-bottom:6px; border-bottom:1px solid var(--line); }
h3 { font-size:16px; margin:28px 0 8px; }
.cards { display:grid; grid-template-columns:repeat(auto-fill,minmax(200px,1fr)); gap:12px;
         margin-top:22px; }
.card { border:1px solid var(--line); border-radius:10px; padding:12px 14px;
        background:var(--soft); }
.card .k { font-size:12px; color:var(--muted); text-transform:uppercase; letter-spacing:.4px; }
.card .v { font-size:18px; font-weight:650; margin-top:2px; }
.card .m { font-size:13px; color:var(--muted); }
.tablewrap { overflow-x:auto; }
table { border-collapse:collapse; width:100%; font-variant-numeric:tabular-nums; }
th, td { padding:9px 12px; border-bottom:1px solid var(--line); text-align:right;
         white-space:nowrap; }
th:first-child, td:first-child { text-align:left; }
thead th { font-size:13px; color:var(--muted); font-weight:600; background:var(--soft); }
tr.reference td { background:#f0f4f8; color:#334e68; font-style:italic; }
tr.baseline td { background:#faf7f2; color:#52606d; font-style:italic; }
td.best { background:var(--bestbg); color:var(--best); font-weight:700; }
td.best::after { content:" ★"; }
td.na { color:var(--muted); }
td .spread { color:var(--muted); font-size:12px; font-weight:400; margin-left:6px; }
td .detail { display:block; color:var(--muted); font-size:12px; white-space:normal; }
.swatch { display:inline-block; width:10px; height:10px; border-radius:2px; margin-right:8px; }
.legend, .notes { color:var(--muted); font-size:13px; margin:8px 0; }
.warn { background:var(--warnbg); border-left:4px solid var(--warn); padding:10px 14px;
        border-radius:6px; margin:14px 0; font-size:14px; }
.warn ul { margin:4px 0 0 18px; padding:0; }
.charts { display:grid; grid-template-columns:repeat(auto-fill,minmax(330px,1fr)); gap:14px; }
figure { margin:0; }
figure img { max-width:100%; height:auto; display:block; margin:0 auto; }
.charts figure { border:1px solid var(--line); border-radius:10px; padding:8px; }
figcaption { color:var(--muted); font-size:13px; margin-top:6px; }
dl.method dt { font-weight:600; margin-top:8px; }
dl.method dd { margin:2px 0 0 0; color:var(--muted); font-size:14px; }
footer { color:var(--muted); font-size:12px; margin-top:48px; }
"""


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _cards(results: Results, table: ResultsTable) -> str:
    out = []
    reference = results.reference
    for metric in METRICS:
        name = table.best[metric.key]
        if name is None:
            continue
        row = next(r for r in results.rows if r.name == name)
        value = metric.format(row.values[metric.key])
        extra = ""
        if metric.better == "closer":
            extra = f" (real {metric.format(reference.values[metric.key])})"
        out.append(
            f'<div class="card"><div class="k">{html.escape(HEADLINE[metric.better])} '
            f'{html.escape(metric.label)}</div><div class="v">{html.escape(name)}</div>'
            f'<div class="m">{html.escape(value + extra)}</div></div>'
        )
    return '<div class="cards">' + "".join(out) + "</div>"


def _results_table(results: Results, table: ResultsTable, colors: dict[str, str]) -> str:
    head = "".join(
        f'<th title="{html.escape(m.what)}">{html.escape(header(m, results))}</th>' for m in METRICS
    )
    body = []
    for row in results.rows:
        cells = []
        for metric in METRICS:
            value, spread, best = table.cell(row, metric)
            cls = "best" if best else "na" if value.startswith("n/a") else ""
            spread_html = f'<span class="spread">{html.escape(spread)}</span>' if spread else ""
            cells.append(f'<td class="{cls}">{html.escape(value)}{spread_html}</td>')
        body.append(f"<tr{_row_class(row)}><td>{_name(row, colors)}</td>{''.join(cells)}</tr>")
    return (
        '<div class="tablewrap"><table id="results"><thead><tr><th>Model</th>'
        + head
        + "</tr></thead><tbody>"
        + "".join(body)
        + "</tbody></table></div>"
    )


def _row_class(row: Row) -> str:
    if row.reference:
        return ' class="reference"'
    return ' class="baseline"' if row.baseline else ""


def _name(row: Row, colors: dict[str, str]) -> str:
    if row.reference:
        return f"{html.escape(row.name)} (reference)"
    color = colors.get(row.name, "#999")
    swatch = f'<span class="swatch" style="background:{color}"></span>'
    return swatch + html.escape(row.name) + (" (baseline)" if row.baseline else "")


def _sector_table(results: Results, colors: dict[str, str]) -> str:
    cells = sector_cells(results)
    if not cells:
        return ""
    head = "".join(f"<th>{html.escape(name)}</th>" for name in sector_names())
    body = "".join(
        f"<tr{_row_class(row)}><td>{_name(row, colors)}</td>"
        + "".join(f"<td>{html.escape(t)}</td>" for t in texts)
        + "</tr>"
        for row, texts in cells
    )
    return (
        f"<h3>Hue accuracy by sector</h3><p class='notes'>{html.escape(SECTOR_NOTE)}</p>"
        f'<div class="tablewrap"><table id="hue-sectors"><thead><tr><th>Model</th>{head}'
        f"</tr></thead><tbody>{body}</tbody></table></div>"
    )


def _distribution_table(results: Results) -> str:
    keys = [m for m in METRICS if m.key in PER_IMAGE_KEYS]
    head = "".join(f"<th>{html.escape(m.label)}</th>" for m in keys)
    body = ""
    for row in results.rows:
        cells = ""
        for metric in keys:
            mean, detail = distribution_parts(row, metric)
            extra = f'<span class="detail">{html.escape(detail)}</span>' if detail else ""
            cells += f"<td>{html.escape(mean)}{extra}</td>"
        body += f"<tr><td>{html.escape(row.name)}</td>{cells}</tr>"
    return (
        f'<div class="tablewrap"><table id="per-image"><thead><tr><th>Model</th>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def render_html(
    results: Results,
    bars: list[Figure],
    figures: list[Figure],
    notes: list[str],
    colors: dict[str, str],
    generated: str,
) -> str:
    table = ResultsTable(results)
    e = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        "<title>Colorization study: results</title>",
        f"<style>{CSS}</style></head><body>",
        "<header class='hero'><div><h1>Colorization study: results</h1>",
        f"<p>{e(summary_sentence(results).replace('`', ''))}</p></div></header><main>",
        _cards(results, table),
        "<h2>Results</h2>",
        _results_table(results, table, colors),
        f"<p class='legend'>{e(legend(results))} Hover a header for its definition.</p>",
    ]
    for i, (reason, labels) in enumerate(table.notes):
        parts.append(f"<p class='notes'>[{i + 1}] n/a ({e(', '.join(labels))}): {e(reason)}</p>")
    if results.warnings:
        items = "".join(f"<li>{e(w)}</li>" for w in results.warnings)
        parts.append(f"<div class='warn'><strong>Warnings</strong><ul>{items}</ul></div>")
    parts += [
        "<h3>Per-image distributions</h3>",
        f"<p class='notes'>{e(DISTRIBUTION_NOTE)}</p>",
        _distribution_table(results),
        _sector_table(results, colors),
        "<h2>Metrics at a glance</h2><div class='charts'>",
    ]
    parts += [f"<figure><img alt='{e(f.title)}' src='{_data_uri(f.png)}'></figure>" for f in bars]
    parts.append("</div>")
    if uncharted(results):
        parts.append(f"<p class='notes'>{e(uncharted(results))}</p>")
    for fig in figures:
        parts.append(f"<h2>{e(fig.title)}</h2><figure><img alt='{e(fig.title)}' "
                     f"src='{_data_uri(fig.png)}'>")  # fmt: skip
        if fig.caption:
            parts.append(f"<figcaption>{e(fig.caption)}</figcaption>")
        parts.append("</figure>")
    parts.append("<h2>How the numbers were made</h2><dl class='method'>")
    parts += [f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in method_notes(results).items()]
    parts.append("</dl>")
    parts += [f"<p class='notes'>{e(n)}</p>" for n in notes]
    parts.append(f"<footer>Generated by kolorize on {e(generated)}.</footer></main></body></html>")
    return "\n".join(parts) + "\n"
