"""Colorize photos of any size at their full resolution.

The model predicts colour (ab) at its own size; `recombine` upsamples it to the photo's size
and puts it on the photo's ORIGINAL full-resolution lightness (L), so detail is never lost,
whatever the model's size.

How a photo reaches the model: it is resized (stretched, bicubic) to the model's square size,
exactly as `kolorize data prepare` resized the training photos (`--fit stretch`, the study's
choice). Padding would spend the model's few pixels on borders and show it content at scales
it never trained on; the stretch is undone when the ab is upsampled back to the photo's shape.

Colour photos are treated as their gray version (their own L): the model never sees their
colour. The PyTorch and onnxruntime backends (`backends`) only differ in how they turn the
small L into the small ab.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from kolorize.color import uint8_to_model_lightness_numpy
from kolorize.data.images import resize_photo, upright_rgb
from kolorize.errors import whole_number
from kolorize.inference.backends import Predictor, TorchPredictor, load_onnx
from kolorize.inference.recombine import recombine
from kolorize.models import input_multiple, round_to_multiple


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
        for name, value in (("image_size", image_size), ("multiple", multiple),
                            ("batch_size", batch_size)):  # fmt: skip
            whole_number(name, value)
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

        whole_number("batch_size", batch_size)  # before the model loads, not after
        if render_size is not None:
            whole_number("render_size", render_size)
        path = Path(path) if path is not None else DEFAULT_MODEL
        if path.suffix.lower() == ".onnx":
            predict, image_size, multiple = load_onnx(path, device)
        else:
            from kolorize.models.files import load_generator, trained_size

            net, _, meta = load_generator(path)
            image_size, multiple = trained_size(meta), input_multiple(net)
            predict = TorchPredictor(net, device, precision=precision, image_size=image_size)
        colorizer = cls(
            predict,
            image_size=image_size,
            multiple=multiple,
            batch_size=batch_size,
            description=f"{path.name} ({predict.description})",
        )
        colorizer.image_size = colorizer.render_side(render_size)
        return colorizer

    def render_side(self, render_size: int | None = None) -> int:
        """The side at which colour is predicted: `render_size` rounded to the nearest size the
        network accepts (it is fully convolutional), or the default `image_size`. Larger sizes
        give finer colour detail and cost time (as DeOldify's render factor)."""
        if render_size is None:
            return self.image_size
        return round_to_multiple(whole_number("render_size", render_size), self.multiple)

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
        return uint8_to_model_lightness_numpy(small)[None, None]


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


__all__ = ["Colorizer", "grayscale", "side_by_side"]
