"""Random resized crops: the boxes and their resampling."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from kolorize.data.crops import crop_resize, draw_crop_boxes, whole_image_boxes


def test_whole_image_box_resamples_by_area_averaging():
    x = torch.rand(2, 3, 32, 32)
    y = crop_resize(x, torch.from_numpy(whole_image_boxes(2)), 8)
    assert torch.allclose(y, F.avg_pool2d(x, 4), atol=1e-6)
    assert torch.allclose(crop_resize(x, torch.from_numpy(whole_image_boxes(2)), 32), x)


def test_a_box_takes_its_own_part_of_the_image():
    x = torch.zeros(1, 1, 16, 16)
    x[..., 8:, 8:] = 1  # the bottom-right quarter
    box = torch.tensor([[0.5, 0.5, 0.5, 0.5]])
    assert torch.allclose(crop_resize(x, box, 4), torch.ones(1, 1, 4, 4))
    assert crop_resize(x, torch.tensor([[0.0, 0.0, 0.5, 0.5]]), 4).abs().max() == 0


def test_boxes_lie_inside_the_image_with_their_area_and_ratio():
    boxes = draw_crop_boxes(np.random.default_rng(0), 5000, 0.5)
    top, left, h, w = boxes.T
    assert (top >= 0).all() and (left >= 0).all()
    assert (top + h <= 1 + 1e-6).all() and (left + w <= 1 + 1e-6).all()
    area = h * w
    assert area.min() >= 0.25 - 1e-6 and area.max() <= 1 + 1e-6
    assert ((w / h) <= 4 / 3 + 1e-4).all() and ((w / h) >= 3 / 4 - 1e-4).all()
