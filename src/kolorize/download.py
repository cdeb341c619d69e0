"""HTTP(S) downloads that survive real networks: resume of a partial file (HTTP Range), a
progress bar, a size check against the server's length and an optional checksum. The file
appears under its final name only once it is complete and verified."""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from pathlib import Path

from kolorize.errors import KolorizeError
from kolorize.progress import progress

CHUNK = 1 << 20


class DownloadError(KolorizeError):
    """A download failed; `reason` says why in a few words."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def _hash_file(path: Path, algorithm: str) -> hashlib._Hash:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h


def _checksum_ok(path: Path, md5: str | None, sha256_prefix: str | None) -> bool:
    if md5 and _hash_file(path, "md5").hexdigest() != md5.lower():
        return False
    return not (
        sha256_prefix
        and not _hash_file(path, "sha256").hexdigest().startswith(sha256_prefix.lower())
    )


def download(
    url: str,
    dest: str | Path,
    *,
    md5: str | None = None,
    sha256_prefix: str | None = None,
    timeout: float = 60.0,
    desc: str | None = None,
) -> Path:
    """Download `url` to `dest`, resuming `dest.part` if an earlier attempt was cut off.

    Raises KolorizeError with what to do next when the network fails (the partial file is
    kept for the next attempt) or when the finished file fails its checksum (it is removed).
    """
    dest = Path(dest)
    if dest.is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.is_file() else 0
    response = _open(url, dest, offset, timeout)
    if response is None:  # the partial file already holds everything
        total: int | None = offset
    else:
        with response:
            total = _receive(response, url, part, offset, desc or dest.name)
    _verify(part, url, dest, total, md5, sha256_prefix)
    os.replace(part, dest)
    return dest


def _open(url: str, dest: Path, offset: int, timeout: float) -> http.client.HTTPResponse | None:
    """The server's response from `offset` on; None when nothing is left to fetch."""
    headers = {"User-Agent": "kolorize", "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code != 416 or not offset:  # 416: the partial file already holds everything
            reason = f"HTTP {e.code} {e.reason}"
            raise DownloadError(f"download of {url} failed: {reason}", reason) from None
        return None
    except (urllib.error.URLError, OSError) as e:
        reason = str(getattr(e, "reason", e))
        raise DownloadError(
            f"cannot download {url} ({reason}); check the network, or fetch the file by hand "
            f"and put it at {dest}",
            reason,
        ) from None


def _receive(
    response: http.client.HTTPResponse, url: str, part: Path, offset: int, desc: str
) -> int | None:
    """Append the body to `part` (or start it over when the server ignored Range); returns
    the file's whole length as the server gives it."""
    if offset and response.status != 206:
        offset = 0  # the server ignored Range: start over
    length = response.headers.get("Content-Length")
    total = offset + int(length) if length is not None else None
    try:
        with (
            open(part, "ab" if offset else "wb") as f,
            progress(total=total, initial=offset, unit="B", unit_scale=True, desc=desc) as bar,
        ):
            while block := response.read(CHUNK):
                f.write(block)
                bar.update(len(block))
    except (TimeoutError, http.client.IncompleteRead, ConnectionError, OSError) as e:
        raise DownloadError(
            f"download of {url} was interrupted ({type(e).__name__}); "
            f"{part.stat().st_size if part.exists() else 0} bytes kept in {part}: "
            "run the same command again to resume",
            "interrupted",
        ) from None
    return total


def _verify(
    part: Path,
    url: str,
    dest: Path,
    total: int | None,
    md5: str | None,
    sha256_prefix: str | None,
) -> None:
    """The partial file is whole and passes its checksum (else it is removed)."""
    got = part.stat().st_size if part.is_file() else 0
    if total is not None and got != total:
        raise DownloadError(
            f"download of {url} is incomplete ({got} of {total} bytes, kept in {part}): "
            "run the same command again to resume",
            "incomplete",
        )
    if not _checksum_ok(part, md5, sha256_prefix):
        part.unlink()
        raise DownloadError(
            f"{dest.name} from {url} failed its checksum; removed it, try again", "bad checksum"
        )
