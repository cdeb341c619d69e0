import numpy as np
import torch

from kolorize.color import batch_to_model_space, rgb_to_model_space
from kolorize.data.cache import ImageCache
from kolorize.data.loader import Augmentation, EpochBatchSampler, make_loader


def _epoch(loader, epoch, skip=0):
    loader.sampler.set_epoch(epoch, skip)
    return [batch.pixels for batch in loader]


def test_train_batches_shapes_ranges_and_dtype(tiny_dataset):
    cache = ImageCache(tiny_dataset)
    loader = make_loader(cache, "train", 8, train=True, seed=1)
    batches = _epoch(loader, 0)
    assert len(batches) == len(loader) == 4
    for b in batches:
        assert b.shape == (8, 3, 32, 32) and b.dtype == torch.uint8
        L, ab = batch_to_model_space(b, "cpu")
        assert L.shape == (8, 1, 32, 32) and ab.shape == (8, 2, 32, 32)
        assert L.min() >= -1 and L.max() <= 1 and ab.abs().max() <= 128 / 110


def test_to_lab_loader_gives_the_same_numbers(tiny_dataset):
    cache = ImageCache(tiny_dataset)
    rgb = _epoch(make_loader(cache, "train", 8, train=True, seed=3), 2)
    lab = _epoch(make_loader(cache, "train", 8, train=True, seed=3, to_lab=True), 2)
    for a, b in zip(rgb, lab, strict=True):
        L, ab = rgb_to_model_space(a)
        assert torch.allclose(torch.cat([L, ab], 1), b, atol=1e-5)


def test_training_order_is_shuffled_and_flipped_but_reproducible(tiny_dataset):
    cache = ImageCache(tiny_dataset)
    loader = make_loader(cache, "train", 32, train=True, seed=5)
    (e0,) = _epoch(loader, 0)
    (again,) = _epoch(loader, 0)
    (e1,) = _epoch(loader, 1)
    assert torch.equal(e0, again)
    assert not torch.equal(e0, e1)
    # every training image appears once per epoch, some mirrored
    rows = torch.from_numpy(np.array(cache.split("train"))).permute(0, 3, 1, 2)
    flipped = 0
    for img in e0:
        same = (rows == img).flatten(1).all(1)
        mirrored = (rows.flip(-1) == img).flatten(1).all(1)
        assert same.any() or mirrored.any()
        flipped += int(mirrored.any() and not same.any())
    assert 0 < flipped < 32


def test_validation_is_in_order_and_never_flipped(tiny_dataset):
    cache = ImageCache(tiny_dataset)
    loader = make_loader(cache, "val", 3, train=False)
    got = torch.cat(_epoch(loader, 0))
    expected = torch.from_numpy(np.array(cache.split("val"))).permute(0, 3, 1, 2)
    assert torch.equal(got, expected)  # 8 images in batches of 3, 3, 2: nothing dropped


def test_resume_mid_epoch_sees_the_remaining_batches(tiny_dataset):
    loader = make_loader(ImageCache(tiny_dataset), "train", 8, train=True, seed=9)
    full = _epoch(loader, 3)
    rest = _epoch(loader, 3, skip=2)
    assert len(rest) == 2 and all(torch.equal(a, b) for a, b in zip(full[2:], rest, strict=True))


def test_distributed_shares_are_disjoint_and_cover_the_epoch():
    shares = []
    for rank in range(2):
        s = EpochBatchSampler(
            20, 4, shuffle=True, flip=True, drop_last=True, seed=1, rank=rank, world_size=2
        )
        s.set_epoch(4)
        shares.append(np.concatenate([b.indices for b in s]))
    assert len(shares[0]) == len(shares[1]) == 8  # 10 rows each, 2 full batches of 4
    assert not set(shares[0]) & set(shares[1])


def test_crops_and_hints_are_drawn_per_epoch_and_resume_exactly(tiny_dataset):
    aug = Augmentation(24, crop_min=0.5, hints=True, hint_recolour_share=0.5)
    loader = make_loader(ImageCache(tiny_dataset), "train", 8, train=True, seed=9, augmentation=aug)
    loader.sampler.set_epoch(1)
    full = list(loader)
    loader.sampler.set_epoch(1, 2)
    rest = list(loader)
    for a, b in zip(full[2:], rest, strict=True):
        assert torch.equal(a.pixels, b.pixels) and torch.equal(a.boxes, b.boxes)
        assert torch.equal(a.hints, b.hints) and torch.equal(a.recolours, b.recolours)
    loader.sampler.set_epoch(2)
    other = list(loader)
    assert not torch.equal(full[0].boxes, other[0].boxes)
    assert full[0].boxes.shape == (8, 4) and full[0].hints.shape[0] == 8
    assert full[0].recolours.shape == (8, 3)
    plain = make_loader(ImageCache(tiny_dataset), "train", 8, train=True, seed=9,
                        augmentation=Augmentation(24, crop_min=0.5, hints=True))  # fmt: skip
    plain.sampler.set_epoch(1)
    first = next(iter(plain))  # no recolours: the same draws as before they existed
    assert first.recolours is None and torch.equal(first.hints, full[0].hints)
