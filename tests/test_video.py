"""Video: frames through the photo path, steady colour, sound and timing kept, bad files named.

Clips are made here with PyAV from scikit-image photos (64x48, 24 fps). The lossless ones
(FFV1, 4:4:4, in .mkv) let colour be measured without codec noise; the H.264 + AAC ones are
what people have. Flicker is the mean |change of ab| (CIE units) between consecutive frames.
"""

from __future__ import annotations

import re
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")

from helpers.cli import run_cli  # noqa: E402
from helpers.colour import lightness  # noqa: E402
from helpers.video import (  # noqa: E402
    RATE,
    H,
    W,
    audio_packets,
    cut_short,
    empty_clip,
    lab,
    moving_square,
    noisy_static,
    panned,
    photo,
    read_frames,
    write_clip,
)
from kolorize.inference.colorizer import Colorizer  # noqa: E402
from kolorize.video import VideoError, colorize_video, probe  # noqa: E402
from kolorize.video.temporal import DEFAULT_STRENGTH, TemporalSmoother, flicker  # noqa: E402


def _lossless(path: Path, frames: list[np.ndarray], **kw) -> Path:
    return write_clip(path, frames, codec="ffv1", pix_fmt="yuv444p", **kw)


def _colour(colorizer: Colorizer, src: Path, dst: Path, temporal) -> np.ndarray:
    colorize_video(colorizer, src, dst, temporal=temporal, show_progress=False, log=print)
    return lab(read_frames(dst))


class SteadyColour(TemporalSmoother):
    """The ideal steady colour: the first frame's prediction, forever. Its flicker is what the
    grain in L alone causes (8-bit rounding and gamut fitting vary with each pixel's L)."""

    def __call__(self, L: np.ndarray, ab: np.ndarray) -> np.ndarray:
        if self._ab is None:
            self._ab = ab
        return self._ab


def _no_leftovers(folder: Path) -> None:
    assert not [p for p in folder.iterdir() if ".tmp-" in p.name]


def test_keeps_size_rate_frames_sound_and_lightness(tmp_path: Path, colorizer: Colorizer) -> None:
    # lossless 4:4:4 in and out, so L is compared pixel by pixel with no codec in the way
    src = _lossless(tmp_path / "film.mkv", panned(20))
    dst = tmp_path / "film_colour.mkv"

    result = colorizer.colorize_video(src, dst, show_progress=False)

    assert result.frames == 20 and result.path == dst
    before, after = probe(src), probe(dst)
    assert (after.width, after.height, after.rate, after.codec) == (W, H, RATE, "ffv1")
    with av.open(str(dst)) as c:
        assert c.streams.video[0].codec_context.pix_fmt == "yuv444p"
    assert abs(after.seconds - before.seconds) < 1 / RATE
    assert audio_packets(dst) == audio_packets(src) != []  # copied, not re-encoded
    got, want = read_frames(dst), read_frames(src)
    assert len(got) == len(want) == 20
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        diff = np.abs(lightness_of(g) - lightness_of(w))
        assert diff.mean() < 0.5, i  # YUV rounding only
        if i:  # a frame off by one would be far from this (the pan moves 2 px a frame)
            assert diff.mean() < np.abs(lightness_of(g) - lightness_of(want[i - 1])).mean() / 2
    colour = lab(got)
    assert np.hypot(colour[:, 1], colour[:, 2]).mean() > 5  # it is colour
    _no_leftovers(tmp_path)


def lightness_of(rgb: np.ndarray) -> np.ndarray:
    from PIL import Image

    return lightness(Image.fromarray(rgb))


def test_rotation_codec_and_pixel_format_are_kept(tmp_path: Path, colorizer: Colorizer) -> None:
    src = write_clip(tmp_path / "turned.mp4", panned(8), codec="mpeg4", rotation=90)
    dst = tmp_path / "out.mp4"
    result = colorize_video(colorizer, src, dst, show_progress=False)
    info = probe(dst)
    assert (info.codec, info.rotation, info.frames, result.frames) == ("mpeg4", 90, 8, 8)
    assert audio_packets(dst) == audio_packets(src)


