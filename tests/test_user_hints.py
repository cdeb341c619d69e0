"""The user's colour hints: parsing, their patches at the model's size, and the errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from helpers.cli import run_cli
from helpers.colour import hint_generator, tiny_generator
from kolorize.color import AB_SCALE
from kolorize.inference.colorizer import Colorizer
from kolorize.inference.user_hints import (
    Hint,
    HintError,
    load_hints,
    model_hint_channels,
    parse_hint,
)


def test_a_hint_maps_to_a_patch_at_the_model_size_by_hand():
    # a 400x200 photo stretched to 100x100: x scales by 1/4, y by 1/2; radius 8 photo pixels
    # is 2 * 8 * 100 / sqrt(400 * 200) = 5.66 -> a 6-pixel patch centred on (25, 40)
    ch = model_hint_channels([Hint(100, 80, "#0000ff", radius=8)], 400, 200, 100)
    mask = ch[0, 2]
    ys, xs = np.nonzero(mask)
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (37, 42, 22, 27)
    a, b = ch[0, 0, 40, 25] * AB_SCALE, ch[0, 1, 40, 25] * AB_SCALE
    assert a == pytest.approx(79.2, abs=0.5) and b == pytest.approx(-107.9, abs=0.5)  # Lab blue
    assert ch[0, :2][:, mask == 0].max() == 0


def test_a_hint_at_the_edge_stays_inside_and_is_at_least_a_pixel():
    ch = model_hint_channels([Hint(399, 199, "red", radius=0.01)], 400, 200, 64)
    assert ch[0, 2].sum() == 1 and ch[0, 2, 63, 63] == 1


def test_parse_and_load_hints(tmp_path):
    assert parse_hint("412,230=#2f5aa8") == Hint(412.0, 230.0, "#2f5aa8")
    assert parse_hint("1.5,2=rgb(10,20,30)").rgb() == (10, 20, 30)
    path = tmp_path / "h.json"
    path.write_text(
        json.dumps(
            [{"x": 3, "y": 4, "color": "red", "radius": 2}, {"x": 1, "y": 1, "color": [0, 0, 255]}]
        )
    )
    assert load_hints(path) == [Hint(3.0, 4.0, "red", 2), Hint(1.0, 1.0, (0, 0, 255))]


@pytest.mark.parametrize(
    "text", ["412,230", "412=red", "a,b=red", "1,2=", "1,2=notacolour", "1,2,3=red"]
)
def test_bad_hints_are_one_clear_error(text):
    with pytest.raises(HintError):
        parse_hint(text)


@pytest.mark.parametrize(
    "content",
    ["{", '{"x": 1}', '[{"x": 1, "y": 2}]', '[{"x": "1", "y": 2, "color": "red"}]',
     '[{"x": 1, "y": 2, "color": [1, 2]}]', '[{"x": 1, "y": 2, "color": "red", "radius": 0}]'],
)  # fmt: skip
def test_bad_hints_files_are_one_clear_error(tmp_path, content):
    path = tmp_path / "h.json"
    path.write_text(content)
    with pytest.raises(HintError):
        load_hints(path)


def test_a_hint_outside_the_photo_or_to_a_model_without_hint_inputs_is_refused(colorizer):
    photo = Image.new("RGB", (40, 30), (120, 120, 120))
    with pytest.raises(HintError, match="takes no colour hints"):
        colorizer.colorize(photo, hints=[Hint(5, 5, "red")])
    hinted = Colorizer(colorizer._predict, image_size=32, takes_hints=True)
    with pytest.raises(HintError, match="outside the photo"):
        hinted.colorize(photo, hints=[Hint(40, 5, "red")])
    assert colorizer.colorize(photo, hints=[]).size == (40, 30)  # no hints: always fine


# -- kolorize colorize --hint / --hints ----------------------------------------------------


@pytest.fixture(scope="module")
def hint_model(tmp_path_factory):
    return hint_generator(tmp_path_factory.mktemp("hints") / "generator.safetensors")


@pytest.fixture
def gray_photo(tmp_path):
    path = tmp_path / "old.png"
    Image.new("L", (400, 300), 128).save(path)
    return path


def _mean(image: Image.Image, x: int, y: int, r: int = 3) -> np.ndarray:
    return np.asarray(image.convert("RGB"), float)[y - r : y + r + 1, x - r : x + r + 1].mean(
        (0, 1)
    )


def test_hints_on_the_command_line_colour_their_places_and_nothing_far(
    tmp_path, gray_photo, hint_model
):
    out, auto = tmp_path / "out.png", tmp_path / "auto.png"
    result = run_cli("colorize", str(gray_photo), "-m", str(hint_model), "-o", str(out),
                     "--hint", "100,200=#2040ff", "--hint", "300,60=red")  # fmt: skip
    assert result.code == 0, result.err
    assert run_cli("colorize", str(gray_photo), "-m", str(hint_model), "-o", str(auto)).code == 0
    coloured, plain = Image.open(out), Image.open(auto)
    assert coloured.size == (400, 300)
    blue, red = _mean(coloured, 105, 201), _mean(coloured, 305, 62)
    brown = _mean(plain, 105, 201)  # the model's colour without hints: (164, 119, 81)
    assert blue[2] > brown[2] + 80 and blue[2] > blue[0] + 30, (blue, brown)
    assert red[0] > brown[0] + 30 and red[2] < brown[2] - 20, (red, brown)
    for x, y in ((10, 10), (390, 290), (200, 150)):  # far from both: as without hints
        assert np.abs(_mean(coloured, x, y) - _mean(plain, x, y)).max() <= 1
    assert np.abs(_mean(plain, 105, 201) - _mean(plain, 10, 10)).max() <= 1


def test_a_hints_file_gives_what_the_same_hints_on_the_command_line_give(
    capsys, tmp_path, gray_photo, hint_model
):
    hints = tmp_path / "hints.json"
    blue = {"x": 100, "y": 200, "color": "#2040ff"}
    red = {"x": 300, "y": 60, "color": [255, 0, 0], "radius": 6}  # 6: the default here
    hints.write_text(json.dumps([blue, red]))
    by_file, by_option = tmp_path / "a.png", tmp_path / "b.png"
    common = ("colorize", gray_photo, "-m", hint_model, "-o")
    assert run_cli(*common, by_file, "--hints", hints, capsys=capsys).code == 0
    options = ("--hint", "100,200=#2040ff", "--hint", "300,60=rgb(255,0,0)")
    assert run_cli(*common, by_option, *options, capsys=capsys).code == 0
    assert np.array_equal(np.asarray(Image.open(by_file)), np.asarray(Image.open(by_option)))


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--hint", "400,10=red"], "hint at 400,10 is outside the photo (400x300 pixels)"),
        (["--hint", "10,-1=red"], "outside the photo"),
        (["--hint", "10,10=bleu"], "unknown colour 'bleu'"),
        (["--hint", "10;10=red"], "a hint is X,Y=COLOUR"),
        (["--hints", "{missing}"], "no such hints file"),
        (["--hints", "{bad}"], "is not a JSON hints file"),
        (["--hints", "{outside}"], "outside the photo"),
    ],
)
def test_a_bad_hint_is_one_line_exit_2_and_nothing_written(
    capsys, tmp_path, gray_photo, hint_model, args, said
):
    (tmp_path / "bad.json").write_text('[{"x": 1, "y": 2, "color": "red"},')
    (tmp_path / "outside.json").write_text('[{"x": 1, "y": 2000, "color": "red"}]')
    args = [a.format(missing=tmp_path / "none.json", bad=tmp_path / "bad.json",
                     outside=tmp_path / "outside.json") for a in args]  # fmt: skip
    out = tmp_path / "out.png"
    result = run_cli("colorize", gray_photo, "-m", hint_model, "-o", out, *args, capsys=capsys)
    assert result.code == 2, result.err
    (line,) = result.err.strip().splitlines()[-1:]
    assert line.startswith("error: ") and said in line, result.err
    assert sum(1 for x in result.err.splitlines() if x.startswith("error")) == 1
    assert "Traceback" not in result.err
    assert not out.exists() and not list(tmp_path.glob(".*tmp*"))


def test_hints_need_a_hint_model_and_a_single_photo(capsys, tmp_path, gray_photo, hint_model):
    plain_model = tiny_generator(tmp_path / "plain.safetensors", arch="resnet18_unet")
    out = tmp_path / "out.png"
    result = run_cli("colorize", gray_photo, "-m", plain_model, "-o", out,
                      "--hint", "10,10=red", capsys=capsys)  # fmt: skip
    assert result.code == 2 and not out.exists()
    assert result.err.strip().splitlines()[-1] == (
        "error: plain.safetensors takes no colour hints: a model trained with generator.hints does"
    )
    second = tmp_path / "second.png"
    Image.new("L", (40, 30), 90).save(second)
    result = run_cli("colorize", gray_photo, second, "-m", hint_model,
                      "-o", tmp_path / "outs/", "--hint", "10,10=red", capsys=capsys)  # fmt: skip
    assert result.code == 2 and not (tmp_path / "outs").exists()
    assert result.err.strip().endswith(
        "--hint and --hints are for one photo (x,y are its pixels), but 2 photos were given"
    )
