import numpy as np
import pytest
from PIL import Image

from helpers.badfiles import make_all
from helpers.photos import real_photo_paths
from kolorize.data.images import ImageRejected, is_grayscale, load_rgb


@pytest.fixture(scope="module")
def photo():
    return real_photo_paths(1)[0]


@pytest.fixture(scope="module")
def files(photo):
    return make_all(photo)


@pytest.mark.parametrize(
    "name",
    ["corrupt.jpg", "truncated.jpg", "empty.jpg", "notes.jpg", "tiny.png", "bomb.png"],
)
def test_unusable_files_are_rejected_with_their_reason(files, name):
    data, expected = files[name]
    with pytest.raises(ImageRejected) as err:
        load_rgb(data)
    assert err.value.reason == expected


def test_cmyk_is_converted_to_close_rgb(files, photo):
    loaded = load_rgb(files["cmyk.jpg"][0])
    assert loaded.image.mode == "RGB" and "cmyk->rgb" in loaded.conversions
    original = np.asarray(Image.open(photo).convert("RGB"), np.float32)
    # naive CMYK round trip plus JPEG at quality 95: a few levels of error on average
    assert np.abs(np.asarray(loaded.image, np.float32) - original).mean() < 6


def test_palette_is_converted(files, photo):
    loaded = load_rgb(files["palette.png"][0])
    original = np.asarray(Image.open(photo).convert("RGB"), np.float32)
    assert loaded.image.mode == "RGB" and "palette->rgb" in loaded.conversions
    assert np.abs(np.asarray(loaded.image, np.float32) - original).mean() < 8


def test_16bit_rgb_keeps_its_values_in_8bit(files, photo):
    loaded = load_rgb(files["rgb16.png"][0])
    original = np.asarray(Image.open(photo).convert("RGB"), np.int32)
    assert loaded.image.mode == "RGB"
    assert np.abs(np.asarray(loaded.image, np.int32) - original).max() <= 1


def test_16bit_gray_is_scaled_not_clipped(files, photo):
    loaded = load_rgb(files["gray16.png"][0])
    assert loaded.source_is_gray and "16bit->8bit" in loaded.conversions
    expected = np.asarray(Image.open(photo).convert("L"), np.int32)
    got = np.asarray(loaded.image, np.int32)[..., 0]
    assert np.abs(got - expected).max() <= 1


def test_alpha_is_composited_on_white(files):
    loaded = load_rgb(files["alpha.png"][0])
    arr = np.asarray(loaded.image)
    assert "alpha->white" in loaded.conversions
    assert (arr[:, : arr.shape[1] // 2 - 1] == 255).all()  # the transparent half is white
    assert arr[:, arr.shape[1] // 2 + 1 :].std() > 10  # the opaque half is the photo


def test_exif_rotation_is_applied(files, photo):
    loaded = load_rgb(files["rotated.jpg"][0])
    original = Image.open(photo).convert("RGB")
    assert "exif-rotated" in loaded.conversions
    assert loaded.image.size == original.size[::-1]
    upright = np.asarray(original.transpose(Image.Transpose.ROTATE_270), np.float32)
    assert np.abs(np.asarray(loaded.image, np.float32) - upright).mean() < 4


def test_grayscale_detection(files, photo):
    assert load_rgb(files["gray.jpg"][0]).source_is_gray
    as_rgb = load_rgb(files["gray_as_rgb.jpg"][0])
    assert not as_rgb.source_is_gray and is_grayscale(np.asarray(as_rgb.image))
    assert not is_grayscale(np.asarray(Image.open(photo).convert("RGB")))


def test_max_pixels_is_configurable(files):
    with pytest.raises(ImageRejected, match="too large"):
        load_rgb(files["good.jpg"][0], max_pixels=1000)
