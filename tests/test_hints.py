"""Hint patches: drawing them for training and rasterising them into the generator's input."""

from __future__ import annotations

import numpy as np
import torch

from kolorize import hints


def test_patches_rasterise_into_ab_and_mask_by_hand():
    patches = torch.tensor([[[1, 2, 2], [0, 0, 1], [0, 0, 0]]])  # (top, left, side); side 0: none
    colours = torch.tensor([[[0.5, -0.25], [0.1, 0.2], [9.0, 9.0]]])
    ch = hints.hint_channels(patches, colours, 4, 5)
    mask = torch.zeros(4, 5)
    mask[1:3, 2:4] = 1
    mask[0, 0] = 1
    assert torch.equal(ch[0, 2], mask)
    assert torch.allclose(ch[0, 0, 1:3, 2:4], torch.full((2, 2), 0.5))
    assert torch.allclose(ch[0, 1, 1:3, 2:4], torch.full((2, 2), -0.25))
    assert ch[0, 0, 0, 0].item() == torch.tensor(0.1).item()
    assert ch[0, :2][:, mask == 0].abs().max() == 0  # nothing outside the patches


def test_overlapping_patches_average_their_colours():
    patches = torch.tensor([[[0, 0, 2], [1, 1, 2]]])
    colours = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    ch = hints.hint_channels(patches, colours, 3, 3)
    assert torch.allclose(ch[0, :2, 1, 1], torch.tensor([0.5, 0.5]))
    assert torch.allclose(ch[0, :2, 0, 0], torch.tensor([1.0, 0.0]))


def test_training_hints_carry_the_true_mean_colour_of_their_patch():
    ab = torch.zeros(1, 2, 6, 6)
    ab[0, 0, :3, :3] = torch.arange(9.0).reshape(3, 3)
    patches = torch.tensor([[[0, 0, 3]]])
    ch = hints.true_colour_hints(patches, ab)
    assert torch.allclose(ch[0, 0, :3, :3], torch.full((3, 3), 4.0))
    assert ch[0, 2].sum() == 9


def test_drawn_patches_fit_the_image_and_some_images_get_none():
    rng = np.random.default_rng(0)
    p = hints.draw_hint_patches(rng, 2000, 20, p=1 / 8, free_share=0.25)
    assert p.shape == (2000, hints.MAX_HINTS, 3)
    top, left, side = p[..., 0], p[..., 1], p[..., 2]
    used = side > 0
    assert ((top + side)[used] <= 20).all() and ((left + side)[used] <= 20).all()
    assert side[used].min() == 1 and side[used].max() == hints.MAX_SIDE
    counts = used.sum(1)
    assert 0.2 < (counts == 0).mean() < 0.3
    assert 5 < counts[counts > 0].mean() < 9  # geometric(1/8), cut at MAX_HINTS
