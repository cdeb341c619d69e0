"""`kolorize colorize` for photos: photos on disk -> colorized photos on disk (`video.files`
does the videos among the inputs).

Inputs are files, folders (searched recursively) and glob patterns. Each photo is written once,
atomically, under the output folder (keeping a folder's sub-folder layout) or to the one output
file named. A photo that cannot be read, colorized or written, whatever the reason, is reported
by name and counted; the rest are done. Ctrl+C stops after the photos already written and
still reports. Nothing ever overwrites an input: such a plan is refused before any work starts.
A 16-bit photo written as PNG or TIFF stays 16-bit (its L at 16 bits); JPEG and WebP hold 8.
"""

from __future__ import annotations

import glob
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
from PIL import Image

from kolorize.data.images import (
    IMAGE_EXTENSIONS,
    LoadedImage,
    is_grayscale,
    is_image_path,
    load_rgb,
    to_8bit,
)
from kolorize.errors import KolorizeError, describe_os_error
from kolorize.progress import progress
from kolorize.rundir import atomic_write
from kolorize.write16 import write_png16, write_tiff16

if TYPE_CHECKING:
    from kolorize.video.files import VideoJob

# name -> (Pillow format, file suffix)
FORMATS = {
    "png": ("PNG", ".png"),
    "jpeg": ("JPEG", ".jpg"),
    "webp": ("WEBP", ".webp"),
    "tiff": ("TIFF", ".tif"),
}
_SUFFIX_FORMAT = {
    ".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp", ".tif": "tiff",
    ".tiff": "tiff",
}  # fmt: skip
# The formats that hold 16 bits a channel, and what writes them (Pillow cannot)
SIXTEEN_BIT = {"png": write_png16, "tiff": write_tiff16}
_OPTIONS: dict[str, dict[str, object]] = {"png": {}, "tiff": {"compression": "tiff_adobe_deflate"}}
_GLOB_CHARS = set("*?[")

# The largest side each format can store (PNG's limit is far beyond any photo).
MAX_SIDE = {"jpeg": 65_500, "webp": 16_383}

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class Job:
    source: Path
    target: Path
    fmt: str  # a key of FORMATS


@dataclass
class Report:
    done: list[Job | VideoJob] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    interrupted: bool = False

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return EXIT_INTERRUPTED
        return EXIT_SOME_FAILED if self.failed else EXIT_OK


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
) -> list[Job]:
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
        jobs.append(Job(source, out / rel.with_suffix(FORMATS[key][1]), key))
    jobs = _disambiguate(jobs)
    refuse_overwriting_inputs(jobs)
    return jobs


def names_a_file(out: Path, kind: Callable[[Path], bool], folder: bool = False) -> bool:
    """Whether `-o out` names one output file of a `kind` rather than a folder."""
    return not folder and kind(out) and not out.is_dir()


