"""Full-resolution colorization through the `Colorizer` API.

Tolerance on lightness: the output's CIE L equals the input's within 0.5 (on 0-100) at every
pixel. Rounding the result to 8 bits moves L by at most ~0.25; the rest is margin for float32.
Out-of-gamut colours must not break this (they lose chroma, not lightness).
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

from helpers.colour import chroma, lightness, tiny_generator
from helpers.photos import real_photo_paths
from kolorize.color import (
    denormalize_ab,
    denormalize_l,
    lab_to_rgb,
    model_space_to_rgb,
    to_uint8,
    uint8_to_model_space_numpy,
)
from kolorize.errors import KolorizeError
from kolorize.inference.colorizer import Colorizer, grayscale, side_by_side
from kolorize.inference.recombine import recombine

L_TOLERANCE = 0.5


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return Image.open(real_photo_paths(8)[3]).convert("RGB")


class Recorder:
    """A stand-in model that remembers what it was shown and paints a fixed colour."""

    description = "recorder"

    def __init__(self) -> None:
        self.calls: list[np.ndarray] = []

    def __call__(self, L: np.ndarray) -> np.ndarray:
        self.calls.append(L.copy())
        ab = np.empty((L.shape[0], 2, *L.shape[2:]), np.float32)
        ab[:, 0], ab[:, 1] = 0.2, 0.3
        return ab


def test_output_has_input_size_and_lightness(colorizer: Colorizer, photo: Image.Image) -> None:
    odd = photo.crop((3, 5, 3 + 301, 5 + 173))  # not square, not a multiple of anything
    for image in (odd, odd.convert("L")):
        out = colorizer.colorize(image)
        assert out.mode == "RGB" and out.size == image.size
        assert np.abs(lightness(out) - lightness(image)).max() <= L_TOLERANCE
        assert chroma(out).mean() > 10  # it really is colour, not the input again


def test_out_of_gamut_colours_lose_chroma_not_lightness(photo: Image.Image) -> None:
    rgb = np.asarray(photo)
    ab = np.random.default_rng(0).uniform(-1, 1, (2, 16, 16)).astype(np.float32)
    out = Image.fromarray(recombine(rgb, ab))
    assert np.abs(lightness(out) - lightness(photo)).max() <= L_TOLERANCE
    assert chroma(out).mean() > 15
    # plain clipping of the same colours would change L a lot: the check above can fail
    L = torch.from_numpy(uint8_to_model_space_numpy(rgb[None])[:, :1])
    big_ab = F.interpolate(torch.from_numpy(ab)[None], size=L.shape[-2:], mode="bilinear")
    clipped = to_uint8(model_space_to_rgb(L, big_ab))[0].permute(1, 2, 0).numpy()
    assert np.abs(lightness(Image.fromarray(clipped)) - lightness(photo)).max() > 5


def test_recombine_matches_plain_torch_for_in_gamut_colours(photo: Image.Image) -> None:
    """Upsampling and recombination equal F.interpolate + Lab -> RGB where no clipping is
    needed (clipped pixels are the previous test's business)."""
    rgb = np.asarray(photo)
    ab = np.random.default_rng(1).uniform(-0.05, 0.05, (2, 32, 32)).astype(np.float32)
    L = torch.from_numpy(uint8_to_model_space_numpy(rgb[None])[:, :1])
    big_ab = F.interpolate(
        torch.from_numpy(ab)[None], size=L.shape[-2:], mode="bilinear", align_corners=False
    )
    lab = torch.cat([denormalize_l(L), denormalize_ab(big_ab)], dim=1)
    plain = lab_to_rgb(lab, clip=False)[0].permute(1, 2, 0)
    in_gamut = ((plain > 0) & (plain < 1)).all(dim=-1).numpy()
    assert in_gamut.mean() > 0.9
    expected = to_uint8(plain.clamp(0, 1)).numpy()
    got = recombine(rgb, ab)
    assert np.abs(got.astype(int) - expected)[in_gamut].max() <= 1


def test_half_precision_colour_is_widened_before_resampling(photo: Image.Image) -> None:
    rgb = np.asarray(photo)
    ab = np.random.default_rng(4).uniform(-0.5, 0.5, (2, 16, 16)).astype(np.float16)
    np.testing.assert_array_equal(recombine(rgb, ab), recombine(rgb, ab.astype(np.float32)))


def test_row_chunks_leave_no_seams(photo: Image.Image, monkeypatch: pytest.MonkeyPatch) -> None:
    import kolorize.inference.recombine as recombine_module

    rgb = np.asarray(photo)
    ab = np.random.default_rng(2).uniform(-1, 1, (2, 8, 8)).astype(np.float32)
    whole = recombine(rgb, ab)
    monkeypatch.setattr(recombine_module, "CHUNK_PIXELS", rgb.shape[1] * 7 + 3)  # 7 rows a chunk
    np.testing.assert_array_equal(recombine(rgb, ab), whole)


def test_exif_rotated_input_comes_out_upright(colorizer: Colorizer, photo: Image.Image) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was turned: show rotated 90 degrees clockwise
    buf = io.BytesIO()
    photo.save(buf, "JPEG", quality=95, exif=exif)
    stored = Image.open(io.BytesIO(buf.getvalue()))
    upright = ImageOps.exif_transpose(stored)
    assert stored.size[::-1] == upright.size != stored.size
    out = colorizer.colorize(stored)
    assert out.size == upright.size
    assert np.abs(lightness(out) - lightness(upright)).max() <= L_TOLERANCE


def test_the_model_sees_only_lightness_at_its_size(photo: Image.Image) -> None:
    recorder = Recorder()
    colorizer = Colorizer(recorder, image_size=40, multiple=16, batch_size=2)
    assert colorizer.image_size == 48  # rounded up to what the network accepts
    outs = colorizer.colorize_batch([photo, grayscale(photo), photo.resize((90, 200))])
    assert [c.shape for c in recorder.calls] == [(2, 1, 48, 48), (1, 1, 48, 48)]
    colour_input, gray_input = recorder.calls[0]
    # the colour is never used: the two differ only by resizing in sRGB (< 2.5 in L)
    assert np.abs(colour_input - gray_input).max() < 0.05
    assert [o.size for o in outs] == [photo.size, photo.size, (90, 200)]


def test_batches_give_the_same_photos_as_one_at_a_time(
    colorizer: Colorizer, photo: Image.Image
) -> None:
    images = [photo, photo.resize((120, 90)), photo.convert("L")]
    batched = colorizer.colorize_batch(images)
    for image, out in zip(images, batched, strict=True):
        single = colorizer.colorize(image)
        diff = np.abs(np.asarray(out, int) - np.asarray(single, int))
        # a near-black pixel may differ more (4-6 levels seen in fp32 on the night sky):
        # sRGB's linear toe magnifies the batched convolutions' other summation order
        assert (diff > 1).mean() <= 1e-4, np.argwhere(diff > 1)


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "CMYK", "I;16", "1"])
def test_every_image_mode_works(colorizer: Colorizer, photo: Image.Image, mode: str) -> None:
    small = photo.resize((64, 48))
    if mode == "I;16":
        image = Image.fromarray(np.asarray(small.convert("L"), np.uint16) * 257)
    else:
        image = small.convert(mode)
    out = colorizer.colorize(image)
    assert out.mode == "RGB" and out.size == (64, 48)


