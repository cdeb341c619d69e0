"""Hostile inputs, kills and concurrent use: every failure ends as one line (or a named,
counted per-file failure), and nothing already written is lost or half-written.

Most run the real console entry point in this process (`run_cli(..., capsys=...)`), so that
a test can make the disk full; the ones about processes (locks, Ctrl+C, ports) use
subprocesses."""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import save_file

from helpers.cli import run_cli
from helpers.colour import free_port, tiny_generator
from helpers.interrupts import interrupt_watch, swallow_a_ctrl_c
from helpers.photos import copy_photos, real_photo_paths
from kolorize.data.images import upright_rgb
from kolorize.data.prepare import PrepareRequest, prepare
from kolorize.data.sources import folder_candidates
from kolorize.errors import KolorizeError
from kolorize.inference.colorizer import Colorizer, grayscale
from kolorize.locks import folder_lock, lock_path
from kolorize.train.trainer import train

TINY_RUN = {
    "generator.arch": "unet", "generator.levels": 5, "generator.width": 4,
    "discriminator.width": 4, "train.batch_size": 4, "train.epochs": 1,
    "train.samples": 0, "train.val_images": 0, "train.phase": "pretrain",
}  # fmt: skip


def one_line(err: str) -> bool:
    """The command ended with exactly one error line (progress lines before it are fine)."""
    lines = err.strip().splitlines()
    errors = [line for line in lines if line.startswith("error")]
    return lines[-1].startswith("error: ") and len(errors) == 1 and "Traceback" not in err


def leftovers(folder: Path) -> list[Path]:
    """Temporary, partial and lock files under (and next to) `folder`."""
    names = (".tmp-", ".partial", ".lock", ".old")
    return [p for p in folder.parent.rglob("*") if any(n in p.name for n in names)]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_generator(tmp_path_factory.mktemp("model") / "generator.safetensors")


def bad_exif_png(size=(48, 40)) -> bytes:
    """A photo whose EXIF block is not TIFF: Pillow's getexif() raises SyntaxError on it."""
    buf = io.BytesIO()
    Image.new("RGB", size, (180, 60, 40)).save(buf, "PNG", exif=b"Exif\x00\x00not-a-tiff-block")
    return buf.getvalue()


def _dataset(root: Path, size: int, seed: int = 1, n: int = 12) -> Path:
    src = root / "src"
    if not src.exists():
        copy_photos(src, 16)
    out = root / f"data{size}-{seed}"
    prepare(folder_candidates([src]), out, PrepareRequest(size=size, n=n, val=4, seed=seed),
            workers=1, log=lambda *_: None)  # fmt: skip
    return out


@pytest.fixture(scope="module")
def data32(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _dataset(tmp_path_factory.mktemp("d"), 32)


# photos with broken metadata ----------------------------------------------------------------------


def test_a_malformed_exif_block_is_read_as_no_rotation(model: Path) -> None:
    image = Image.open(io.BytesIO(bad_exif_png()))
    with pytest.raises(SyntaxError):
        Image.open(io.BytesIO(bad_exif_png())).getexif()  # what crashed upright_rgb before
    colorizer = Colorizer.load(model, device="cpu")
    assert colorizer.colorize(image).size == (48, 40)
    assert grayscale(image).size == (48, 40)


# two prepares on one folder -----------------------------------------------------------------------


def test_a_second_prepare_on_the_same_out_is_refused_naming_the_first(tmp_path: Path) -> None:
    src = tmp_path / "src"
    copy_photos(src, 12)
    out = tmp_path / "data"
    with folder_lock(out, "preparing"):  # this test process is "the first run"
        second = run_cli("data", "prepare", str(src), "-o", str(out), "--size", "32",
                         "--n", "8", "--val", "2", "--workers", "1")  # fmt: skip
    assert second.code == 2 and f"PID {os.getpid()}" in second.err, second.err
    assert second.err.count("\n") == 1 and not out.exists()
    # a lock left by a killed run is stale: taken over, and gone afterwards
    lock_path(out).write_text("999999999\n")
    prepare(folder_candidates([src]), out, PrepareRequest(size=32, n=8, val=2), workers=1,
            log=lambda *_: None)  # fmt: skip
    assert (out / "info.json").is_file() and leftovers(out) == []


def test_two_prepares_racing_leave_one_consistent_dataset(tmp_path: Path) -> None:
    src = tmp_path / "src"
    copy_photos(src, 16)
    out = tmp_path / "data"

    def start(seed: int, size: int) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "kolorize", "data", "prepare", str(src), "-o", str(out),
             "--size", str(size), "--n", "12", "--val", "2", "--seed", str(seed),
             "--workers", "1", "--force"],
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    runs = [start(1, 32), start(2, 64)]
    errs = [p.communicate(timeout=120)[1] for p in runs]  # never blocked on a full pipe
    results = [(p.returncode, err) for p, err in zip(runs, errs, strict=True)]
    assert all(code in (0, 2) for code, _ in results), results
    assert any(code == 0 for code, _ in results)
    for code, err in results:
        assert code == 0 or "another kolorize process (PID" in err
    info = json.loads((out / "info.json").read_text())
    again = prepare(folder_candidates([src]), tmp_path / "check",
                    PrepareRequest(size=info["size"], n=12, val=2, seed=info["seed"]),
                    workers=1, log=lambda *_: None)  # fmt: skip
    assert again["size"] == info["size"]
    assert (out / "images.u8").read_bytes() == (tmp_path / "check" / "images.u8").read_bytes()
    assert (out / "manifest.csv").read_text() == (tmp_path / "check" / "manifest.csv").read_text()
    assert leftovers(out) == []


