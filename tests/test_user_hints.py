"""The user's colour hints: parsing, their patches at the model's size, and the errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

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
