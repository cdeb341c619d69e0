"""The pretrained networks behind the perceptual metrics, built the torchmetrics way:

- InceptionV3 (torch-fidelity's port of the TensorFlow FID network, "inception-v3-compat")
  for FID, KID and the Inception Score, run through torch-fidelity's own forward: its
  TensorFlow-1.x-compatible bilinear resize to 299x299, so the features are the ones
  torch-fidelity (and the papers that use it) compute. One forward pass gives both the 2048-d
  pool features (FID, KID) and the 1008 unbiased logits (IS).
- AlexNet for LPIPS (torchmetrics' LPIPS with its bundled linear layers; torchvision loads the
  AlexNet backbone through torch.hub, which `hub_dir_with` points at the located file).

Weights are found with `kolorize.weights.locate_weights` (a `--weights-dir`, then the torch hub
cache, then the normal download). When one cannot be had, its metrics are reported as n/a
with the reason, unless the caller requires every metric.

Tests and benchmarks put their own networks in a `Backbones` (or random weights of the real
architectures under the real file names, see `write_random_weights`): every metric then runs
through exactly the same code as with the real weights.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
from torchmetrics.image.lpip import LearnedPerceptualImagePatchSimilarity

from kolorize.errors import KolorizeError, MissingWeightsError
from kolorize.weights import WEIGHTS, hub_dir_with, locate_weights

INCEPTION_NAME = "inception-v3-compat"


class InceptionPoolAndLogits(FeatureExtractorInceptionV3):
    """uint8 RGB (N, 3, H, W) -> (2048-d pool features, 1008 unbiased logits), one pass of
    torch-fidelity's forward (not torchmetrics' default, which resizes with torch's
    antialiased bilinear filter and so gives other features, another FID)."""

    def __init__(self, weights_path: str | Path) -> None:
        super().__init__(
            INCEPTION_NAME,
            ["2048", "logits_unbiased"],
            feature_extractor_weights_path=str(weights_path),
        )

    def train(self, mode: bool = True) -> InceptionPoolAndLogits:
        return super().train(False)  # BatchNorm on its running statistics, always


def build_lpips(alexnet_path: Path) -> LearnedPerceptualImagePatchSimilarity:
    """LPIPS (AlexNet), per-image scores, inputs float RGB in [0, 1]."""
    with hub_dir_with(alexnet_path):
        return LearnedPerceptualImagePatchSimilarity(
            net_type="alex", reduction="none", normalize=True
        )


@dataclass
class Backbones:
    """The networks the metrics use; None where one is missing, with the reason in `missing`.

    `inception` maps uint8 RGB (N, 3, H, W) to (pool features (N, D), logits (N, K));
    `lpips` is a torchmetrics-style metric (update(a, b) / compute() / reset()) taking float
    RGB in [0, 1] and giving one score per image pair.
    """

    inception: nn.Module | None = None
    lpips: nn.Module | None = None
    missing: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)

    def to(self, device: torch.device) -> Backbones:
        for net in (self.inception, self.lpips):
            if net is not None:
                net.to(device)
        return self


def _build(key: str, path: Path, builder: Callable[[Path], nn.Module]) -> nn.Module:
    try:
        return builder(path)
    except (RuntimeError, KeyError, EOFError, OSError, ValueError, pickle.UnpicklingError) as e:
        raise KolorizeError(f"{path} does not hold usable {key} weights: {e}") from None


def load_backbones(
    weights_dir: str | Path | None = None,
    *,
    require_all: bool = False,
    download: bool = True,
) -> Backbones:
    """Locate (or download) and build both networks; a missing one becomes a reason, or, with
    `require_all`, a MissingWeightsError."""
    if weights_dir is not None and not Path(weights_dir).is_dir():
        raise KolorizeError(f"--weights-dir: no such folder: {weights_dir}")
    backbones = Backbones()
    wanted: tuple[tuple[str, str, Callable[[Path], nn.Module]], ...] = (
        ("lpips", "alexnet", build_lpips),
        ("inception", "inception", InceptionPoolAndLogits),
    )
    for slot, key, builder in wanted:
        try:
            path = locate_weights(key, weights_dir, download_missing=download)
        except MissingWeightsError as e:
            if require_all:
                raise
            backbones.missing[slot] = str(e)
            continue
        setattr(backbones, slot, _build(key, path, builder))
        backbones.sources[slot] = str(path)
    return backbones


def write_random_weights(key: str, folder: str | Path, seed: int = 0) -> Path:
    """Random weights of the real architecture under the real file name, so that
    `load_backbones(folder)` runs the real loading path and the real network's cost.
    For tests and benchmarks: the metric values they give mean nothing."""
    import torchvision

    if key not in ("alexnet", "inception"):
        raise ValueError(f"no random stand-in for {key!r}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if key == "alexnet":
            net: nn.Module = torchvision.models.alexnet()
        else:
            # torchvision's InceptionV3 has torch-fidelity's parameter names and shapes
            net = torchvision.models.inception_v3(
                weights=None, aux_logits=False, num_classes=1008, init_weights=False
            )
            for m in net.modules():
                if isinstance(m, nn.Conv2d):
                    # variance-preserving, so activations neither vanish nor explode with depth
                    nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    path = Path(folder) / WEIGHTS[key].filename
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), path)
    return path
