"""The batch loop of `kolorize colorize`: photos decoded a batch ahead, colorized a model batch
at a time, each written once; a photo that fails is named and counted (`Outcome`), and
Ctrl+C stops after the photos already written."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kolorize.data.images import (
    LoadedImage,
    is_grayscale,
    load_rgb,
)
from kolorize.errors import describe_os_error
from kolorize.inference.protocol import PhotoColorizer
from kolorize.photo_files.planning import PhotoJob, SourceAndTarget
from kolorize.photo_files.saving import SIXTEEN_BIT, save_atomic
from kolorize.progress import progress

if TYPE_CHECKING:
    from kolorize.inference.user_hints import Hint

EXIT_OK = 0


EXIT_SOME_FAILED = 1


EXIT_INTERRUPTED = 130


@dataclass
class Outcome:
    """What a `kolorize colorize` run did: the jobs done, the photos that failed and why, and
    whether Ctrl+C stopped it; `exit_code` says it to the shell."""

    done: list[SourceAndTarget] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    interrupted: bool = False

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return EXIT_INTERRUPTED
        return EXIT_SOME_FAILED if self.failed else EXIT_OK


def describe_failure(e: BaseException) -> str:
    """One line for why one photo failed, whatever raised."""
    if isinstance(e, OSError):
        return describe_os_error(e)
    return str(e) or type(e).__name__


def _load_all(batch: Sequence[PhotoJob]) -> list[LoadedImage | Exception]:
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


def _hints_for(hints: Sequence[Hint], photos: int) -> dict[str, list[Sequence[Hint]]]:
    """The hints keyword for a call on `photos` photos: none at all without hints, so a
    colorizer without hint inputs is called as it always was."""
    return {"hints": [hints] * photos} if hints else {}


def _colorize_each(
    colorizer: PhotoColorizer, pixels: list[np.ndarray], hints: Sequence[Hint] = ()
) -> list[np.ndarray | Exception]:
    """The batch in one model call; if that fails, photo by photo, so one bad photo costs only
    itself. `hints` go with every photo of the batch (there is one when there are hints)."""
    try:
        return colorizer.colorize_pixels(pixels, **_hints_for(hints, len(pixels)))
    except Exception:
        pass
    out: list[np.ndarray | Exception] = []
    for one in pixels:
        try:
            out += colorizer.colorize_pixels([one], **_hints_for(hints, 1))
        except Exception as e:
            out.append(e)
    return out


def colorize_photos(
    colorizer: PhotoColorizer,
    jobs: Sequence[PhotoJob],
    *,
    compare: bool = False,
    quality: int = 95,
    hints: Sequence[Hint] = (),
    log: Callable[[str], None] = print,
) -> Outcome:
    """Colorize every job's photo, a model batch at a time, decoding the next batch in a
    background thread. `compare` writes gray (or the colour original) | colorized. `hints`
    (the user's known colours) apply to one photo, so they come with a single job; a hint that
    does not fit its photo raises HintError before anything is written."""
    # torch (through recombine) loads once photos are colorized, keeping this import light
    from kolorize.inference.pictures import grayscale, side_by_side

    if hints and len(jobs) != 1:
        raise ValueError(f"hints are for one photo, not {len(jobs)}")
    outcome = Outcome()
    size = colorizer.batch_size
    batches = [jobs[i : i + size] for i in range(0, len(jobs), size)]
    bar = progress(total=len(jobs), unit="photo", desc="colorizing", enabled=len(jobs) > 1)

    def fail(job: PhotoJob, what: str, e: BaseException) -> None:
        outcome.failed.append((job.source, f"{what}{describe_failure(e)}"))
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
                for _, img in good if hints else ():  # the user's mistake: raised, not counted
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
                    outcome.done.append(job)
                    if img.frames > 1:
                        log(f"note: {job.source}: {first_frame_only(img.frames)}")
                bar.update(len(batch))
        except KeyboardInterrupt:
            outcome.interrupted = True  # what is written stays written; the caller reports
    return outcome


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
