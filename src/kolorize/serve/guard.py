"""What keeps the web page safe to expose: ASGI middlewares and a per-connection deadline.

- UploadLimit: refuses an upload by its declared size before reading it, and again by the
  bytes actually read, whatever the headers claim (chunked, or a Content-Length that lies);
  a multipart body that ends before its closing boundary is a 400.
- HostCheck: answers only to the host names it is told are its own (DNS rebinding), and
  refuses POSTs that a page of another site makes a browser send.
- BusyLimit: past so many photos in progress (counted once their upload is in), a 503 at once
  instead of an ever-longer queue.
- SecurityHeaders: a strict Content-Security-Policy, no sniffing, no framing, no referrer.
- OneLineErrors: a failure of the server's own is a 500 with one JSON sentence, not a page.
- RequestDeadlines: a client gets so many seconds to send its whole request; a half-open or
  trickling one gets 408 and is disconnected (uvicorn itself has no such limit).
- `protocol_class`: uvicorn's HTTP protocol with the deadline, a connection limit and its own
  400, so that what uvicorn answers by itself carries the headers and one JSON sentence too.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.exceptions import HTTPException

Scope = dict[str, Any]

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' blob: data:; object-src 'none'; base-uri 'none'; "
        b"form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
MULTIPART_SLACK = 64 * 1024  # form boundaries and headers around the photo itself


def safe_stem(filename: str | None, default: str = "photo") -> str:
    """An uploaded file's name, without suffix, fit to name the file sent back."""
    stem = Path(filename or default).stem
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._")[:80] or default


def megabytes(n: int) -> str:
    return f"{n / 2**20:.0f} MB" if n >= 2**20 else f"{n / 1024:.0f} KB"


def _error_response(status: int, detail: str, headers: dict[str, str] | None = None) -> tuple:
    """(headers, body) of an error: one JSON sentence, with the security headers (a reply from
    a guard may come from outside SecurityHeaders)."""
    body = json.dumps({"detail": detail}).encode()
    extra = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *extra,
        *SECURITY_HEADERS,
    ], body


async def _reply(
    send: Any, status: int, detail: str, headers: dict[str, str] | None = None
) -> None:
    head, body = _error_response(status, detail, headers)
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})


def _raw_reply(status: int, reason: str, detail: str) -> bytes:
    """An error as the bytes of a whole HTTP/1.1 response that closes the connection, for
    what is written to the socket itself (no response cycle to send it through)."""
    head, body = _error_response(status, detail, {"Connection": "close"})
    lines = [f"HTTP/1.1 {status} {reason}".encode()] + [k + b": " + v for k, v in head]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return value
    return None


class _WatchedSend:
    """An ASGI `send` that notes whether the response has started: after that, an error can no
    longer be answered, only the connection closed."""

    def __init__(self, send: Any) -> None:
        self.send, self.started = send, False

    async def __call__(self, message: dict) -> None:
        self.started = self.started or message["type"] == "http.response.start"
        await self.send(message)


class UploadTooBig(HTTPException):
    """Raised from inside `receive`: an HTTPException, so FastAPI's form parsing passes it on
    as the 413 it is instead of turning it into a 400."""

    def __init__(self, max_bytes: int, noun: str = "photo") -> None:
        super().__init__(413, f"The {noun} is too big: the limit is {megabytes(max_bytes)}.")