def test_side_by_side_puts_before_left_of_after(photo: Image.Image) -> None:
    gray = grayscale(photo)
    pair = side_by_side(gray, photo, gap=8)
    assert pair.size == (photo.width * 2 + 8, photo.height)
    np.testing.assert_array_equal(np.asarray(pair)[:, : photo.width], np.asarray(gray))


def test_unavailable_device_is_a_user_error(tmp_path: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    path = tiny_generator(tmp_path / "g.safetensors")
    with pytest.raises(KolorizeError, match="CUDA is not available"):
        Colorizer.load(path, device="cuda")
    with pytest.raises(KolorizeError, match="unknown device"):
        Colorizer.load(path, device="gpu0")


def _status_mib(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) / 1024
    pytest.skip("needs /proc/self/status")


def _reset_peak_rss() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # restart the peak-RSS counter
    except OSError:
        pytest.skip("cannot reset the peak-RSS counter here")


def test_a_wide_strip_with_a_fine_colour_map_stays_in_bounded_memory() -> None:
    """recombine takes the colour map a row chunk at a time too: a 200x40000 strip with colour
    predicted at 1024x1024 needs 24 MB in and 24 MB out; the map resampled to the strip's
    width at once would be about 330 MB, with two temporaries of that size."""
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (200, 40000, 3), dtype=np.uint8)
    ab = rng.uniform(-0.3, 0.3, (2, 1024, 1024)).astype(np.float32)
    _reset_peak_rss()
    before = _status_mib("VmRSS")
    assert recombine(rgb, ab).shape == rgb.shape
    assert _status_mib("VmHWM") - before < 300


