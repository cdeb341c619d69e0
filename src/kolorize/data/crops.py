"""Random resized crops for training at another size than the cache's: a box of the image
(torchvision's RandomResizedCrop: area a uniform share of the image between crop_min**2 and
1, aspect ratio log-uniform in [3/4, 4/3]) resampled to the training size with area averaging,
so that a 256 px cache serves 64, 96 or 128 px training and objects are seen at several scales.

Boxes are drawn on the host with the epoch's random stream (so a resumed run sees the same
crops); the resampling runs in the training step, on its device.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torchvision.ops import roi_align

RATIO = (3 / 4, 4 / 3)


def draw_crop_boxes(rng: np.random.Generator, n: int, crop_min: float) -> np.ndarray:
    """(n, 4) float32 boxes (top, left, height, width) as fractions of the image side."""
    area = rng.uniform(crop_min**2, 1.0, n)
    log_ratio = rng.uniform(math.log(RATIO[0]), math.log(RATIO[1]), n)
    ratio = np.exp(log_ratio)
    h = np.minimum(np.sqrt(area / ratio), 1.0)
    w = np.minimum(np.sqrt(area * ratio), 1.0)
    top = rng.random(n) * (1 - h)
    left = rng.random(n) * (1 - w)
    return np.stack([top, left, h, w], 1).astype(np.float32)


def whole_image_boxes(n: int) -> np.ndarray:
    return np.tile(np.array([[0, 0, 1, 1]], dtype=np.float32), (n, 1))


def crop_resize(images: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """(N, C, H, W) float images -> (N, C, size, size): each image's box, resampled with as
    many bilinear samples per output pixel as the box has input pixels (area averaging)."""
    n, _, h, w = images.shape
    top, left, bh, bw = boxes.to(images.device, torch.float32).unbind(1)
    index = torch.arange(n, device=images.device, dtype=torch.float32)
    rois = torch.stack([index, left * w, top * h, (left + bw) * w, (top + bh) * h], 1)
    return roi_align(
        images.float().contiguous(), rois, (size, size), 1.0, sampling_ratio=-1, aligned=True
    )
