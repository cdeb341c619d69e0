"""One video file colorized: frames streamed through the photo path, steady colour, sound kept.

Every frame goes the way a photo goes (`kolorize.inference`): its lightness, resized to the
model's size, gives a small ab; `TemporalSmoother` carries that colour across the frames of a
shot; `recombine` puts it on the frame's own full-resolution L. Frames are decoded and encoded
with PyAV (FFmpeg's libraries, `pip install 'kolorize[video]'`) a model batch at a time, so
memory stays flat whatever the film's length.

Kept from the input: every audio stream (packets copied, not re-encoded), the frame size, each
frame's timestamp (hence frame rate and duration), the rotation the player applies, the colour
tags and the pixel format where the encoder takes it. The video codec is the input's when this
FFmpeg can write it into the output container, else H.264 (said in one line). Other streams
(subtitles, data) are not copied.

The output is written to a hidden temporary file next to it and renamed when complete: an
interrupted or failed run leaves no partial file.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from kolorize.atomic import atomic_write
from kolorize.errors import KolorizeError
from kolorize.extras import require_extra
from kolorize.inference.protocol import PhotoColorizer
from kolorize.progress import progress
from kolorize.video.temporal import DEFAULT_STRENGTH, TemporalSmoother

VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".ogv", ".wmv"}
)
FALLBACK_CODEC = "libx264"
# Quality of the re-encoded picture: x264/x265 CRF 18 is about visually lossless; other encoders
# get the input's bit rate, or this many bits per pixel when the input does not say.
_CRF = "18"
_BITS_PER_PIXEL = 0.2


class VideoError(KolorizeError):
    """A video that cannot be read or written. `path`: the file at fault; `reason`: what is
    wrong with it, in words that do not name it (for callers that name it their own way);
    str(): both, "PATH: REASON" (or "cannot write PATH: REASON" when `writing`)."""

    def __init__(self, path: Path, reason: str, *, writing: bool = False) -> None:
        super().__init__(f"cannot write {path}: {reason}" if writing else f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class VideoInfo:
    width: int  # as stored (before rotation)
    height: int
    frames: int  # from the container, or estimated from duration and rate; 0 if unknown
    frames_stated: bool  # `frames` is the container's own count (MP4, MOV), not an estimate
    rate: Fraction  # average frames per second
    seconds: float
    codec: str
    rotation: int  # degrees counter-clockwise the player turns the picture


@dataclass(frozen=True)
class VideoResult:
    path: Path
    frames: int
    seconds: float  # wall time of the colorizing
    codec: str  # the output's video codec
    cuts: int  # scene cuts found (the colour smoothing restarted there)


def is_video_path(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS and not path.name.startswith(".")


def require_av() -> Any:
    require_extra("video", "colorizing video")
    import av

    return av


def probe(path: str | Path) -> VideoInfo:
    """What a video holds, read from its header and first frame (which must decode)."""
    av = require_av()
    path = Path(path)
    with _clear_errors(path), _open_to_probe(av, path) as container:
        if _is_still_image(container):
            raise VideoError(path, "is a still image, not a video; colorize it as a photo")
        stream = _video_stream(container, path)
        try:
            first = next(container.decode(stream), None)
        except av.EOFError:  # a container with a video stream but not one frame in it
            first = None
        if first is None:
            raise VideoError(path, "has no video frames")
        rate = Fraction(stream.average_rate or stream.guessed_rate or 0)
        seconds = _seconds(container, stream)
        frames = stream.frames or round(seconds * rate)
        return VideoInfo(
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            frames=int(frames),
            frames_stated=bool(stream.frames),
            rate=rate,
            seconds=seconds,
            codec=stream.codec_context.name,
            rotation=int(first.rotation or 0),
        )


def colorize_video(
    colorizer: PhotoColorizer,
    src: str | Path,
    dst: str | Path,
    *,
    temporal: float | TemporalSmoother = DEFAULT_STRENGTH,
    render_size: int | None = None,
    log: Callable[[str], None] = print,
    show_progress: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
) -> VideoResult:
    """Colorize the video `src` into `dst` (its container follows `dst`'s suffix).

    `temporal`: how strongly colour is carried across the frames of a shot (0 = each frame
    alone), or a `TemporalSmoother` with settings of its own (see `kolorize.video.temporal`).
    `render_size`: the side at which colour is predicted (default: the model's).
    `on_progress(done, total)` is called after each batch (total is an estimate). Raises
    `VideoError` for files that cannot be read or written.
    """
    # imported here, so that importing kolorize.video needs no torch
    from kolorize.inference.recombine import recombine

    src, dst = Path(src), Path(dst)
    if src.resolve() == dst.resolve():
        raise VideoError(dst, "writing it would overwrite the input video; choose another -o")
    info = probe(src)
    fmt = _container_format(dst)
    smoother = temporal if isinstance(temporal, TemporalSmoother) else TemporalSmoother(temporal)
    start = time.perf_counter()
    bar = progress(total=info.frames or None, unit="frame", desc=src.name, enabled=show_progress)

    def colour(frames: list[Any]) -> list[np.ndarray]:
        rgbs = [f.to_ndarray(format="rgb24", src_color_range=_range(f)) for f in frames]
        small_L, ab = colorizer.predict([Image.fromarray(x) for x in rgbs], render_size=render_size)
        out = [recombine(x, smoother(L, a)) for x, L, a in zip(rgbs, small_L, ab, strict=True)]
        bar.update(len(frames))
        return out

    with bar, atomic_write(dst) as tmp:
        done, damaged, codec = _transcode(src, tmp, fmt, info, colour, colorizer.batch_size,
                                          dst=dst, log=log, on_progress=on_progress)  # fmt: skip
        if done == 0:
            raise VideoError(src, "no video frames could be decoded")
        _check_complete(src, info, done, damaged)
    return VideoResult(dst, done, time.perf_counter() - start, codec, smoother.cuts)


def _check_complete(src: Path, info: VideoInfo, done: int, damaged: int) -> None:
    """A film whose data ends before the frames its container lists (a download or a copy cut
    short: MP4 and MOV list their frames up front) fails: a shorter film is not what was asked
    for. Frames lost to damaged packets were said already."""
    if info.frames_stated and done + damaged < info.frames:
        raise VideoError(
            src, f"the video ends after {done} of its {info.frames} frames (the file is cut short)"
        )


def _transcode(
    src: Path,
    tmp: Path,
    fmt: str,
    info: VideoInfo,
    colour: Callable[[list[Any]], list[np.ndarray]],
    batch_size: int,
    *,
    dst: Path,
    log: Callable[[str], None],
    on_progress: Callable[[int, int], None] | None,
) -> tuple[int, int, str]:
    """Decode `src`, `colour` its frames a batch at a time, encode them into `tmp` with the
    sound copied; (frames written, damaged packets skipped, output codec)."""
    av = require_av()
    done = 0
    with _clear_errors(src), av.open(str(src)) as inp:
        vin = _video_stream(inp, src)
        vin.thread_type = "AUTO"
        audio_in = list(inp.streams.audio)
        encoder = _Encoder.open(tmp, fmt, vin, info, audio_in, dst, log)
        with _clear_errors(dst, writing=True), encoder:
            frames = _Frames(src, inp, vin, audio_in, encoder, batch_size)
            for batch in frames:
                for frame, rgb in zip(batch, colour(batch), strict=True):
                    encoder.write(rgb, frame)
                done += len(batch)
                if on_progress is not None:
                    on_progress(done, max(done, info.frames))
            encoder.finish()
    if frames.damaged:
        log(f"{src}: {frames.damaged} damaged video packets skipped (their frames are missing)")
    return done, frames.damaged, encoder.codec


class _clear_errors:
    """Turn FFmpeg's and the OS's errors while reading (or writing) `path` into one clear
    VideoError naming it."""

    def __init__(self, path: Path, *, writing: bool = False) -> None:
        self.path = path
        self.writing = writing

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, err: BaseException | None, _tb: object) -> bool:
        if err is None or isinstance(err, KolorizeError) or not isinstance(err, Exception):
            return False
        import av

        if isinstance(err, av.FFmpegError | OSError):
            if self.writing:
                raise VideoError(self.path, _reason(err), writing=True) from None
            what = "is not a video that can be read" if _is_invalid(err) else "failed"
            raise VideoError(self.path, f"{what} ({_reason(err)})") from None
        return False


def _is_invalid(err: BaseException) -> bool:
    import av

    return isinstance(err, av.InvalidDataError | av.FileNotFoundError | av.PermissionError)


def _reason(err: BaseException) -> str:
    return str(getattr(err, "strerror", None) or err).strip() or type(err).__name__


def _open_to_probe(av: Any, path: Path) -> Any:
    try:
        return av.open(str(path))
    except av.EOFError:  # reading the header ran to the end without finding a frame
        raise VideoError(path, "has no video frames") from None


def _is_still_image(container: Any) -> bool:
    # FFmpeg reads a PNG or JPEG file (whatever its name) as a one-frame "video" that an MP4
    # would store as it is, and no player would play
    name = container.format.name
    return name in ("image2", "image2pipe") or name.endswith("_pipe")


def _video_stream(container: Any, path: Path) -> Any:
    if not container.streams.video:
        raise VideoError(path, "has no video stream")
    return container.streams.video[0]


def _seconds(container: Any, stream: Any) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000  # AV_TIME_BASE
    return 0.0


def _range(frame: Any) -> Any:
    return frame.color_range or None  # 0: unspecified, the pixel format decides


def _container_format(dst: Path) -> str:
    if not is_video_path(dst):
        raise VideoError(
            dst, "name the output with a video suffix (" + ", ".join(sorted(VIDEO_EXTENSIONS)) + ")"
        )
    return _FORMAT_OF_SUFFIX[dst.suffix.lower()]


_FORMAT_OF_SUFFIX = {
    ".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm",
    ".avi": "avi", ".mpg": "mpeg", ".mpeg": "mpeg", ".ts": "mpegts", ".ogv": "ogg",
    ".wmv": "asf",
}  # fmt: skip


class _Frames:
    """Decoded video frames in display order, `size` at a time; audio packets are copied to
    the output as they come, so the file stays interleaved. A video packet that cannot be
    decoded is skipped and counted (`damaged`): its frames are missing, the others keep their
    timestamps. Damage the demuxer cannot get past stops the run with a clear message."""

    def __init__(self, src: Path, inp: Any, vin: Any, audio_in: Sequence[Any],
                 encoder: _Encoder, size: int) -> None:  # fmt: skip
        self.src, self.inp, self.vin, self.audio_in = src, inp, vin, audio_in
        self.encoder, self.size = encoder, size
        self.damaged = 0

    def __iter__(self) -> Iterator[list[Any]]:
        av = require_av()
        batch: list[Any] = []
        decoded = 0
        packets = self.inp.demux(self.vin, *self.audio_in)
        while True:
            try:
                packet = next(packets, None)
            except av.FFmpegError as e:
                raise VideoError(
                    self.src, f"the video is damaged after frame {decoded} ({_reason(e)})"
                ) from None
            if packet is None:
                break
            if packet.stream.type == "audio":
                self.encoder.copy_audio(packet)
                continue
            try:
                frames = packet.decode()
            except av.FFmpegError:
                self.damaged += 1
                continue
            for frame in frames:
                decoded += 1
                batch.append(frame)
                if len(batch) == self.size:
                    yield batch
                    batch = []
        if batch:
            yield batch


class _Encoder:
    """The output's video stream (encoder) and copied audio streams."""

    def __init__(self, out: Any, stream: Any, audio: dict[int, Any]) -> None:
        self.out = out
        self.stream = stream
        self.audio = audio
        self._video_frame = require_av().VideoFrame
        cc = stream.codec_context
        self.codec = cc.name
        self._pix_fmt = cc.pix_fmt
        self._colorspace = cc.colorspace or None
        self._range = cc.color_range or None
        self._next_pts = 0

    def __enter__(self) -> _Encoder:
        return self

    def __exit__(self, kind: type | None, *_: object) -> None:
        if kind is None:
            self.out.close()  # writes the trailer: errors here are the caller's to hear
        else:
            _close_quietly(self.out)  # the file is discarded; keep the first error

    @classmethod
    def open(
        cls,
        path: Path,
        fmt: str,
        vin: Any,
        info: VideoInfo,
        audio_in: Sequence[Any],
        dst: Path,
        log: Callable[[str], None],
    ) -> _Encoder:
        """Set up the streams and write the header: the input's codec first, then H.264; each
        with the input's time base, then 1/frame rate (some encoders limit the time base)."""
        av = require_av()
        blank = av.open(str(path), "w", format=fmt)
        supported = blank.supported_codecs
        _close_quietly(blank)
        for a in audio_in:
            if a.codec_context.name not in supported:
                raise VideoError(
                    dst,
                    f"a {dst.suffix} file cannot hold this video's "
                    f"{a.codec_context.name} sound; name a .mkv or .mov output",
                )
        codecs = [c for c in (info.codec, FALLBACK_CODEC) if _can_write(c, supported)]
        codecs.append(blank.default_video_codec)  # e.g. VP9 for WebM, which takes no H.264
        rate = info.rate if info.rate > 0 else Fraction(25)
        last: Exception | None = None
        for codec in dict.fromkeys(codecs):
            for time_base in dict.fromkeys([vin.time_base, 1 / rate]):
                out = av.open(str(path), "w", format=fmt)
                try:
                    stream = _video_out(out, codec, vin, info, rate, time_base)
                    audio = {a.index: out.add_stream_from_template(a) for a in audio_in}
                    out.start_encoding()
                except (av.FFmpegError, ValueError) as e:
                    last = e
                    _close_quietly(out)
                    continue
                if codec != info.codec:
                    name = "H.264" if codec == FALLBACK_CODEC else codec
                    log(f"{dst.name}: this FFmpeg cannot write {info.codec} into a {dst.suffix} "
                        f"file: writing {name} instead")  # fmt: skip
                return cls(out, stream, audio)
        raise VideoError(dst, f"no encoder could be opened ({last})", writing=True)

    def copy_audio(self, packet: Any) -> None:
        if packet.dts is None:  # the demuxer's end-of-stream marker
            return
        packet.stream = self.audio[packet.stream.index]
        self.out.mux(packet)

    def write(self, rgb: np.ndarray, source: Any) -> None:
        frame = self._video_frame.from_ndarray(rgb, format="rgb24").reformat(
            format=self._pix_fmt, dst_colorspace=self._colorspace, dst_color_range=self._range
        )
        if source.pts is not None:
            frame.pts, frame.time_base = source.pts, source.time_base
        else:  # no timestamps in the input: frames at the stream's rate
            frame.pts, frame.time_base = self._next_pts, self.stream.codec_context.time_base
            self._next_pts += 1
        self.out.mux(self.stream.encode(frame))

    def finish(self) -> None:
        self.out.mux(self.stream.encode(None))


def _can_write(codec: str, supported: set[str]) -> bool:
    av = require_av()
    try:
        av.codec.Codec(codec, "w")
    except (av.FFmpegError, ValueError):
        return False
    return codec in supported


def _video_out(
    out: Any, codec: str, vin: Any, info: VideoInfo, rate: Fraction, time_base: Fraction
) -> Any:
    av = require_av()
    stream = out.add_stream(codec, rate=rate)
    cc, src = stream.codec_context, vin.codec_context
    cc.width, cc.height = info.width, info.height
    cc.pix_fmt = _pixel_format(src.pix_fmt, av.codec.Codec(cc.name, "w"))
    cc.time_base = stream.time_base = time_base
    for tag in ("colorspace", "color_range", "color_primaries", "color_trc"):
        value = getattr(src, tag, 0)
        if value:
            setattr(cc, tag, value)
    if vin.sample_aspect_ratio:
        cc.sample_aspect_ratio = vin.sample_aspect_ratio
    if cc.name in ("libx264", "libx265"):
        cc.options = {"crf": _CRF, "preset": "fast"}
    elif cc.name == "libvpx-vp9":
        cc.options = {"crf": "30", "b": "0"}
    else:
        bits = vin.bit_rate or src.bit_rate
        cc.bit_rate = int(bits or info.width * info.height * float(rate) * _BITS_PER_PIXEL)
    if info.rotation:
        stream.set_display_rotation(info.rotation)
    return stream


def _pixel_format(source: str | None, encoder: Any) -> str:
    """The input's pixel format when the encoder takes it and it can hold colour, else 4:2:0
    (or the encoder's first format)."""
    names = [f.name for f in encoder.video_formats or ()]
    if source in names and not source.startswith(("gray", "ya", "mono", "pal")):
        return source
    for choice in ("yuv420p", "yuvj420p"):
        if choice in names or not names:
            return choice
    return names[0]


def _close_quietly(out: Any) -> None:
    # a container whose header failed may fail to close too; it is discarded either way
    with contextlib.suppress(Exception):
        out.close()
