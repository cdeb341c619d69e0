"""The config files that ship inside the package (`kolorize/configs/`), found by name from any
folder: `kolorize study study_quick ...` and `kolorize train colorizer ...` work outside a
checkout, and `kolorize configs` lists them.

A path that exists is always taken as it is; only a name that is not a file here is looked up
among the bundled ones, bare (`study_quick`, `study_quick.yaml`) or as the README and the
checkout write it (`configs/study_quick.yaml`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from kolorize.errors import KolorizeError

BUNDLED = Path(__file__).resolve().parent / "configs"
_SUFFIXES = ("", ".yaml", ".yml")
_SENTENCE_END = re.compile(r"(?<!\.)\.(\s|$)")


@dataclass(frozen=True)
class BundledConfig:
    name: str
    kind: str  # "study" (a chain of runs) or "run" (one model)
    summary: str  # the first sentence of the file's leading comment
    path: Path


def find_config(given: str | Path) -> Path:
    """`given` if it is a file, else the bundled config it names; one line when neither."""
    path = Path(given)
    if path.is_file():
        return path
    if path.parent in (Path(), Path("configs")) and path.suffix in _SUFFIXES:
        bundled = BUNDLED / f"{path.stem}.yaml"
        if bundled.is_file():
            return bundled
    raise KolorizeError(
        f"no such config file: {given} (nor a bundled config of that name: "
        "'kolorize configs' lists them)"
    )


def bundled_configs() -> list[BundledConfig]:
    """Every bundled config, studies first, then runs, each by name."""
    found = [_describe(p) for p in sorted(BUNDLED.glob("*.yaml"))]
    return sorted(found, key=lambda c: (c.kind != "study", c.name))


def _describe(path: Path) -> BundledConfig:
    text = path.read_text()
    data = yaml.safe_load(text) or {}
    kind = "study" if isinstance(data, dict) and "runs" in data else "run"
    return BundledConfig(path.stem, kind, _first_sentence(text), path)


def _first_sentence(text: str) -> str:
    """The leading comment block's first sentence, on one line."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    words = " ".join(lines)
    end = _SENTENCE_END.search(words)  # a full stop, not an ellipsis
    return words[: end.start() + 1] if end else words


__all__ = ["BUNDLED", "BundledConfig", "bundled_configs", "find_config"]