def test_a_container_that_cannot_hold_the_codec_gets_another_said_in_one_line(
    tmp_path: Path, colorizer: Colorizer
) -> None:
    src = write_clip(tmp_path / "clip.mp4", panned(6), audio=False)  # H.264: not in WebM
    said: list[str] = []
    colorize_video(colorizer, src, tmp_path / "clip.webm", show_progress=False, log=said.append)
    assert probe(tmp_path / "clip.webm").codec == "vp9"
    assert said == [
        "clip.webm: this FFmpeg cannot write h264 into a .webm file: writing vp9 instead"
    ]


def test_sound_a_container_cannot_hold_is_a_clear_error(
    tmp_path: Path, colorizer: Colorizer
) -> None:
    src = write_clip(tmp_path / "clip.mp4", panned(4))  # AAC: WebM takes Opus or Vorbis
    with pytest.raises(VideoError, match=r"cannot hold this video's aac sound; name a \.mkv"):
        colorize_video(colorizer, src, tmp_path / "clip.webm", show_progress=False)
    assert not (tmp_path / "clip.webm").exists()
    _no_leftovers(tmp_path)


def test_temporal_smoothing_cuts_flicker_on_a_static_shot(
    tmp_path: Path, colorizer: Colorizer
) -> None:
    src = _lossless(tmp_path / "static.mkv", noisy_static(20), audio=False)
    alone = flicker(_colour(colorizer, src, tmp_path / "a.mkv", 0)[:, 1:])
    steady = flicker(_colour(colorizer, src, tmp_path / "b.mkv", DEFAULT_STRENGTH)[:, 1:])
    floor = flicker(_colour(colorizer, src, tmp_path / "c.mkv", SteadyColour(0.5))[:, 1:])
    # frame by frame flickers well above what the grain alone gives (about 3.4 vs 1.7) ...
    assert alone > floor + 1
    # ... and carrying colour removes most of that excess (measured: 2.2, i.e. ~70 % of it)
    assert steady - floor < 0.4 * (alone - floor)


def test_a_moving_object_is_not_smeared(tmp_path: Path, colorizer: Colorizer) -> None:
    frames, boxes = moving_square(16)
    src = _lossless(tmp_path / "square.mkv", frames, audio=False)
    alone = _colour(colorizer, src, tmp_path / "a.mkv", 0)
    gated = _colour(colorizer, src, tmp_path / "b.mkv", DEFAULT_STRENGTH)
    # the same running average without the motion gate: what smearing looks like here
    plain = _colour(colorizer, src, tmp_path / "c.mkv", TemporalSmoother(0.7, motion=np.inf))

    def smear(x: np.ndarray) -> float:
        return float(np.mean([np.abs(x[i, 1:, y0:y1, x0:x1] - alone[i, 1:, y0:y1, x0:x1]).mean()
                              for i, (y0, y1, x0, x1) in enumerate(boxes)]))  # fmt: skip

    assert smear(plain) > 5  # ab units: the object drags its old colours along
    assert smear(gated) < 0.35 * smear(plain)  # measured: 2.2 vs 8.4


def test_scene_cuts_restart_the_colour(tmp_path: Path, colorizer: Colorizer) -> None:
    frames = noisy_static(10, "astronaut") + noisy_static(10, "coffee", seed=1)
    src = _lossless(tmp_path / "cut.mkv", frames, audio=False)
    alone = _colour(colorizer, src, tmp_path / "a.mkv", 0)
    smoother = TemporalSmoother(DEFAULT_STRENGTH)
    steady = _colour(colorizer, src, tmp_path / "b.mkv", smoother)
    blind = _colour(colorizer, src, tmp_path / "c.mkv", TemporalSmoother(0.7, cut=np.inf))
    assert smoother.cuts == 1
    # the first frame of the new shot is exactly its own prediction: nothing carried over
    assert np.abs(steady[10, 1:] - alone[10, 1:]).max() < 0.5
    assert np.abs(blind[10, 1:] - alone[10, 1:]).max() > 5  # what carrying over would do
    assert np.abs(steady[9, 1:] - alone[9, 1:]).mean() > 0.3  # smoothing was on before it


def test_no_cut_is_seen_in_a_pan(tmp_path: Path, colorizer: Colorizer) -> None:
    smoother = TemporalSmoother()
    colorize_video(colorizer, write_clip(tmp_path / "pan.mp4", panned(20, step=3)),
                   tmp_path / "o.mp4", temporal=smoother, show_progress=False)  # fmt: skip
    assert smoother.cuts == 0


