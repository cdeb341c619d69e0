"""The training photos' colours, from one seeded sample of the train split: the one definition
that `kolorize data prepare` records (the mean ab, in info.json), that `ImageCache.mean_ab`
falls back to for datasets prepared before it did, and that training uses (the class prior,
the mean ab in the weights' metadata), so all of them agree on the same photos.

The sample: the rows `np.sort(np.random.default_rng(0).permutation(n_train)[:1024])`, read in
chunks of 64, area-resized to 64x64 (colour is smooth; 64 px is plenty for a histogram and a
mean, and keeps a 256 px dataset cheap to sample).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from kolorize.color import AB_SCALE, rgb_to_model_space

SAMPLE_IMAGES = 1024
SAMPLE_SIDE = 64
CHUNK = 64  # images read and converted at a time: bounded memory whatever the dataset's size


def sample_rows(n_train: int) -> np.ndarray:
    """The train rows in the sample, sorted (the memory map reads them in order)."""
    return np.sort(np.random.default_rng(0).permutation(n_train)[:SAMPLE_IMAGES])


def sample_ab(train: np.ndarray) -> Iterator[torch.Tensor]:
    """The sample's ab in the model's scale, (k, 2, 64, 64) float32 per chunk, from the
    (n, size, size, 3) uint8 rows of a train split."""
    rows = sample_rows(len(train))
    for start in range(0, len(rows), CHUNK):
        rgb = torch.from_numpy(np.array(train[rows[start : start + CHUNK]])).permute(0, 3, 1, 2)
        small = torch.nn.functional.interpolate(
            rgb.float(), size=(SAMPLE_SIDE, SAMPLE_SIDE), mode="area"
        )
        _, ab = rgb_to_model_space(small / 255)
        yield ab


def train_mean_ab(train: np.ndarray) -> tuple[float, float]:
    """The sample's mean (a, b) over all its pixels, in Lab units. A split without images has
    no colour to learn from: (0, 0), the gray image (never the validation photos' colour,
    which would let the baseline see the answers it is scored on)."""
    sums = torch.zeros(2, dtype=torch.float64)
    pixels = 0
    for ab in sample_ab(train):
        sums += ab.double().sum((0, 2, 3)) * AB_SCALE
        pixels += ab[:, 0].numel()
    if pixels == 0:
        return 0.0, 0.0
    mean = sums / pixels
    return float(mean[0]), float(mean[1])