@pytest.mark.slow
def test_twelve_megapixels_in_bounded_memory(colorizer: Colorizer, photo: Image.Image) -> None:
    """A 4000x3000 photo needs 36 MB in and 36 MB out; one float32 Lab copy of it alone would
    be 144 MB, and the unchunked conversion several of those. Allow 450 MB in all."""
    big = photo.convert("L").resize((4000, 3000))
    _reset_peak_rss()
    before = _status_mib("VmRSS")
    out = colorizer.colorize(big)
    assert out.size == big.size
    assert _status_mib("VmHWM") - before < 450


def test_import_kolorize_stays_light_and_exports_colorizer() -> None:
    # every `kolorize colorize` imports the video package, a run of photos alone too
    code = (
        "import sys, kolorize, kolorize.video, kolorize.video.files;"
        "loaded = {'torch', 'av'} & set(sys.modules); assert not loaded, loaded;"
        "from kolorize import Colorizer; print(Colorizer.__module__)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "kolorize.inference.colorizer"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(tmp_path: Path, photo: Image.Image) -> None:
    path = tiny_generator(tmp_path / "g.safetensors", "resnet18_unet")
    cpu = np.asarray(Colorizer.load(path, "cpu").colorize(photo), int)
    gpu = np.asarray(Colorizer.load(path, "cuda").colorize(photo), int)
    # bf16 autocast on CUDA: colours may differ a little, lightness may not
    assert np.abs(cpu - gpu).mean() < 2
    assert np.abs(lightness(Image.fromarray(gpu.astype(np.uint8))) - lightness(photo)).max() <= (
        L_TOLERANCE
    )


def test_colorize_takes_a_path_an_array_or_an_image(tmp_path: Path, photo: Image.Image) -> None:
    colorizer = Colorizer(Recorder(), image_size=32)
    gray = photo.convert("L")
    gray.save(tmp_path / "gray.png")
    expected = np.asarray(colorizer.colorize(gray))
    for same in (tmp_path / "gray.png", str(tmp_path / "gray.png"), np.asarray(gray),
                 np.asarray(gray.convert("RGB"))):  # fmt: skip
        assert np.array_equal(np.asarray(colorizer.colorize(same)), expected), type(same)
    batch = colorizer.colorize_batch([tmp_path / "gray.png", np.asarray(gray), gray])
    assert all(np.array_equal(np.asarray(c), expected) for c in batch)


@pytest.mark.parametrize(
    ("bad", "named"),
    [
        (None, "got None"),
        (42, "got int 42"),
        (np.zeros((4, 4), np.float32), "got a float32 array of shape (4, 4)"),
        (np.zeros((4, 4, 4), np.uint8), "got a uint8 array of shape (4, 4, 4)"),
        (np.zeros((4, 4), np.uint16), "(16-bit pixels go to colorize_pixels)"),
        (b"\x89PNG", "got a bytes"),
    ],
)
def test_anything_else_is_a_type_error_that_names_it(bad: object, named: str) -> None:
    colorizer = Colorizer(Recorder(), image_size=32)
    with pytest.raises(TypeError, match="a photo is a PIL image, a path") as raised:
        colorizer.colorize(bad)  # type: ignore[arg-type]
    assert named in str(raised.value)
    with pytest.raises(TypeError, match="a photo is a PIL image"):
        colorizer.colorize_batch([Image.new("L", (8, 8)), bad])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="takes a list of photos"):
        colorizer.colorize_batch(Image.new("L", (8, 8)))  # type: ignore[arg-type]


def test_a_colorizer_says_what_it_is_and_the_package_shows_its_public_names() -> None:
    import kolorize

    colorizer = Colorizer(Recorder(), image_size=32, batch_size=3, description="g (test)")
    assert repr(colorizer) == "Colorizer(g (test), colour predicted at 32 px, batches of 3)"
    public = ["Colorizer", "Hint", "__version__"]
    assert dir(kolorize) == public == sorted(kolorize.__all__)
    namespace: dict = {}
    exec("from kolorize import *", namespace)
    assert sorted(k for k in namespace if k != "__builtins__") == public
    assert namespace["Hint"](1, 2, "red").rgb() == (255, 0, 0)


def test_colorizing_a_photo_imports_neither_torchvision_nor_dynamo(tmp_path: Path) -> None:
    model = tiny_generator(tmp_path / "g.safetensors", arch="resnet18_unet")
    script = (
        "import sys\n"
        "from kolorize.cli import main\n"
        "try:\n"
        f"    main(['colorize', {str(real_photo_paths(1)[0])!r}, '-m', {str(model)!r},\n"
        f"          '-o', {str(tmp_path / 'out.png')!r}])\n"
        "except SystemExit as e:\n"
        "    assert e.code == 0, e.code\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] == 'torchvision'\n"
        "               or m.startswith('torch._dynamo'))\n"
        "print(heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert (tmp_path / "out.png").is_file()
