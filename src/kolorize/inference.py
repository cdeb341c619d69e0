"""Colorize photos of any size at their full resolution.

The model predicts colour (ab) at its own size; the colour is then upsampled to the photo's
size and recombined with the photo's ORIGINAL full-resolution lightness (L), as
richzhang/colorization, DeOldify and DDColor do. Detail lives in L, so none of it is lost,
whatever the model's size.

How a photo reaches the model: it is resized (stretched, bicubic) to the model's square size,
exactly as `kolorize data prepare` resized the training photos (`--fit stretch`, the study's
choice). Padding would spend the model's few pixels on borders and show it content at scales
it never trained on; the stretch is undone when the ab is upsampled back to the photo's shape.

Colour photos are treated as their gray version (their own L): the model never sees their
colour. The full-resolution work runs in row chunks of about a megapixel, so beyond the photo
itself and its result (3 bytes a pixel each) memory stays flat: about 300 MB in all for 12 MP.

The recombination (`recombine`) is the one place that puts L and ab together; the PyTorch and
onnxruntime backends only differ in how they turn the small L into the small ab.
"""

from __future__ import annotations

import functools
import io
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from PIL import Image, ImageCms

from kolorize.color import (
    denormalize_ab,
    denormalize_l,
    lab_to_rgb,
    to_uint8,
    uint8_to_model_space_numpy,
)
from kolorize.data.images import ImageRejected, load_rgb, resize_photo, upright
from kolorize.device import autocast, resolve_device, resolve_precision, time_precision
from kolorize.models import input_multiple, round_to_multiple


class Predictor(Protocol):
    """A backend: (N, 1, S, S) float32 L in [-1, 1] -> (N, 2, S, S) float32 ab in [-1, 1]."""

    description: str

    def __call__(self, L: np.ndarray, /) -> np.ndarray: ...


# Pixels per row chunk of the full-resolution work: about 4 MB per float channel.
CHUNK_PIXELS = 1 << 20
# Gamut mapping: overshooting sRGB by less than half an 8-bit step is only rounding, and
# 6 halvings find the chroma that fits to within 1/64 of the predicted one.
_GAMUT_TOP = 1 + 0.5 / 255
_BISECTION_STEPS = 6
_FAST_MODES = {"RGB", "L"}
# Modes TIFF cannot hold, and the nearest ones it can (Pillow converts between them exactly).
_NOT_IN_TIFF = {"HSV": "RGB", "La": "LA", "RGBa": "RGBA"}


class TorchPredictor:
    """A generator on a device: inference mode, channels_last (faster on CPU as on GPU), at a
    precision: `auto` is bf16 autocast on CUDA and, on a CPU, bf16 only where a measurement on
    this machine (once, cached) found it faster than fp32."""

    def __init__(
        self,
        net: torch.nn.Module,
        device: torch.device | str | None = None,
        *,
        precision: str = "auto",
        image_size: int = 256,
    ) -> None:
        self.device = resolve_device(device)
        self.net = net.eval().to(self.device, memory_format=torch.channels_last)
        self.precision = resolve_precision(
            precision, self.device, measure=self._time_at(image_size),
            workload=f"colorize {type(net).__name__} {image_size}px",
        )  # fmt: skip
        self.description = f"pytorch on {self.device}, {self.precision}"

    def _time_at(self, size: int) -> Callable[[str], float]:
        L = np.zeros((1, 1, size, size), np.float32)
        return lambda precision: time_precision(lambda: self._run(L, precision))

    def _run(self, L: np.ndarray, precision: str) -> np.ndarray:
        x = torch.from_numpy(L).to(self.device).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), autocast(self.device, precision):
            ab = self.net(x)
        return ab.float().cpu().numpy()

    def __call__(self, L: np.ndarray) -> np.ndarray:
        return self._run(L, self.precision)


