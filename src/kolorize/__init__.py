"""kolorize: colorize black-and-white photos with pix2pix GANs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from kolorize.inference.colorizer import Colorizer
    from kolorize.inference.user_hints import Hint

__all__ = ["Colorizer", "Hint", "__version__"]


def __getattr__(name: str) -> Any:
    # `import kolorize` stays light (no torch); `from kolorize import Colorizer` loads it.
    if name == "Colorizer":
        from kolorize.inference.colorizer import Colorizer

        return Colorizer
    if name == "Hint":
        from kolorize.inference.user_hints import Hint

        return Hint
    raise AttributeError(f"module 'kolorize' has no attribute {name!r}")


def __dir__() -> list[str]:
    # the public names only: the submodules that an import has loaded are kolorize's insides
    return list(__all__)
