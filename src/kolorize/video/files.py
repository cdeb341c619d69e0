"""`kolorize colorize` for the videos among its inputs: where each goes, and running them.

A video keeps its container (film.mp4 -> OUT/film.mp4, a folder's layout kept), or goes to the
one video file `-o` names. A video that cannot be read or written is named and skipped, the
rest are done, as for photos. Nothing ever overwrites an input.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from kolorize.data.images import is_image_path
from kolorize.errors import KolorizeError
from kolorize.inference.protocol import PhotoColorizer
from kolorize.photo_files import (
    Outcome,
    PhotoJob,
    has_image_suffix,
    names_a_file,
    plan,
    refuse_overwriting_inputs,
)
from kolorize.video.transcode import VideoError, colorize_video, is_video_path, require_av


@dataclass(frozen=True)
class VideoJob:
    source: Path
    target: Path


def is_photo_or_video(path: Path) -> bool:
    return is_image_path(path) or is_video_path(path)


def plan_media(
    found: Sequence[tuple[Path, Path]], out: Path, fmt: str, *, folder: bool = False
) -> tuple[list[PhotoJob], list[VideoJob]]:
    """`plan` for the photos among `find_inputs`' results, `plan_videos` for the videos;
    `folder`: `out` is a folder whatever its name."""
    videos = [item for item in found if is_video_path(item[0])]
    photos = [item for item in found if not is_video_path(item[0])]
    if photos and names_a_file(out, is_video_path, folder):
        raise KolorizeError(f"-o {out} names a video file, but photos were given")
    return (
        plan(photos, out, fmt, folder=folder) if photos else [],
        plan_videos(videos, out, folder=folder),
    )


def plan_videos(
    videos: Sequence[tuple[Path, Path]], out: Path, *, folder: bool = False
) -> list[VideoJob]:
    """Where each video goes: `out` is one video file or a folder."""
    if not videos:
        return []
    require_av()  # before any photo is done, not after
    if names_a_file(out, is_video_path, folder):
        if len(videos) != 1:  # photos with it: plan_media has refused already
            raise KolorizeError(
                f"-o {out} names one video file but {len(videos)} files were given; give a folder"
            )
        jobs = [VideoJob(videos[0][0], out)]
    elif names_a_file(out, has_image_suffix, folder):
        raise KolorizeError(f"-o {out} names a photo file, but videos were given; give a folder")
    else:
        jobs = [VideoJob(source, out / rel) for source, rel in videos]
    refuse_overwriting_inputs(jobs, "video")
    return jobs


def colorize_videos(
    colorizer: PhotoColorizer,
    jobs: Sequence[VideoJob],
    *,
    temporal: float,
    log: Callable[[str], None] = print,
) -> Outcome:
    """Colorize each video in turn; one that fails is reported by name and skipped."""
    outcome = Outcome()
    for job in jobs:
        try:
            result = colorize_video(colorizer, job.source, job.target, temporal=temporal, log=log)
        except VideoError as e:  # about the input: its reason; about the output: all of it
            reason = e.reason if e.path == job.source else str(e)
            outcome.failed.append((job.source, reason))
            log(f"skipped {job.source}: {reason}")
            continue
        outcome.done.append(job)
        log(
            f"{job.target}: {result.frames} frames in {result.seconds:.1f} s "
            f"({result.frames / max(result.seconds, 1e-9):.1f} frames/s, {result.codec}, "
            f"{result.cuts} scene cuts)"
        )
    return outcome


__all__ = [
    "VideoJob",
    "colorize_videos",
    "is_photo_or_video",
    "plan_media",
    "plan_videos",
]
