"""Data-parallel training with torch.distributed, launched by torchrun (which sets RANK,
WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT). NCCL on CUDA, gloo on CPU. A plain single-process
run needs none of it and gets world_size 1."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from kolorize.device import resolve_device


@dataclass(frozen=True)
class DistInfo:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup(preference: str) -> DistInfo:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(preference, local)
    if world > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return DistInfo(rank, world, local, device)


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def sync_batchnorm(module: nn.Module, info: DistInfo) -> nn.Module:
    """BatchNorm statistics over the global batch. SyncBatchNorm needs CUDA, so on CPU (gloo)
    each rank normalises its own share; DDP still broadcasts running statistics from rank 0."""
    if info.enabled and info.device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return module


def data_parallel(module: nn.Module, info: DistInfo) -> nn.Module:
    if not info.enabled:
        return module
    ids = [info.device.index] if info.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids)


def all_ranks_agree(flag: bool, info: DistInfo) -> bool:
    """True only if `flag` holds on every rank (used to stop all ranks together)."""
    if not info.enabled:
        return flag
    t = torch.tensor([0.0 if flag else 1.0], device=info.device)
    dist.all_reduce(t)
    return t.item() == 0.0


def broadcast_buffers(module: nn.Module, info: DistInfo) -> None:
    """Give every rank rank 0's buffers (BatchNorm running statistics). Without SyncBatchNorm
    they drift apart after the last forward pass; this keeps checkpoints identical."""
    if info.enabled:
        for buffer in module.buffers():
            dist.broadcast(buffer, src=0)


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()
