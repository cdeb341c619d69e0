"""The web page's server: one FastAPI app around a `Colorizer`.

GET  /               the page (static, no CDN: it works offline)
GET  /api/info       the model and the upload limits, for the page
POST /api/colorize   multipart field `photo` -> the colorized photo at full resolution
                     (`?format=png|jpeg|webp|tiff`, PNG by default; a 16-bit upload comes
                     back 16-bit in PNG and TIFF); an optional field `hints`: the user's
                     colours, a JSON list of {x, y, color[, radius]} in the upload's own
                     upright pixels (as `kolorize colorize --hints`), for a model with hint
                     inputs (/api/info says whether it has them)
POST /api/video ...  short clips, colorized in the background (see video_jobs.py)

Every request keeps its data to itself; the Colorizer serialises its own model calls, and at
most `workers` photos are decoded and recombined at once, which bounds memory on big uploads.
Uploads are limited by the request's Content-Length before anything is read, by the bytes
actually read, then by the photo's own size and pixel count, each with a message a person can
act on. Every error is one JSON sentence (`{"detail": ...}`) that repeats nothing of the
upload.

Previews while the user places hints stay stateless: the page sends a copy of the photo it has
scaled down itself (at most 1024 px a side; the hints scaled with it) and sends the photo
itself, at full resolution, only for the download. The server keeps nothing between requests,
and a preview costs a small decode, one model call at the model's size and a small
recombination (benchmarks/README.md, hints).

What makes the page safe to expose (host names, other sites, deadlines, busy limit, headers)
is in `guard`.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import anyio
from fastapi import FastAPI, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from kolorize.data.images import ImageRejected, load_rgb
from kolorize.errors import KolorizeError
from kolorize.inference.protocol import PhotoColorizer
from kolorize.inference.user_hints import (
    DEFAULT_RADIUS_SHARE,
    Hint,
    HintError,
    first_outside,
    hint_from_item,
)
from kolorize.interrupts import raise_if_interrupted
from kolorize.photo_files import FORMATS, SIXTEEN_BIT, first_frame_only, pixels_of, save_image
from kolorize.serve.guard import (
    LOCAL_HOSTS,
    BusyLimit,
    DeadlineMiddleware,
    HostCheck,
    OneLineErrors,
    RequestDeadlines,
    SecurityHeaders,
    UploadLimit,
    UploadTooBig,
    protocol_class,
    safe_stem,
)
from kolorize.serve.video_jobs import DEFAULT_MAX_VIDEO_SECONDS, add_video_routes

STATIC = Path(__file__).with_name("static")
DEFAULT_MAX_BYTES = 20 * 2**20
DEFAULT_MAX_PIXELS = 50_000_000
# Photos the page takes: what browsers show, and TIFF (archives scan to it), which the page
# shows through its colorized PNG.
ACCEPTED = {
    "image/jpeg": (".jpg", ".jpeg", ".jfif", ".jpe"),
    "image/png": (".png",),
    "image/webp": (".webp",),
    "image/gif": (".gif",),
    "image/bmp": (".bmp",),
    "image/tiff": (".tif", ".tiff"),
}
_MEDIA_TYPES = {name: f"image/{name}" for name in FORMATS}
DEFAULT_MAX_ACTIVE = 8
DEFAULT_REQUEST_TIMEOUT = 60.0
DEFAULT_MAX_CONNECTIONS = 64
MAX_HINTS = 200  # per request: far more than anyone places by hand, and cheap to rasterise


def _check_type(photo: UploadFile) -> None:
    suffix = Path(photo.filename or "").suffix.lower()
    kinds = set(ACCEPTED)
    if photo.content_type in kinds or any(suffix in s for s in ACCEPTED.values()):
        return
    raise HTTPException(
        415,
        f"Please upload a photo (JPEG, PNG, WebP, GIF, BMP or TIFF); "
        f"{photo.filename or 'this file'} is {photo.content_type or 'of an unknown type'}.",
    )


def _one_sentence(error: dict[str, Any]) -> str:
    """A request FastAPI could not validate, in words: which field, what is wrong, never the
    value (a form field may hold a whole upload)."""
    where, *rest = tuple(error.get("loc") or ("request",))
    name = str(rest[0]) if rest else "?"
    if where == "query" and name == "format":
        return f"format must be one of {', '.join(FORMATS)}."
    if where == "body" and error.get("type") == "missing":
        return f"The upload has no field {name!r}: send the file in a form field of that name."
    if where == "body" and name == "hints":
        return "The form field 'hints' must be text: a JSON list of {x, y, color} objects."
    if where == "body":
        return f"The form field {name!r} must be a file, sent with a file name."
    return f"The {where} parameter {name!r} is not valid."


async def _validation_failed(_request: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    detail = _one_sentence(errors[0]) if errors else "The request is not valid."
    return JSONResponse({"detail": detail}, status_code=422)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own 404 and 405 ("Not Found") in words; the app's messages as they are."""
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail
    if exc.status_code == 404 and detail == "Not Found":
        detail = "There is nothing at this address."
    elif exc.status_code == 405 and detail == "Method Not Allowed":
        detail = f"This address does not take {request.method} requests."
    return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)


