"""The web page's server: one FastAPI app around a `Colorizer`.

GET  /               the page (static, no CDN: it works offline)
GET  /api/info       the model and the upload limits, for the page
POST /api/colorize   multipart field `photo` -> the colorized photo at full resolution
                     (`?format=png|jpeg|webp`, PNG by default)
POST /api/video ...  short clips, colorized in the background (see video_jobs.py)

Every request keeps its data to itself; the Colorizer serialises its own model calls, and at
most `workers` photos are decoded and recombined at once, which bounds memory on big uploads.
Uploads are limited twice: by the request's Content-Length before anything is read, then by the
photo's own size and pixel count, each with a message a person can act on.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
from fastapi import FastAPI, File, HTTPException, Query, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from kolorize.data.images import ImageRejected, load_rgb
from kolorize.serve.video_jobs import DEFAULT_MAX_VIDEO_SECONDS, add_video_routes

STATIC = Path(__file__).with_name("static")
DEFAULT_MAX_BYTES = 20 * 2**20
DEFAULT_MAX_PIXELS = 50_000_000
# What browsers can show next to the result; other kinds belong to the command line.
ACCEPTED = {
    "image/jpeg": (".jpg", ".jpeg", ".jfif", ".jpe"),
    "image/png": (".png",),
    "image/webp": (".webp",),
    "image/gif": (".gif",),
    "image/bmp": (".bmp",),
}
_FORMATS = {"png": ("PNG", "image/png", ".png"), "jpeg": ("JPEG", "image/jpeg", ".jpg"),
            "webp": ("WEBP", "image/webp", ".webp")}  # fmt: skip
_MULTIPART_SLACK = 64 * 1024  # form boundaries and headers around the photo itself


def _megabytes(n: int) -> str:
    return f"{n / 2**20:.0f} MB" if n >= 2**20 else f"{n / 1024:.0f} KB"


class UploadLimit:
    """ASGI middleware: refuse a POST whose Content-Length is missing or over the limit before
    reading its body (uvicorn enforces that the body matches the declared length)."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            length = dict(scope["headers"]).get(b"content-length", b"")
            if not length.isdigit():
                reply = JSONResponse({"detail": "Send the photo with a Content-Length."}, 411)
                return await reply(scope, receive, send)
            if int(length) > self.max_bytes + _MULTIPART_SLACK:
                detail = f"The photo is too big: the limit is {_megabytes(self.max_bytes)}."
                return await JSONResponse({"detail": detail}, 413)(scope, receive, send)
        await self.app(scope, receive, send)


def _safe_stem(filename: str | None) -> str:
    stem = Path(filename or "photo").stem
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._")[:80] or "photo"


def _check_type(photo: UploadFile) -> None:
    suffix = Path(photo.filename or "").suffix.lower()
    kinds = set(ACCEPTED)
    if photo.content_type in kinds or any(suffix in s for s in ACCEPTED.values()):
        return
    raise HTTPException(
        415,
        f"Please upload a photo (JPEG, PNG, WebP, GIF or BMP); "
        f"{photo.filename or 'this file'} is {photo.content_type or 'of an unknown type'}.",
    )


def _rejection(e: ImageRejected, max_pixels: int) -> HTTPException:
    if e.reason == "too large":
        return HTTPException(413, f"The photo has too many pixels: the limit is {max_pixels:,}.")
    if e.reason == "not an image":
        return HTTPException(415, "This file is not a photo that can be read.")
    return HTTPException(422, f"The photo could not be read ({e.reason}).")


def create_app(
    colorizer: Any,  # kolorize.inference.Colorizer
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    workers: int = 2,
    max_video_seconds: float = DEFAULT_MAX_VIDEO_SECONDS,
) -> FastAPI:
    app = FastAPI(title="kolorize", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(UploadLimit, max_bytes=max_bytes)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    limiter = anyio.CapacityLimiter(workers)
    video = add_video_routes(app, colorizer, max_bytes=max_bytes, max_seconds=max_video_seconds)

    def colorize_bytes(data: bytes, fmt: str) -> tuple[bytes, tuple[int, int]]:
        try:
            loaded = load_rgb(data, min_side=1, max_pixels=max_pixels)
        except ImageRejected as e:
            raise _rejection(e, max_pixels) from None
        result = colorizer.colorize(loaded.image)
        buf = io.BytesIO()
        pil_format = _FORMATS[fmt][0]
        result.save(buf, pil_format, **({} if fmt == "png" else {"quality": 95}))
        return buf.getvalue(), result.size

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/api/info")
    async def info() -> dict[str, Any]:
        return {
            "model": colorizer.description,
            "image_size": colorizer.image_size,
            "max_bytes": max_bytes,
            "max_pixels": max_pixels,
            "accepted": sorted(ACCEPTED),
            **video,
        }

    @app.post("/api/colorize")
    async def colorize(
        photo: UploadFile = File(...),
        format: str = Query("png", pattern="^(png|jpeg|webp)$"),
    ) -> Response:
        _check_type(photo)
        data = await photo.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise HTTPException(413, f"The photo is too big: the limit is {_megabytes(max_bytes)}.")
        content, (width, height) = await anyio.to_thread.run_sync(
            colorize_bytes, data, format, limiter=limiter
        )
        _, media_type, suffix = _FORMATS[format]
        name = f"{_safe_stem(photo.filename)}-colorized{suffix}"
        return Response(
            content,
            media_type=media_type,
            headers={
                "Content-Disposition": f'inline; filename="{name}"',
                "X-Image-Width": str(width),
                "X-Image-Height": str(height),
                "Cache-Control": "no-store",
            },
        )

    return app


def serve(
    model: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    device: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    log: Callable[[str], None] = print,
) -> None:
    """Load the model and serve the page until interrupted."""
    import uvicorn

    from kolorize.inference import Colorizer

    colorizer = Colorizer.load(model, device)
    app = create_app(colorizer, max_bytes=max_bytes)
    log(f"serving {colorizer.description} at http://{host}:{port}/ (Ctrl+C to stop)")
    uvicorn.run(app, host=host, port=port, log_level="warning")


__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_PIXELS", "UploadLimit", "create_app", "serve"]
