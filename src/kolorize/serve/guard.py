"""What keeps the web page safe to expose: ASGI middlewares and a per-connection deadline.

- UploadLimit: refuses an upload by its declared size before reading it, and again by the
  bytes actually read, whatever the headers claim (chunked, or a Content-Length that lies).
- HostCheck: answers only to the host names it is told are its own (DNS rebinding), and
  refuses POSTs that a page of another site makes a browser send.
- BusyLimit: past so many photos in progress, a 503 at once instead of an ever-longer queue.
- SecurityHeaders: a strict Content-Security-Policy, no sniffing, no framing, no referrer.
- RequestDeadlines: a client gets so many seconds to send its whole request; a half-open or
  trickling one gets 408 and is disconnected (uvicorn itself has no such limit).
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.exceptions import HTTPException

Scope = dict[str, Any]

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; img-src 'self' blob: data:; object-src 'none'; base-uri 'none'; "
     b"form-action 'self'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]  # fmt: skip
MULTIPART_SLACK = 64 * 1024  # form boundaries and headers around the photo itself


def safe_stem(filename: str | None, default: str = "photo") -> str:
    """An uploaded file's name, without suffix, fit to name the file sent back."""
    stem = Path(filename or default).stem
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._")[:80] or default


def megabytes(n: int) -> str:
    return f"{n / 2**20:.0f} MB" if n >= 2**20 else f"{n / 1024:.0f} KB"


async def _reply(
    send: Any, status: int, detail: str, headers: dict[str, str] | None = None
) -> None:
    body = json.dumps({"detail": detail}).encode()
    extra = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return value
    return None


class UploadTooBig(HTTPException):
    """Raised from inside `receive`: an HTTPException, so FastAPI's form parsing passes it on
    as the 413 it is instead of turning it into a 400."""

    def __init__(self, max_bytes: int, noun: str = "photo") -> None:
        super().__init__(413, f"The {noun} is too big: the limit is {megabytes(max_bytes)}.")


class UploadLimit:
    """Refuse a POST whose Content-Length is missing or over the limit before reading its body,
    one that declares both a length and chunked encoding (ambiguous framing), and, counting
    the bytes as they arrive, one whose body turns out longer than the limit."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        limit = self.max_bytes + MULTIPART_SLACK
        length = _header(scope, b"content-length") or b""
        if length and _header(scope, b"transfer-encoding") is not None:
            return await _reply(send, 400, "Send either a Content-Length or chunked, not both.")
        if not length.isdigit():
            return await _reply(send, 411, "Send the photo with a Content-Length.")
        if int(length) > limit:
            return await _reply(send, 413, UploadTooBig(self.max_bytes).detail)
        received = 0

        async def counted() -> dict:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise UploadTooBig(self.max_bytes)
            return message

        started = False

        async def watched(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except UploadTooBig as e:  # raised where nothing turned it into a response yet
            if started:
                raise
            await _reply(send, 413, e.detail)


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


class BusyLimit:
    """At most `max_active` colorize requests at once (decoding, queued for the model or being
    sent back); the next ones get 503 with Retry-After at once."""

    def __init__(self, app: Any, max_active: int, path: str) -> None:
        self.app = app
        self.max_active = max_active
        self.path = path
        self.active = 0

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            return await self.app(scope, receive, send)
        if self.active >= self.max_active:
            return await _reply(
                send, 503, "The server is busy; try again in a moment.", {"Retry-After": "5"}
            )
        self.active += 1
        try:
            await self.app(scope, receive, send)
        finally:
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


_TIMEOUT_BODY = b"The request took too long.\n"
_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain\r\nconnection: close\r\n"
    b"content-length: %d\r\n\r\n%s" % (len(_TIMEOUT_BODY), _TIMEOUT_BODY)
)


def _peer(transport: asyncio.BaseTransport) -> tuple[str, int] | None:
    peer = transport.get_extra_info("peername")
    return (str(peer[0]), int(peer[1])) if isinstance(peer, tuple) and len(peer) >= 2 else None


class RequestDeadlines:
    """Every connection must deliver each whole request (headers and body) within `seconds` of
    opening, or of its previous response. The protocol part (`protocol`) arms the deadline when
    a connection opens; the ASGI part (`DeadlineMiddleware`) stops it once the body is in or the
    response starts, and arms it again for the next request on a kept-alive connection."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._connections: dict[tuple[str, int], asyncio.Transport] = {}
        self._timers: dict[tuple[str, int], asyncio.TimerHandle] = {}

    def protocol(self, base: type) -> type:
        """A subclass of uvicorn's HTTP protocol class `base` that reports its connections."""
        deadlines = self

        class DeadlineProtocol(base):  # type: ignore[misc, valid-type]
            def connection_made(self, transport: asyncio.Transport) -> None:
                super().connection_made(transport)
                deadlines.opened(transport)

            def connection_lost(self, exc: Exception | None) -> None:
                deadlines.closed(self.transport)
                super().connection_lost(exc)

        return DeadlineProtocol

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
    "RequestDeadlines",
    "SecurityHeaders",
    "UploadLimit",
    "UploadTooBig",
    "megabytes",
    "safe_stem",
]
