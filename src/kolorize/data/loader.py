"""Batches from the cache, shuffled and randomly flipped for training: either uint8 RGB
(N, 3, H, W), converted to Lab afterwards on the training device where it costs next to
nothing, or, for CPU training, already converted to the model's Lab space inside the loader
(so DataLoader workers do it in parallel). `kolorize.color.batch_to_model_space` takes both.

Randomness is a pure function of (seed, epoch): the order, flips, crop boxes, hint patches,
recolours and old prints of an epoch are drawn up front, so a run resumed mid-epoch sees
exactly the batches it would have seen, and each distributed rank takes its own strided share
of the same permutation.

What the loop hands the step is a `Batch`: a `HostBatch` of pixels or, for a split held on the
device, a `DeviceBatch` of rows into it with their flips; either with the crop boxes, hint
patches, recolours and old prints the step applies (`kolorize.data.crops`, `kolorize.hints`,
`kolorize.data.old_photos`). Each knows its length and how it becomes the model's L and ab,
so the step never asks which it has.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, fields, replace

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from kolorize.color import batch_to_model_space, rgb_to_model_space, uint8_to_model_space_numpy
from kolorize.data.cache import ImageCache
from kolorize.data.crops import draw_crop_boxes, whole_image_boxes
from kolorize.data.old_photos import draw_old_photo
from kolorize.hints import draw_hint_patches, draw_recolours


@dataclass(frozen=True)
class Augmentation:
    """How training batches vary beyond flips. `size`: the side the step trains at (the
    cache's, unless resized); `crop_min` < 1: random resized crops (`kolorize.data.crops`);
    `hints`: hint patches for a hint-capable generator, and for a share `hint_recolour_share`
    of the hinted images an object recoloured (`kolorize.hints`); for a share
    `old_photo_share` of the images, the generator's L made an old print
    (`kolorize.data.old_photos`)."""

    size: int
    resize: bool = False  # resample whole images to `size` (implied by crop_min < 1)
    crop_min: float = 1.0
    hints: bool = False
    hint_p: float = 0.125
    hint_free_share: float = 0.25
    hint_recolour_share: float = 0.0
    old_photo_share: float = 0.0

    def draw(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray | None, ...]:
        """(boxes, hint patches, recolours, old prints) for n images, each None when not used;
        the old prints are drawn last, so a run without them draws what it drew before."""
        boxes = None
        if self.crop_min < 1:
            boxes = draw_crop_boxes(rng, n, self.crop_min)
        elif self.resize:
            boxes = whole_image_boxes(n)
        hints = None
        if self.hints:
            hints = draw_hint_patches(
                rng, n, self.size, p=self.hint_p, free_share=self.hint_free_share
            )
        recolours = None
        if hints is not None and self.hint_recolour_share > 0:
            recolours = draw_recolours(rng, hints, self.hint_recolour_share)
        old_photos = None
        if self.old_photo_share > 0:
            old_photos = draw_old_photo(rng, n, self.old_photo_share)
        return boxes, hints, recolours, old_photos


@dataclass(frozen=True)
class BatchSpec:
    indices: np.ndarray  # rows of the split, sorted for sequential reads
    flips: np.ndarray  # bool per row
    boxes: np.ndarray | None = None  # (B, 4) crop boxes (kolorize.data.crops)
    hints: np.ndarray | None = None  # (B, K, 3) hint patches (kolorize.hints)
    recolours: np.ndarray | None = None  # (B, 3) recoloured objects (kolorize.hints)
    old_photos: np.ndarray | None = None  # (B, 6) old-print parameters (data.old_photos)


class Batch(ABC):
    """One training batch as the step takes it, host or device: how many images it holds,
    how it becomes the model's L and ab (`model_space`), and the crop boxes, hint patches,
    recolours and old prints the step applies when the run crops, trains hints or degrades.
    Its per-batch tensors can be moved, cloned and copied into (what a captured CUDA graph's
    input buffers need)."""

    boxes: torch.Tensor | None
    hints: torch.Tensor | None
    recolours: torch.Tensor | None
    old_photos: torch.Tensor | None

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def model_space(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """(L, ab) in the model's space on `device`, at the cache's size."""

    def _tensors(self) -> dict[str, torch.Tensor]:
        """This batch's own tensors (not the split a device batch points into)."""
        return {
            f.name: v
            for f in fields(self)
            if not f.metadata.get("shared") and (v := getattr(self, f.name)) is not None
        }

    def to(self, device: torch.device) -> Batch:
        non_blocking = device.type == "cuda"
        moved = {k: v.to(device, non_blocking=non_blocking) for k, v in self._tensors().items()}
        return replace(self, **moved)

    def clone(self) -> Batch:
        return replace(self, **{k: v.detach().clone() for k, v in self._tensors().items()})

    def pinned(self) -> Batch:
        return replace(self, **{k: v.pin_memory() for k, v in self._tensors().items()})

    def copy_(self, other: Batch) -> None:
        """Fill this batch's tensors with `other`'s (same kind, fields and shapes)."""
        for name, tensor in self._tensors().items():
            tensor.copy_(getattr(other, name), non_blocking=True)


@dataclass
class HostBatch(Batch):
    """`pixels`: uint8 RGB (B, 3, H, W), or already in the model's Lab space (CPU training)."""

    pixels: torch.Tensor
    boxes: torch.Tensor | None = None
    hints: torch.Tensor | None = None
    recolours: torch.Tensor | None = None
    old_photos: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.pixels)

    def model_space(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        return batch_to_model_space(self.pixels, device)


@dataclass
class DeviceBatch(Batch):
    """`rows` of the split held on the device (`split`, uint8 (N, H, W, 3)) and their
    `flips`: gathered, flipped and converted to Lab on the device, inside the step."""

    rows: torch.Tensor
    flips: torch.Tensor
    split: torch.Tensor = field(repr=False, metadata={"shared": True})
    boxes: torch.Tensor | None = None
    hints: torch.Tensor | None = None
    recolours: torch.Tensor | None = None
    old_photos: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def model_space(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        return rgb_to_model_space(gather_batch(self.split, self.rows, self.flips))


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
        augmentation: Augmentation | None = None,
    ) -> None:
        if n <= 0:
            raise ValueError("cannot sample batches from an empty split")
        self.augmentation = augmentation
        self.n, self.batch_size = n, batch_size
        self.shuffle, self.flip, self.drop_last = shuffle, flip, drop_last
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.epoch = 0
        self.skip = 0

    def set_epoch(self, epoch: int, skip_batches: int = 0) -> None:
        """Select the epoch's permutation; skip its first batches when resuming mid-epoch."""
        self.epoch, self.skip = epoch, skip_batches

    def _rank_share(self) -> tuple[np.ndarray, ...]:
        """(rows, flips, boxes, hints, recolours, old prints) of this rank's share of the
        epoch, in order; all but the rows and flips are drawn per position in the epoch, so
        they do not depend on the row."""
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(self.n) if self.shuffle else np.arange(self.n)
        flips = rng.random(self.n) < 0.5 if self.flip else np.zeros(self.n, dtype=bool)
        drawn: tuple[np.ndarray | None, ...] = (None,) * (len(_SPEC_FIELDS) - 2)
        if self.augmentation is not None:
            drawn = self.augmentation.draw(rng, self.n)
        # Every rank gets the same number of rows (pad by wrapping), as DistributedSampler does.
        per_rank = -(-self.n // self.world_size)
        if self.drop_last:
            per_rank = self.n // self.world_size
        positions = np.resize(np.arange(self.n), per_rank * self.world_size)[
            self.rank :: self.world_size
        ]
        share = order[positions]
        return share, flips[share], *(None if d is None else d[positions] for d in drawn)

    def __len__(self) -> int:
        share = -(-self.n // self.world_size) if not self.drop_last else self.n // self.world_size
        full, rest = divmod(share, self.batch_size)
        return full if self.drop_last or rest == 0 else full + 1

    def __iter__(self) -> Iterator[BatchSpec]:
        share, flips, *drawn = self._rank_share()
        for b in range(self.skip, len(self)):
            sl = slice(b * self.batch_size, (b + 1) * self.batch_size)
            idx = share[sl]
            order = np.argsort(idx, kind="stable")
            yield BatchSpec(
                idx[order],
                flips[sl][order],
                *(None if d is None else d[sl][order] for d in drawn),
            )


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

    def _load(self, spec: BatchSpec) -> Batch:
        drawn = _drawn_tensors(*(getattr(spec, name) for name in _SPEC_FIELDS[2:]))
        batch = HostBatch(self.dataset[spec], **drawn)
        return batch.pinned() if self.pin_memory else batch

    def __iter__(self) -> Iterator[Batch]:
        if self.threads == 0:
            yield from map(self._load, self.sampler)
            return
        with ThreadPoolExecutor(self.threads, thread_name_prefix="kolorize-loader") as pool:
            pending: deque[Future[Batch]] = deque()
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
    augmentation: Augmentation | None = None,
) -> BatchLoader:
    """Training loaders shuffle, flip and drop the last incomplete batch; others do neither.
    With `to_lab` the batches come already in the model's Lab space (float32)."""
    n = cache.n_train if split == "train" else cache.n_val
    sampler = EpochBatchSampler(
        n,
        batch_size,
        shuffle=train,
        flip=train,
        drop_last=train and n >= batch_size * world_size,
        seed=seed,
        rank=rank,
        world_size=world_size,
        augmentation=augmentation,
    )
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

    Yields `DeviceBatch`es (rows, flips, and the augmentation drawn). A whole epoch's
    draws travel to the device in one copy, not one per step.
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

    def __iter__(self) -> Iterator[Batch]:
        specs = list(self.sampler)
        if not specs:
            return
        if len({len(s.indices) for s in specs}) > 1:  # a short last batch: one copy per batch
            for s in specs:
                yield self._batch(*(getattr(s, name) for name in _SPEC_FIELDS)).to(self.device)
            return
        stacked = self._batch(
            *(_stack([getattr(s, name) for s in specs]) for name in _SPEC_FIELDS)
        ).to(self.device)
        parts = {k: v.unbind(0) for k, v in stacked._tensors().items()}
        for i in range(len(specs)):
            yield replace(stacked, **{k: v[i] for k, v in parts.items()})

    def _batch(
        self,
        rows: np.ndarray,
        flips: np.ndarray,
        boxes: np.ndarray | None,
        hints: np.ndarray | None,
        recolours: np.ndarray | None,
        old_photos: np.ndarray | None,
    ) -> DeviceBatch:
        return DeviceBatch(
            torch.from_numpy(rows.astype(np.int64)),
            torch.from_numpy(flips.astype(bool)),
            self.images,
            **_drawn_tensors(boxes, hints, recolours, old_photos),
        )


_SPEC_FIELDS = ("indices", "flips", "boxes", "hints", "recolours", "old_photos")


def _drawn_tensors(
    boxes: np.ndarray | None,
    hints: np.ndarray | None,
    recolours: np.ndarray | None,
    old_photos: np.ndarray | None,
) -> dict[str, torch.Tensor | None]:
    """A batch's drawn augmentation as the keyword arguments of its tensors."""
    drawn = {"boxes": boxes, "hints": hints, "recolours": recolours, "old_photos": old_photos}
    return {k: None if v is None else torch.from_numpy(v) for k, v in drawn.items()}


def _stack(arrays: list[np.ndarray]) -> np.ndarray | None:
    return None if arrays[0] is None else np.stack(arrays)


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
