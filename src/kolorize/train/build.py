"""A run's parts, built from its config: the networks on the training device, their Adam and
pix2pix's learning-rate schedule, the precision, and where the training batches come from.

Nothing here trains. The trainer calls these in a fixed order, which keeps the random stream,
and so every initial weight, the same from run to run.
"""

from __future__ import annotations

import copy
import functools
import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from kolorize import losses
from kolorize.ab_bins import class_histogram, n_classes, rebalancing_weights, smoothed_prior
from kolorize.config import RunConfig, TrainConfig
from kolorize.data.cache import ImageCache
from kolorize.data.colours import sample_ab
from kolorize.data.loader import (
    Augmentation,
    BatchLoader,
    DeviceBatches,
    fits_on_device,
    make_loader,
)
from kolorize.device import autocast, resolve_precision, time_precision
from kolorize.errors import KolorizeError
from kolorize.models import build_discriminator, build_generator, input_multiple
from kolorize.models.files import read_generator
from kolorize.models.resnet_unet import DEFAULT_TEMPERATURE
from kolorize.models.warm_start import warm_start
from kolorize.train import distributed as ddp
from kolorize.train.distributed import DistInfo


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def set_determinism(deterministic: bool) -> None:
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
    else:
        torch.backends.cudnn.benchmark = True


def build_networks(
    cfg: RunConfig, image_size: int, *, fresh: bool, log: Callable[[str], None]
) -> tuple[nn.Module, nn.Module | None]:
    """The generator, checked to fit `image_size` (on a fresh run with its pretrained encoder,
    or the weights train.init_from names), and for the gan phase the discriminator."""
    G = build_generator(cfg.generator, load_pretrained=fresh)
    multiple = input_multiple(G)
    if image_size % multiple:
        fix = (
            f"lower generator.levels (at most {_max_levels(image_size)} for {image_size} px) or "
            "prepare"
            if cfg.generator.arch == "unet"
            else "prepare"
        )
        raise KolorizeError(
            f"images are {image_size}x{image_size} but this generator needs sides "
            f"that are multiples of {multiple}: {fix} the data at another --size"
        )
    if fresh and cfg.train.init_from:
        _load_generator_from(G, cfg, cfg.train.init_from, log)
    D = build_discriminator(cfg.discriminator) if cfg.train.phase == "gan" else None
    return G, D


def _max_levels(size: int) -> int:
    levels = 0
    while size % 2 == 0 and size > 1:
        size //= 2
        levels += 1
    return levels


def _load_generator_from(
    G: nn.Module, cfg: RunConfig, source: str, log: Callable[[str], None]
) -> None:
    tensors, saved, _ = read_generator(source)
    warm_start(G, tensors, saved, cfg.generator, source, log)


def to_device(net: nn.Module, dist: DistInfo, *, channels_last: bool) -> nn.Module:
    """`net` on the training device (with BatchNorm synchronised across processes on CUDA)."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    return ddp.sync_batchnorm(net, dist).to(dist.device, memory_format=fmt)


def choose_precision(
    cfg: RunConfig,
    device: torch.device,
    G: nn.Module,
    D: nn.Module | None,
    image_size: int,
    *,
    resumed: str | None,
    log: Callable[[str], None],
) -> str:
    """train.precision for this device; with `auto`, a resumed run keeps the precision it
    started with (`resumed`), whatever a new measurement would say. A deterministic run does
    not measure: a stopwatch (and what an earlier one kept) must not decide its arithmetic, so
    `auto` follows the CPU's flags."""
    t = cfg.train
    if resumed and t.precision == "auto":
        return resumed
    measure = functools.partial(_step_seconds, G, D, image_size, min(4, t.batch_size), device)
    return resolve_precision(
        t.precision,
        device,
        measure=None if t.deterministic else measure,
        kept=not t.deterministic,
        workload=f"train {cfg.generator.arch} {t.phase} {image_size}px",
        log=log,
    )


def _step_seconds(
    G: nn.Module, D: nn.Module | None, size: int, n: int, device: torch.device, precision: str
) -> float:
    """Seconds of one forward and backward pass of copies of the networks on random data at
    `precision`: the measurement behind train.precision=auto on a CPU. Copies, and a private
    random generator, so the run's own weights and random stream stay as they are."""
    rng = torch.Generator().manual_seed(0)
    L = torch.rand(n, 1, size, size, generator=rng) * 2 - 1
    ab = torch.rand(n, 2, size, size, generator=rng) * 2 - 1
    G = copy.deepcopy(G).train()
    D = copy.deepcopy(D).train() if D is not None else None

    def run() -> None:
        with autocast(device, precision):
            fake = G(L)
            loss = (fake.float() - ab).abs().mean()
            if D is not None:
                loss = loss + D(torch.cat([L, fake.to(L.dtype)], 1)).float().mean()
        loss.backward()

    return time_precision(run)


