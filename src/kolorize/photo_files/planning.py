"""Which photos `kolorize colorize` reads and where each one goes: the inputs found (files,
folders searched recursively, glob patterns), a `PhotoJob` each, and plans that would overwrite
an input or write two photos to one file refused before any work starts."""

from __future__ import annotations

import glob
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from kolorize.data.images import (
    IMAGE_EXTENSIONS,
    is_image_path,
)
from kolorize.errors import KolorizeError
from kolorize.photo_files.saving import FORMATS

_SUFFIX_FORMAT = {
    ".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp", ".tif": "tiff",
    ".tiff": "tiff",
}  # fmt: skip


_GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class PhotoJob:
    """One photo of `kolorize colorize`: read from `source`, written to `target` as `fmt`."""

    source: Path
    target: Path
    fmt: str  # a key of FORMATS


class SourceAndTarget(Protocol):
    """A photo's or a video's job: what is read and what is written."""

    source: Path
    target: Path


def format_name(name: str) -> str:
    """'PNG', 'jpg', 'jpeg', 'webp', 'tif', 'auto' -> a key of FORMATS, or 'auto'."""
    key = name.lower().removeprefix(".")
    key = {"jpg": "jpeg", "tif": "tiff"}.get(key, key)
    if key != "auto" and key not in FORMATS:
        raise KolorizeError(f"--format must be auto, png, jpg, webp or tiff; got {name!r}")
    return key


def find_inputs(
    inputs: Sequence[str],
    skip_under: Path | None = None,
    accept: Callable[[Path], bool] = is_image_path,
) -> list[tuple[Path, Path]]:
    """(photo file, its path relative to the output folder), in a stable order. `accept` says
    which files in folders and glob matches count (photos by default).

    Folders give every image file below them (relative paths keep their layout); files and
    glob matches give themselves. Files under `skip_under` (the output folder, when it lies
    strictly inside an input folder) are left out, so a second run does not colorize its own
    outputs.
    """
    found: list[tuple[Path, Path]] = []
    skip = skip_under.resolve() if skip_under is not None else None
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found += _folder(path, skip, accept)
        elif path.is_file():
            found.append((path, Path(path.name)))
        elif _GLOB_CHARS & set(item):
            matches = sorted(glob.glob(item, recursive=True))
            if not matches:
                raise KolorizeError(f"no files match {item}")
            for match in map(Path, matches):
                if match.is_dir():
                    found += _folder(match, skip, accept)
                elif accept(match):
                    found.append((match, Path(match.name)))
        else:
            raise KolorizeError(f"no such file or folder: {item}")
    unique = {p.resolve(): (p, rel) for p, rel in found}
    if not unique:
        raise KolorizeError("no image files found in " + ", ".join(inputs))
    return list(unique.values())


def _folder(
    folder: Path, skip: Path | None, accept: Callable[[Path], bool]
) -> list[tuple[Path, Path]]:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and accept(p))
    if skip is not None and skip != folder.resolve():
        files = [p for p in files if not p.resolve().is_relative_to(skip)]
    return [(p, p.relative_to(folder)) for p in files]


def plan(
    inputs: Sequence[tuple[Path, Path]], out: Path, fmt: str = "auto", *, folder: bool = False
) -> list[PhotoJob]:
    """Where each photo goes. `out` is a file (one photo, named with an image suffix) or a
    folder (also when `folder` says so: `-o out/old.png/`). Refuses plans that would overwrite
    an input or write two photos to one file."""
    if names_a_file(out, has_image_suffix, folder):
        return [_single_file_job(inputs, out, fmt)]
    if out.exists() and not out.is_dir():
        raise KolorizeError(f"-o {out} is a file, not a folder (name an image file or a folder)")
    jobs = []
    for source, rel in inputs:
        key = _SUFFIX_FORMAT.get(source.suffix.lower(), "png") if fmt == "auto" else fmt
        jobs.append(PhotoJob(source, out / rel.with_suffix(FORMATS[key][1]), key))
    jobs = _disambiguate(jobs)
    refuse_overwriting_inputs(jobs)
    return jobs


def names_a_file(out: Path, kind: Callable[[Path], bool], folder: bool = False) -> bool:
    """Whether `-o out` names one output file of a `kind` rather than a folder."""
    return not folder and kind(out) and not out.is_dir()


def has_image_suffix(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def _single_file_job(inputs: Sequence[tuple[Path, Path]], out: Path, fmt: str) -> PhotoJob:
    if len(inputs) != 1:
        raise KolorizeError(
            f"-o {out} names one file but {len(inputs)} photos were given; give a folder"
        )
    key = _SUFFIX_FORMAT.get(out.suffix.lower())
    if key is None:
        raise KolorizeError(f"can write .png, .jpg, .webp or .tif files, not {out.suffix}")
    if fmt not in ("auto", key):
        raise KolorizeError(f"--format {fmt} does not match the output file {out.name}")
    job = PhotoJob(inputs[0][0], out, key)
    refuse_overwriting_inputs([job])
    return job


def _disambiguate(jobs: list[PhotoJob]) -> list[PhotoJob]:
    """`a.jpg` and `a.png` in one folder would both become `a.png`: name those after their
    whole input name instead (`a.jpg.png`, `a.png.png`)."""
    count: dict[Path, int] = {}
    for job in jobs:
        count[job.target] = count.get(job.target, 0) + 1
    renamed = [
        PhotoJob(j.source, j.target.with_name(j.source.name + j.target.suffix), j.fmt)
        if count[j.target] > 1
        else j
        for j in jobs
    ]
    seen: dict[Path, Path] = {}
    for job in renamed:
        if job.target in seen:
            raise KolorizeError(
                f"{seen[job.target]} and {job.source} would both be written to {job.target}; "
                "colorize them separately"
            )
        seen[job.target] = job.source
    return renamed


def refuse_overwriting_inputs(jobs: Sequence[SourceAndTarget], noun: str = "photo") -> None:
    """Refuse a plan in which some job's target is another's (or its own) source."""
    sources = {j.source.resolve() for j in jobs}
    for job in jobs:
        if job.target.resolve() in sources:
            raise KolorizeError(
                f"writing {job.target} would overwrite an input {noun}; choose another -o"
            )
