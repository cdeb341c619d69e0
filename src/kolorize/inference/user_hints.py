"""The user's colour hints: "this point of the photo was this colour".

A `Hint` is a point in the photo's own pixels (upright, as it is shown), a colour any way
Pillow's ImageColor reads it ("#2f5aa8", "red", "rgb(200,40,40)", "hsl(...)") or an (r, g, b)
tuple, and a radius in photo pixels (by default 2 % of the photo's shorter side, about 5
model pixels at 128 px). Only the colour's hue and saturation are used: its ab in Lab; the
photo keeps its own lightness. For the model, each hint becomes a square patch at the model's
size (coordinates mapped, the patch scaled with the photo) carrying that ab
(`kolorize.hints.hint_channels`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import ImageColor

from kolorize.color import normalize_ab, rgb_to_lab
from kolorize.errors import KolorizeError
from kolorize.hints import hint_channels

DEFAULT_RADIUS_SHARE = 0.02  # of the photo's shorter side


class HintError(KolorizeError):
    """A hint that cannot be used: outside the photo, a colour that does not parse, ..."""


@dataclass(frozen=True)
class Hint:
    x: float
    y: float
    color: str | tuple[int, int, int]
    radius: float | None = None

    def rgb(self) -> tuple[int, int, int]:
        if isinstance(self.color, str):
            try:
                return ImageColor.getrgb(self.color)[:3]  # type: ignore[return-value]
            except ValueError:
                raise HintError(
                    f"hint at {self.x:g},{self.y:g}: unknown colour {self.color!r}"
                ) from None
        rgb = tuple(self.color)
        if len(rgb) != 3 or not all(isinstance(v, int) and 0 <= v <= 255 for v in rgb):
            raise HintError(f"hint at {self.x:g},{self.y:g}: a colour is 3 numbers 0-255")
        return rgb  # type: ignore[return-value]

    def ab(self) -> tuple[float, float]:
        """The colour's a, b in the model's units."""
        rgb = torch.tensor(self.rgb(), dtype=torch.float64).reshape(3, 1, 1) / 255
        ab = normalize_ab(rgb_to_lab(rgb)[1:, 0, 0])
        return float(ab[0]), float(ab[1])


def parse_hint(text: str) -> Hint:
    """'412,230=#2f5aa8' (x,y=colour) -> a Hint."""
    where, sep, colour = text.partition("=")
    parts = where.split(",")
    if not sep or len(parts) != 2 or not colour.strip():
        raise HintError(f"a hint is X,Y=COLOUR (e.g. 412,230=#2f5aa8), got {text!r}")
    try:
        x, y = (float(p) for p in parts)
    except ValueError:
        raise HintError(f"a hint's X,Y are numbers, got {where!r}") from None
    hint = Hint(x, y, colour.strip())
    hint.rgb()  # a colour that does not parse is refused now, not at colorizing time
    return hint


def load_hints(path: str | Path) -> list[Hint]:
    """A JSON file holding a list of {"x", "y", "color"} objects, each with an optional
    "radius" (what the web page's "hints" download writes)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise HintError(f"no such hints file: {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise HintError(f"{path} is not a JSON hints file: {e}") from None
    return hints_from_json(text, str(path))


def hints_from_json(text: str, where: str = "hints") -> list[Hint]:
    """A JSON list of {"x", "y", "color"} objects (with an optional "radius") -> Hints; `where`
    names the text's origin in the messages."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise HintError(f"{where} is not a JSON hints file: {e}") from None
    if not isinstance(data, list):
        raise HintError(f"{where}: the hints are a JSON list of {{x, y, color}} objects")
    return [hint_from_item(item, f"{where}: hint {i + 1}") for i, item in enumerate(data)]


def hint_from_item(item: Any, where: str) -> Hint:
    """One decoded JSON object {"x", "y", "color"[, "radius"]} -> a Hint whose colour parses."""
    if not isinstance(item, dict) or not {"x", "y", "color"} <= item.keys():
        raise HintError(f"{where} needs x, y and color")
    numbers = [item["x"], item["y"], item.get("radius", 1)]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in numbers):
        raise HintError(f"{where}: x, y and radius are numbers")
    if not all(math.isfinite(v) for v in numbers) or numbers[2] <= 0:
        raise HintError(f"{where}: x and y must be finite and radius positive")
    color = item["color"]
    if isinstance(color, list):
        color = tuple(color)
    elif not isinstance(color, str):
        raise HintError(f"{where}: a colour is a name, #rrggbb or [r, g, b]")
    hint = Hint(float(item["x"]), float(item["y"]), color, item.get("radius"))
    hint.rgb()
    return hint


def first_outside(hints: Sequence[Hint], width: int, height: int) -> int | None:
    """The index of the first hint that lies outside a width x height photo, or None."""
    for i, h in enumerate(hints):
        if not (0 <= h.x < width and 0 <= h.y < height):
            return i
    return None


def check_inside(hints: Sequence[Hint], width: int, height: int) -> None:
    i = first_outside(hints, width, height)
    if i is not None:
        h = hints[i]
        raise HintError(f"hint at {h.x:g},{h.y:g} is outside the photo ({width}x{height} pixels)")


def model_hint_channels(hints: Sequence[Hint], width: int, height: int, side: int) -> np.ndarray:
    """(1, 3, side, side) float32 hint channels for a width x height photo shown to the model
    stretched to side x side: each hint a square patch around its point, at least 1 pixel."""
    check_inside(hints, width, height)
    if not hints:
        return np.zeros((1, 3, side, side), np.float32)
    patches, colours = [], []
    for h in hints:
        radius = h.radius if h.radius is not None else DEFAULT_RADIUS_SHARE * min(width, height)
        # the patch's side in model pixels: the radius scaled as the photo is, on average
        scale = side / math.sqrt(width * height)
        size = max(1, round(2 * radius * scale))
        cx, cy = h.x * side / width, h.y * side / height
        top = min(max(0, round(cy - size / 2)), side - size)
        left = min(max(0, round(cx - size / 2)), side - size)
        patches.append((top, left, min(size, side)))
        colours.append(h.ab())
    channels = hint_channels(
        torch.tensor([patches]), torch.tensor([colours], dtype=torch.float32), side, side
    )
    return channels.numpy()