class Colorizer:
    """Colorize PIL images at their full resolution with a trained generator.

    >>> colorizer = Colorizer.load("runs/U-Net_30")            # or generator.safetensors, .onnx
    >>> colour = colorizer.colorize(Image.open("grandma.jpg"))  # same size, upright

    Safe to share between threads: model calls are serialised, everything else is per call.
    """

    def __init__(
        self,
        predict: Predictor,
        *,
        image_size: int,
        multiple: int = 1,
        batch_size: int = 8,
        description: str = "",
    ) -> None:
        if image_size < 1 or multiple < 1 or batch_size < 1:
            raise ValueError("image_size, multiple and batch_size must be positive")
        self._predict = predict
        self.multiple = multiple
        # The model's working size: the training size, rounded up to what the network accepts.
        self.image_size = round_to_multiple(image_size, multiple, up=True)
        self.batch_size = batch_size
        self.description = description
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        device: torch.device | str | None = None,
        *,
        batch_size: int = 8,
        precision: str = "auto",
        render_size: int | None = None,
    ) -> Colorizer:
        """From a run directory, a `generator.safetensors` file or an exported `.onnx` file;
        with no path, the colorizer that ships with kolorize. Runs on CUDA when present, else
        on the CPU, unless `device` says otherwise. A weights file that does not record its
        training size is taken to be the study's 256 px. `render_size` (see `render_side`)
        replaces the training size as the default."""
        from kolorize.models.files import DEFAULT_MODEL

        path = Path(path) if path is not None else DEFAULT_MODEL
        if path.suffix.lower() == ".onnx":
            from kolorize.export import load_onnx

            predict, image_size, multiple = load_onnx(path, device)
        else:
            from kolorize.models.files import load_generator, trained_size

            net, _, meta = load_generator(path)
            image_size, multiple = trained_size(meta), input_multiple(net)
            predict = TorchPredictor(net, device, precision=precision, image_size=image_size)
        if render_size is not None:
            image_size = round_to_multiple(render_size, multiple)
        return cls(
            predict,
            image_size=image_size,
            multiple=multiple,
            batch_size=batch_size,
            description=f"{path.name} ({predict.description})",
        )

    def render_side(self, render_size: int | None = None) -> int:
        """The side at which colour is predicted: `render_size` rounded to the nearest size the
        network accepts (it is fully convolutional), or the default `image_size`. Larger sizes
        give finer colour detail and cost time (as DeOldify's render factor)."""
        if render_size is None:
            return self.image_size
        if render_size < 1:
            raise ValueError("render_size must be positive")
        return round_to_multiple(render_size, self.multiple)

    def colorize(self, image: Image.Image, *, render_size: int | None = None) -> Image.Image:
        """A colour version of `image` (any mode, size and EXIF orientation), upright, at the
        image's own size."""
        return self.colorize_batch([image], render_size=render_size)[0]

    def colorize_batch(
        self, images: Sequence[Image.Image], *, render_size: int | None = None
    ) -> list[Image.Image]:
        """`colorize` for many images, running the model on batches of `batch_size`."""
        rgbs = [upright_rgb(img) for img in images]
        out: list[Image.Image] = []
        for i in range(0, len(rgbs), self.batch_size):
            batch = rgbs[i : i + self.batch_size]
            _, ab = self.predict(batch, render_size=render_size)
            for rgb, ab_one in zip(batch, ab, strict=True):
                out.append(Image.fromarray(recombine(np.asarray(rgb), ab_one)))
        return out

    def predict(
        self, rgbs: Sequence[Image.Image], *, render_size: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The small lightness the model sees, (N, 1, S, S), and its colour, (N, 2, S, S), both
        scaled to [-1, 1], for upright RGB images, in one model call. `recombine` puts the
        colour on each image's full-resolution lightness."""
        side = self.render_side(render_size)
        small = np.concatenate([self._model_input(rgb, side) for rgb in rgbs])
        with self._lock:
            return small, self._predict(small)

    def colorize_video(self, src: str | Path, dst: str | Path, **options: Any) -> Any:
        """Colorize a video file into `dst`, keeping its sound, frame rate, size and rotation;
        see `kolorize.video.colorize_video` for the options (temporal, render_size, ...)."""
        from kolorize.video import colorize_video

        return colorize_video(self, src, dst, **options)

    def _model_input(self, rgb: Image.Image, side: int) -> np.ndarray:
        small = np.asarray(resize_photo(rgb, side, "stretch"))
        return uint8_to_model_space_numpy(small[None])[:, :1]


def upright_rgb(image: Image.Image) -> Image.Image:
    """Any PIL image -> upright 8-bit sRGB. Odd modes (CMYK, 16-bit, alpha, palette, HSV) and
    non-sRGB ICC profiles go through `load_rgb`, so they convert exactly as files do. An image
    with no pixels raises ImageRejected."""
    if 0 in image.size:
        raise ImageRejected("too small", f"{image.width}x{image.height} pixels")
    icc = image.info.get("icc_profile")
    image, _ = upright(image)
    if image.mode in _FAST_MODES and (not icc or _describes_srgb(icc)):
        return image if image.mode == "RGB" else image.convert("RGB")
    if image.mode in _NOT_IN_TIFF:
        image = image.convert(_NOT_IN_TIFF[image.mode])
    buf = io.BytesIO()
    image.save(buf, "TIFF", icc_profile=icc)
    return load_rgb(buf.getvalue(), min_side=1).image


def _describes_srgb(icc: bytes) -> bool:
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return "srgb" in (ImageCms.getProfileDescription(profile) or "").lower()
    except (ImageCms.PyCMSError, OSError, ValueError):
        return True  # a broken profile: load_rgb would treat the values as sRGB too


def grayscale(image: Image.Image) -> Image.Image:
    """The photo as the model sees it: its own L with no colour, at full resolution."""
    return Image.fromarray(recombine(np.asarray(upright_rgb(image)), None))


def side_by_side(left: Image.Image, right: Image.Image, gap: int = 8) -> Image.Image:
    """Two same-size images next to each other on white, for before/after comparisons."""
    w, h = left.size
    canvas = Image.new("RGB", (w * 2 + gap, h), (255, 255, 255))
    canvas.paste(left.convert("RGB"), (0, 0))
    canvas.paste(right.convert("RGB"), (w + gap, 0))
    return canvas


# -- the full-resolution recombination ------------------------------------------------------


def recombine(rgb: np.ndarray, ab_small: np.ndarray | None) -> np.ndarray:
    """(H, W, 3) uint8 photo + (2, h, w) predicted ab (scaled, any h, w) -> (H, W, 3) uint8.

    Keeps the photo's own L, upsamples ab bilinearly (as `F.interpolate(align_corners=False)`)
    and brings colours that fall outside sRGB back in by reducing their chroma at the same L
    and hue (instead of clipping R, G, B, which would change L), so the output's L equals the
    input's up to 8-bit rounding. `ab_small=None` gives the gray version. Works in row chunks
    to keep memory flat on big photos.
    """
    height, width, _ = rgb.shape
    out = np.empty_like(rgb)
    rows = max(1, CHUNK_PIXELS // width)
    if ab_small is not None:
        ys = _bilinear_taps(height, ab_small.shape[1])
        xs = _bilinear_taps(width, ab_small.shape[2])
    for r0 in range(0, height, rows):
        r1 = min(height, r0 + rows)
        L = _lightness(rgb[r0:r1])
        if ab_small is None:
            ab = np.zeros((2, *L.shape), np.float32)
        else:
            ab = _upsample(ab_small, ys, xs, r0, r1)
        out[r0:r1] = _to_uint8_in_gamut(L, ab)
    return out


@functools.cache
def _gray_lightness() -> np.ndarray:
    """Scaled L of the 256 gray levels."""
    levels = np.repeat(np.arange(256, dtype=np.uint8), 3).reshape(1, 1, 256, 3)
    return uint8_to_model_space_numpy(levels)[0, 0, 0]


def _lightness(rgb: np.ndarray) -> np.ndarray:
    """Scaled L of (r, W, 3) uint8 rows; black-and-white photos take a 256-entry table."""
    red = rgb[..., 0]
    if np.array_equal(red, rgb[..., 1]) and np.array_equal(red, rgb[..., 2]):
        return _gray_lightness()[red]
    return uint8_to_model_space_numpy(rgb[None])[0, 0]


def _bilinear_taps(out_len: int, in_len: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices and weights of bilinear resampling (PyTorch's align_corners=False)."""
    src = (np.arange(out_len, dtype=np.float64) + 0.5) * (in_len / out_len) - 0.5
    src = np.clip(src, 0, in_len - 1)
    i0 = np.floor(src).astype(np.int64)
    i1 = np.minimum(i0 + 1, in_len - 1)
    return i0, i1, (src - i0).astype(np.float32)


def _upsample(
    ab: np.ndarray,
    ys: tuple[np.ndarray, np.ndarray, np.ndarray],
    xs: tuple[np.ndarray, np.ndarray, np.ndarray],
    r0: int,
    r1: int,
) -> np.ndarray:
    """Rows r0:r1 of `ab` resampled to the full size: (2, r1 - r0, W)."""
    y0, y1, wy = (t[r0:r1] for t in ys)
    wy = wy[None, :, None]
    rows = ab[:, y0] * (1 - wy) + ab[:, y1] * wy
    x0, x1, wx = xs
    return rows[:, :, x0] * (1 - wx) + rows[:, :, x1] * wx


def _rgb_unclipped(L: np.ndarray, ab: np.ndarray) -> torch.Tensor:
    """Scaled L (n,) and ab (2, n) -> float sRGB (1, 3, 1, n), not clipped to [0, 1]."""
    lab_l = denormalize_l(torch.from_numpy(np.ascontiguousarray(L, np.float32)))
    lab_ab = denormalize_ab(torch.from_numpy(np.ascontiguousarray(ab, np.float32)))
    lab = torch.cat([lab_l.reshape(1, 1, 1, -1), lab_ab.reshape(1, 2, 1, -1)], dim=1)
    return lab_to_rgb(lab, clip=False)


def _out_of_gamut(rgb: torch.Tensor) -> np.ndarray:
    # lab_to_rgb clamps negative linear light to exactly 0, so a channel at 0 marks a colour
    # below the gamut (or true black, which loses nothing by losing its chroma).
    return ((rgb > _GAMUT_TOP) | (rgb <= 0)).any(dim=1)[0, 0].numpy()


def _to_uint8_in_gamut(L: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """(r, W) L + (2, r, W) ab -> (r, W, 3) uint8. Out-of-gamut pixels get the largest
    fraction of their chroma (found by bisection) that fits in sRGB."""
    flat_l = L.reshape(-1)
    flat_ab = ab.reshape(2, -1)
    rgb = _rgb_unclipped(flat_l, flat_ab)
    bad = np.flatnonzero(_out_of_gamut(rgb) & (flat_ab != 0).any(axis=0))
    if bad.size:
        bad_l, bad_ab = flat_l[bad], flat_ab[:, bad]
        lo = np.zeros(bad.size, np.float32)  # gray always fits
        hi = np.ones(bad.size, np.float32)
        for _ in range(_BISECTION_STEPS):
            mid = (lo + hi) / 2
            fits = ~_out_of_gamut(_rgb_unclipped(bad_l, bad_ab * mid))
            lo = np.where(fits, mid, lo)
            hi = np.where(fits, hi, mid)
        rgb[..., torch.from_numpy(bad)] = _rgb_unclipped(bad_l, bad_ab * lo)
    return to_uint8(rgb.clamp_(0, 1))[0, :, 0].T.reshape(*L.shape, 3).numpy()


__all__ = ["Colorizer", "TorchPredictor", "grayscale", "recombine", "side_by_side", "upright_rgb"]
