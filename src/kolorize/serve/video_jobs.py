"""Short clips on the web page: upload, follow the progress, fetch the coloured clip.

POST /api/video              multipart field `video` -> 202 {"id", "frames"}; the clip is
                             checked (type, bytes, duration, frame size) before any work
GET  /api/video/{id}         {"state": queued|running|done|failed, "done", "total", "detail"}
GET  /api/video/{id}/result  the coloured clip (same container as the upload, sound kept)

Clips are colorized one at a time in a background thread (a clip keeps the model busy for many
batches; photos still get their turn between batches, as the Colorizer serialises model calls).
Uploads and results live in a private temporary folder; a finished job is forgotten (and its
files deleted) `KEEP_SECONDS` after it ends, and at most `MAX_WAITING` clips wait at once.
"""

from __future__ import annotations

import atexit
import re
import secrets
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from fastapi import FastAPI, File, HTTPException, UploadFile
from fastapi.responses import FileResponse

from kolorize.atomic import private_temp_folder
from kolorize.inference.protocol import PhotoColorizer
from kolorize.serve.guard import UploadTooBig, safe_stem

if TYPE_CHECKING:
    from kolorize.video import VideoError

DEFAULT_MAX_VIDEO_SECONDS = 30.0
DEFAULT_MAX_VIDEO_PIXELS = 1920 * 1080
KEEP_SECONDS = 15 * 60
TEMP_PREFIX = "kolorize-video-"  # its folder of uploads and results, in the system's temp folder
MAX_WAITING = 4
# Containers browsers can play back (with the codecs they usually hold).
VIDEO_TYPES = {
    "video/mp4": (".mp4", ".m4v"),
    "video/webm": (".webm",),
    "video/quicktime": (".mov",),
}
_MEDIA_TYPE = {s: kind for kind, suffixes in VIDEO_TYPES.items() for s in suffixes}
_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


@dataclass
class ClipJob:
    """A film uploaded to the web page, colorized in the background and fetched when done."""

    folder: Path
    source: Path
    target: Path
    total: int
    state: str = "queued"
    done: int = 0
    detail: str = ""
    ended: float = 0.0


class VideoJobs:
    """The clips being colorized, by id."""

    def __init__(self, colorizer: PhotoColorizer) -> None:
        self.colorizer = colorizer
        self.jobs: dict[str, ClipJob] = {}
        self.lock = threading.Lock()
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kolorize-video")

    def submit(self, job_id: str, job: ClipJob) -> None:
        with self.lock:
            self._forget_old()
            waiting = sum(j.state in ("queued", "running") for j in self.jobs.values())
            if waiting >= MAX_WAITING:
                shutil.rmtree(job.folder, ignore_errors=True)
                raise HTTPException(503, "The server is busy with other clips; try again soon.")
            self.jobs[job_id] = job
        self.pool.submit(self._run, job)

    def get(self, job_id: str) -> ClipJob:
        with self.lock:
            job = self.jobs.get(job_id) if _ID.match(job_id) else None
        if job is None:
            raise HTTPException(404, "No such clip (finished clips are kept for 15 minutes).")
        return job

    def _run(self, job: ClipJob) -> None:
        # here: the page loads without the video extra (PyAV), which only a clip needs
        from kolorize.video import VideoError, colorize_video

        job.state = "running"

        def progress(done: int, total: int) -> None:
            job.done, job.total = done, total

        try:
            result = colorize_video(
                self.colorizer,
                job.source,
                job.target,
                log=lambda _: None,
                show_progress=False,
                on_progress=progress,
            )
            job.done = job.total = result.frames
            job.state = "done"
        except VideoError as e:  # in words that name no file of the server's
            job.state, job.detail = "failed", _clip_error(e, job.source)
        except Exception as e:  # the page must hear about it; the server goes on
            job.state, job.detail = "failed", f"The clip could not be colorized ({e})."
        finally:
            job.source.unlink(missing_ok=True)
            job.ended = time.monotonic()

    def _forget_old(self) -> None:
        now = time.monotonic()
        for job_id, job in list(self.jobs.items()):
            if job.ended and now - job.ended > KEEP_SECONDS:
                shutil.rmtree(job.folder, ignore_errors=True)
                del self.jobs[job_id]


