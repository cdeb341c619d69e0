"""Films: colorized frame by frame the way photos are, with steady colour and the sound kept.

- `transcode`: one video file in, one out (PyAV decoding and encoding, colour recombined on each
  frame's own lightness, audio copied); its public names are re-exported here.
- `temporal`: `TemporalSmoother`, which carries colour across a shot so it does not flicker.
- `files`: the videos among `kolorize colorize`'s inputs: where each goes, and running them.

Importing this package needs neither PyAV nor torch: both are imported when a video is read.
"""

from kolorize.video.transcode import (
    VIDEO_EXTENSIONS,
    VideoError,
    VideoInfo,
    VideoResult,
    colorize_video,
    is_video_path,
    probe,
    require_av,
)

__all__ = [
    "VIDEO_EXTENSIONS",
    "VideoError",
    "VideoInfo",
    "VideoResult",
    "colorize_video",
    "is_video_path",
    "probe",
    "require_av",
]
