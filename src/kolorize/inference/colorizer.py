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

A photo comes as a PIL image, a file path or an (H, W) / (H, W, 3) uint8 array;
`colorize_pixels` also takes 16-bit (uint16) pixels and gives 16-bit colour back.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import torch
from PIL import Image

from kolorize.color import uint8_to_model_lightness_numpy
from kolorize.data.images import load_rgb, resize_photo, upright_rgb
from kolorize.errors import InvalidValue, whole_number
from kolorize.inference.backends import Predictor, TorchPredictor, load_onnx
from kolorize.inference.pictures import (
    as_image,
    grayscale,
    is_uint16,
    kind_of,
    side_by_side,
    three_channels,
)
from kolorize.inference.recombine import recombine
from kolorize.inference.user_hints import Hint, HintError, check_inside, model_hint_channels
from kolorize.models import input_multiple, round_to_multiple
from kolorize.models.files import DEFAULT_MODEL, load_generator, render_sizes, trained_size

# What `colorize` takes: a PIL image, a path to an image file, or (H, W) / (H, W, 3) uint8 pixels
Photo: TypeAlias = "Image.Image | str | os.PathLike[str] | np.ndarray"


class Colorizer:
    """Colorize PIL images at their full resolution with a trained generator.

    >>> colorizer = Colorizer.load("runs/U-Net_30")  # or generator.safetensors, .onnx
    >>> colour = colorizer.colorize("grandma.jpg")    # a PIL image at the photo's size, upright

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
        takes_hints: bool = False,
        largest_render_size: int | None = None,
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
        self.takes_hints = takes_hints  # the model has hint inputs (`kolorize.hints`)
        self.largest_render_size = largest_render_size  # `models.files.RenderSizes`; None: any
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"Colorizer({self.description or 'a model'}, colour predicted at "
            f"{self.image_size} px, batches of {self.batch_size})"
        )

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
        whole_number("batch_size", batch_size)  # before the model loads, not after
        if render_size is not None:
            whole_number("render_size", render_size)
        path = Path(path) if path is not None else DEFAULT_MODEL
        if path.suffix.lower() == ".onnx":
            predict, image_size, multiple = load_onnx(path, device)
            meta: dict[str, Any] = dict(predict.metadata)
            takes_hints = predict.takes_hints
        else:
            net, cfg, meta = load_generator(path)
            image_size, multiple = trained_size(meta), input_multiple(net)
            predict = TorchPredictor(net, device, precision=precision, image_size=image_size)
            takes_hints = cfg.hints
        sizes = render_sizes(meta)
        colorizer = cls(
            predict,
            image_size=image_size,
            multiple=multiple,
            batch_size=batch_size,
            description=f"{path.name} ({predict.description})",
            takes_hints=takes_hints,
            largest_render_size=sizes.largest,
        )
        colorizer.image_size = colorizer.render_side(render_size or sizes.default)
        return colorizer

    def render_side(self, render_size: int | None = None) -> int:
        """The side at which colour is predicted: `render_size` rounded to the nearest size the
        network accepts (it is fully convolutional), or the default `image_size`. Larger sizes
        give finer colour detail and cost time (as DeOldify's render factor), up to the
        model's `largest_render_size`."""
        if render_size is None:
            return self.image_size
        side = round_to_multiple(whole_number("render_size", render_size), self.multiple)
        largest = self.largest_render_size
        if largest is not None and side > round_to_multiple(largest, self.multiple):
            raise InvalidValue(
                f"render size {render_size} is above this model's largest, {largest} px: "
                "beyond it, its colour gets worse"
            )
        return side

    def colorize(
        self,
        image: Photo,
        *,
        render_size: int | None = None,
        hints: Sequence[Hint] = (),
    ) -> Image.Image:
        """A colour version of `image` (a PIL image of any mode, size and EXIF orientation, a
        path to an image file, or uint8 pixels), upright, at the image's own size. `hints`:
        colours the user knows (`Hint(x, y, color)`, in the upright photo's pixels), for a
        model with hint inputs."""
        return self.colorize_batch([image], render_size=render_size, hints=[hints])[0]

    def colorize_batch(
        self,
        images: Sequence[Photo],
        *,
        render_size: int | None = None,
        hints: Sequence[Sequence[Hint]] | None = None,
    ) -> list[Image.Image]:
        """`colorize` for many images (with `hints`, one list per image), running the model on
        batches of `batch_size`."""
        if isinstance(images, (Image.Image, str, os.PathLike, np.ndarray)):
            raise TypeError(f"colorize_batch takes a list of photos, not {kind_of(images)}")
        rgbs = [np.asarray(as_upright_rgb(image)) for image in images]
        coloured = self.colorize_pixels(rgbs, render_size=render_size, hints=hints)
        return [Image.fromarray(p) for p in coloured]

    def colorize_pixels(
        self,
        pixels: Sequence[np.ndarray],
        *,
        render_size: int | None = None,
        hints: Sequence[Sequence[Hint]] | None = None,
    ) -> list[np.ndarray]:
        """Upright sRGB pixels, (H, W, 3) or gray (H, W), uint8 or uint16 -> colour pixels,
        (H, W, 3) of the same dtype: a 16-bit scan comes back 16-bit, its L at 16 bits.
        `hints`: one list per photo, as for `colorize`."""
        rgbs = [three_channels(p) for p in pixels]  # checks them all before any work
        per_image = list(hints) if hints is not None else [()] * len(rgbs)
        if len(per_image) != len(rgbs):
            raise ValueError(f"{len(per_image)} hint lists for {len(rgbs)} photos")
        out: list[np.ndarray] = []
        for i in range(0, len(rgbs), self.batch_size):
            # the model's input from the pixels as given: a gray scan is not made 3x first
            as_given = [as_image(p) for p in pixels[i : i + self.batch_size]]
            _, ab = self.predict(
                as_given, render_size=render_size, hints=per_image[i : i + self.batch_size]
            )
            batch = rgbs[i : i + self.batch_size]
            out += [recombine(rgb, ab_one) for rgb, ab_one in zip(batch, ab, strict=True)]
        return out

    def predict(
        self,
        rgbs: Sequence[Image.Image],
        *,
        render_size: int | None = None,
        hints: Sequence[Sequence[Hint]] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The small lightness the model sees, (N, 1, S, S), and its colour, (N, 2, S, S), both
        scaled to [-1, 1], for upright RGB images, in one model call. `recombine` puts the
        colour on each image's full-resolution lightness."""
        side = self.render_side(render_size)
        small = np.concatenate([self._model_input(rgb, side) for rgb in rgbs])
        x = small
        if hints is not None and any(hints):
            self.check_hints([h for one in hints for h in one])
            channels = [
                model_hint_channels(h, rgb.width, rgb.height, side)
                for rgb, h in zip(rgbs, hints, strict=True)
            ]
            x = np.concatenate([small, np.concatenate(channels)], 1)
        with self._lock:
            return small, self._predict(x)

    def check_hints(self, hints: Sequence[Hint], size: tuple[int, int] | None = None) -> None:
        """Raise HintError (one line) when there are hints and this model takes none, or when
        one lies outside a photo of `size` (width, height): before any work on the photo."""
        if hints and not self.takes_hints:
            raise HintError(
                f"{self.description.split(' (')[0]} takes no colour hints: a model trained "
                "with generator.hints does"
            )
        if size is not None:
            check_inside(hints, *size)

    def colorize_video(self, src: str | Path, dst: str | Path, **options: Any) -> Any:
        """Colorize a video file into `dst`, keeping its sound, frame rate, size and rotation;
        see `kolorize.video.colorize_video` for the options (temporal, render_size, ...)."""
        # here: the one upward import (inference stays free of PyAV until a film is asked for)
        from kolorize.video import colorize_video

        return colorize_video(self, src, dst, **options)

    def _model_input(self, rgb: Image.Image, side: int) -> np.ndarray:
        small = np.asarray(resize_photo(rgb, side, "stretch").convert("RGB"))
        return uint8_to_model_lightness_numpy(small)[None, None]


def as_upright_rgb(image: Photo) -> Image.Image:
    """What `colorize` takes -> an upright 8-bit RGB PIL image; a TypeError that names what it
    got for anything else."""
    if isinstance(image, Image.Image):
        return upright_rgb(image)
    if isinstance(image, (str, os.PathLike)):
        return load_rgb(Path(image), min_side=1).image
    if (
        isinstance(image, np.ndarray)
        and image.dtype == np.uint8
        and (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3))
    ):
        return upright_rgb(Image.fromarray(image))
    hint = " (16-bit pixels go to colorize_pixels)" if is_uint16(image) else ""
    raise TypeError(
        "a photo is a PIL image, a path to an image file or an (H, W) or (H, W, 3) uint8 "
        f"array; got {kind_of(image)}{hint}"
    )


__all__ = ["Colorizer", "Photo", "as_upright_rgb", "grayscale", "side_by_side"]