def has_image_suffix(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def _single_file_job(inputs: Sequence[tuple[Path, Path]], out: Path, fmt: str) -> Job:
    if len(inputs) != 1:
        raise KolorizeError(
            f"-o {out} names one file but {len(inputs)} photos were given; give a folder"
        )
    key = _SUFFIX_FORMAT.get(out.suffix.lower())
    if key is None:
        raise KolorizeError(f"can write .png, .jpg, .webp or .tif files, not {out.suffix}")
    if fmt not in ("auto", key):
        raise KolorizeError(f"--format {fmt} does not match the output file {out.name}")
    job = Job(inputs[0][0], out, key)
    refuse_overwriting_inputs([job])
    return job


def _disambiguate(jobs: list[Job]) -> list[Job]:
    """`a.jpg` and `a.png` in one folder would both become `a.png`: name those after their
    whole input name instead (`a.jpg.png`, `a.png.png`)."""
    count: dict[Path, int] = {}
    for job in jobs:
        count[job.target] = count.get(job.target, 0) + 1
    renamed = [
        Job(j.source, j.target.with_name(j.source.name + j.target.suffix), j.fmt)
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


def refuse_overwriting_inputs(jobs: Sequence[Job | VideoJob], noun: str = "photo") -> None:
    """Refuse a plan in which some job's target is another's (or its own) source."""
    sources = {j.source.resolve() for j in jobs}
    for job in jobs:
        if job.target.resolve() in sources:
            raise KolorizeError(
                f"writing {job.target} would overwrite an input {noun}; choose another -o"
            )


def check_fits_format(size: tuple[int, int], fmt: str) -> None:
    """Raise ValueError, in words, when an image is too big for the format (WebP: 16383 px)."""
    limit = MAX_SIDE.get(fmt)
    if limit is not None and max(size) > limit:
        raise ValueError(
            f"{fmt.upper()} stores at most {limit} px a side and this photo is "
            f"{size[0]}x{size[1]}; choose PNG"
        )


Picture = Image.Image | np.ndarray  # a PIL image, or (H, W, 3) uint8 or uint16 pixels


def _size(image: Picture) -> tuple[int, int]:
    return image.size if isinstance(image, Image.Image) else (image.shape[1], image.shape[0])


def save_image(image: Picture, fp: Path | BinaryIO, fmt: str, quality: int = 95) -> None:
    """Save `image` as `fmt` (a key of FORMATS) to a file or buffer; `quality` for the lossy
    formats. 16-bit pixels stay 16-bit in PNG and TIFF and become 8-bit in the others.
    Raises ValueError, in words, when the image is too big for the format."""
    check_fits_format(_size(image), fmt)
    if isinstance(image, np.ndarray) and image.dtype == np.uint16 and fmt in SIXTEEN_BIT:
        if isinstance(fp, Path):
            with open(fp, "wb") as f:
                SIXTEEN_BIT[fmt](image, f)
        else:
            SIXTEEN_BIT[fmt](image, fp)
        return
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image if image.dtype == np.uint8 else to_8bit(image))
    pil_format, _ = FORMATS[fmt]
    image.save(fp, format=pil_format, **_OPTIONS.get(fmt, {"quality": quality}))


def save_atomic(image: Picture, path: Path, fmt: str, quality: int = 95) -> None:
    """Write through a temporary file and a rename, so `path` is never half-written."""
    check_fits_format(_size(image), fmt)  # before atomic_write makes the folder: none left empty
    with atomic_write(path) as tmp:
        save_image(image, tmp, fmt, quality)


def describe_failure(e: BaseException) -> str:
    """One line for why one photo failed, whatever raised."""
    if isinstance(e, OSError):
        return describe_os_error(e)
    return str(e) or type(e).__name__


def _load_all(batch: Sequence[Job]) -> list[LoadedImage | Exception]:
    """Each job's photo, or the reason it cannot be read (reported, not raised)."""
    out: list[LoadedImage | Exception] = []
    for job in batch:
        try:
            out.append(load_rgb(job.source, min_side=1, keep_16bit=job.fmt in SIXTEEN_BIT))
        except Exception as e:  # one photo's problem, whatever it is, is not the batch's
            out.append(e)
    return out


def pixels_of(loaded: LoadedImage) -> np.ndarray:
    """The pixels to colorize: a 16-bit file's own when it kept them, else its 8-bit RGB."""
    return loaded.deep if loaded.deep is not None else np.asarray(loaded.image)


def _colorize_each(
    colorizer, pixels: list[np.ndarray], hints: Sequence = ()
) -> list[np.ndarray | Exception]:
    """The batch in one model call; if that fails, photo by photo, so one bad photo costs only
    itself. `hints` go with every photo of the batch (there is one when there are hints)."""
    per_photo = [hints] * len(pixels)
    try:
        return colorizer.colorize_pixels(pixels, hints=per_photo)
    except Exception:
        pass
    out: list[np.ndarray | Exception] = []
    for one in pixels:
        try:
            out += colorizer.colorize_pixels([one], hints=[hints])
        except Exception as e:
            out.append(e)
    return out


def colorize_photos(
    colorizer,  # kolorize.inference.colorizer.Colorizer (untyped: keeps torch out of this import)
    jobs: Sequence[Job],
    *,
    compare: bool = False,
    quality: int = 95,
    hints: Sequence = (),  # kolorize.inference.user_hints.Hint, for a single job
    log: Callable[[str], None] = print,
) -> Report:
    """Colorize every job's photo, a model batch at a time, decoding the next batch in a
    background thread. `compare` writes gray (or the colour original) | colorized. `hints`
    (the user's known colours) apply to one photo, so they come with a single job; a hint that
    does not fit its photo raises HintError before anything is written."""
    from kolorize.inference.colorizer import grayscale, side_by_side

    if hints and len(jobs) != 1:
        raise ValueError(f"hints are for one photo, not {len(jobs)}")
    report = Report()
    size = colorizer.batch_size
    batches = [jobs[i : i + size] for i in range(0, len(jobs), size)]
    bar = progress(total=len(jobs), unit="photo", desc="colorizing", enabled=len(jobs) > 1)

    def fail(job: Job, what: str, e: BaseException) -> None:
        report.failed.append((job.source, f"{what}{describe_failure(e)}"))
        log(f"{'skipped' if not what else 'failed'} {job.source}: {what}{describe_failure(e)}")

    with ThreadPoolExecutor(max_workers=1) as pool, bar:
        pending = pool.submit(_load_all, batches[0]) if batches else None
        try:
            for k, batch in enumerate(batches):
                loaded = pending.result()  # type: ignore[union-attr]
                if k + 1 < len(batches):
                    pending = pool.submit(_load_all, batches[k + 1])
                good = [(j, img) for j, img in zip(batch, loaded, strict=True) if _ok(img)]
                for job, err in zip(batch, loaded, strict=True):
                    if not _ok(err):
                        fail(job, "", err)  # type: ignore[arg-type]
                for _, img in good:  # the user's mistake, not the photo's: raised, not counted
                    colorizer.check_hints(hints, img.image.size)
                colour = _colorize_each(colorizer, [pixels_of(img) for _, img in good], hints)
                for (job, img), result in zip(good, colour, strict=True):
                    try:
                        if isinstance(result, Exception):
                            raise result
                        if compare:
                            # a gray photo is shown as it is: grayscale() would give it back
                            as_is = img.source_is_gray or _is_colour(img)
                            left = pixels_of(img) if as_is else grayscale(pixels_of(img))
                            result = side_by_side(left, result)
                    except Exception as e:
                        fail(job, "cannot colorize: ", e)
                        continue
                    try:
                        save_atomic(result, job.target, job.fmt, quality)
                    except Exception as e:
                        fail(job, f"cannot write {job.target}: ", e)
                        continue
                    report.done.append(job)
                    if img.frames > 1:
                        log(f"note: {job.source}: {first_frame_only(img.frames)}")
                bar.update(len(batch))
        except KeyboardInterrupt:
            report.interrupted = True  # what is written stays written; the caller reports
    return report


def first_frame_only(frames: int) -> str:
    """What was done with an animation or a multi-page file."""
    return f"it holds {frames} frames (an animation or pages): only the first was colorized"


def _ok(item: object) -> bool:
    return isinstance(item, LoadedImage)


def _is_colour(loaded: LoadedImage) -> bool:
    if loaded.source_is_gray:
        return False
    small = loaded.image.copy()
    small.thumbnail((256, 256))
    return not is_grayscale(np.asarray(small))


__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_SOME_FAILED",
    "FORMATS",
    "SIXTEEN_BIT",
    "Job",
    "Report",
    "check_fits_format",
    "colorize_photos",
    "find_inputs",
    "first_frame_only",
    "format_name",
    "has_image_suffix",
    "names_a_file",
    "pixels_of",
    "plan",
    "refuse_overwriting_inputs",
    "save_atomic",
    "save_image",
]
