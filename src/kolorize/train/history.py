"""How much training a generator has had, across every run that continued another: the
record a weights file carries in its metadata under `training`, so CPU hours add up.

    {"images_seen": 940000, "hours": 12.5, "cpu_core_hours": 24.8,
     "stages": [{"run": "pretrain", "phase": "pretrain", "output": "ab", ...}, ...]}

A run that starts from a file (train.init_from) inherits that file's record and adds itself
as one more stage; a file without a record counts as no training before it.
"""

from __future__ import annotations

from typing import Any

from kolorize.config import RunConfig
from kolorize.errors import KolorizeError
from kolorize.models.files import read_generator_metadata

TRAINING = "training"


def inherited(source: str | None) -> dict[str, Any]:
    """The training record of the file a run starts from (empty when none)."""
    if source is None:
        return empty()
    try:
        record = read_generator_metadata(source).get(TRAINING)
    except KolorizeError:
        return empty()
    return record if isinstance(record, dict) else empty()


def empty() -> dict[str, Any]:
    return {"images_seen": 0, "hours": 0.0, "cpu_core_hours": 0.0, "stages": []}


def stage(
    cfg: RunConfig, *, run: str, images: int, seconds: float, cpu_seconds: float, **where: Any
) -> dict[str, Any]:
    """This run's entry: its recipe, how much it trained and on what."""
    g, t = cfg.generator, cfg.train
    entry: dict[str, Any] = {
        "run": run,
        "phase": t.phase,
        "output": g.output,
        "hints": g.hints,
        "hint_recolour_share": t.hint_recolour_share if g.hints else None,
        "old_photo_share": t.old_photo_share,
        "gan_loss": t.gan_loss if t.phase == "gan" else None,
        "crop_min": t.crop_min,
        "ema": t.ema,
        "images": images,
        "hours": round(seconds / 3600, 3),
        "cpu_core_hours": round(cpu_seconds / 3600, 3),
    }
    entry.update(where)
    return entry


def combined(before: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    """`before` with one more stage."""
    return {
        "images_seen": int(before.get("images_seen", 0)) + entry["images"],
        "hours": round(float(before.get("hours", 0)) + entry["hours"], 3),
        "cpu_core_hours": round(
            float(before.get("cpu_core_hours", 0)) + entry["cpu_core_hours"], 3
        ),
        "stages": [*before.get("stages", []), entry],
    }
