"""Where photos come from: folders on disk (searched recursively) or members of a zip archive
(the MS-COCO image zips). A Candidate knows how to read its own bytes, so the rest of the
pipeline does not care which it is."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath

from kolorize.data.images import IMAGE_EXTENSIONS, is_image_path
from kolorize.errors import KolorizeError


@dataclass(frozen=True, order=True)
class Candidate:
    source: str  # short label of the folder or archive, e.g. "photos" or "coco/train2017"
    relpath: str  # POSIX path inside that source
    root: str  # absolute folder path, or the zip file path for archive members
    in_zip: bool = False

    def read_bytes(self) -> bytes:
        if self.in_zip:
            return _open_zip(self.root, os.getpid()).read(self.relpath)
        return (Path(self.root) / self.relpath).read_bytes()

    @property
    def display(self) -> str:
        return f"{self.source}/{self.relpath}"


@lru_cache(maxsize=4)
def _open_zip(path: str, pid: int) -> zipfile.ZipFile:
    # One handle per process and archive, reused for every member. Keyed by pid because a
    # forked worker must not share the parent's file offset.
    return zipfile.ZipFile(path)


def _unique_labels(paths: Sequence[Path]) -> list[str]:
    labels: list[str] = []
    for path in paths:
        base = path.name or "root"
        label, n = base, 2
        while label in labels:
            label, n = f"{base}-{n}", n + 1
        labels.append(label)
    return labels


def folder_candidates(folders: Sequence[str | Path]) -> list[Candidate]:
    """Every file with an image extension below the given folders (or the files themselves)."""
    roots = [Path(f).expanduser() for f in folders]
    for root in roots:
        if not root.exists():
            raise KolorizeError(f"no such file or folder: {root}")
    found: list[Candidate] = []
    for root, label in zip(roots, _unique_labels(roots), strict=True):
        if root.is_file():
            found.append(Candidate(label, root.name, str(root.parent.resolve())))
            continue
        for path in root.rglob("*"):
            if path.is_file() and is_image_path(path):
                rel = path.relative_to(root).as_posix()
                found.append(Candidate(label, rel, str(root.resolve())))
    return sorted(found)


def zip_candidates(zip_path: str | Path, label: str) -> list[Candidate]:
    """Image members of a zip archive, without extracting it."""
    try:
        names = _open_zip(str(zip_path), os.getpid()).namelist()
    except (zipfile.BadZipFile, OSError) as e:
        raise KolorizeError(f"cannot read archive {zip_path}: {e}") from None
    members = [
        n
        for n in names
        if not n.endswith("/") and PurePosixPath(n).suffix.lower() in IMAGE_EXTENSIONS
    ]
    return sorted(Candidate(label, n, str(Path(zip_path).resolve()), in_zip=True) for n in members)


def describe_sources(candidates: Iterable[Candidate]) -> list[dict[str, str]]:
    seen: dict[str, str] = {}
    for c in candidates:
        seen.setdefault(c.source, c.root)
    return [{"name": k, "path": v} for k, v in seen.items()]
