"""Colour as classes: the gamut table, soft targets, rebalancing and the annealed mean."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kolorize import ab_bins
from kolorize.color import AB_SCALE, rgb_to_lab


def test_classes_are_the_squares_that_hold_srgb_colours():
    # every 3rd level of the 8-bit cube, and its top: the same squares as the full cube
    levels = torch.cat([torch.arange(0, 256, 3), torch.tensor([255])]).float() / 255
    r, g, b = torch.meshgrid(levels, levels, levels, indexing="ij")
    lab = rgb_to_lab(torch.stack([r, g, b]).reshape(3, -1, 1).double())
    squares = {tuple(v) for v in (lab[1:, :, 0] / 10).round().int().T.tolist()}
    table = {(int(a // 10), int(b // 10)) for a, b in ab_bins.class_centres()}
    assert table == squares
    assert ab_bins.n_classes() == len(squares) == 261


def test_a_one_hot_distribution_decodes_to_its_class_centre():
    centres = ab_bins.class_centres()
    for i in (0, 57, 260):
        logits = torch.full((1, ab_bins.n_classes(), 2, 3), -1e4)
        logits[:, i] = 0
        for t in (0.38, 1.0):
            ab = ab_bins.annealed_mean(logits, t) * AB_SCALE
            assert torch.allclose(ab, torch.tensor(centres[i])[None, :, None, None], atol=1e-3)


def test_annealed_mean_at_t1_is_the_mean_and_sharpens_below():
    centres = torch.from_numpy(ab_bins.class_centres())
    logits = torch.randn(1, len(centres), 1, 1)
    p = torch.softmax(logits[0, :, 0, 0], 0)
    mean = (p[:, None] * centres).sum(0)
    plain = ab_bins.annealed_mean(logits, 1.0)[0, :, 0, 0] * AB_SCALE
    assert torch.allclose(plain, mean, atol=1e-3)
    top = centres[p.argmax()]
    sharp = ab_bins.annealed_mean(logits, 0.01)[0, :, 0, 0] * AB_SCALE
    assert torch.allclose(sharp, top, atol=1e-2)


def test_soft_targets_are_five_nearest_centres_with_gaussian_weights():
    ab = torch.tensor([[13.0, -26.0]]).reshape(1, 2, 1, 1) / AB_SCALE
    idx, w = ab_bins.soft_targets(ab)
    centres = ab_bins.class_centres()
    d = np.linalg.norm(centres - np.array([13.0, -26.0]), axis=1)
    assert set(idx.flatten().tolist()) == set(np.argsort(d)[:5].tolist())
    expect = np.exp(-(d[idx.flatten().numpy()] ** 2) / (2 * ab_bins.SIGMA**2))
    assert np.allclose(w.flatten().numpy(), expect / expect.sum(), atol=1e-5)


def test_rebalancing_weights_expectation_under_the_prior_is_one():
    rng = torch.Generator().manual_seed(0)
    counts = torch.rand(ab_bins.n_classes(), generator=rng, dtype=torch.float64) ** 4
    prior = ab_bins.smoothed_prior(counts)
    assert prior.sum().item() == pytest.approx(1.0)
    w = ab_bins.rebalancing_weights(prior, 0.5)
    assert (prior * w.double()).sum().item() == pytest.approx(1.0, abs=1e-5)
    assert w[prior.argmin()] > w[prior.argmax()]  # rare colours weigh more
    flat = ab_bins.rebalancing_weights(prior, 1.0)
    assert torch.allclose(flat, torch.ones_like(flat), atol=1e-5)


def test_classification_loss_is_smallest_for_the_true_distribution():
    ab = (torch.rand(2, 2, 8, 8) - 0.5) * 0.6
    idx, w = ab_bins.soft_targets(ab)
    exact = torch.full((2, ab_bins.n_classes(), 8, 8), -30.0)
    exact.scatter_(1, idx, w.log())
    good = ab_bins.classification_loss(exact, ab)
    assert ab_bins.classification_loss(torch.zeros_like(exact), ab) > good
    assert ab_bins.classification_loss(exact.roll(7, dims=1), ab) > good
    # at half the size, the target is the true ab averaged over 2x2 squares
    big = torch.nn.functional.interpolate(ab, scale_factor=2, mode="nearest")
    assert ab_bins.classification_loss(exact, big).item() == pytest.approx(good.item(), rel=1e-5)


def test_unbalancing_recovers_the_distribution_before_rebalancing():
    rng = torch.Generator().manual_seed(3)
    q = ab_bins.n_classes()
    p = torch.rand(q, generator=rng, dtype=torch.float64) ** 3
    p /= p.sum()
    prior = ab_bins.smoothed_prior(torch.rand(q, generator=rng, dtype=torch.float64))
    w = ab_bins.rebalancing_weights(prior)
    learned = torch.log(w.double() * p).float()  # what rebalanced cross-entropy drives to
    offset = ab_bins.unbalancing_offset(w, 1.0)
    logits = (learned + offset)[None, :, None, None]
    centres = torch.from_numpy(ab_bins.class_centres()).double()
    mean = (p[:, None] * centres).sum(0)
    got = ab_bins.annealed_mean(logits, 1.0)[0, :, 0, 0].double() * AB_SCALE
    assert torch.allclose(got, mean, atol=1e-3)
    assert torch.equal(ab_bins.unbalancing_offset(w, 0.0), torch.zeros(q))


def _hue_and_length(ab: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    a, b = ab[0, 0].double().numpy(), ab[0, 1].double().numpy()
    return np.arctan2(b, a), np.hypot(a, b)


def test_chroma_gain_keeps_the_means_hue_and_moves_its_chroma_to_the_expected_chroma():
    rng = torch.Generator().manual_seed(5)
    logits = 3 * torch.randn(1, ab_bins.n_classes(), 4, 5, generator=rng)
    # independently, per pixel in float64: the mean and the expected chroma of the centres
    centres = ab_bins.class_centres().astype(np.float64) / AB_SCALE
    z = logits[0].double().numpy() / 0.5
    p = np.exp(z - z.max(0))
    p /= p.sum(0)
    mean = np.einsum("qhw,qc->chw", p, centres)
    expected = np.einsum("qhw,q->hw", p, np.linalg.norm(centres, axis=1))
    plain = ab_bins.annealed_mean(logits, 0.5)
    assert np.allclose(plain[0].double().numpy(), mean, atol=1e-5)
    hue, length = _hue_and_length(plain)
    for gain in (0.5, 1.0):
        got_hue, got_length = _hue_and_length(ab_bins.annealed_mean(logits, 0.5, gain))
        assert np.allclose(got_hue, hue, atol=1e-4)
        want = length ** (1 - gain) * expected**gain
        assert np.allclose(got_length, want, rtol=1e-4)
        assert (got_length >= length - 1e-6).all() and (got_length <= expected + 1e-6).all()
    as_tensor = ab_bins.annealed_mean(logits, torch.tensor(0.5), torch.tensor(0.0))
    assert torch.allclose(as_tensor, plain, atol=1e-7)


def test_a_one_hot_distribution_decodes_to_its_centre_at_any_chroma_gain():
    centres = ab_bins.class_centres()
    logits = torch.full((1, ab_bins.n_classes(), 1, 1), -1e4)
    logits[:, 57] = 0
    for gain in (0.0, 0.5, 1.0):
        ab = ab_bins.annealed_mean(logits, 0.5, gain) * AB_SCALE
        assert torch.allclose(ab[0, :, 0, 0], torch.tensor(centres[57]), atol=1e-3)


def test_opposite_colours_in_equal_shares_stay_grey_rather_than_blow_up():
    centres = ab_bins.class_centres()
    warm, cool = np.array([30.0, 30.0]), np.array([-30.0, -30.0])
    i = int(np.argmin(np.linalg.norm(centres - warm, axis=1)))
    j = int(np.argmin(np.linalg.norm(centres - cool, axis=1)))
    logits = torch.full((1, ab_bins.n_classes(), 1, 1), -1e4)
    logits[:, [i, j]] = 0
    ab = ab_bins.annealed_mean(logits, 1.0, 1.0) * AB_SCALE
    assert torch.isfinite(ab).all()
    assert ab.norm() <= np.linalg.norm(centres[i]) + 1e-3


def test_decoding_first_done_in_inference_mode_still_trains():
    ab_bins._centres_on.cache_clear()
    logits = torch.randn(1, ab_bins.n_classes(), 2, 2)
    with torch.inference_mode():
        ab_bins.annealed_mean(logits, 0.5, torch.tensor(1.0))
    trained = logits.clone().requires_grad_()
    ab_bins.annealed_mean(trained, 0.5, torch.tensor(1.0)).sum().backward()
    assert trained.grad is not None and torch.isfinite(trained.grad).all()
