"""The optional extras of kolorize's install, and the one-line refusal when one is missing.

The base install colorizes photos (torch, Pillow, NumPy, ...). Everything else is an extra:
`serve` (the web page), `export` (ONNX files and running them), `video` (PyAV) and `train`
(training, scoring, reports and the demo). A command checks for its extra before it imports
anything from it, so a missing one is a line naming the extra, never a traceback.
"""

from __future__ import annotations

import importlib.util

from kolorize.errors import MissingExtraError

# extra -> the modules it installs (import names), each checked without importing it
EXTRAS: dict[str, tuple[str, ...]] = {
    "serve": ("fastapi", "uvicorn", "python_multipart"),
    "export": ("onnx", "onnxruntime"),
    "video": ("av",),
    "train": (
        "torchvision", "tensorboard", "torchmetrics", "torch_fidelity", "scipy", "matplotlib",
        "skimage",
    ),
}  # fmt: skip
# python-multipart before 0.0.13 installs only the old name
_ALTERNATIVES = {"python_multipart": ("multipart",)}


def installed(module: str) -> bool:
    """Whether `module` can be imported, without importing it."""
    for name in (module, *_ALTERNATIVES.get(module, ())):
        try:
            if importlib.util.find_spec(name) is not None:
                return True
        except (ImportError, ValueError):  # ValueError: a module set to None in sys.modules
            continue
    return False


def require_extra(extra: str, what: str) -> None:
    """Raise MissingExtraError, naming the extra, when `what` cannot run without it."""
    missing = [m for m in EXTRAS[extra] if not installed(m)]
    if missing:
        raise MissingExtraError(
            f"{what} needs kolorize's [{extra}] extra (missing: {', '.join(missing)}): "
            f"pip install 'kolorize[{extra}]'"
        )


__all__ = ["EXTRAS", "installed", "require_extra"]
