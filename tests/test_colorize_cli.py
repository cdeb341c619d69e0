"""`kolorize colorize` on files, folders and globs, as a user runs it.

Lightness tolerance: PNG outputs keep the input's CIE L within 0.5 at every pixel (8-bit
rounding); JPEG outputs (quality 95) within 0.5 on average and 2.5 at the 99th percentile
(JPEG quantisation and 4:2:0 chroma; about 0.35 and 2.2 with the vivid test model on the cat,
0.65 and 3.1 at quality 85).
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from helpers.badfiles import make_all
from helpers.cli import run_cli
from helpers.colour import lightness, tiny_generator
from helpers.photos import copy_photos, real_photo_paths
from kolorize.errors import KolorizeError
from kolorize.photo_files import find_inputs, plan


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_generator(tmp_path_factory.mktemp("model") / "generator.safetensors")


def _snapshot(folder: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_folder_with_bad_files_finishes_the_rest(tmp_path: Path, model: Path) -> None:
    src = tmp_path / "in"
    (src / "album" / "1950s").mkdir(parents=True)
    photos = real_photo_paths(3)
    shutil.copy(photos[0], src / photos[0].name)
    shutil.copy(photos[1], src / "album" / photos[1].name)
    shutil.copy(photos[2], src / "album" / "1950s" / photos[2].name)
    awkward = make_all(photos[0])
    for name in ("corrupt.jpg", "truncated.jpg", "notes.jpg", "cmyk.jpg", "rgb16.png"):
        (src / "album" / name).write_bytes(awkward[name][0])
    before = _snapshot(src)
    out = tmp_path / "out"

    result = run_cli("colorize", str(src), "--model", str(model), "-o", str(out))

    assert result.code == 1, result.err
    for bad in ("corrupt.jpg", "truncated.jpg", "notes.jpg"):
        assert str(src / "album" / bad) in result.err
        assert not (out / "album" / bad).exists()
    assert "colorized 5 of 8 photos" in result.err
    expected = {
        photos[0].name,
        f"album/{photos[1].name}",
        f"album/1950s/{photos[2].name}",
        "album/cmyk.jpg",
        "album/rgb16.png",
    }
    written = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert written == expected  # the layout is kept, and no temporary files are left
    for rel in expected:
        source = Image.open(src / rel)
        assert Image.open(out / rel).size == source.size
    assert _snapshot(src) == before  # inputs untouched


def test_png_output_keeps_size_and_lightness_jpeg_within_tolerance(
    tmp_path: Path, model: Path
) -> None:
    photo = real_photo_paths(4)[2]
    source = Image.open(photo)
    png, jpg = tmp_path / "a.png", tmp_path / "b.jpg"
    assert run_cli("colorize", str(photo), "-m", str(model), "-o", str(png)).code == 0
    assert run_cli("colorize", str(photo), "-m", str(model), "-o", str(jpg)).code == 0
    assert Image.open(png).format == "PNG" and Image.open(jpg).format == "JPEG"
    out_png, out_jpg = Image.open(png), Image.open(jpg)
    assert out_png.size == out_jpg.size == source.size
    assert np.abs(lightness(out_png) - lightness(source)).max() <= 0.5
    jpeg_error = np.abs(lightness(out_jpg) - lightness(source))
    assert jpeg_error.mean() <= 0.5 and np.percentile(jpeg_error, 99) <= 2.5


def test_exif_rotated_photo_comes_out_upright(tmp_path: Path, model: Path) -> None:
    photo = real_photo_paths(4)[2]
    rotated = tmp_path / "rotated.jpg"
    rotated.write_bytes(make_all(photo)["rotated.jpg"][0])
    upright = ImageOps.exif_transpose(Image.open(rotated))
    out = tmp_path / "out"
    result = run_cli("colorize", str(rotated), "-m", str(model), "-o", str(out), "--format", "png")
    assert result.code == 0, result.err
    colour = Image.open(out / "rotated.png")
    assert colour.size == upright.size != Image.open(rotated).size
    assert np.abs(lightness(colour) - lightness(upright)).mean() < 0.5


def test_never_overwrites_inputs(tmp_path: Path, model: Path) -> None:
    src = tmp_path / "in"
    copy_photos(src, 2)
    before = _snapshot(src)
    result = run_cli("colorize", str(src), "-m", str(model), "-o", str(src))
    assert result.code == 2
    assert result.err.count("\n") == 1 and "would overwrite an input" in result.err
    assert _snapshot(src) == before


def test_outputs_inside_the_input_folder_are_not_inputs_next_time(tmp_path: Path) -> None:
    src = tmp_path / "in"
    copy_photos(src, 2)
    copy_photos(src / "colour", 2)  # as a first run would have left them
    inputs = find_inputs([str(src)], skip_under=src / "colour")
    assert sorted(p for p, _ in inputs) == sorted(src.glob("*.jpg"))
    jobs = plan(inputs, src / "colour")
    assert {j.target.parent for j in jobs} == {src / "colour"}


def test_globs_formats_and_side_by_side(tmp_path: Path, model: Path) -> None:
    src = copy_photos(tmp_path / "in", 3)
    photos = real_photo_paths(3)
    Image.open(photos[0]).convert("L").save(src / "gray.png")
    out = tmp_path / "out"
    result = run_cli(
        "colorize", str(src / "*.jpg"), str(src / "gray.png"), "-m", str(model),
        "-o", str(out), "--format", "webp", "--side-by-side",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [p.with_suffix(".webp").name for p in photos] + ["gray.webp"]
    )
    for p in [*photos, src / "gray.png"]:
        w, h = Image.open(p).size
        pair = Image.open(out / p.with_suffix(".webp").name)
        assert pair.format == "WEBP" and pair.size == (2 * w + 8, h)
    # a colour photo is shown as itself on the left; a gray one as gray
    first = np.asarray(Image.open(out / photos[0].with_suffix(".webp").name).convert("RGB"))
    original = np.asarray(Image.open(photos[0]).convert("RGB"))
    assert np.abs(first[:, : original.shape[1]].astype(int) - original).mean() < 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nowhere/*.jpg"], "no files match"),
        (["missing.jpg"], "no such file or folder"),
        (["{photo}", "--format", "gif"], "Invalid value for '--format'"),
        (["{photo}", "--model", "{tmp}/none"], "no such model file"),
        (["{photo}", "{photo}", "-o", "{tmp}/one.png"], None),
        (["{photo}", "{photo2}", "-o", "{tmp}/one.png"], "names one file but 2 photos"),
        (["{photo}", "-o", "{tmp}/one.bmp"], "can write .png, .jpg, .webp or .tif"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(
    tmp_path: Path, model: Path, args: list[str], message: str | None
) -> None:
    photo, photo2 = real_photo_paths(2)
    fill = {"photo": photo, "photo2": photo2, "tmp": tmp_path}
    argv = ["colorize", "--model", str(model), "-o", str(tmp_path / "out")]
    result = run_cli(*argv, *(a.format(**fill) for a in args))
    if message is None:  # the same photo twice is one photo
        assert result.code == 0, result.err
        return
    assert result.code == 2, result.err
    assert result.err.startswith("error: ") and result.err.count("\n") == 1
    assert message in result.err


def test_same_stem_in_one_folder_gets_distinct_names(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    photo = Image.open(real_photo_paths(1)[0])
    photo.save(src / "a.jpg")
    photo.save(src / "a.png")
    photo.save(src / "b.jpg")
    jobs = plan(find_inputs([str(src)]), tmp_path / "out", "png")
    assert sorted(j.target.name for j in jobs) == ["a.jpg.png", "a.png.png", "b.png"]
    with pytest.raises(KolorizeError, match="would overwrite"):
        plan(find_inputs([str(src / "a.png")]), src, "png")


def test_single_file_output_format_must_match(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "PNG")
    (tmp_path / "x.png").write_bytes(buf.getvalue())
    inputs = find_inputs([str(tmp_path / "x.png")])
    assert plan(inputs, tmp_path / "y.jpeg")[0].fmt == "jpeg"
    with pytest.raises(KolorizeError, match="does not match"):
        plan(inputs, tmp_path / "y.jpg", "webp")
    (tmp_path / "notes").write_text("a file where a folder should be")
    with pytest.raises(KolorizeError, match="is a file, not a folder"):
        plan(inputs, tmp_path / "notes")


def test_a_summary_names_no_file_that_was_not_written(tmp_path: Path, model: Path) -> None:
    (tmp_path / "zero.jpg").write_bytes(b"")
    out = tmp_path / "out" / "zero.png"
    result = run_cli("colorize", str(tmp_path / "zero.jpg"), "-o", str(out), "--model", str(model))
    assert result.code == 1
    assert "colorized 0 of 1 photos\n" in result.err and str(out) not in result.err
    assert not out.exists()


def test_a_trailing_slash_makes_the_output_a_folder(tmp_path: Path, model: Path) -> None:
    photo = real_photo_paths(1)[0]
    out = tmp_path / "out" / "dir.png"
    result = run_cli("colorize", str(photo), "-o", f"{out}/", "--model", str(model))
    assert result.code == 0, result.err
    assert [p.name for p in out.iterdir()] == [photo.name]
    assert f"colorized 1 of 1 photos into {out}/" in result.err


@pytest.mark.parametrize("kind", ["GIF", "TIFF"])
def test_an_animation_or_multi_page_file_is_colorized_from_its_first_frame_with_a_note(
    tmp_path: Path, model: Path, kind: str
) -> None:
    frames = [Image.new("RGB", (40, 32), (v, v, v)) for v in (40, 120, 200)]
    src = tmp_path / f"anim.{kind.lower()}"
    frames[0].save(src, kind, save_all=True, append_images=frames[1:])
    out = tmp_path / "out.png"
    result = run_cli("colorize", str(src), "-o", str(out), "--model", str(model))
    assert result.code == 0, result.err
    note = f"note: {src}: it holds 3 frames (an animation or pages): only the first was colorized"
    assert note in result.err.splitlines()
    assert (
        abs(float(np.mean(lightness(Image.open(out)))) - float(np.mean(lightness(frames[0])))) < 3
    )