def adam(
    net: nn.Module, lr: float, t: TrainConfig, device: torch.device, *, capturable: bool
) -> torch.optim.Adam:
    """Adam as the study sets it, as one fused kernel (on the CPU too: 7x the per-tensor loop on
    1 thread, which took a sixth of the shipped colorizer's step, benchmarks/README.md), and for a
    captured CUDA step capturable with its learning rate on the device (the scheduler fills it
    in place)."""
    capturable = capturable and device.type == "cuda"
    rate = torch.tensor(lr, device=device) if capturable else lr
    return torch.optim.Adam(
        net.parameters(), lr=rate, betas=(t.beta1, t.beta2), fused=True, capturable=capturable
    )


def linear_decay(opt: torch.optim.Optimizer, t: TrainConfig) -> torch.optim.lr_scheduler.LambdaLR:
    """pix2pix's schedule, stepped once per epoch: the learning rate constant, then linearly
    to zero over the last train.lr_decay_epochs epochs."""
    return torch.optim.lr_scheduler.LambdaLR(opt, functools.partial(_lr_factor, t))


def _lr_factor(t: TrainConfig, epoch: int) -> float:
    if t.lr_decay_epochs == 0:
        return 1.0
    constant = t.epochs - t.lr_decay_epochs
    return 1.0 - max(0, epoch + 1 - constant) / float(t.lr_decay_epochs + 1)


def load_optimizer_state(opt: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    """load_state_dict, keeping a learning rate that lives on the device (capturable Adam) a
    device tensor filled with the saved value, so a captured step still reads it."""
    rates = [g["lr"] for g in opt.param_groups]
    opt.load_state_dict(state)
    for group, rate in zip(opt.param_groups, rates, strict=True):
        if isinstance(rate, torch.Tensor):
            rate.fill_(float(group["lr"]))
            group["lr"] = rate


def for_training(net: nn.Module, dist: DistInfo, *, compile_: bool) -> nn.Module:
    """`net` as the step calls it: under DistributedDataParallel across processes, and
    compiled (TorchInductor: CUDA kernels, or C++ with the host's compiler on a CPU) when
    train.compile asks for it."""
    wrapped = ddp.data_parallel(net, dist)
    if compile_:
        return torch.compile(wrapped)  # type: ignore[return-value]
    return wrapped


def training_size(cfg: RunConfig, data: ImageCache) -> int:
    """The side the networks train at: train.image_size, or the dataset's."""
    return cfg.train.image_size or data.size


def augmentation(cfg: RunConfig, data: ImageCache) -> Augmentation:
    t = cfg.train
    size = training_size(cfg, data)
    return Augmentation(
        size,
        resize=size != data.size,
        crop_min=t.crop_min,
        hints=cfg.generator.hints,
        hint_p=t.hint_p,
        hint_free_share=t.hint_free_share,
        hint_recolour_share=t.hint_recolour_share,
        old_photo_share=t.old_photo_share,
    )


@dataclass(frozen=True)
class TrainingColours:
    """The colours of the training photos (`kolorize.data.colours`' seeded sample, so resuming
    recomputes the same): their distribution over the ab classes, smoothed, and their mean ab
    (the tint baseline of `kolorize.evaluate.yardsticks`), in Lab units."""

    prior: torch.Tensor
    mean_ab: tuple[float, float]


def training_colours(data: ImageCache) -> TrainingColours:
    counts = torch.zeros(n_classes(), dtype=torch.float64)
    for ab in sample_ab(data.split("train")):
        counts += class_histogram(ab)
    return TrainingColours(smoothed_prior(counts), data.mean_ab())


def colour_loss(cfg: RunConfig, colours: TrainingColours) -> losses.ColourLoss:
    """L1 for an ab generator; for a classes one the cross-entropy, rebalanced by the
    training photos' colours."""
    if cfg.generator.output != "classes":
        return losses.ColourLoss()
    weights = None
    if cfg.train.rebalance < 1:
        weights = rebalancing_weights(colours.prior, cfg.train.rebalance)
    return losses.ClassLoss(weights, DEFAULT_TEMPERATURE)


def training_batches(
    cfg: RunConfig, data: ImageCache, dist: DistInfo
) -> tuple[BatchLoader, BatchLoader | DeviceBatches]:
    """The training loader (its sampler orders every epoch), and what the loop iterates: the
    loader's host batches, or the same batches as indices into the split held on the device
    (train.data_on_device, `auto`: when it fits)."""
    t = cfg.train
    on_cpu = dist.device.type == "cpu"
    loader = make_loader(
        data,
        "train",
        t.batch_size,
        train=True,
        seed=t.seed,
        rank=dist.rank,
        world_size=dist.world_size,
        threads=t.loader_threads,
        pin_memory=not on_cpu,
        to_lab=on_cpu,
        augmentation=augmentation(cfg, data),
    )
    if len(loader) == 0:
        raise KolorizeError(f"{data.n_train} training images make no batch of {t.batch_size}")
    on_device = t.data_on_device == "on" or (
        t.data_on_device == "auto" and fits_on_device(data, "train", dist.device)
    )
    if on_device:
        return loader, DeviceBatches(data, "train", loader.sampler, dist.device)
    return loader, loader