def _hints_of(text: str | None, takes_hints: bool) -> list[Hint]:
    """The `hints` form field -> Hints, or a 422 in words that quote nothing of it."""
    if text is None or not text.strip():
        return []
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        data = None
    if not isinstance(data, list):
        raise HTTPException(422, "The hints must be a JSON list of {x, y, color} objects.")
    if data and not takes_hints:
        raise HTTPException(422, "This model takes no colour hints.")
    if len(data) > MAX_HINTS:
        raise HTTPException(422, f"At most {MAX_HINTS} hints are taken at once.")
    hints = []
    for i, item in enumerate(data):
        try:
            hints.append(hint_from_item(item, f"hint {i + 1}"))
        except HintError:
            raise HTTPException(
                422,
                f"Hint {i + 1} is not valid: it needs numbers x and y, a colour (a name, "
                "#rrggbb or [r, g, b]) and, if it has one, a positive radius.",
            ) from None
    return hints


def _rejection(e: ImageRejected, max_pixels: int) -> HTTPException:
    if e.reason == "too large":
        return HTTPException(413, f"The photo has too many pixels: the limit is {max_pixels:,}.")
    if e.reason == "not an image":
        return HTTPException(415, "This file is not a photo that can be read.")
    return HTTPException(422, f"The photo could not be read ({e.reason}).")


def create_app(
    colorizer: PhotoColorizer,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    workers: int = 2,
    allowed_hosts: Sequence[str] = LOCAL_HOSTS,
    max_active: int = DEFAULT_MAX_ACTIVE,
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    max_video_seconds: float = DEFAULT_MAX_VIDEO_SECONDS,
) -> FastAPI:
    """The app. `allowed_hosts`: the names it answers to ('*': any); `max_active`: colorize
    requests in progress before 503; `request_timeout`: seconds a client has to send a request
    (enforced when served through `server_config`)."""
    app = FastAPI(title="kolorize", docs_url=None, redoc_url=None, openapi_url=None)
    _add_guards(
        app,
        max_bytes=max_bytes,
        allowed_hosts=allowed_hosts,
        max_active=max_active,
        request_timeout=request_timeout,
    )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    video = add_video_routes(app, colorizer, max_bytes=max_bytes, max_seconds=max_video_seconds)
    _add_photo_routes(
        app, colorizer, max_bytes=max_bytes, max_pixels=max_pixels, workers=workers, video=video
    )
    return app


def _add_guards(
    app: FastAPI,
    *,
    max_bytes: int,
    allowed_hosts: Sequence[str],
    max_active: int,
    request_timeout: float,
) -> None:
    """The middleware every request passes and the handlers that put failures in words."""
    app.state.deadlines = RequestDeadlines(request_timeout)
    # The last added runs first: headers on every answer, failures as one sentence, then host,
    # deadline, size, load.
    app.add_middleware(BusyLimit, max_active=max_active, path="/api/colorize")
    app.add_middleware(
        UploadLimit, max_bytes=max_bytes, nouns={"/api/colorize": "photo", "/api/video": "clip"}
    )
    app.add_middleware(DeadlineMiddleware, deadlines=app.state.deadlines)
    app.add_middleware(HostCheck, allowed_hosts=list(allowed_hosts))
    app.add_middleware(OneLineErrors)
    app.add_middleware(SecurityHeaders)
    app.add_exception_handler(RequestValidationError, _validation_failed)
    app.add_exception_handler(StarletteHTTPException, _http_error)


def _colorize_bytes(
    colorizer: PhotoColorizer, data: bytes, fmt: str, hints: list[Hint], max_pixels: int
) -> tuple[bytes, tuple[int, int], int]:
    """An uploaded photo's bytes (and the user's hints) -> the colorized file's bytes, its size
    and its frame count."""
    try:
        loaded = load_rgb(data, min_side=1, max_pixels=max_pixels, keep_16bit=fmt in SIXTEEN_BIT)
    except ImageRejected as e:
        raise _rejection(e, max_pixels) from None
    outside = first_outside(hints, *loaded.image.size)
    if outside is not None:
        w, h = loaded.image.size
        raise HTTPException(422, f"Hint {outside + 1} lies outside the photo ({w}x{h} pixels).")
    extra = {"hints": [hints]} if hints else {}
    try:
        (result,) = colorizer.colorize_pixels([pixels_of(loaded)], **extra)
    except ImageRejected as e:
        raise _rejection(e, max_pixels) from None
    buf = io.BytesIO()
    try:
        save_image(result, buf, fmt)
    except ValueError as e:  # too big for the format
        raise HTTPException(422, f"{e}.") from None
    return buf.getvalue(), (result.shape[1], result.shape[0]), loaded.frames


