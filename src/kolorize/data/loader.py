"""Batches from the cache, shuffled and randomly flipped for training: either uint8 RGB
(N, 3, H, W), converted to Lab afterwards on the training device where it costs next to
nothing, or, for CPU training, already converted to the model's Lab space inside the loader
(so DataLoader workers do it in parallel). `kolorize.color.batch_to_model_space` takes both.

Randomness is a pure function of (seed, epoch): the order and the flips of an epoch are drawn
up front, so a run resumed mid-epoch sees exactly the batches it would have seen, and each
distributed rank takes its own strided share of the same permutation.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from kolorize.color import uint8_to_model_space_numpy
from kolorize.data.cache import ImageCache


@dataclass(frozen=True)
class BatchSpec:
    indices: np.ndarray  # rows of the split, sorted for sequential reads
    flips: np.ndarray  # bool per row


class EpochBatchSampler(Sampler[BatchSpec]):
    def __init__(
        self,
        n: int,
        batch_size: int,
        *,
        shuffle: bool,
        flip: bool,
        drop_last: bool,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if n <= 0:
            raise ValueError("cannot sample batches from an empty split")
        self.n, self.batch_size = n, batch_size
        self.shuffle, self.flip, self.drop_last = shuffle, flip, drop_last
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.epoch = 0
        self.skip = 0

    def set_epoch(self, epoch: int, skip_batches: int = 0) -> None:
        """Select the epoch's permutation; skip its first batches when resuming mid-epoch."""
        self.epoch, self.skip = epoch, skip_batches

    def _rank_share(self) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(self.n) if self.shuffle else np.arange(self.n)
        flips = rng.random(self.n) < 0.5 if self.flip else np.zeros(self.n, dtype=bool)
        # Every rank gets the same number of rows (pad by wrapping), as DistributedSampler does.
        per_rank = -(-self.n // self.world_size)
        if self.drop_last:
            per_rank = self.n // self.world_size
        padded = np.resize(order, per_rank * self.world_size)
        share = padded[self.rank :: self.world_size]
        return share, flips[share]

    def __len__(self) -> int:
        share = -(-self.n // self.world_size) if not self.drop_last else self.n // self.world_size
        full, rest = divmod(share, self.batch_size)
        return full if self.drop_last or rest == 0 else full + 1

    def __iter__(self) -> Iterator[BatchSpec]:
        share, flips = self._rank_share()
        for b in range(self.skip, len(self)):
            sl = slice(b * self.batch_size, (b + 1) * self.batch_size)
            idx, flp = share[sl], flips[sl]
            order = np.argsort(idx, kind="stable")
            yield BatchSpec(idx[order], flp[order])


class CacheBatches(Dataset):
    """Map-style dataset whose items are whole batches (see EpochBatchSampler)."""

    def __init__(self, cache_root: str, split: str, to_lab: bool = False) -> None:
        self.cache_root, self.split, self.to_lab = cache_root, split, to_lab
        self._images: np.ndarray | None = None

    @property
    def images(self) -> np.ndarray:
        if self._images is None:
            self._images = ImageCache(self.cache_root).split(self.split)
        return self._images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, spec: BatchSpec) -> torch.Tensor:
        batch = self.images[spec.indices]  # (B, H, W, 3) uint8, a copy
        if spec.flips.any():
            batch[spec.flips] = batch[spec.flips, :, ::-1]
        if self.to_lab:
            return torch.from_numpy(uint8_to_model_space_numpy(batch))
        # NHWC memory seen as NCHW: exactly the channels_last layout, no copy.
        return torch.from_numpy(batch).permute(0, 3, 1, 2)


class BatchLoader:
    """Iterates the sampler's batches in order, preparing the next ones in background threads.

    Threads rather than worker processes: the heavy parts (memory-mapped reads, numpy colour
    conversion) release the GIL, and nothing has to be copied between processes.
    """

    def __init__(
        self,
        dataset: CacheBatches,
        sampler: EpochBatchSampler,
        *,
        threads: int = 2,
        prefetch: int = 4,
        pin_memory: bool = False,
    ) -> None:
        self.dataset, self.sampler = dataset, sampler
        self.threads, self.prefetch, self.pin_memory = max(threads, 0), max(prefetch, 1), pin_memory

    def __len__(self) -> int:
        return len(self.sampler)

    def _load(self, spec: BatchSpec) -> torch.Tensor:
        batch = self.dataset[spec]
        return batch.pin_memory() if self.pin_memory else batch

    def __iter__(self) -> Iterator[torch.Tensor]:
        if self.threads == 0:
            yield from map(self._load, self.sampler)
            return
        with ThreadPoolExecutor(self.threads, thread_name_prefix="kolorize-loader") as pool:
            pending: deque[Future[torch.Tensor]] = deque()
            specs = iter(self.sampler)
            try:
                for spec in specs:
                    pending.append(pool.submit(self._load, spec))
                    if len(pending) >= self.prefetch:
                        yield pending.popleft().result()
                while pending:
                    yield pending.popleft().result()
            finally:
                for future in pending:
                    future.cancel()


def make_loader(
    cache: ImageCache,
    split: str,
    batch_size: int,
    *,
    train: bool,
    seed: int = 0,
    rank: int = 0,
    world_size: int = 1,
    threads: int = 2,
    pin_memory: bool = False,
    to_lab: bool = False,
) -> BatchLoader:
    """Training loaders shuffle, flip and drop the last incomplete batch; others do neither.
    With `to_lab` the batches come already in the model's Lab space (float32)."""
    n = cache.n_train if split == "train" else cache.n_val
    sampler = EpochBatchSampler(
        n, batch_size, shuffle=train, flip=train, drop_last=train and n >= batch_size * world_size,
        seed=seed, rank=rank, world_size=world_size,
    )  # fmt: skip
    return BatchLoader(
        CacheBatches(str(cache.root), split, to_lab),
        sampler,
        threads=threads,
        pin_memory=pin_memory,
    )


_COPY_ROWS = 512  # 100 MB of 256 px images per host-to-device copy


class DeviceBatches:
    """The whole split resident on the training device as uint8 (N, H, W, 3): a batch is then
    two small index tensors, gathered, flipped and converted to Lab on the device (inside the
    captured step on CUDA). Same sampler, so the same order and flips as the host loader.

    Yields (indices, flips) pairs of device tensors; `gather_batch` turns one into uint8 RGB.
    A whole epoch's indices travel to the device in one copy, not one per step.
    """

    def __init__(
        self, cache: ImageCache, split: str, sampler: EpochBatchSampler, device: torch.device
    ) -> None:
        self.sampler = sampler
        self.device = device
        # The cache is a read-only memory map; copying it a slice at a time keeps the host
        # from holding a second whole copy of the split on the way to the device.
        rows = cache.split(split)
        self.images = torch.empty(rows.shape, dtype=torch.uint8, device=device)
        for start in range(0, len(rows), _COPY_ROWS):
            chunk = torch.from_numpy(np.array(rows[start : start + _COPY_ROWS]))
            self.images[start : start + _COPY_ROWS].copy_(chunk)

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        specs = list(self.sampler)
        if not specs:
            return
        if len({len(s.indices) for s in specs}) > 1:  # a short last batch: one copy per batch
            for s in specs:
                yield _to_device(s.indices, s.flips, self.device)
            return
        indices, flips = _to_device(
            np.stack([s.indices for s in specs]), np.stack([s.flips for s in specs]), self.device
        )
        yield from zip(indices.unbind(0), flips.unbind(0), strict=True)


def _to_device(
    indices: np.ndarray, flips: np.ndarray, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    return (
        torch.from_numpy(indices.astype(np.int64)).to(device, non_blocking=True),
        torch.from_numpy(flips.astype(bool)).to(device, non_blocking=True),
    )


def gather_batch(images: torch.Tensor, indices: torch.Tensor, flips: torch.Tensor) -> torch.Tensor:
    """Rows of a (N, H, W, 3) uint8 tensor, flipped left-right where asked, as (B, 3, H, W)
    in the channels_last layout (a view, as the host loader's batches are)."""
    batch = images.index_select(0, indices)
    batch = torch.where(flips[:, None, None, None], batch.flip(2), batch)
    return batch.permute(0, 3, 1, 2)


def fits_on_device(
    cache: ImageCache, split: str, device: torch.device, share: float = 0.25
) -> bool:
    """Whether the split's uint8 pixels take at most `share` of the device's free memory."""
    if device.type != "cuda":
        return False
    free, _total = torch.cuda.mem_get_info(device)
    return cache.split(split).nbytes <= share * free