def add_video_routes(
    app: FastAPI,
    colorizer: PhotoColorizer,
    *,
    max_bytes: int,
    max_seconds: float = DEFAULT_MAX_VIDEO_SECONDS,
    max_pixels: int = DEFAULT_MAX_VIDEO_PIXELS,
) -> dict[str, Any]:
    """Register the clip endpoints; returns what /api/info should tell the page about them."""
    try:
        import av  # noqa: F401
    except ImportError:
        available = False
    else:
        available = True
    root = private_temp_folder(TEMP_PREFIX)
    atexit.register(shutil.rmtree, root, True)
    jobs = VideoJobs(colorizer)

    @app.post("/api/video", status_code=202)
    async def upload(video: UploadFile = File(...)) -> dict[str, Any]:
        suffix = _clip_suffix(video, available)
        data = await video.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise UploadTooBig(max_bytes, "clip")
        job_id = secrets.token_urlsafe(16)
        folder = root / job_id
        folder.mkdir()
        source = folder / f"upload{suffix}"
        source.write_bytes(data)
        info = await anyio.to_thread.run_sync(_check, source, folder, max_seconds, max_pixels)
        target = folder / f"{safe_stem(video.filename, 'clip')}-colorized{suffix}"
        jobs.submit(job_id, ClipJob(folder, source, target, info.frames))
        return {"id": job_id, "frames": info.frames}

    @app.get("/api/video/{job_id}")
    async def status(job_id: str) -> dict[str, Any]:
        job = jobs.get(job_id)
        return {"state": job.state, "done": job.done, "total": job.total, "detail": job.detail}

    @app.get("/api/video/{job_id}/result")
    async def result(job_id: str) -> FileResponse:
        job = jobs.get(job_id)
        if job.state != "done":
            raise HTTPException(409, "The clip is not ready yet.")
        return FileResponse(
            job.target,
            media_type=_MEDIA_TYPE[job.target.suffix],
            filename=job.target.name,
            content_disposition_type="inline",
            headers={"Cache-Control": "no-store"},
        )

    return {
        "video": available,
        "max_video_seconds": max_seconds,
        "video_types": sorted(VIDEO_TYPES),
    }


def _clip_suffix(video: UploadFile, available: bool) -> str:
    """The uploaded clip's suffix, once this server can colorize it."""
    if not available:
        raise HTTPException(
            501,
            "This server cannot colorize clips: it lacks PyAV (pip install 'kolorize[video]').",
        )
    suffix = Path(video.filename or "").suffix.lower()
    if suffix not in _MEDIA_TYPE:
        raise HTTPException(
            415,
            "Please upload a clip as MP4, WebM or MOV; "
            f"{video.filename or 'this file'} is not one.",
        )
    return suffix


def _clip_error(e: VideoError, source: Path) -> str:
    """A VideoError about the uploaded clip or the colorized one, for the page."""
    if e.path == source:
        return f"the clip: {e.reason}"
    return f"The colorized clip could not be written: {e.reason}"


def _check(source: Path, folder: Path, max_seconds: float, max_pixels: int) -> Any:
    # here: the page loads without the video extra (PyAV), which only a clip needs
    from kolorize.video import VideoError, probe

    try:
        info = probe(source)
        if info.seconds > max_seconds:
            raise HTTPException(
                413,
                f"The clip is {info.seconds:.1f} s long: the limit is "
                f"{max_seconds:g} s. Colorize longer films with "
                "'kolorize colorize'.",
            )
        if info.width * info.height > max_pixels:
            raise HTTPException(
                413,
                f"The clip is {info.width}x{info.height}: the limit is "
                f"{max_pixels:,} pixels a frame.",
            )
    except VideoError as e:
        shutil.rmtree(folder, ignore_errors=True)
        raise HTTPException(422, f"This clip: {e.reason}.") from None
    except HTTPException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return info


__all__ = ["DEFAULT_MAX_VIDEO_SECONDS", "VIDEO_TYPES", "add_video_routes"]
