"""`--render-size`: the side at which colour is predicted, for photos and videos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from helpers.cli import run_cli
from helpers.colour import tiny_generator
from kolorize.inference.colorizer import Colorizer
from kolorize.models import round_to_multiple


class Recorder:
    """A stand-in model that remembers the sizes it was shown and paints a fixed colour."""

    description = "recorder"

    def __init__(self) -> None:
        self.sides: list[int] = []

    def __call__(self, L: np.ndarray) -> np.ndarray:
        self.sides.append(L.shape[-1])
        return np.full((L.shape[0], 2, *L.shape[2:]), 0.1, np.float32)


@pytest.mark.parametrize(("size", "multiple", "side"), [(100, 32, 96), (112, 32, 128),
                                                         (5, 32, 32), (257, 1, 257)])  # fmt: skip
def test_render_size_is_rounded_to_what_the_network_accepts(
    size: int, multiple: int, side: int
) -> None:
    assert round_to_multiple(size, multiple) == side
    assert Colorizer(Recorder(), image_size=64, multiple=multiple).render_side(size) == side


def test_colour_is_predicted_at_the_render_size_and_put_on_full_resolution() -> None:
    recorder = Recorder()
    colorizer = Colorizer(recorder, image_size=40, multiple=16)
    photo = Image.fromarray(data.astronaut()).resize((300, 200))
    default = colorizer.colorize(photo)
    bigger = colorizer.colorize(photo, render_size=100)
    assert recorder.sides == [48, 96]
    assert default.size == bigger.size == photo.size


def test_a_larger_render_size_gives_finer_colour(tmp_path: Path) -> None:
    """A real (tiny, random) fully convolutional U-Net at 32 and 128 px: the colour map at 128
    has more detail (larger ab gradients) on the same photo."""
    # trained on crops down to a quarter of a photo: 128 px is as far as it goes
    colorizer = Colorizer.load(tiny_generator(tmp_path / "g.safetensors", crop_min=0.25), "cpu")
    photo = Image.fromarray(data.astronaut()).resize((256, 256))

    def colour_detail(image: Image.Image) -> float:
        from kolorize.color import uint8_to_model_space_numpy

        ab = uint8_to_model_space_numpy(np.asarray(image)[None])[0, 1:]
        return float(np.abs(np.diff(ab, axis=-1)).mean() + np.abs(np.diff(ab, axis=-2)).mean())

    coarse = colour_detail(colorizer.colorize(photo))  # 32 px, the size it claims
    fine = colour_detail(colorizer.colorize(photo, render_size=128))
    assert fine > 1.5 * coarse


def test_a_render_size_beyond_the_models_training_is_one_line(tmp_path: Path) -> None:
    from kolorize.errors import InvalidValue

    whole = Colorizer.load(tiny_generator(tmp_path / "w.safetensors"), "cpu")
    assert (whole.image_size, whole.largest_render_size) == (32, 32)
    with pytest.raises(InvalidValue, match=r"^render size 64 is above this model's largest, 32"):
        whole.render_side(64)
    crops = tiny_generator(tmp_path / "c.safetensors", crop_min=0.25, render_size=96)
    assert Colorizer.load(crops, "cpu").image_size == 96  # the size chosen when it was shipped
    assert Colorizer.load(crops, "cpu", render_size=128).image_size == 128
    with pytest.raises(InvalidValue, match=r"largest, 128 px"):
        Colorizer.load(crops, "cpu", render_size=160)
    Image.fromarray(data.camera()).resize((64, 48)).save(tmp_path / "p.png")
    result = run_cli("colorize", str(tmp_path / "p.png"), "-m", str(crops), "-o",
                     str(tmp_path / "o.png"), "--render-size", "512")  # fmt: skip
    assert result.code == 2 and not (tmp_path / "o.png").exists()
    assert result.err.strip().count("\n") == 0 and "largest, 128 px" in result.err


def test_a_largest_render_size_measured_when_shipped_caps_below_the_crops_scale(
    tmp_path: Path,
) -> None:
    from kolorize.errors import InvalidValue

    capped = tiny_generator(tmp_path / "c.safetensors", crop_min=0.25, largest_render_size=64)
    assert Colorizer.load(capped, "cpu").largest_render_size == 64
    assert Colorizer.load(capped, "cpu", render_size=64).image_size == 64
    with pytest.raises(InvalidValue, match=r"largest, 64 px"):
        Colorizer.load(capped, "cpu", render_size=96)  # the crops alone would allow 128


def test_load_and_cli_take_a_render_size(tmp_path: Path) -> None:
    path = tiny_generator(tmp_path / "g.safetensors", crop_min=0.5)
    assert Colorizer.load(path, "cpu", render_size=70).image_size == 64
    Image.fromarray(data.camera()).resize((64, 48)).save(tmp_path / "p.png")
    result = run_cli("colorize", str(tmp_path / "p.png"), "-m", str(path), "-o",
                     str(tmp_path / "o.png"), "--render-size", "64")  # fmt: skip
    assert result.code == 0, result.err
    assert Image.open(tmp_path / "o.png").size == (64, 48)


@pytest.mark.parametrize("option", ["batch_size", "render_size"])
@pytest.mark.parametrize("value", [0, -3, 2.5, True])
def test_colorizer_options_out_of_range_are_named_in_one_clear_error(
    tmp_path: Path, option: str, value: object
) -> None:
    from kolorize.errors import KolorizeError

    model = tiny_generator(tmp_path / "g.safetensors")
    with pytest.raises(KolorizeError, match=rf"^{option} must be a whole number of at least 1; "
                                            rf"got {value!r}$") as err:  # fmt: skip
        Colorizer.load(model, "cpu", **{option: value})
    assert isinstance(err.value, ValueError)  # what Python callers expect for a bad value
    with pytest.raises(ValueError, match=r"^batch_size must be .*; got 0$"):
        Colorizer(Recorder(), image_size=64, batch_size=0)
    with pytest.raises(ValueError, match=r"^render_size must be .*; got 0$"):
        Colorizer(Recorder(), image_size=64).render_side(0)
