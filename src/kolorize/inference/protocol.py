"""What the photo, video and web-page code need of a colorizer, so that they take any object
with this shape (a `kolorize.Colorizer`, a test's stand-in) without importing the colorizer,
and torch with it, themselves."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    from kolorize.inference.user_hints import Hint


class PhotoColorizer(Protocol):
    description: str
    image_size: int
    batch_size: int
    takes_hints: bool

    def check_hints(self, hints: Sequence[Hint], size: tuple[int, int] | None = None) -> None: ...

    def colorize_pixels(
        self,
        pixels: Sequence[np.ndarray],
        *,
        render_size: int | None = None,
        hints: Sequence[Sequence[Hint]] | None = None,
    ) -> list[np.ndarray]: ...

    def predict(
        self,
        rgbs: Sequence[Image.Image],
        *,
        render_size: int | None = None,
        hints: Sequence[Sequence[Hint]] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]: ...
