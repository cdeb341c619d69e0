"""Old prints in training (`kolorize.data.old_photos`): drawn up front with the epoch's other
augmentation and only when asked for, applied to the generator's L alone, reproducible."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from helpers.hostwork import NoHostWork
from helpers.training import named_losses
from kolorize.config import load_config
from kolorize.data.cache import ImageCache
from kolorize.data.crops import draw_crop_boxes
from kolorize.data.loader import Augmentation, DeviceBatches, make_loader
from kolorize.data.old_photos import FIELDS, blur, degrade_lightness, draw_old_photo, grain_noise
from kolorize.errors import KolorizeError
from kolorize.hints import draw_hint_patches, draw_recolours
from kolorize.models.files import read_generator_metadata
from kolorize.train.history import stage
from kolorize.train.trainer import Trainer, train


def _quiet(_msg):
    pass


def _params(n: int = 1, **given: float) -> torch.Tensor:
    """(n, 6) parameters: on, and no degradation but what is given."""
    plain = {"on": 1.0, "gamma": 1.0, "contrast": 1.0, "sigma": 0.0, "grain": 0.0, "seed": 0.0}
    row = [given.get(name, plain[name]) for name in FIELDS]
    return torch.tensor([row] * n, dtype=torch.float32)


def _random_L(n: int = 2, side: int = 8) -> torch.Tensor:
    return torch.rand(n, 1, side, side, generator=torch.Generator().manual_seed(0)) * 2 - 1


def test_share_zero_draws_nothing_and_the_other_draws_stay_as_they_were():
    aug = Augmentation(24, crop_min=0.5, hints=True, hint_recolour_share=0.5)
    rng = np.random.default_rng(7)
    before = draw_crop_boxes(rng, 10, 0.5)  # the draws as they were made before old prints
    patches = draw_hint_patches(rng, 10, 24, p=aug.hint_p, free_share=aug.hint_free_share)
    recolours = draw_recolours(rng, patches, 0.5)
    after_before = rng.random()
    plain_rng, old_rng = np.random.default_rng(7), np.random.default_rng(7)
    plain = aug.draw(plain_rng, 10)
    old = dataclasses.replace(aug, old_photo_share=0.5).draw(old_rng, 10)
    assert plain[3] is None and plain_rng.random() == after_before  # nothing more drawn
    for expected, got_plain, got_old in zip((before, patches, recolours), plain, old, strict=False):
        assert np.array_equal(expected, got_plain) and np.array_equal(expected, got_old)
    assert old[3].shape == (10, len(FIELDS)) and old[3].dtype == np.float32
    assert Augmentation(24).draw(np.random.default_rng(7), 4) == (None, None, None, None)


def test_the_draws_keep_to_their_ranges_and_share():
    params = draw_old_photo(np.random.default_rng(3), 4000, 0.25)
    on, gamma, contrast, sigma, grain, seed = params.T
    assert set(np.unique(on)) == {0.0, 1.0} and abs(on.mean() - 0.25) < 0.03
    assert gamma.min() >= 2 / 3 - 1e-6 and gamma.max() <= 1.5 + 1e-6
    assert abs(np.log(gamma).mean()) < 0.02  # log-uniform around 1
    assert contrast.min() >= 0.55 and contrast.max() <= 1.0
    assert sigma.min() >= 0 and sigma.max() <= 1.2 and grain.min() >= 0 and grain.max() <= 5
    assert np.array_equal(seed, np.round(seed)) and seed.max() < 2**24
    assert not draw_old_photo(np.random.default_rng(3), 50, 0.0)[:, 0].any()


def test_images_that_are_off_come_back_bit_identical():
    L = _random_L(4)
    params = _params(4, gamma=0.7, contrast=0.6, sigma=1.0, grain=4.0, seed=11)
    params[1::2, 0] = 0
    out = degrade_lightness(L, params)
    assert torch.equal(out[1::2], L[1::2])
    assert not torch.equal(out[0], L[0]) and not torch.equal(out[2], L[2])
    assert out.min() >= -1 and out.max() <= 1


def test_the_tone_curve_and_the_fade_match_their_formulas():
    L = _random_L()
    lab = (L.double().numpy() + 1) * 50
    toned = degrade_lightness(L, _params(2, gamma=0.7))
    expected = (lab / 100) ** 0.7 * 100 / 50 - 1
    np.testing.assert_allclose(toned.numpy(), expected, atol=1e-5)
    faded = degrade_lightness(L, _params(2, contrast=0.6))
    expected = (50 + 0.6 * (lab - 50)) / 50 - 1
    np.testing.assert_allclose(faded.numpy(), expected, atol=1e-5)


def test_the_blur_is_the_identity_at_sigma_zero_and_keeps_a_constant_image():
    L = _random_L(3)
    assert torch.equal(blur(L, torch.zeros(3)), L)
    torch.testing.assert_close(degrade_lightness(L, _params(3)), L, rtol=0, atol=1e-6)
    softened = blur(L, torch.tensor([0.5, 1.0, 1.2]))
    assert all(not torch.equal(softened[i], L[i]) for i in range(3))
    flat = torch.full((2, 1, 9, 9), 0.3)
    torch.testing.assert_close(blur(flat, torch.tensor([1.0, 1.2])), flat, rtol=0, atol=1e-6)
    wide = blur(flat, torch.tensor([5.0, 20.0]), taps=41)  # the judge's wider kernels
    torch.testing.assert_close(wide, flat, rtol=0, atol=1e-6)


def test_the_grain_is_reproducible_and_differs_between_seeds():
    seeds = torch.tensor([5.0, 5.0, 6.0, 2.0**24 - 1])
    noise = grain_noise(seeds, (64, 64))
    assert torch.equal(noise, grain_noise(seeds, (64, 64)))
    assert torch.equal(noise[0], noise[1]) and not torch.equal(noise[0], noise[2])
    assert abs(noise.mean()) < 0.03 and abs(noise.std() - 1) < 0.03
    L = _random_L(2, 16)
    params = _params(2, grain=5.0, seed=123)
    once, twice = degrade_lightness(L, params), degrade_lightness(L, params)
    assert torch.equal(once, twice) and not torch.equal(once, L)
    params[1, 5] = 124
    assert not torch.equal(degrade_lightness(L, params)[1], once[1])


def test_old_prints_resume_exactly_and_travel_to_the_device(tiny_dataset):
    cache = ImageCache(tiny_dataset)
    aug = Augmentation(32, old_photo_share=0.5)
    loader = make_loader(cache, "train", 8, train=True, seed=9, augmentation=aug)
    loader.sampler.set_epoch(1)
    full = list(loader)
    loader.sampler.set_epoch(1, 2)
    rest = list(loader)
    for a, b in zip(full[2:], rest, strict=True):
        assert torch.equal(a.old_photos, b.old_photos)
    assert full[0].old_photos.shape == (8, len(FIELDS))
    on_device = DeviceBatches(cache, "train", loader.sampler, torch.device("cpu"))
    loader.sampler.set_epoch(1)
    for host, device in zip(full, on_device, strict=True):
        assert torch.equal(host.old_photos, device.old_photos)
    plain = make_loader(cache, "train", 8, train=True, seed=9, augmentation=Augmentation(32))
    plain.sampler.set_epoch(1)
    first = next(iter(plain))
    assert first.old_photos is None and torch.equal(first.pixels, full[0].pixels)


RECIPE = {
    "generator.arch": "resnet18_unet", "generator.width": 8, "generator.depth": 2,
    "generator.output": "classes", "generator.hints": True, "train.phase": "pretrain",
    "train.batch_size": 8, "train.image_size": 24, "train.crop_min": 0.5,
    "train.epochs": 1, "train.samples": 2, "train.val_images": 8, "train.log_every": 1,
    "train.old_photo_share": 1.0,
}  # fmt: skip
PLAIN = {
    "generator.arch": "unet", "generator.levels": 5, "generator.width": 4,
    "generator.dropout": 0, "discriminator.width": 4, "train.batch_size": 8,
    "train.log_every": 2, "train.epochs": 1, "train.samples": 4, "train.val_images": 8,
    "train.precision": "fp32", "train.old_photo_share": 1.0,
}  # fmt: skip


@pytest.mark.parametrize("overrides", [RECIPE, PLAIN], ids=["hints_and_crops", "plain"])
def test_the_step_degrades_the_generators_L_alone(tiny_dataset, tmp_path, overrides):
    trainer = Trainer(load_config(None, overrides), tiny_dataset, tmp_path / "r", log=_quiet)
    batch = next(iter(trainer.batches))
    assert batch.old_photos is not None and (batch.old_photos[:, 0] == 1).all()
    x, L, ab = trainer.phase_step.inputs(batch)
    clean_x, clean_L, clean_ab = trainer.phase_step.inputs(
        dataclasses.replace(batch, old_photos=None)
    )
    assert torch.equal(L, clean_L) and torch.equal(ab, clean_ab)  # D's L and the target: clean
    assert torch.equal(clean_x[:, :1], L) and torch.equal(x[:, 1:], clean_x[:, 1:])
    assert all(not torch.equal(x[i, :1], L[i]) for i in range(len(batch)))
    assert all(torch.isfinite(v) for v in named_losses(trainer, batch).values())


def test_the_step_with_old_prints_does_no_host_work(tiny_dataset, tmp_path):
    cfg = load_config(None, {**PLAIN, "train.phase": "gan", "train.data_on_device": "on"})
    trainer = Trainer(cfg, tiny_dataset, tmp_path / "r", log=_quiet)
    assert isinstance(trainer.batches, DeviceBatches)
    items = iter(trainer.batches)
    trainer.take_step(next(items))  # warm-up, as before a graph capture
    with NoHostWork() as guard:
        trainer.take_step(next(items))
    assert guard.calls == []


def test_the_training_record_carries_the_share(tiny_dataset, tmp_path):
    default = stage(load_config(None, {}), run="r", images=0, seconds=0, cpu_seconds=0)
    assert default["old_photo_share"] == 0.0
    train(load_config(None, RECIPE), tiny_dataset, tmp_path / "run", log=_quiet)
    record = read_generator_metadata(tmp_path / "run")["training"]["stages"][0]
    assert record["old_photo_share"] == 1.0
    with pytest.raises(KolorizeError, match="old_photo_share"):
        load_config(None, {"train.old_photo_share": 1.5})