class UploadLimit:
    """Refuse a POST whose Content-Length is missing or over the limit before reading its body,
    one that declares both a length and chunked encoding (ambiguous framing), and, counting
    the bytes as they arrive, one whose body turns out longer than the limit. `nouns` names
    what is uploaded to each path, for the messages ("photo", "clip")."""

    def __init__(self, app: Any, max_bytes: int, nouns: dict[str, str] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.nouns = nouns or {}

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        noun = self.nouns.get(scope.get("path", ""), "upload")
        limit = self.max_bytes + MULTIPART_SLACK
        length = _header(scope, b"content-length") or b""
        if length and _header(scope, b"transfer-encoding") is not None:
            return await _reply(send, 400, "Send either a Content-Length or chunked, not both.")
        if not length.isdigit():
            return await _reply(send, 411, f"Send the {noun} with a Content-Length.")
        if int(length) > limit:
            return await _reply(send, 413, UploadTooBig(self.max_bytes, noun).detail)
        received = 0
        ending = _MultipartEnd(scope)

        async def counted() -> dict:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                body = message.get("body", b"")
                received += len(body)
                if received > limit:
                    raise UploadTooBig(self.max_bytes, noun)
                ending.check(body, last=not message.get("more_body", False))
            return message

        watched = _WatchedSend(send)
        try:
            await self.app(scope, counted, watched)
        except UploadTooBig as e:  # raised where nothing turned it into a response yet
            if watched.started:
                raise
            await _reply(send, 413, e.detail)


class _MultipartEnd:
    """Whether a multipart body ends with its closing boundary. Without one, the parser takes
    the body for complete and reports the part it lost as a missing field (a 422 that blames
    the client's fields, where the client's body was cut short)."""

    EPILOGUE = 1024  # text after the closing boundary, which the standard allows

    def __init__(self, scope: Scope) -> None:
        kind = (_header(scope, b"content-type") or b"").decode("latin-1")
        m = re.search(r'boundary="?([^";]+)"?', kind, re.IGNORECASE)
        is_multipart = kind.lower().startswith("multipart/")
        self.close = b"--" + m.group(1).encode("latin-1") + b"--" if is_multipart and m else None
        self.tail = b""

    def check(self, body: bytes, *, last: bool) -> None:
        if self.close is None:
            return
        self.tail = (self.tail + body)[-(len(self.close) + self.EPILOGUE) :]
        if last and self.close not in self.tail:
            raise HTTPException(
                400, "The upload is cut short: its multipart body has no closing boundary."
            )


def _host_name(value: str) -> str:
    """'Example.org:8000' -> 'example.org', '[::1]:8000' -> '::1'."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class HostCheck:
    """Answer only requests addressed to an allowed host name (a page on another site that
    rebinds its DNS name to this address still sends its own name), and refuse POSTs that
    another site's page makes a browser send (its Origin differs from the Host)."""

    def __init__(self, app: Any, allowed_hosts: list[str]) -> None:
        self.app = app
        self.allowed = {_host_name(h) for h in allowed_hosts}

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        host = (_header(scope, b"host") or b"").decode("latin-1")
        if "*" not in self.allowed and _host_name(host) not in self.allowed:
            return await _reply(
                send, 400, f"This server does not answer to the host name {host or '(none)'!r}."
            )
        if scope["method"] not in ("GET", "HEAD", "OPTIONS") and self._cross_site(scope, host):
            return await _reply(send, 403, "Requests from other sites are not accepted.")
        await self.app(scope, receive, send)

    @staticmethod
    def _cross_site(scope: Scope, host: str) -> bool:
        if (_header(scope, b"sec-fetch-site") or b"") == b"cross-site":
            return True
        origin = _header(scope, b"origin")
        if origin is None:  # not sent by a browser (curl, scripts): nothing to forge
            return False
        return urlsplit(origin.decode("latin-1")).netloc.lower() != host.strip().lower()


class ServerBusy(HTTPException):
    """Raised from inside `receive`, as UploadTooBig is, once the body is in."""

    def __init__(self) -> None:
        super().__init__(
            503, "The server is busy; try again in a moment.", headers={"Retry-After": "5"}
        )


class BusyLimit:
    """At most `max_active` colorize requests at once (decoding, queued for the model or being
    sent back); the next ones get 503 with Retry-After at once. A request counts from the
    moment its whole body has arrived: one still uploading costs no memory or model time yet,
    and a client that sends its body slowly (or never) meets the request deadline instead of
    keeping everyone else out."""

    def __init__(self, app: Any, max_active: int, path: str) -> None:
        self.app = app
        self.max_active = max_active
        self.path = path
        self.active = 0

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            return await self.app(scope, receive, send)
        counted = False

        async def arrived() -> dict:
            nonlocal counted
            message = await receive()
            body_done = message["type"] == "http.request" and not message.get("more_body")
            if body_done and not counted:
                if self.active >= self.max_active:
                    raise ServerBusy
                self.active += 1
                counted = True
            return message

        try:
            await self.app(scope, arrived, send)
        finally:
            if counted:
                self.active -= 1


class SecurityHeaders:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)


