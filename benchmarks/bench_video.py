"""Video colorizing speed: kolorize's video path against the frame-by-frame photo path, in the
same run, at 720p and 1080p (on a GPU too when one is present), and its memory on a clip three
times as long.

    .venv/bin/python benchmarks/bench_video.py [--frames 24] [--device cpu] [--model shipped]

The generator is pix2pix's unet_256 at 256 px with RANDOM weights (the model's speed does not
depend on them, but the gamut fitting's does: random weights predict vivid colours), or with
`--model` a trained one: `shipped` for the package's colorizer, or a path. The clip is a
real photo panned across the frame, gray, H.264 + an AAC tone, made here.
Both variants decode with PyAV and encode H.264 (CRF 18, preset fast) the same way:

  photo path   each frame alone through `Colorizer.colorize` (what a loop over extracted
               frames does): one model call per frame, no temporal smoothing
  video path   `Colorizer.colorize_video`: batches of 8 frames per model call, temporal
               smoothing on, sound copied

Each variant and size runs in a fresh process. Memory: the peak RSS while colorizing, over
the RSS just before (model loaded, clip made), for the clip and for one three times as long
at 720p: flat means the same growth whatever the length.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from common import (
    SHARED_DATA,
    current_rss_mib,
    machine,
    peak_rss_mib,
    random_unet256,
    reset_peak_rss,
)

SIZES = {"720p": (1280, 720), "1080p": (1920, 1080)}
SHIPPED = "shipped"
RATE = 24


def make_clip(path: Path, size: tuple[int, int], frames: int) -> Path:
    import av

    width, height = size
    source = Image.open(sorted((SHARED_DATA / "photos").glob("*.jpg"))[0]).convert("L")
    wide = np.asarray(source.resize((width + 4 * frames, height), Image.Resampling.BICUBIC))
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=RATE)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        sound = container.add_stream("aac", rate=44100)
        for i in range(frames):
            gray = np.ascontiguousarray(wide[:, 4 * i : 4 * i + width])
            frame = av.VideoFrame.from_ndarray(np.repeat(gray[..., None], 3, 2), format="rgb24")
            frame.pts = i
            container.mux(video.encode(frame))
        container.mux(video.encode())
        t = np.arange(44100 * frames // RATE) / 44100
        tone = av.AudioFrame.from_ndarray(
            (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None], format="fltp",
            layout="mono",
        )  # fmt: skip
        tone.sample_rate, tone.pts = 44100, 0
        container.mux(sound.encode(tone))
        container.mux(sound.encode())
    return path


def photo_path(colorizer, src: Path, dst: Path) -> int:
    """Frame by frame through the photo API, encoded the way the video path encodes."""
    import av

    done = 0
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = inp.streams.video[0]
        vout = out.add_stream("libx264", rate=vin.average_rate)
        vout.width, vout.height, vout.pix_fmt = vin.width, vin.height, "yuv420p"
        vout.options = {"crf": "18", "preset": "fast"}
        for frame in inp.decode(vin):
            colour = colorizer.colorize(frame.to_image())
            new = av.VideoFrame.from_image(colour).reformat(format="yuv420p")
            new.pts, new.time_base = frame.pts, frame.time_base
            out.mux(vout.encode(new))
            done += 1
        out.mux(vout.encode())
    return done


def one(variant: str, size: str, frames: int, weights: str, device: str) -> dict:
    from kolorize.inference.colorizer import Colorizer

    colorizer = Colorizer.load(None if weights == SHIPPED else weights, device, batch_size=8)
    with tempfile.TemporaryDirectory() as tmp:
        src = make_clip(Path(tmp) / "in.mp4", SIZES[size], frames)
        warm = make_clip(Path(tmp) / "warm.mp4", SIZES[size], 2)
        colorizer.colorize_video(warm, Path(tmp) / "warm_out.mp4", show_progress=False)
        before = current_rss_mib()
        reset_peak_rss()
        start = time.perf_counter()
        if variant == "photo path":
            done = photo_path(colorizer, src, Path(tmp) / "out.mp4")
        else:
            done = colorizer.colorize_video(src, Path(tmp) / "out.mp4", show_progress=False).frames
        seconds = time.perf_counter() - start
    return {"variant": variant, "size": size, "frames": done, "frames/s": round(done / seconds, 2),
            "rss_mib": round(before), "growth_mib": round(peak_rss_mib() - before)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if present)")
    parser.add_argument("--model", help="a trained model to time, or 'shipped' (default: random)")
    parser.add_argument("--one", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        variant, size, frames, weights = args.one
        print(json.dumps(one(variant, size, int(frames), weights, args.device)))
        return
    print(f"machine: {machine()}")
    model = args.model or "unet_256 at 256 px, random weights"
    print(f"{model}; {args.frames}-frame clips", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        weights = args.model or random_unet256(Path(tmp))
        runs = [(v, s, args.frames) for s in SIZES for v in ("photo path", "video path")]
        runs.append(("video path", "720p", 3 * args.frames))  # memory: flat with length?
        for variant, size, frames in runs:
            cmd = [sys.executable, __file__, "--one", variant, size, str(frames), str(weights)]
            if args.device:
                cmd += ["--device", args.device]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), flush=True)
    print(
        "\n| size | variant | frames | frames/s | vs photo path | RSS before, MiB | peak growth |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    base = {r["size"]: r["frames/s"] for r in rows if r["variant"] == "photo path"}
    for r in rows:
        ratio = r["frames/s"] / base[r["size"]]
        print(f"| {r['size']} | {r['variant']} | {r['frames']} | {r['frames/s']} | "
              f"{ratio:.2f}x | {r['rss_mib']} | +{r['growth_mib']} |")  # fmt: skip


if __name__ == "__main__":
    main()
