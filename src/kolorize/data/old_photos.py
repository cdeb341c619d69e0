"""Old black-and-white prints for training: the generator's L made to look faded, toned,
soft and grainy (DeOldify's "crappified" inputs), while the target colour stays the truth, so
that the model recognises on real old photos what it learnt on clean modern ones.

Per image (`draw_old_photo`, drawn on the host with the epoch's random stream, so a resumed
run sees the same prints): whether it is degraded at all, a tone curve (gamma on L/100), a
fade toward mid-gray (L 50), a Gaussian blur and additive grain from its own seed. The
degradation (`degrade_lightness`) runs in the training step on its device, with no host work
(a CUDA graph can capture it): the grain is a counter-based hash of (seed, pixel), not a
random generator's stream, so the same parameters give the same grain on any device.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from kolorize.color import denormalize_l, normalize_l

# Ranges of the parameters (L in Lab units, 0..100; blur in pixels of the training side).
GAMMA = (2 / 3, 3 / 2)  # log-uniform
CONTRAST = (0.55, 1.0)  # 1: unfaded
BLUR_SIGMA = (0.0, 1.2)
GRAIN = (0.0, 5.0)  # standard deviation in L units
SEEDS = 2**24  # grain seeds, exact in float32
TAPS = 7  # the blur's kernel in training: 2.5 sigma either side at the widest
FIELDS = ("on", "gamma", "contrast", "sigma", "grain", "seed")

_MASK = 0xFFFFFFFF
_MIX = 0x45D9F3B  # products stay below 2**59: no int64 overflow


def draw_old_photo(rng: np.random.Generator, n: int, share: float) -> np.ndarray:
    """(n, 6) float32 parameters (the columns of FIELDS) for n images: on for a share `share`
    of them. Every image draws all of them, so the stream's use depends on n alone."""
    on = rng.random(n) < share
    gamma = np.exp(rng.uniform(math.log(GAMMA[0]), math.log(GAMMA[1]), n))
    contrast = rng.uniform(*CONTRAST, n)
    sigma = rng.uniform(*BLUR_SIGMA, n)
    grain = rng.uniform(*GRAIN, n)
    seed = rng.integers(0, SEEDS, n)
    return np.stack([on, gamma, contrast, sigma, grain, seed], 1).astype(np.float32)


def degrade_lightness(L: torch.Tensor, params: torch.Tensor, taps: int = TAPS) -> torch.Tensor:
    """Model-space (N, 1, H, W) `L` with the images whose `params` (N, 6) are on turned into
    old prints: tone curve, fade, blur (a separable Gaussian of `taps` taps, odd), grain,
    clamped to L's range. Images that are off come back bit-identical."""
    p = params.to(L.device, torch.float32)
    on, gamma, contrast, sigma, grain, seed = p.unbind(1)
    t = (denormalize_l(L.float()) / 100).clamp(0, 1).pow(gamma[:, None, None, None])
    t = 0.5 + contrast[:, None, None, None] * (t - 0.5)
    t = blur(t, sigma, taps)
    noise = grain[:, None, None, None] * grain_noise(seed, L.shape[-2:])
    lightness = (100 * t + noise).clamp(0, 100)
    on = on[:, None, None, None]
    return torch.where(on > 0, normalize_l(lightness).to(L.dtype), L)


def blur(images: torch.Tensor, sigma: torch.Tensor, taps: int = TAPS) -> torch.Tensor:
    """(N, 1, H, W) images, each blurred by a Gaussian of its own `sigma` (N,) pixels, cut at
    `taps` taps (odd) and normalised; sigma 0 is the identity, exactly."""
    n, _, h, w = images.shape
    radius = taps // 2
    offsets = torch.arange(-radius, radius + 1, device=images.device, dtype=torch.float32)
    weights = torch.exp(-offsets.square() / (2 * sigma[:, None].square()).clamp_min(1e-30))
    weights = weights / weights.sum(1, keepdim=True)
    x = images.reshape(1, n, h, w)  # one group per image: each with its own kernel
    x = F.pad(x, (radius, radius, 0, 0), mode="replicate")
    x = F.conv2d(x, weights.view(n, 1, 1, taps), groups=n)
    x = F.pad(x, (0, 0, radius, radius), mode="replicate")
    x = F.conv2d(x, weights.view(n, 1, taps, 1), groups=n)
    return x.reshape(n, 1, h, w)


def grain_noise(seeds: torch.Tensor, shape: torch.Size | tuple[int, int]) -> torch.Tensor:
    """(N, 1, H, W) standard normal noise, a pure function of each image's seed (N,) and the
    pixel: a hash of both, its halves two 16-bit uniforms through Box-Muller."""
    h, w = shape
    counters = _hash32(torch.arange(h * w, device=seeds.device, dtype=torch.int64))
    keys = _hash32(seeds.long() + 1)
    bits = _hash32(counters[None] ^ keys[:, None]).view(len(seeds), 1, h, w)
    u1 = ((bits >> 16).float() + 0.5) / 2**16  # in (0, 1)
    u2 = ((bits & 0xFFFF).float() + 0.5) / 2**16
    return torch.sqrt(-2 * torch.log(u1)) * torch.cos(2 * math.pi * u2)


def _hash32(x: torch.Tensor) -> torch.Tensor:
    """A bijection of 32-bit integers held in int64 (Thomas Mueller's integer hash)."""
    x = ((x >> 16) ^ x) * _MIX & _MASK
    x = ((x >> 16) ^ x) * _MIX & _MASK
    return (x >> 16) ^ x