def _add_photo_routes(
    app: FastAPI,
    colorizer: PhotoColorizer,
    *,
    max_bytes: int,
    max_pixels: int,
    workers: int,
    video: dict[str, Any],
) -> None:
    """The page, what it is told about the model and the limits, and the photo endpoint."""
    limiter = anyio.CapacityLimiter(workers)

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
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
            "hints": colorizer.takes_hints,
            # a hint's default radius, as a share of the photo's shorter side (Hint.radius)
            "hint_radius_share": DEFAULT_RADIUS_SHARE,
            **video,
        }

    @app.post("/api/colorize")
    async def colorize(
        photo: UploadFile = File(...),
        format: str = Query("png", pattern=f"^({'|'.join(FORMATS)})$"),
        hints: str | None = Form(None),
    ) -> Response:
        _check_type(photo)
        wanted = _hints_of(hints, colorizer.takes_hints) if hints else []
        data = await photo.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise UploadTooBig(max_bytes)
        content, (width, height), frames = await anyio.to_thread.run_sync(
            _colorize_bytes, colorizer, data, format, wanted, max_pixels, limiter=limiter
        )
        name = f"{safe_stem(photo.filename)}-colorized{FORMATS[format][1]}"
        headers = {
            "Content-Disposition": f'inline; filename="{name}"',
            "X-Image-Width": str(width),
            "X-Image-Height": str(height),
            "Cache-Control": "no-store",
        }
        if frames > 1:
            headers["X-Kolorize-Note"] = first_frame_only(frames).capitalize() + "."
        return Response(content, media_type=_MEDIA_TYPES[format], headers=headers)


def server_config(
    app: FastAPI, *, max_connections: int = DEFAULT_MAX_CONNECTIONS, **options: Any
) -> Any:
    """uvicorn's config for `app`, with the request deadline on every connection and at most
    `max_connections` open ones (503 beyond), uvicorn's own answers as the app's are."""
    import uvicorn
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    return uvicorn.Config(
        app,
        http=protocol_class(AutoHTTPProtocol, app.state.deadlines, max_connections),
        timeout_keep_alive=5,
        log_level="warning",
        lifespan="off",
        **options,
    )


def allowed_host_names(host: str, extra: Sequence[str] = ()) -> list[str]:
    """The names the server answers to: the local ones, the address it listens on, the
    machine's own name and addresses when it listens on all of them, and `extra`."""
    names = [*LOCAL_HOSTS, *extra]
    if host in ("0.0.0.0", "::", ""):
        machine = socket.gethostname()
        names += [machine, f"{machine}.local"]
        with contextlib.suppress(OSError):
            names += [info[4][0] for info in socket.getaddrinfo(machine, None)]
    else:
        names.append(host)
    return list(dict.fromkeys(names))


def _listen(host: str, port: int) -> socket.socket:
    """Bind before saying where the page is: a port in use is an error, not a false promise."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise KolorizeError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    sock.listen(128)
    return sock


def serve(
    load_colorizer: Callable[[], PhotoColorizer],
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    max_bytes: int = DEFAULT_MAX_BYTES,
    allow_hosts: Sequence[str] = (),
    max_active: int = DEFAULT_MAX_ACTIVE,
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    log: Callable[[str], None] = print,
) -> None:
    """Load the model (`load_colorizer`, called once the port is ours) and serve the page
    until interrupted."""
    import uvicorn

    sock = _listen(host, port)  # first: a port in use is said before the model loads
    hosts = allowed_host_names(host, allow_hosts)
    if host in ("0.0.0.0", "::"):
        log(
            f"warning: listening on every network interface: anyone who can reach port {port} "
            f"can use this page (it answers to {', '.join(hosts)}; add names with "
            "--allow-host). See 'Exposing the web page' in the README."
        )
    colorizer = load_colorizer()
    app = create_app(
        colorizer, max_bytes=max_bytes, allowed_hosts=hosts, max_active=max_active,
        request_timeout=request_timeout,
    )  # fmt: skip
    raise_if_interrupted()  # a Ctrl+C that a library swallowed while the model loaded
    log(f"serving {colorizer.description} at http://{host}:{port}/ (Ctrl+C to stop)")
    uvicorn.Server(server_config(app)).run(sockets=[sock])


__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_PIXELS",
    "UploadLimit",
    "allowed_host_names",
    "create_app",
    "serve",
    "server_config",
]
