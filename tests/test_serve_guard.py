"""The web page exposed: upload limits on bytes actually read, host names, other sites,
deadlines on half-open requests, the busy limit and the security headers. Every test talks
HTTP (httpx, or a raw socket where the request must be malformed) to a real uvicorn server
configured as `kolorize serve` configures it."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from PIL import Image

from helpers.colour import live_server
from kolorize.serve import create_app
from kolorize.serve.guard import UploadLimit

MAX_BYTES = 100_000


@pytest.fixture(scope="module")
def url(colorizer) -> Iterator[str]:
    app = create_app(colorizer, max_bytes=MAX_BYTES, request_timeout=1.0)
    with live_server(app) as base:
        yield base


def _png(size=(40, 32)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (120, 90, 60)).save(buf, "PNG")
    return buf.getvalue()


def _raw(url: str, request: bytes, body_chunks=(), pause: float = 0.0, wait=10.0) -> bytes:
    """Send `request` (and then `body_chunks`) on a socket; return all that comes back."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait) as s:
        s.sendall(request)
        try:
            for chunk in body_chunks:
                time.sleep(pause)
                s.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped listening: what it said is what matters
        answer = b""
        with contextlib.suppress(TimeoutError):  # a kept-alive connection: all has come
            while data := s.recv(65536):
                answer += data
        return answer


@pytest.mark.parametrize("protocol", ["httptools", "h11"])
def test_length_plus_chunked_is_refused_before_the_body_is_read(
    colorizer, monkeypatch, protocol
) -> None:
    # The probe's request: a small Content-Length and a chunked body of any size. httptools
    # refuses it itself; h11 (uvicorn without its [standard] extra) hands it to the app.
    import uvicorn.protocols.http.auto as auto
    from uvicorn.protocols.http.h11_impl import H11Protocol

    if protocol == "h11":
        monkeypatch.setattr(auto, "AutoHTTPProtocol", H11Protocol)
    head = (
        b"POST /api/colorize HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\nContent-Type: multipart/form-data; boundary=x\r\n\r\n"
    )
    with live_server(create_app(colorizer, max_bytes=MAX_BYTES)) as base:
        answer = _raw(base, head, wait=3)  # no body sent at all: the refusal must not wait
    assert answer.startswith(b"HTTP/1.1 400"), answer[:300]


def test_a_body_longer_than_its_headers_say_is_cut_off_by_the_bytes_read() -> None:
    """Whatever the headers claim, the limit counts the bytes the app is handed."""
    sent: list[dict] = []
    reads = 0

    async def app(scope, receive, send):
        nonlocal reads
        while (await receive()).get("more_body"):
            reads += 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive():  # a client streaming 64 KB pieces for ever
        return {"type": "http.request", "body": b"x" * 65536, "more_body": True}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "headers": [(b"content-length", b"10")]}
    asyncio.run(UploadLimit(app, max_bytes=MAX_BYTES)(scope, receive, send))
    assert sent[0]["status"] == 413 and b"too big" in sent[1]["body"]
    assert reads * 65536 <= MAX_BYTES + 65536 * 2  # stopped right after the limit


def test_chunked_uploads_and_oversized_ones_get_clear_refusals(url) -> None:
    def chunks():
        yield b"--x\r\n"

    with httpx.Client(base_url=url) as http:
        chunked = http.post("/api/colorize", content=chunks(), headers={"content-type": "a/b"})
        assert chunked.status_code == 411
        big = http.post("/api/colorize", files={"photo": ("a.png", b"0" * (MAX_BYTES * 2))})
        assert big.status_code == 413 and "too big" in big.json()["detail"]


def test_security_headers_on_pages_and_on_errors(url) -> None:
    with httpx.Client(base_url=url) as http:
        for response in (http.get("/"), http.get("/nothing-here"), http.get("/api/info")):
            csp = response.headers["content-security-policy"]
            assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["x-frame-options"] == "DENY"
        assert "style=" not in http.get("/").text  # the CSP allows no inline styles


