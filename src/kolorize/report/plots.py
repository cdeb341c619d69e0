"""The report's figures as PNG bytes (matplotlib, Agg backend: no display needed).

Every model keeps one colour in every figure; the ground truth is drawn as a dashed line, the
baselines (gray image, mean-colour tint) as hatched bars in muted colours of their own.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from kolorize.evaluate.metrics import MetricInfo

PALETTE = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3")
BASELINE_PALETTE = ("#9aa5b1", "#c9a67e")  # a gray, a sepia: what the baselines paint
INK, MUTED, GRID = "#1f2933", "#7b8794", "#e4e7eb"
BEST = "#2f9e44"
ARROWS = {"higher": "↑ higher is better", "lower": "↓ lower is better", "closer": "≈ real is best"}

plt.rcParams.update(
    {
        "font.size": 9,
        "axes.edgecolor": MUTED,
        "axes.labelcolor": INK,
        "axes.titlesize": 10,
        "axes.titleweight": "bold",
        "axes.spines.top": False,
        "axes.spines.right": False,
        "xtick.color": INK,
        "ytick.color": INK,
        "figure.dpi": 100,
        "savefig.dpi": 150,
    }
)


def model_colors(names: Sequence[str]) -> dict[str, str]:
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


def baseline_colors(names: Sequence[str]) -> dict[str, str]:
    return {name: BASELINE_PALETTE[i % len(BASELINE_PALETTE)] for i, name in enumerate(names)}


def png_bytes(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", facecolor="white")
    plt.close(fig)
    return buf.getvalue()


def metric_bars(
    metric: MetricInfo,
    values: dict[str, float | None],
    reference: float | None,
    best: str | None,
    colors: dict[str, str],
    baselines: dict[str, float | None] | None = None,
) -> bytes:
    """One bar per model, the best outlined, the ground truth as a dashed line; the
    baselines' bars (those with a value) first, hatched."""
    hatched = {name: v for name, v in (baselines or {}).items() if v is not None}
    values = {**hatched, **values}
    fig, ax = plt.subplots(figsize=(4.2 + 0.35 * len(hatched), 2.9))
    names = list(values)
    ax.set_title(metric.label, loc="left")
    subtitle = ARROWS[metric.better]
    if reference is not None:
        subtitle += f"\n- - real photos: {metric.format(reference)}"
    ax.text(1.0, 1.02, subtitle, transform=ax.transAxes, ha="right", va="bottom",
            color=MUTED, fontsize=7.5)  # fmt: skip
    shown = [v for v in values.values() if v is not None and math.isfinite(v)]
    if not shown:
        ax.text(0.5, 0.5, "no finite values to plot", ha="center", va="center",
                color=MUTED, transform=ax.transAxes)  # fmt: skip
        ax.set_xticks([])
        ax.set_yticks([])
        return png_bytes(fig)
    heights = [v if v is not None and math.isfinite(v) else 0.0 for v in values.values()]
    bars = ax.bar(range(len(names)), heights, color=[colors[n] for n in names], width=0.68)
    for bar, name, value in zip(bars, names, values.values(), strict=True):
        if name in hatched:
            bar.set_hatch("////")
            bar.set_edgecolor("white")  # the hatch's colour
            bar.set_linewidth(0)
        elif name == best:
            bar.set_edgecolor(BEST)
            bar.set_linewidth(2.5)
        ax.annotate(metric.format(value), (bar.get_x() + bar.get_width() / 2,
                    bar.get_height()), ha="center", va="bottom", fontsize=7.5, color=INK,
                    xytext=(0, 2), textcoords="offset points")  # fmt: skip
    top = max(shown)
    if reference is not None and math.isfinite(reference):
        ax.axhline(reference, color=INK, linestyle="--", linewidth=1)
        top = max(top, reference)
    low = min(0.0, *shown)
    ax.set_ylim(low, top * 1.18 if top > 0 else 1.0)
    ax.set_xticks(range(len(names)), [n.replace("_", " ") for n in names], rotation=25,
                  ha="right", fontsize=7.5)  # fmt: skip
    ax.grid(axis="y", color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)
    return png_bytes(fig)


LOSS_PANELS = (
    ("loss_l1", "L1 loss (train)"),
    ("val_l1", "L1 loss (validation)"),
    ("loss_g_gan", "generator adversarial loss"),
    ("loss_d", "discriminator loss"),
)


def loss_curves(histories: dict[str, list[dict[str, Any]]], colors: dict[str, str]) -> bytes | None:
    """Per-epoch training curves, one panel per loss, one line per run; None if no run logged."""
    panels = [
        (key, title)
        for key, title in LOSS_PANELS
        if any(key in record for history in histories.values() for record in history)
    ]
    if not panels:
        return None
    cols = min(2, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 2.8 * rows), squeeze=False)
    for ax, (key, title) in zip(axes.flat, panels, strict=False):
        ax.set_title(title, loc="left")
        for name, history in histories.items():
            points = [(r["epoch"], r[key]) for r in history if key in r and "epoch" in r]
            if points:
                x, y = zip(*points, strict=True)
                ax.plot(x, y, marker="o", markersize=3.5, linewidth=1.6, color=colors[name],
                        label=name.replace("_", " "))  # fmt: skip
        ax.set_xlabel("epoch")
        ax.grid(color=GRID, linewidth=0.8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in axes.flat[len(panels) :]:
        ax.axis("off")
    handles, labels = {}, {}
    for ax in axes.flat:
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, h)
            labels[label] = label
    fig.legend(handles.values(), labels.values(), loc="lower center", ncol=min(5, len(labels)),
               frameon=False, bbox_to_anchor=(0.5, -0.02))  # fmt: skip
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return png_bytes(fig)


def _column_title(name: str, width: int = 16) -> str:
    return "\n".join(textwrap.wrap(name.replace("_", " "), width)) or name


def image_grid(
    columns: Sequence[str], rows: Sequence[Sequence[np.ndarray | None]], *, cell_inches: float
) -> bytes:
    """A table of images (H, W, 3) uint8 with column titles; None leaves a cell empty.
    Each row is as tall as its tallest image needs, so portraits and landscapes both fit."""
    aspects = [
        max((img.shape[0] / img.shape[1] for img in row if img is not None), default=1.0)
        for row in rows
    ]
    fig, axes = plt.subplots(
        len(rows), len(columns), squeeze=False,
        figsize=(cell_inches * len(columns), cell_inches * sum(aspects) + 0.5),
        gridspec_kw={"wspace": 0.04, "hspace": 0.04, "height_ratios": aspects},
    )  # fmt: skip
    for c, title in enumerate(columns):
        axes[0, c].set_title(_column_title(title), fontsize=8.5, fontweight="bold", color=INK)
    for r, row in enumerate(rows):
        for c, img in enumerate(row):
            ax = axes[r, c]
            ax.set_axis_off()
            if img is not None:
                ax.imshow(img, interpolation="lanczos" if img.shape[0] > 128 else "nearest")
    return png_bytes(fig)
