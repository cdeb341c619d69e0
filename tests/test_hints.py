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


def _two_tone(size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Model-space L and ab of a flat photo: a darker square (8..24) on a lighter ground,
    both pale yellow."""
    L = torch.full((1, 1, size, size), 0.6)
    L[..., 8:24, 8:24] = -0.2
    ab = torch.zeros(1, 2, size, size)
    ab[:, 1] = 0.1
    return L, ab


def test_a_recoloured_object_takes_the_new_colour_and_the_rest_keeps_its_own():
    L, ab = _two_tone()
    patches = torch.tensor([[[15, 15, 2], [0, 0, 2]]])  # in the square; on the ground
    new = torch.tensor([[1.0, -0.4, 0.3]])
    out = hints.recolour_objects(L, ab, patches, new)
    assert torch.allclose(
        out[0, :, 15:17, 15:17], torch.tensor([-0.4, 0.3])[:, None, None], atol=0.02
    )
    ground = torch.ones(32, 32, dtype=torch.bool)
    ground[4:28, 4:28] = False  # the blur's reach around the square
    assert torch.allclose(out[0][:, ground], ab[0][:, ground], atol=1e-3)
    moved = (out - ab).abs().sum(1)[0]
    assert moved[8, 8] < 0.5 * moved[15, 15]  # the square's far corner follows, less
    hinted = hints.true_colour_hints(patches, out)  # what the model is shown
    assert torch.allclose(hinted[0, :2, 15, 15], torch.tensor([-0.4, 0.3]), atol=0.02)
    assert torch.allclose(hinted[0, :2, 0, 0], ab[0, :, 0, 0], atol=1e-3)


def test_a_recolour_fades_with_distance_on_a_flat_photo():
    L, ab = torch.zeros(1, 1, 64, 64), torch.zeros(1, 2, 64, 64)
    out = hints.recolour_objects(L, ab, torch.tensor([[[0, 0, 1]]]), torch.tensor([[1.0, 0.5, 0]]))
    a = out[0, 0]
    by_hand = 0.5 * torch.exp(torch.tensor(-(10**2 + 20**2) / (2 * hints.REACH**2 * 64 * 64)))
    assert torch.isclose(a[10, 20], by_hand, atol=1e-4)
    assert a[63, 63] < 0.01 and (a[:, 1:] <= a[:, :-1] + 1e-6).all()


def test_images_without_a_recolour_come_back_unchanged():
    L, ab = _two_tone()
    ab = ab + 0.05 * torch.randn_like(ab)
    out = hints.recolour_objects(L, ab, torch.tensor([[[15, 15, 2]]]), torch.tensor([[0.0, 1, 1]]))
    assert torch.equal(out, ab)


def test_recolours_go_only_to_a_share_of_the_hinted_images():
    rng = np.random.default_rng(1)
    patches = hints.draw_hint_patches(rng, 4000, 24, p=1 / 8, free_share=0.25)
    r = hints.draw_recolours(rng, patches, 0.5)
    hinted, on = patches[:, 0, 2] > 0, r[:, 0] == 1
    assert not on[~hinted].any() and 0.45 < on[hinted].mean() < 0.55
    chroma = np.hypot(r[:, 1], r[:, 2])
    assert chroma.max() <= hints.RECOLOUR_CHROMA + 1e-6 and chroma.min() < 0.05
    assert not hints.draw_recolours(rng, patches, 0.0)[:, 0].any()
