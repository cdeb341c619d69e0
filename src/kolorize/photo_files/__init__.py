"""`kolorize colorize` for photos: photos on disk -> colorized photos on disk (`video.files`
does the videos among the inputs).

Inputs are files, folders (searched recursively) and glob patterns. Each photo is written once,
atomically, under the output folder (keeping a folder's sub-folder layout) or to the one output
file named. A photo that cannot be read, colorized or written, whatever the reason, is reported
by name and counted; the rest are done. Ctrl+C stops after the photos already written and
still reports. Nothing ever overwrites an input: such a plan is refused before any work starts.
A 16-bit photo written as PNG or TIFF stays 16-bit (its L at 16 bits); JPEG and WebP hold 8.

Split by job: `planning` (inputs found, a `PhotoJob` each), `saving` (formats, atomic writes)
and `batches` (the loop, its `Outcome`).
"""

from kolorize.photo_files.batches import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SOME_FAILED,
    Outcome,
    colorize_photos,
    describe_failure,
    first_frame_only,
    pixels_of,
)
from kolorize.photo_files.planning import (
    PhotoJob,
    SourceAndTarget,
    find_inputs,
    format_name,
    has_image_suffix,
    names_a_file,
    plan,
    refuse_overwriting_inputs,
)
from kolorize.photo_files.saving import (
    FORMATS,
    MAX_SIDE,
    SIXTEEN_BIT,
    Picture,
    check_fits_format,
    save_atomic,
    save_image,
)

__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_SOME_FAILED",
    "FORMATS",
    "MAX_SIDE",
    "SIXTEEN_BIT",
    "Outcome",
    "PhotoJob",
    "Picture",
    "SourceAndTarget",
    "check_fits_format",
    "colorize_photos",
    "describe_failure",
    "find_inputs",
    "first_frame_only",
    "format_name",
    "has_image_suffix",
    "names_a_file",
    "pixels_of",
    "plan",
    "refuse_overwriting_inputs",
    "save_atomic",
    "save_image",
]
