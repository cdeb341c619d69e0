"""Pretrained weight files (ImageNet ResNet18, AlexNet for LPIPS, InceptionV3 for FID/IS).

Looked up, in order: a folder the user names (`--weights-dir`, for offline machines), then
torch's hub cache (`$TORCH_HOME/hub/checkpoints`, where torchvision keeps them), and only then
downloaded, the normal way, into that cache. When none works the error names the file, where
it comes from and where to put it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from kolorize.download import DownloadError, download
from kolorize.errors import KolorizeError, MissingWeightsError


@dataclass(frozen=True)
class WeightFile:
    key: str
    filename: str
    url: str
    purpose: str

    @property
    def sha256_prefix(self) -> str | None:
        # torchvision and torch-fidelity put the first hex digits of the SHA-256 in the name
        stem = self.filename.rsplit(".", 1)[0]
        tail = stem.rsplit("-", 1)[-1]
        return tail if len(tail) >= 6 and all(c in "0123456789abcdef" for c in tail) else None


WEIGHTS = {
    w.key: w
    for w in (
        WeightFile(
            "resnet18",
            "resnet18-f37072fd.pth",
            "https://download.pytorch.org/models/resnet18-f37072fd.pth",
            "the ImageNet ResNet18 encoder",
        ),
        WeightFile(
            "alexnet",
            "alexnet-owt-7be5be79.pth",
            "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
            "LPIPS (AlexNet features)",
        ),
        WeightFile(
            "inception",
            "weights-inception-2015-12-05-6726825d.pth",
            "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
            "weights-inception-2015-12-05-6726825d.pth",
            "FID, KID and Inception Score (InceptionV3)",
        ),
    )
}


def hub_checkpoints_dir() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"


def locate_weights(
    key: str, weights_dir: str | Path | None = None, *, download_missing: bool = True
) -> Path:
    """The local path of a pretrained weight file, downloading it if needed and allowed."""
    spec = WEIGHTS[key]
    candidates = [hub_checkpoints_dir() / spec.filename]
    if weights_dir is not None:
        candidates.insert(0, Path(weights_dir) / spec.filename)
    for path in candidates:
        if path.is_file():
            return path
    if weights_dir is None:
        where = f"{hub_checkpoints_dir()} (or in a folder passed with --weights-dir)"
    else:
        where = f"{weights_dir} (--weights-dir) or {hub_checkpoints_dir()}"
    if not download_missing:
        raise MissingWeightsError(f"{spec.filename} ({spec.purpose}) not found; put it in {where}")
    try:
        return download(spec.url, candidates[-1], sha256_prefix=spec.sha256_prefix)
    except DownloadError as e:
        raise MissingWeightsError(
            f"{spec.filename} ({spec.purpose}) could not be downloaded ({e.reason}): "
            f"fetch {spec.url} and put it in {where}"
        ) from None


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise KolorizeError(f"{path} is not a readable PyTorch weights file: {e}") from None


@contextmanager
def hub_dir_with(path: Path) -> Iterator[None]:
    """Make libraries that fetch weights through torch.hub find `path` without downloading,
    by pointing the hub at a temporary folder that links to it.

    The redirection goes through $TORCH_HOME, so the hub's own default is back untouched
    afterwards; only if the process pinned a hub folder with torch.hub.set_dir is that used
    (and restored)."""
    import os
    import tempfile

    if path.parent == hub_checkpoints_dir():
        yield
        return
    with tempfile.TemporaryDirectory(prefix="kolorize-hub-") as tmp:
        (Path(tmp) / "hub" / "checkpoints").mkdir(parents=True)
        (Path(tmp) / "hub" / "checkpoints" / path.name).symlink_to(path.resolve())
        previous_env = os.environ.get("TORCH_HOME")
        previous_dir = torch.hub.get_dir()
        os.environ["TORCH_HOME"] = tmp
        pinned = Path(torch.hub.get_dir()) != Path(tmp) / "hub"
        if pinned:
            torch.hub.set_dir(str(Path(tmp) / "hub"))
        try:
            yield
        finally:
            if previous_env is None:
                os.environ.pop("TORCH_HOME", None)
            else:
                os.environ["TORCH_HOME"] = previous_env
            if pinned:
                torch.hub.set_dir(previous_dir)
