import hashlib
import io
import json
import socket
import zipfile

import pytest

from helpers.cli import run_cli
from helpers.httpserver import serve
from helpers.photos import real_photo_paths
from kolorize.download import download
from kolorize.errors import KolorizeError

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


def test_plain_download_with_checksum(tmp_path):
    with serve({"/f.bin": PAYLOAD}) as srv:
        path = download(
            f"{srv.url}/f.bin", tmp_path / "f.bin", md5=hashlib.md5(PAYLOAD).hexdigest()
        )
    assert path.read_bytes() == PAYLOAD


def test_interrupted_download_resumes_where_it_stopped(tmp_path):
    with serve({"/f.bin": PAYLOAD}) as srv:
        srv.cut_after["/f.bin"] = 300_000
        with pytest.raises(KolorizeError, match="run the same command again"):
            download(f"{srv.url}/f.bin", tmp_path / "f.bin")
        part = tmp_path / "f.bin.part"
        assert part.stat().st_size == 300_000 and not (tmp_path / "f.bin").exists()
        download(
            f"{srv.url}/f.bin",
            tmp_path / "f.bin",
            sha256_prefix=hashlib.sha256(PAYLOAD).hexdigest()[:8],
        )
        assert srv.requests[-1] == ("/f.bin", "bytes=300000-")
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD
    assert not part.exists()


def test_bad_checksum_removes_the_file(tmp_path):
    with serve({"/f.bin": PAYLOAD}) as srv, pytest.raises(KolorizeError, match="checksum"):
        download(f"{srv.url}/f.bin", tmp_path / "f.bin", md5="0" * 32)
    assert not list(tmp_path.iterdir())


def test_offline_error_says_where_to_put_the_file(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(KolorizeError, match=str(tmp_path / "w.pth")):
        download(f"http://127.0.0.1:{port}/w.pth", tmp_path / "w.pth", timeout=5)


def _coco_like_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for p in real_photo_paths(12):
            z.write(p, f"train2017/{p.name}")
        z.writestr("train2017/broken.jpg", b"nope")
    return buf.getvalue()


def test_coco_command_downloads_resumes_and_builds_the_subset(tmp_path):
    archive = _coco_like_zip()
    md5 = hashlib.md5(archive).hexdigest()
    with serve({"/zips/train2017.zip": archive}) as srv:
        srv.cut_after["/zips/train2017.zip"] = len(archive) // 3
        args = ["data", "coco", "--out", str(tmp_path / "d"),
                "--download-dir", str(tmp_path / "dl"),
                "--url", f"{srv.url}/zips/train2017.zip", "--md5", md5,
                "--size", "32", "--n", "10", "--val", "2"]  # fmt: skip
        first = run_cli(*args)
        assert first.code == 2 and "resume" in first.err and first.err.count("\n") == 1
        second = run_cli(*args)
        assert second.code == 0, second.err
        assert srv.requests[-1][1] == f"bytes={len(archive) // 3}-"
    info = json.loads(run_cli("data", "info", str(tmp_path / "d"), "--json").out)
    assert (info["train"], info["val"]) == (8, 2)
    assert info["sources"][0]["name"] == "coco/train2017"