class OneLineErrors:
    """A failure of the server's own (a bug) as a 500 with one JSON sentence, logged with its
    traceback; Starlette's own answer is a text page sent from outside every middleware, so
    without the security headers."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        watched = _WatchedSend(send)
        try:
            await self.app(scope, receive, watched)
        except Exception:
            if watched.started:  # half a response is out: only closing the connection is left
                raise
            logging.getLogger("kolorize.serve").exception("failed on %s", scope.get("path"))
            await _reply(send, 500, "The server failed on this request; it has been logged.")


_TIMEOUT_RESPONSE = _raw_reply(408, "Request Timeout", "The request took too long to arrive.")
_BAD_REQUEST = _raw_reply(400, "Bad Request", "This is not an HTTP request the server can read.")


def _peer(transport: asyncio.BaseTransport) -> tuple[str, int] | None:
    peer = transport.get_extra_info("peername")
    return (str(peer[0]), int(peer[1])) if isinstance(peer, tuple) and len(peer) >= 2 else None


class RequestDeadlines:
    """Every connection must deliver each whole request (headers and body) within `seconds` of
    opening, or of its previous response. The protocol part (`protocol_class`) arms the deadline
    when a connection opens; the ASGI part (`DeadlineMiddleware`) stops it once the body is in
    or the response starts, and arms it again for the next request on a kept-alive one."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._connections: dict[tuple[str, int], asyncio.Transport] = {}
        self._timers: dict[tuple[str, int], asyncio.TimerHandle] = {}

    def opened(self, transport: asyncio.Transport) -> None:
        key = _peer(transport)
        if key is not None:
            self._connections[key] = transport
            self.arm(key)

    def closed(self, transport: asyncio.BaseTransport) -> None:
        key = _peer(transport)
        if key is not None:
            self.disarm(key)
            self._connections.pop(key, None)

    def arm(self, key: tuple[str, int]) -> None:
        self.disarm(key)
        if key in self._connections:
            loop = asyncio.get_running_loop()
            self._timers[key] = loop.call_later(self.seconds, self._expire, key)

    def disarm(self, key: tuple[str, int]) -> None:
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    def _expire(self, key: tuple[str, int]) -> None:
        self._timers.pop(key, None)
        transport = self._connections.get(key)
        if transport is not None and not transport.is_closing():
            transport.write(_TIMEOUT_RESPONSE)  # no response has started: disarmed if one had
            transport.close()


def protocol_class(base: type, deadlines: RequestDeadlines, max_connections: int) -> type:
    """A subclass of uvicorn's HTTP protocol class `base` (httptools or h11) that reports its
    connections to `deadlines`, and answers what uvicorn answers by itself (a request past
    `max_connections` open connections or requests in progress: 503; a request it cannot
    parse: 400) with one JSON sentence and the security headers: uvicorn's own answers are
    text, and h11's 400 carries no extra headers at all."""

    class GuardedProtocol(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.limit_concurrency = None  # counted by _ConnectionLimit, which answers itself
            self.app = _ConnectionLimit(self.app, self, max_connections)

        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(transport)
            deadlines.opened(transport)

        def connection_lost(self, exc: Exception | None) -> None:
            deadlines.closed(self.transport)
            super().connection_lost(exc)

        def send_400_response(self, msg: str) -> None:
            self.transport.write(_BAD_REQUEST)
            self.transport.close()

    return GuardedProtocol


class _ConnectionLimit:
    """uvicorn's concurrency limit, moved into the app it runs so that the 503 is ours."""

    def __init__(self, app: Any, protocol: Any, limit: int) -> None:
        self.app, self.protocol, self.limit = app, protocol, limit

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        # both counts include this connection and this request's task
        busy = len(self.protocol.connections) > self.limit or len(self.protocol.tasks) > self.limit
        if scope["type"] == "http" and busy:
            return await _reply(
                send,
                503,
                "The server has too many connections; try again in a moment.",
                {"Retry-After": "5", "Connection": "close"},
            )
        await self.app(scope, receive, send)


class DeadlineMiddleware:
    def __init__(self, app: Any, deadlines: RequestDeadlines) -> None:
        self.app = app
        self.deadlines = deadlines

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        client = scope.get("client")
        if scope["type"] != "http" or not client:
            return await self.app(scope, receive, send)
        key = (str(client[0]), int(client[1]))

        async def watched_receive() -> dict:
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                self.deadlines.disarm(key)
            return message

        async def watched_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                self.deadlines.disarm(key)
            await send(message)

        try:
            await self.app(scope, watched_receive, watched_send)
        finally:
            self.deadlines.arm(key)  # for the next request on this connection, if kept alive


__all__ = [
    "LOCAL_HOSTS",
    "SECURITY_HEADERS",
    "BusyLimit",
    "DeadlineMiddleware",
    "HostCheck",
    "OneLineErrors",
    "RequestDeadlines",
    "SecurityHeaders",
    "ServerBusy",
    "UploadLimit",
    "UploadTooBig",
    "megabytes",
    "protocol_class",
    "safe_stem",
]