def test_only_its_own_host_names_are_answered(url, colorizer) -> None:
    port = url.rsplit(":", 1)[1]
    with httpx.Client(base_url=url) as http:
        assert http.get("/", headers={"host": f"localhost:{port}"}).status_code == 200
        rebound = http.get("/api/info", headers={"host": f"attacker.example:{port}"})
        assert rebound.status_code == 400 and "attacker.example" in rebound.json()["detail"]
    only_lan = create_app(colorizer, allowed_hosts=["photos.lan"])
    with live_server(only_lan) as other, httpx.Client(base_url=other) as http:
        assert http.get("/", headers={"host": "photos.lan"}).status_code == 200
        assert http.get("/").status_code == 400  # 127.0.0.1 was not listed


def test_posts_from_other_sites_are_refused(url) -> None:
    photo = {"photo": ("a.png", _png(), "image/png")}
    with httpx.Client(base_url=url) as http:
        cross = http.post("/api/colorize", files=photo, headers={"origin": "http://evil.example"})
        assert cross.status_code == 403
        fetch = http.post("/api/colorize", files=photo, headers={"sec-fetch-site": "cross-site"})
        assert fetch.status_code == 403
        same = http.post("/api/colorize", files=photo, headers={"origin": url})
        assert same.status_code == 200
        assert http.post("/api/colorize", files=photo).status_code == 200  # curl, scripts


def test_half_open_and_trickling_requests_time_out(url) -> None:
    started = time.monotonic()
    answer = _raw(url, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # headers never finished
    assert answer.startswith(b"HTTP/1.1 408") and time.monotonic() - started < 5
    body = b"--x\r\n" + b"a" * 2000
    head = (b"POST /api/colorize HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/"
            b"form-data; boundary=x\r\nContent-Length: %d\r\n\r\n" % len(body))  # fmt: skip
    started = time.monotonic()
    answer = _raw(url, head, [body[i : i + 100] for i in range(0, len(body), 100)], pause=0.2)
    assert answer.startswith(b"HTTP/1.1 408") and time.monotonic() - started < 5
    with httpx.Client(base_url=url) as http:  # and the server still serves everyone else
        assert http.get("/api/info").status_code == 200


def test_a_full_server_answers_503_at_once(colorizer) -> None:
    gate = threading.Event()

    class Held:  # the real colorizer, held at the door until the test opens it
        image_size, description = colorizer.image_size, colorizer.description

        def colorize_pixels(self, pixels):
            gate.wait(30)
            return colorizer.colorize_pixels(pixels)

    photo = {"photo": ("a.png", _png(), "image/png")}
    with live_server(create_app(Held(), max_active=1)) as base, httpx.Client(base_url=base) as http:
        first = threading.Thread(target=lambda: http.post("/api/colorize", files=photo))
        first.start()
        time.sleep(0.5)
        busy = http.post("/api/colorize", files=photo)
        gate.set()
        first.join()
        assert busy.status_code == 503 and busy.headers["retry-after"] == "5"
        assert http.post("/api/colorize", files=photo).status_code == 200  # free again


def test_a_photo_with_a_malformed_exif_block_is_colorized(url) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (40, 32), (200, 30, 30)).save(buf, "PNG", exif=b"Exif\x00\x00not-a-tiff")
    with httpx.Client(base_url=url) as http:
        answer = http.post("/api/colorize", files={"photo": ("s.png", buf.getvalue(), "image/png")})
        assert answer.status_code == 200
        too_wide = _png((16_400, 2))
        webp = http.post(
            "/api/colorize?format=webp", files={"photo": ("w.png", too_wide, "image/png")}
        )
        assert webp.status_code == 422 and "16383" in webp.json()["detail"]


def test_uploaded_names_become_safe_stems() -> None:
    from kolorize.serve.guard import safe_stem

    assert safe_stem("../My holiday (1).JPG") == "My_holiday_1"
    assert safe_stem(None) == "photo" and safe_stem("...mp4", "clip") == "clip"
    assert safe_stem("x" * 200 + ".mov", "clip") == "x" * 80


def _slow_upload(url: str) -> socket.socket:
    """A POST that declares 44,000 bytes and sends 100 of them, then nothing."""
    host, port = url.removeprefix("http://").split(":")
    s = socket.create_connection((host, int(port)))
    s.sendall(
        b"POST /api/colorize HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/"
        b"form-data; boundary=x\r\nContent-Length: 44000\r\n\r\n" + b"--x\r\n" + b"a" * 95
    )
    return s  # fmt: skip


