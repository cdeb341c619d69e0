"""A SIGKILL runs no cleanup: the hidden temporaries of a killed writer (`.NAME.tmp-PID`) and
the web server's private folder stay behind. Every writer removes those of dead processes
beside its targets before it writes, and leaves those of live ones alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers.cli import run_cli
from helpers.colour import tiny_generator
from helpers.photos import real_photo_paths
from kolorize.atomic import atomic_write, write_text_atomic


def dead_pid() -> int:
    """The PID of a process that has ended (and is reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_generator(tmp_path_factory.mktemp("model") / "generator.safetensors")


def test_a_write_removes_dead_processes_temporaries_beside_it(tmp_path: Path) -> None:
    dead = tmp_path / f".old.png.tmp-{dead_pid()}"
    live = tmp_path / f".other.png.tmp-{os.getppid()}"  # pytest's parent: alive
    below = tmp_path / "sub" / f".x.png.tmp-{dead_pid()}"  # another folder's business
    for path in (dead, live, below):
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"partial")
    write_text_atomic(tmp_path / "new.txt", "hello")
    assert not dead.exists() and live.exists() and below.exists()
    assert (tmp_path / "new.txt").read_text() == "hello"


def test_a_photo_run_removes_what_a_killed_one_left(tmp_path: Path, model: Path) -> None:
    src = real_photo_paths(1)[0]
    out = tmp_path / "out"
    out.mkdir()
    left = out / f".{src.stem}.jpg.tmp-{dead_pid()}"
    left.write_bytes(b"half a photo")
    result = run_cli("colorize", str(src), "-o", str(out), "--model", str(model))
    assert result.code == 0, result.err
    assert sorted(p.name for p in out.iterdir()) == [f"{src.stem}.jpg"]


def test_a_killed_film_run_leaves_a_temporary_that_the_next_run_removes(
    tmp_path: Path, model: Path
) -> None:
    pytest.importorskip("av")
    from helpers.video import panned, write_clip

    film = write_clip(tmp_path / "film.mp4", panned(24), audio=False)
    out = tmp_path / "out"
    args = ["colorize", str(film), "-o", str(out / "film.mp4"), "--model", str(model)]
    killed = subprocess.Popen([sys.executable, "-m", "kolorize", *args],
                              stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 120
    while not list(out.glob(".film.mp4.tmp-*")):
        assert killed.poll() is None and time.monotonic() < deadline, "no temporary was seen"
        time.sleep(0.01)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert [p.name for p in out.iterdir()] == [f".film.mp4.tmp-{killed.pid}"]
    again = run_cli(*args)
    assert again.code == 0, again.err
    assert [p.name for p in out.iterdir()] == ["film.mp4"]


def test_an_export_removes_what_a_killed_one_left(tmp_path: Path, model: Path) -> None:
    left = tmp_path / f".model.onnx.tmp-{dead_pid()}"
    left.write_bytes(b"half a graph")
    result = run_cli("export", str(model), "-o", str(tmp_path / "model.onnx"))
    assert result.code == 0, result.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


def test_the_servers_folders_of_dead_servers_are_removed(tmp_path: Path, monkeypatch) -> None:
    import tempfile

    from kolorize.atomic import private_temp_folder

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = tmp_path / f"kolorize-video-{dead_pid()}-abc"
    (dead / "job").mkdir(parents=True)
    (dead / "job" / "upload.mp4").write_bytes(b"a clip")
    live = tmp_path / f"kolorize-video-{os.getppid()}-def"
    live.mkdir()
    other = tmp_path / "kolorize-video-notes"
    other.mkdir()
    mine = private_temp_folder("kolorize-video-")
    assert mine.name.startswith(f"kolorize-video-{os.getpid()}-") and mine.is_dir()
    assert not dead.exists() and live.exists() and other.exists()


def test_a_failed_write_still_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), atomic_write(tmp_path / "a.bin") as tmp:
        tmp.write_bytes(b"partial")
        raise RuntimeError("the writer failed")
    assert list(tmp_path.iterdir()) == []
