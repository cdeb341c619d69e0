"""The prepared dataset on disk: resized uint8 RGB images in one flat file that is memory-mapped,
plus the manifest (which photo is which row, its hash and split), the skipped-files report and
a summary. Validation images come first, so the validation set stays the same when the subset
grows.

    DIR/info.json      summary: size, counts, seed, sources, skipped reasons, the training
                       photos' mean ab (`mean_ab`, see colours.py)
    DIR/images.u8      uint8, shape (count, size, size, 3), row-major
    DIR/manifest.csv   index, split, source, path, sha256, width, height, conversions
    DIR/skipped.csv    source, path, reason, detail
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from kolorize.atomic import atomic_folder
from kolorize.errors import KolorizeError

FORMAT = "kolorize-cache/1"
INFO, IMAGES, MANIFEST, SKIPPED = "info.json", "images.u8", "manifest.csv", "skipped.csv"
MANIFEST_FIELDS = ["index", "split", "source", "path", "sha256", "width", "height", "conversions"]
SKIPPED_FIELDS = ["source", "path", "reason", "detail"]
_COUNTS = ("size", "train", "val")  # the info.json fields the read side relies on


@dataclass
class ManifestRow:
    index: int
    split: str
    source: str
    path: str
    sha256: str
    width: int
    height: int
    conversions: str


class CacheWriter:
    """Streams images into an empty folder; `write_index` adds the manifest and summary."""

    def __init__(self, folder: Path, size: int) -> None:
        self.folder = folder
        self.size = size
        self._images: IO[bytes] = open(folder / IMAGES, "wb")  # noqa: SIM115
        self.rows: list[ManifestRow] = []
        self.skipped: list[dict[str, str]] = []

    def add(self, rgb: np.ndarray, row: ManifestRow) -> None:
        assert rgb.shape == (self.size, self.size, 3) and rgb.dtype == np.uint8
        self._images.write(np.ascontiguousarray(rgb).tobytes())
        self.rows.append(row)

    def skip(self, source: str, path: str, reason: str, detail: str = "") -> None:
        self.skipped.append({"source": source, "path": path, "reason": reason, "detail": detail})

    def close(self) -> None:
        self._images.close()

    def written(self) -> np.ndarray:
        """The images added so far, (count, size, size, 3) memory-mapped; ends the writing."""
        self.close()
        shape = (len(self.rows), self.size, self.size, 3)
        return np.memmap(self.folder / IMAGES, dtype=np.uint8, mode="r", shape=shape)

    def write_index(self, info: dict[str, Any]) -> None:
        with open(self.folder / MANIFEST, "w", newline="") as f:
            writer = csv.DictWriter(f, MANIFEST_FIELDS)
            writer.writeheader()
            writer.writerows(vars(r) for r in self.rows)
        with open(self.folder / SKIPPED, "w", newline="") as f:
            writer = csv.DictWriter(f, SKIPPED_FIELDS)
            writer.writeheader()
            writer.writerows(self.skipped)
        info = {"format": FORMAT, "size": self.size, **info}
        (self.folder / INFO).write_text(json.dumps(info, indent=2) + "\n")


@contextmanager
def cache_writer(out: Path, size: int) -> Iterator[CacheWriter]:
    """A writer whose folder replaces `out` when the block ends without an error, so an
    interrupted run never leaves a half-written cache where a finished one belongs."""
    with atomic_folder(out) as folder:
        writer = CacheWriter(folder, size)
        try:
            yield writer
        finally:
            writer.close()


def read_info(root: str | Path) -> dict[str, Any]:
    path = Path(root) / INFO
    if not path.is_file():
        raise KolorizeError(
            f"{root} is not a prepared dataset (no {INFO}); run 'kolorize data prepare' first"
        )
    try:
        info = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise KolorizeError(f"{path} is damaged ({e}); prepare the data again") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        found = info.get("format") if isinstance(info, dict) else None
        raise KolorizeError(f"{root}: unknown cache format {found!r}")
    bad = [k for k in _COUNTS if not (isinstance(info.get(k), int) and info[k] >= 0)]
    if bad or info["size"] < 1:
        raise KolorizeError(
            f"{path} is damaged (no valid {', '.join(bad) or 'size'}); prepare the data again"
        )
    return info


def manifest_digest(root: str | Path) -> str:
    """SHA-256 of a dataset's manifest: which photos, in which rows and splits."""
    try:
        return hashlib.sha256((Path(root) / MANIFEST).read_bytes()).hexdigest()
    except FileNotFoundError:
        raise KolorizeError(f"{root} has no {MANIFEST}; prepare the data again") from None


class ImageCache:
    """Read side: memory-maps the images; train and val are contiguous row ranges."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.info = read_info(self.root)
        self.size: int = int(self.info["size"])
        self.n_val: int = int(self.info["val"])
        self.n_train: int = int(self.info["train"])
        count = self.n_val + self.n_train
        expected = count * self.size * self.size * 3
        path = self.root / IMAGES
        if not path.is_file() or path.stat().st_size != expected:
            raise KolorizeError(f"{path} is missing or has the wrong size; prepare the data again")
        self.images = np.memmap(
            path, dtype=np.uint8, mode="r", shape=(count, self.size, self.size, 3)
        )

    def split(self, name: str) -> np.ndarray:
        """The (n, size, size, 3) uint8 rows of 'train' or 'val' (a memory-mapped view)."""
        if name == "val":
            return self.images[: self.n_val]
        if name == "train":
            return self.images[self.n_val :]
        raise ValueError(f"unknown split {name!r}")

    def mean_ab(self) -> tuple[float, float]:
        """The training split's mean (a, b) in Lab units, as `kolorize data prepare` recorded
        it; a dataset prepared before it did gets the same computation (colours.py) here."""
        recorded = self.info.get("mean_ab")
        if recorded is None:
            # torch only when needed: reading a dataset stays light
            from kolorize.data.colours import train_mean_ab

            return train_mean_ab(self.split("train"))
        if not _is_ab(recorded):
            raise KolorizeError(
                f"{self.root / INFO} is damaged (mean_ab {recorded!r}); prepare the data again"
            )
        return float(recorded[0]), float(recorded[1])

    def manifest(self) -> list[dict[str, str]]:
        with open(self.root / MANIFEST, newline="") as f:
            return list(csv.DictReader(f))


def _is_ab(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int | float) and math.isfinite(v) for v in value)
    )