# a photo that cannot be saved, through the command line -------------------------------------------


def test_a_photo_that_cannot_be_saved_costs_only_itself(tmp_path: Path, model: Path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(real_photo_paths(1)[0], src / "good.jpg")
    (src / "scan.png").write_bytes(bad_exif_png())  # 1: the malformed EXIF block
    Image.new("L", (16_400, 2), 128).save(src / "panorama.png")  # too wide for WebP
    out = tmp_path / "out"
    ran = run_cli("colorize", src, "-m", model, "-o", out, "--format", "webp", capsys=capsys)
    code, err = ran.code, ran.err
    assert code == 1, err
    assert f"failed {src / 'panorama.png'}: cannot write" in err and "16383" in err
    assert "colorized 2 of 3 photos" in err and "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == ["good.webp", "scan.webp"]


# resuming on other data ---------------------------------------------------------------------------


def test_resume_refuses_other_data_unless_asked(tmp_path: Path, data32: Path) -> None:
    from kolorize.config import load_config

    run = tmp_path / "run"
    train(load_config(None, TINY_RUN), data32, run, log=lambda *_: None)
    stamped = safe_open(str(run / "generator.safetensors"), "pt").metadata()["image_size"]
    data64 = _dataset(tmp_path, 64)
    more = load_config(None, {**TINY_RUN, "train.epochs": 2})
    with pytest.raises(KolorizeError, match="--allow-data-change") as refused:
        train(more, data64, run, resume=True, log=lambda *_: None)
    assert "32 px" in str(refused.value) and "64 px" in str(refused.value)
    assert safe_open(str(run / "generator.safetensors"), "pt").metadata()["image_size"] == stamped
    other_photos = _dataset(tmp_path, 32, seed=7)  # same size, other manifest
    with pytest.raises(KolorizeError, match="manifest"):
        train(more, other_photos, run, resume=True, log=lambda *_: None)
    notes: list[str] = []
    train(more, data64, run, resume=True, allow_data_change=True, log=notes.append)
    assert any("different dataset" in n for n in notes)


# failures through files: one line each ------------------------------------------------------------


def test_paths_through_files_are_one_line(tmp_path: Path, data32: Path, model: Path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    config = tmp_path / "c.yaml"
    config.write_text("{}\n")
    ran = run_cli("train", config, "--data", data32, "--run-dir", afile, capsys=capsys)
    code, err = ran.code, ran.err
    assert code == 2 and one_line(err) and "is a file" in err, err
    ran = run_cli("data", "prepare", tmp_path, "-o", afile, "--workers", "1", capsys=capsys)
    code, err = ran.code, ran.err
    assert code == 2 and one_line(err) and "is a file" in err, err
    ran = run_cli("export", model, "-o", afile / "x.onnx", capsys=capsys)
    code, err = ran.code, ran.err
    assert code == 1 and one_line(err) and str(afile) in err, err
    assert afile.read_text() == "not a folder"


def test_a_damaged_dataset_is_one_line(tmp_path: Path, data32: Path, capsys) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(data32, broken)
    (broken / "info.json").write_text('{"format": "kolorize-cache/1", "size": ')
    ran = run_cli("data", "info", broken, capsys=capsys)
    code, err = ran.code, ran.err
    assert code == 2 and one_line(err) and "damaged" in err, err
    (broken / "info.json").write_text('{"format": "kolorize-cache/1", "train": 8}')
    config = tmp_path / "c.yaml"
    config.write_text("{}\n")
    ran = run_cli("train", config, "--data", broken, "--run-dir", tmp_path / "r", capsys=capsys)
    code, err = ran.code, ran.err
    assert code == 2 and one_line(err) and "damaged" in err, err


def _variant(model: Path, out: Path, change: str) -> Path:
    with safe_open(str(model), "pt") as f:
        metadata = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    key = sorted(tensors)[0]
    if change == "missing key":
        del tensors[key]
    elif change == "wrong shape":
        tensors[key] = torch.zeros(3, 3)
    elif change == "bad metadata":
        metadata["generator"] = '{"arch": "unet", "width": '
    elif change == "bad image size":
        metadata["image_size"] = '"big"'
    save_file(tensors, str(out), metadata=metadata)
    return out


@pytest.mark.parametrize("change", ["missing key", "wrong shape", "bad metadata", "bad image size"])
def test_a_damaged_model_file_is_one_line(tmp_path: Path, model: Path, capsys, change) -> None:
    bad = _variant(model, tmp_path / "g.safetensors", change)
    photo = tmp_path / "p.png"
    photo.write_bytes(bad_exif_png())
    ran = run_cli("colorize", photo, "-m", bad, "-o", tmp_path / "out", capsys=capsys)
    code, err = ran.code, ran.err
    assert code == 2 and one_line(err) and str(bad) in err, err
    assert not (tmp_path / "out").exists()


def test_a_full_disk_while_preparing_is_one_line_and_leaves_nothing(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    from kolorize.data import cache

    src = tmp_path / "src"
    copy_photos(src, 8)
    real_add = cache.CacheWriter.add

    def add_until_full(self, rgb, row):
        if len(self.rows) == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.folder / "images.u8"))
        real_add(self, rgb, row)

    monkeypatch.setattr(cache.CacheWriter, "add", add_until_full)
    out = tmp_path / "data"
    ran = run_cli(
        "data",
        "prepare",
        src,
        "-o",
        out,
        "--size",
        "32",
        "--n",
        "6",
        "--val",
        "2",
        "--workers",
        "1",
        capsys=capsys,
    )
    code, err = ran.code, ran.err
    assert code == 1 and one_line(err) and "No space left on device" in err, err
    assert not out.exists() and leftovers(out) == []


def test_a_full_disk_while_training_is_one_line_and_leaves_nothing(
    tmp_path: Path, data32: Path, monkeypatch, capsys
) -> None:
    from kolorize.train import checkpoint

    def disk_full(obj, path):  # what torch.save really raises on a full disk (tried on /dev/full)
        Path(path).write_bytes(b"PK\x03\x04 half a checkpoint")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598")

    monkeypatch.setattr(checkpoint.torch, "save", disk_full)
    config = tmp_path / "c.yaml"
    config.write_text("{}\n")
    run = tmp_path / "run"
    sets = [a for k, v in TINY_RUN.items() for a in ("--set", f"{k}={v}")]
    ran = run_cli("train", config, "--data", data32, "--run-dir", run, *sets, capsys=capsys)
    code, err = ran.code, ran.err
    assert code == 1 and one_line(err) and "is the disk full?" in err, err
    assert leftovers(run) == [] and not list((run / "checkpoints").iterdir())


def test_odd_images_through_the_api(model: Path) -> None:
    colorizer = Colorizer.load(model, device="cpu")
    hsv = Image.new("RGB", (40, 30), (200, 40, 40)).convert("HSV")
    assert colorizer.colorize(hsv).size == (40, 30)
    for mode in ("La", "RGBa"):
        assert upright_rgb(Image.new(mode, (8, 8))).mode == "RGB"
    from kolorize.data.images import ImageRejected

    with pytest.raises(ImageRejected, match="0x0"):
        colorizer.colorize(Image.new("RGB", (0, 0)))


# Ctrl+C -------------------------------------------------------------------------------------------


def _ctrl_c_as_in_a_terminal() -> None:
    """A process started in the background by a non-interactive shell (as CI may start the
    tests) inherits SIGINT ignored, and Python then installs no KeyboardInterrupt handler:
    give the child the disposition it has when a user runs it in a terminal."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
def test_ctrl_c_says_interrupted_and_reports_what_was_done(tmp_path: Path, model: Path):
    src = tmp_path / "in"
    copy_photos(src, 60)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "kolorize", "colorize", str(src), "-m", str(model), "-o", str(out),
         "--batch-size", "1"],
        stderr=subprocess.PIPE, text=True, preexec_fn=_ctrl_c_as_in_a_terminal,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not (out.is_dir() and any(out.glob("*.jpg"))):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    lines = err.strip().splitlines()
    assert lines[-1] == "interrupted" and "before it was interrupted" in lines[-2], err
    written = sorted(out.iterdir())
    assert 0 < len(written) < 60 and f"colorized {len(written)} of 60" in lines[-2]
    assert all(Image.open(p).size for p in written) and leftovers(out) == []


# what only a real `kolorize serve` process shows --------------------------------------------------


def test_serve_on_a_port_in_use_fails_before_announcing(model: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = run_cli("serve", "-m", str(model), "--port", str(port), timeout=120)
    assert result.code == 2 and "cannot listen on 127.0.0.1" in result.err, result.err
    assert "serving" not in result.err and result.err.count("\n") == 1


def test_serve_on_every_interface_warns_and_stops_on_ctrl_c(model: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kolorize", "serve", "-m", str(model), "--host", "0.0.0.0",
         "--port", str(port)],
        stderr=subprocess.PIPE, text=True, preexec_fn=_ctrl_c_as_in_a_terminal,
    )  # fmt: skip
    try:
        first = serving = proc.stderr.readline()  # type: ignore[union-attr]
        while serving and not serving.startswith("serving"):  # past any library's warnings
            serving = proc.stderr.readline()  # type: ignore[union-attr]
    finally:
        proc.send_signal(signal.SIGINT)
        # communicate, not wait: a child blocked on a full stderr pipe would look hung
        _, rest = proc.communicate(timeout=60)
    assert first.startswith("warning: listening on every network interface"), first
    assert "--allow-host" in first
    assert serving.startswith("serving"), serving + rest
    # Python kills itself with SIGINT instead of exiting 130 when a library ran the interrupted
    # code through PyRun_*; a shell reports both as 130
    assert proc.returncode in (130, -signal.SIGINT), rest
    assert rest.strip().splitlines()[-1] == "interrupted", rest


def test_serve_stops_for_a_ctrl_c_that_a_library_swallowed(
    model: Path, monkeypatch: pytest.MonkeyPatch, python_ctrl_c: None
) -> None:
    import uvicorn

    from kolorize.inference.colorizer import Colorizer
    from kolorize.serve.app import serve

    started: list[bool] = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets: started.append(True))
    logged: list[str] = []
    with interrupt_watch():
        swallow_a_ctrl_c()
        with pytest.raises(KeyboardInterrupt):
            serve(lambda: Colorizer.load(model), port=free_port(), log=logged.append)
    assert started == [] and logged == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_swallowed_ctrl_c_is_raised_again_only_in_the_main_thread(python_ctrl_c: None) -> None:
    import threading

    from kolorize.interrupts import raise_if_interrupted

    raised: list[BaseException] = []

    def worker() -> None:
        try:
            raise_if_interrupted()
        except BaseException as e:
            raised.append(e)

    with interrupt_watch():
        swallow_a_ctrl_c()
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
        with pytest.raises(KeyboardInterrupt):
            raise_if_interrupted()
    assert raised == []
    raise_if_interrupted()  # no watch, nothing to raise


def test_a_folder_run_stops_for_a_ctrl_c_that_a_library_swallowed(
    tmp_path: Path,
    model: Path,
    capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    python_ctrl_c: None,
) -> None:
    load = Colorizer.load.__func__  # type: ignore[attr-defined]

    def load_and_swallow(cls: type[Colorizer], *args: object, **kwargs: object) -> Colorizer:
        swallow_a_ctrl_c()
        return load(cls, *args, **kwargs)

    monkeypatch.setattr(Colorizer, "load", classmethod(load_and_swallow))
    copy_photos(tmp_path / "in", 3)
    ran = run_cli("colorize", tmp_path / "in", "-m", model, "-o", tmp_path / "out", capsys=capsys)
    code, err = ran.code, ran.err
    assert code == 130 and err.strip().splitlines()[-1] == "interrupted", err
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_locks_name_their_owner_and_release(tmp_path: Path) -> None:
    target = tmp_path / "run"
    with folder_lock(target, "training in"):
        assert lock_path(target).read_text().strip() == str(os.getpid())
        refused = pytest.raises(KolorizeError, match=rf"PID {os.getpid()}\) is training in")
        with refused, folder_lock(target, "training in"):
            pass
    assert list(tmp_path.iterdir()) == []  # the lock file is gone, nothing else was made