def test_slow_uploads_do_not_keep_others_out(colorizer) -> None:
    app = create_app(colorizer, max_bytes=MAX_BYTES, max_active=2, request_timeout=30)
    with live_server(app) as base, httpx.Client(base_url=base, timeout=20) as http:
        slow = [_slow_upload(base) for _ in range(3)]
        time.sleep(0.5)
        try:
            answer = http.post("/api/colorize", files={"photo": ("a.png", _png(), "image/png")})
        finally:
            for s in slow:
                s.close()
    assert answer.status_code == 200, answer.text


def _assert_guarded(answer: bytes, status: int) -> dict:
    """`answer` (raw HTTP) has `status`, the security headers and one JSON sentence."""
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith(f"HTTP/1.1 {status} "), answer[:300]
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"
    detail = json.loads(body)["detail"]
    assert isinstance(detail, str) and detail.endswith(".") and "\n" not in detail
    return headers


@pytest.mark.parametrize("protocol", ["httptools", "h11"])
def test_what_uvicorn_answers_itself_is_guarded_too(colorizer, monkeypatch, protocol) -> None:
    import uvicorn.protocols.http.auto as auto
    from uvicorn.protocols.http.h11_impl import H11Protocol

    if protocol == "h11":
        monkeypatch.setattr(auto, "AutoHTTPProtocol", H11Protocol)
    app = create_app(colorizer, request_timeout=1.0)
    with live_server(app, max_connections=2) as base:
        _assert_guarded(_raw(base, b"NOT HTTP AT ALL\r\n\r\n", wait=3), 400)
        _assert_guarded(_raw(base, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"), 408)
        host, port = base.removeprefix("http://").split(":")
        idle = [socket.create_connection((host, int(port))) for _ in range(2)]
        try:
            full = _raw(base, b"GET /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", wait=3)
        finally:
            for s in idle:
                s.close()
        assert _assert_guarded(full, 503)["retry-after"] == "5"


def test_every_error_is_one_sentence_that_echoes_nothing(url, colorizer) -> None:
    upload = b"\x89PNG" + b"s3cret" * 20_000  # a field without a file name, echoed before
    with httpx.Client(base_url=url) as http:
        answers = {
            "format": http.post("/api/colorize?format=gif", files={"photo": ("a.png", _png())}),
            "missing": http.post("/api/colorize", files={"picture": ("a.png", _png())}),
            "no name": http.post("/api/colorize", files={"photo": (None, upload)}),
            "not found": http.get("/nothing-here"),
        }
    details = {k: a.json()["detail"] for k, a in answers.items()}
    assert all(isinstance(d, str) and "s3cret" not in d and len(d) < 200 for d in details.values())
    assert details["format"] == "format must be one of png, jpeg, webp, tiff."
    assert (
        "no field 'photo'" in details["missing"] and "'photo' must be a file" in details["no name"]
    )
    assert [a.status_code for a in answers.values()] == [422, 422, 422, 404]
    assert all("s3cret" not in a.text for a in answers.values())


def test_a_multipart_body_cut_short_is_a_400(url) -> None:
    body = (b"--x\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"a.png\"\r\n"
            b"Content-Type: image/png\r\n\r\n" + _png())  # no closing --x-- # fmt: skip
    head = (b"POST /api/colorize HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/"
            b"form-data; boundary=x\r\nContent-Length: %d\r\n\r\n" % len(body))  # fmt: skip
    answer = _raw(url, head + body, wait=3)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:300]
    assert b"no closing boundary" in answer


def test_head_of_the_page_and_a_bug_are_answered(colorizer) -> None:
    class Broken:
        image_size, description = colorizer.image_size, colorizer.description

        def colorize(self, image):
            raise RuntimeError("a bug of the server's own")

    with live_server(create_app(Broken())) as base, httpx.Client(base_url=base) as http:
        assert http.head("/").status_code == 200
        failed = http.post("/api/colorize", files={"photo": ("a.png", _png(), "image/png")})
    assert failed.status_code == 500
    assert failed.json() == {"detail": "The server failed on this request; it has been logged."}
    assert failed.headers["x-frame-options"] == "DENY"