def _truncated(path: Path) -> bytes:
    return path.read_bytes()[: path.stat().st_size // 2]


def _garbled(path: Path) -> bytes:
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(0)
    middle = slice(len(data) // 3, len(data) // 3 + 3000)
    data[middle] = rng.integers(0, 256, 3000, dtype=np.uint8).tobytes()
    return bytes(data)


def _audio_only(path: Path) -> bytes:
    out = path.with_name("sound.m4a")
    with av.open(str(out), "w") as c:
        s = c.add_stream("aac", rate=8000)
        tone = av.AudioFrame.from_ndarray(np.zeros((1, 8000), np.float32), format="fltp",
                                          layout="mono")  # fmt: skip
        tone.sample_rate, tone.pts = 8000, 0
        c.mux(s.encode(tone))
        c.mux(s.encode())
    return out.read_bytes()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: b"not a film" * 100, "is not a video that can be read"),
        (_truncated, "is not a video that can be read"),
        (_audio_only, "has no video stream"),
    ],
)
def test_bad_videos_are_one_clear_error(tmp_path: Path, colorizer: Colorizer, make,
                                        message: str) -> None:  # fmt: skip
    good = write_clip(tmp_path / "good.mp4", panned(12))
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(make(good))
    with pytest.raises(VideoError, match=message) as caught:
        colorize_video(colorizer, bad, tmp_path / "out.mp4", show_progress=False)
    assert str(bad) in str(caught.value)
    assert caught.value.path == bad and str(bad) not in caught.value.reason
    assert not (tmp_path / "out.mp4").exists()
    _no_leftovers(tmp_path)


def test_a_film_cut_short_fails_naming_the_frames_it_got(tmp_path: Path, model: Path) -> None:
    # MP4 "faststart": the index, with its 30 frames, comes first, so the cut copy still opens
    whole = write_clip(tmp_path / "whole.mp4", panned(30), faststart=True)
    film = tmp_path / "film.mp4"
    film.write_bytes(cut_short(whole, 0.6))
    result = run_cli("colorize", str(film), "-o", str(tmp_path / "out" / "film.mp4"),
                     "--model", str(model))  # fmt: skip
    assert result.code == 1, result.err
    lines = result.err.strip().splitlines()
    said = [line for line in lines if line.startswith(f"skipped {film}: ")]
    assert len(said) == 1 and re.search(r"the video ends after \d+ of its 30 frames", said[0])
    assert "colorized 0 of 1 videos" in result.err and "Traceback" not in result.err
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: empty_clip(p.with_suffix(".mkv")), "has no video frames"),
        (lambda p: _still(p, "PNG"), "is a still image, not a video"),
        (lambda p: _still(p, "JPEG"), "is a still image, not a video"),
    ],
)
def test_files_that_hold_no_film_say_so(tmp_path: Path, colorizer: Colorizer, make,
                                        message: str) -> None:  # fmt: skip
    src = make(tmp_path / "clip.mp4")
    with pytest.raises(VideoError) as caught:
        colorize_video(colorizer, src, tmp_path / "out.mp4", show_progress=False)
    assert caught.value.reason.startswith(message) and caught.value.path == src
    assert not (tmp_path / "out.mp4").exists()
    _no_leftovers(tmp_path)


def _still(path: Path, kind: str) -> Path:
    from PIL import Image

    Image.fromarray(photo()).save(path, kind)
    return path


def test_damaged_frames_are_skipped_and_said(tmp_path: Path, colorizer: Colorizer) -> None:
    good = write_clip(tmp_path / "good.mp4", panned(20))
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(_garbled(good))
    said: list[str] = []
    result = colorize_video(colorizer, bad, tmp_path / "out.mp4", show_progress=False,
                            log=said.append)  # fmt: skip
    assert 0 < result.frames == len(read_frames(tmp_path / "out.mp4")) < 20
    assert len(said) == 1 and said[0].startswith(f"{bad}: ")
    assert "damaged video packets skipped (their frames are missing)" in said[0]
    assert audio_packets(tmp_path / "out.mp4") == audio_packets(bad)  # copied as they are
    _no_leftovers(tmp_path)


