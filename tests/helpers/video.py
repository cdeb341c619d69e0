"""Small test clips made with PyAV from scikit-image photos, and reading clips back."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

from kolorize.color import uint8_to_model_space_numpy

W, H = 64, 48
RATE = 24
TONE_HZ = 440


def photo(name: str = "astronaut", size: tuple[int, int] = (W, H)) -> np.ndarray:
    """A scikit-image photo resized to `size`, (h, w, 3) uint8."""
    image = Image.fromarray(getattr(data, name)()).convert("RGB")
    return np.asarray(image.resize(size, Image.Resampling.BICUBIC))


def panned(n: int, name: str = "astronaut", step: int = 2) -> list[np.ndarray]:
    """A camera pan: `n` frames sliding `step` px a frame across a wider photo."""
    wide = photo(name, (W + step * n, H))
    return [np.ascontiguousarray(wide[:, i * step : i * step + W]) for i in range(n)]


def noisy_static(
    n: int, name: str = "astronaut", sigma: float = 8, seed: int = 0
) -> list[np.ndarray]:
    """A static shot with fresh gray-level noise on every frame (grain), in gray: each frame's
    colour predicted alone flickers."""
    gray = np.asarray(Image.fromarray(photo(name)).convert("L"), np.float32)
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(n):
        g = np.clip(gray + rng.normal(0, sigma, gray.shape), 0, 255).astype(np.uint8)
        frames.append(np.repeat(g[..., None], 3, axis=2))
    return frames


def moving_square(n: int, side: int = 12, step: int = 3) -> tuple[list[np.ndarray], list[tuple]]:
    """A bright square crossing a static gray photo; also each frame's square (y0, y1, x0, x1)."""
    background = noisy_static(1, "camera", sigma=0)[0]
    frames, boxes = [], []
    for i in range(n):
        frame = background.copy()
        y0, x0 = (H - side) // 2, 2 + i * step
        frame[y0 : y0 + side, x0 : x0 + side] = 235
        frames.append(frame)
        boxes.append((y0, y0 + side, x0, x0 + side))
    return frames, boxes


def write_clip(
    path: Path,
    frames: Sequence[np.ndarray],
    *,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    audio: bool = True,
    rotation: int = 0,
    faststart: bool = False,
) -> Path:
    """Frames at 24 fps, with a 440 Hz tone as AAC sound (as long as the video). `faststart`:
    an MP4 with its index (and frame count) before the frames, as made for streaming."""
    import av

    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as container:
        video = container.add_stream(codec, rate=RATE)
        video.width, video.height, video.pix_fmt = W, H, pix_fmt
        if codec == "libx264":
            video.options = {"crf": "12"}
        if rotation:
            video.set_display_rotation(rotation)
        sound = container.add_stream("aac", rate=44100) if audio else None
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            container.mux(video.encode(frame))
        container.mux(video.encode())
        if sound is not None:
            t = np.arange(round(44100 * len(frames) / RATE)) / 44100
            wave = (0.3 * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)[None]
            tone = av.AudioFrame.from_ndarray(wave, format="fltp", layout="mono")
            tone.sample_rate, tone.pts = 44100, 0
            container.mux(sound.encode(tone))
            container.mux(sound.encode())
    return path


def cut_short(path: Path, share: float) -> bytes:
    """The first `share` of a file's bytes: a download or a copy that stopped."""
    return path.read_bytes()[: int(path.stat().st_size * share)]


def empty_clip(path: Path) -> Path:
    """A container with a video stream and not one frame in it."""
    import av

    with av.open(str(path), "w") as container:
        video = container.add_stream("ffv1", rate=RATE)
        video.width, video.height, video.pix_fmt = W, H, "yuv444p"
        container.start_encoding()
    return path


def read_frames(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def audio_packets(path: Path) -> list[bytes]:
    import av

    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(audio=0) if p.size]


def lab(frames: Sequence[np.ndarray]) -> np.ndarray:
    """(T, 3, h, w) CIE Lab of RGB frames: L in 0-100, a and b in their usual units."""
    scaled = uint8_to_model_space_numpy(np.stack(frames))
    scaled[:, 0] = (scaled[:, 0] + 1) * 50
    scaled[:, 1:] *= 110
    return scaled
