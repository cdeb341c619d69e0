"""The command line's everyday surface: help, version, -q and -h anywhere, the bundled configs,
missing extras named in one line, and runs of a big folder that skip what is done."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from helpers.cli import run_cli
from helpers.colour import tiny_generator
from helpers.photos import real_photo_paths
from kolorize import __version__

COMMANDS = [
    [], ["colorize"], ["serve"], ["export"], ["train"], ["study"], ["evaluate"], ["report"],
    ["demo"], ["configs"], ["data"], ["data", "prepare"], ["data", "coco"], ["data", "info"],
]  # fmt: skip


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_generator(tmp_path_factory.mktemp("model") / "generator.safetensors")


def test_version_and_short_help() -> None:
    version = run_cli("--version")
    assert (version.code, version.out.strip()) == (0, f"kolorize {__version__}")
    assert run_cli("-h").out == run_cli("--help").out != ""


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "kolorize")
def test_help_names_values_and_choices_not_internal_types(command: list[str]) -> None:
    shown = run_cli(*command, "-h")
    assert shown.code == 0, shown.err
    for label in ("<list[", "<str>", "<int", "<float", "<path>", "<bool>", "{", "...]"):
        assert label not in shown.out, f"{label!r} in: {shown.out}"
    if command == ["colorize"]:
        assert "--precision <auto|fp32|bf16>" in shown.out
        assert "<auto|png|jpg|webp|tiff>" in shown.out and "cpu|cuda|cuda:N" in shown.out
        assert "Usage: kolorize colorize [OPTIONS] INPUT..." in shown.out


def test_the_command_list_is_not_cut_short() -> None:
    listing = run_cli("-h").out.split("Commands:")[1]
    assert "..." not in listing
    assert re.search(r"^\s+configs\s+List the bundled configs", listing, re.M)


def test_quiet_and_help_are_taken_after_the_command(tmp_path: Path, model: Path) -> None:
    photo = real_photo_paths(1)[0]
    result = run_cli("colorize", str(photo), "-m", str(model), "-o", str(tmp_path / "a.png"), "-q")
    assert result.code == 0, result.err
    assert (tmp_path / "a.png").is_file()


def test_loading_is_said_on_a_terminal_only(monkeypatch, capsys) -> None:
    from kolorize import progress

    class Terminal:
        def __init__(self, tty: bool) -> None:
            self.tty, self.written = tty, ""

        def isatty(self) -> bool:
            return self.tty

        def write(self, text: str) -> None:
            self.written += text

        def flush(self) -> None:
            pass

    for tty, quiet, said in ((True, False, "loading...\n"), (False, False, ""), (True, True, "")):
        terminal = Terminal(tty)
        monkeypatch.setattr("sys.stderr", terminal)
        monkeypatch.setattr(progress, "_quiet", quiet)
        progress.notice("loading...")
        assert terminal.written == said


def test_configs_lists_the_bundled_ones_one_line_each() -> None:
    listed = run_cli("configs")
    assert listed.code == 0, listed.err
    lines = {line.split()[0]: line for line in listed.out.splitlines()}
    assert {"study_quick", "study", "unet_30", "colorizer"} <= set(lines)
    assert re.match(r"study_quick\s+study\s+The same study, small enough", lines["study_quick"])
    assert re.match(r"unet_30\s+run\s+U-Net_30: ", lines["unet_30"])


def test_a_config_is_found_by_name_and_a_file_of_ones_own_comes_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kolorize.config_files import BUNDLED, find_config

    monkeypatch.chdir(tmp_path)  # an empty folder, not a checkout
    bundled = BUNDLED / "study_quick.yaml"
    for name in ("study_quick", "study_quick.yaml", "configs/study_quick.yaml"):
        assert find_config(name) == bundled
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "study_quick.yaml").write_text("runs: []\n")
    assert find_config("configs/study_quick.yaml") == Path("configs/study_quick.yaml")
    assert find_config(Path("colorizer")) == BUNDLED / "colorizer.yaml"


def test_an_unknown_config_name_is_one_line(tmp_path: Path) -> None:
    result = run_cli("train", "no_such_config", "--data", str(tmp_path))
    assert result.code == 2
    assert result.err.strip() == (
        "error: no such config file: no_such_config (nor a bundled config of that name: "
        "'kolorize configs' lists them)"
    )


@pytest.mark.parametrize(
    ("extra", "hidden", "args"),
    [
        ("serve", ["fastapi"], ["serve"]),
        ("export", ["onnx"], ["export", "-o", "x.onnx"]),
        ("export", ["onnxruntime"], ["colorize", "{photo}", "-m", "{onnx}", "-o", "{out}"]),
        ("train", ["torchvision"], ["train", "colorizer", "--data", "d"]),
        ("train", ["matplotlib"], ["study", "study_quick", "--data", "d", "--out", "o"]),
        ("train", ["torchmetrics"], ["evaluate", "r", "--data", "d", "--out", "o"]),
        ("train", ["matplotlib"], ["report", "r"]),
        ("train", ["skimage"], ["demo"]),
        ("video", ["av"], ["colorize", "{film}", "-o", "{out}"]),
    ],
)
def test_a_missing_extra_is_named_in_one_line(
    tmp_path: Path, extra: str, hidden: list[str], args: list[str]
) -> None:
    (tmp_path / "film.mp4").write_bytes(b"\0")
    (tmp_path / "model.onnx").write_bytes(b"\0")
    filled = [
        a.format(photo=real_photo_paths(1)[0], onnx=tmp_path / "model.onnx",
                 film=tmp_path / "film.mp4", out=tmp_path / "out")
        for a in args
    ]  # fmt: skip
    result = run_cli(*filled, without=hidden)
    assert result.code == 1, result.err
    assert "Traceback" not in result.err
    (line,) = result.err.strip().splitlines()[-1:]
    assert f"needs kolorize's [{extra}] extra" in line
    assert line.endswith(f"pip install 'kolorize[{extra}]'")
    assert not (tmp_path / "out").exists()


def test_skip_existing_colorizes_only_what_is_new(tmp_path: Path, model: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    first, second = real_photo_paths(2)
    shutil.copy(first, src / "a.jpg")
    assert run_cli("colorize", str(src), "-m", str(model), "-o", str(out)).code == 0
    done = (out / "a.jpg").read_bytes()
    (out / "a.jpg").write_bytes(done + b"kept")  # a rerun must leave it alone
    shutil.copy(second, src / "b.jpg")

    again = run_cli("colorize", str(src), "-m", str(model), "-o", str(out), "--skip-existing")
    assert again.code == 0, again.err
    assert "skipping 1 photo whose output exists" in again.err
    assert "colorized 1 of 1 photos" in again.err
    assert (out / "a.jpg").read_bytes() == done + b"kept" and (out / "b.jpg").is_file()

    nothing = run_cli("colorize", str(src), "-m", str(model), "-o", str(out), "--skip-existing")
    assert nothing.code == 0 and "colorized" not in nothing.err