def test_interrupted_run_leaves_no_partial_file(tmp_path: Path, colorizer: Colorizer) -> None:
    src = write_clip(tmp_path / "film.mp4", panned(20))
    dst = tmp_path / "out.mp4"
    seen: list[tuple[int, int]] = []

    def stop(done: int, total: int) -> None:
        seen.append((done, total))
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        colorize_video(colorizer, src, dst, show_progress=False, on_progress=stop)
    assert seen == [(colorizer.batch_size, 20)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["film.mp4"]


def test_the_input_is_never_overwritten(tmp_path: Path, colorizer: Colorizer) -> None:
    src = write_clip(tmp_path / "film.mp4", panned(4))
    before = src.read_bytes()
    with pytest.raises(VideoError, match="overwrite the input"):
        colorize_video(colorizer, src, src, show_progress=False)
    assert src.read_bytes() == before


def test_video_plans_refuse_overwriting_an_input_and_photos_in_one_video(tmp_path: Path) -> None:
    from kolorize.errors import KolorizeError
    from kolorize.video.files import plan_media

    film = (tmp_path / "film.mp4", Path("film.mp4"))
    with pytest.raises(KolorizeError, match="would overwrite an input video; choose another -o"):
        plan_media([film], tmp_path, "auto")
    photo = (tmp_path / "a.png", Path("a.png"))
    with pytest.raises(KolorizeError, match="names a video file, but photos were given"):
        plan_media([photo, film], tmp_path / "one.mp4", "auto")


def test_folder_mixing_photos_and_videos(tmp_path: Path, model: Path) -> None:
    from PIL import Image

    src = tmp_path / "in"
    (src / "reels").mkdir(parents=True)
    write_clip(src / "reels" / "a.mp4", panned(6))
    write_clip(src / "b.mkv", panned(5), codec="mpeg4")
    (src / "reels" / "broken.mov").write_bytes(b"\0" * 1000)
    Image.fromarray(photo("camera")).save(src / "c.png")
    out = tmp_path / "out"

    result = run_cli("colorize", str(src), "-m", str(model), "-o", str(out), "--temporal", "0.5")

    assert result.code == 1, result.err
    assert "Traceback" not in result.err
    assert f"skipped {src / 'reels' / 'broken.mov'}: is not a video" in result.err
    assert "colorized 1 of 1 photos" in result.err and "colorized 2 of 3 videos" in result.err
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert written == ["b.mkv", "c.png", "reels/a.mp4"]
    assert len(read_frames(out / "b.mkv")) == 5 and probe(out / "b.mkv").rate == Fraction(24)
    assert probe(out / "reels" / "a.mp4").codec == "h264"


def test_one_video_file_output_refuses_photos(tmp_path: Path, model: Path) -> None:
    from PIL import Image

    Image.fromarray(photo()).save(tmp_path / "p.png")
    result = run_cli("colorize", str(tmp_path / "p.png"), "-m", str(model),
                     "-o", str(tmp_path / "x.mp4"))  # fmt: skip
    assert result.code == 2 and "names a video file, but photos were given" in result.err


def test_cli_default_matches_the_library() -> None:
    from kolorize.cli import DEFAULT_TEMPORAL

    assert DEFAULT_TEMPORAL == DEFAULT_STRENGTH


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from helpers.colour import tiny_generator

    return tiny_generator(tmp_path_factory.mktemp("model") / "generator.safetensors")


def test_a_codec_this_ffmpeg_cannot_write_becomes_h264(
    tmp_path: Path, colorizer: Colorizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kolorize.video.transcode as transcode

    real = transcode._can_write
    monkeypatch.setattr(
        transcode, "_can_write", lambda codec, ok: codec != "mpeg4" and real(codec, ok)
    )
    src = write_clip(tmp_path / "old.mp4", panned(6), codec="mpeg4")
    said: list[str] = []
    colorize_video(colorizer, src, tmp_path / "new.mp4", show_progress=False, log=said.append)
    assert probe(tmp_path / "new.mp4").codec == "h264"
    assert said == [
        "new.mp4: this FFmpeg cannot write mpeg4 into a .mp4 file: writing H.264 instead"
    ]


def test_without_pyav_videos_are_refused_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kolorize.errors import MissingExtraError
    from kolorize.video.files import plan_media

    monkeypatch.setitem(sys.modules, "av", None)  # import av -> ImportError
    found = [(tmp_path / "a.png", Path("a.png")), (tmp_path / "film.mp4", Path("film.mp4"))]
    extra = r"needs kolorize's \[video\] extra \(missing: av\): pip install 'kolorize\[video\]'"
    with pytest.raises(MissingExtraError, match=extra) as refused:
        plan_media(found, tmp_path / "out", "auto")
    assert refused.value.exit_code == 1
