"""Errors a user can cause. The command line turns them into one line on stderr and their exit
code (2, or 1 for a missing extra)."""

import errno
import reprlib


class KolorizeError(Exception):
    """A problem with the user's input (paths, files, configuration), not a bug."""

    exit_code = 2


class MissingExtraError(KolorizeError):
    """A feature needs an optional extra (`pip install 'kolorize[serve]'`) this install lacks:
    the install, not the command, is what must change, so it exits 1 as a failed file
    operation does, not 2 as a usage error."""

    exit_code = 1


class InvalidValue(KolorizeError, ValueError):
    """A value handed to the Python API that it cannot take: a ValueError for its callers, one
    line for the command line."""


def whole_number(name: str, value: object, *, at_least: int = 1) -> int:
    """`value` when it is a whole number (not a bool) of at least `at_least`; else InvalidValue
    naming it."""
    if isinstance(value, bool) or not isinstance(value, int) or value < at_least:
        raise InvalidValue(
            f"{name} must be a whole number of at least {at_least}; got {quoted(value)}"
        )
    return value


class MissingWeightsError(KolorizeError):
    """Pretrained weights could be neither found locally nor downloaded."""


_SHORT = reprlib.Repr()  # keyword arguments need Python 3.12
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother, _SHORT.maxlong = 2, 60, 60, 40
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxdict = _SHORT.maxset = 4
QUOTED_CHARS = 80


def quoted(value: object) -> str:
    """`repr(value)` cut to at most QUOTED_CHARS characters, for messages: a value can be
    anything a file or a request held (a YAML alias bomb expands to gigabytes when printed
    whole); reprlib looks at only the few items it shows."""
    text = _SHORT.repr(value)
    return text if len(text) <= QUOTED_CHARS else text[: QUOTED_CHARS - 3] + "..."


def describe_os_error(e: OSError) -> str:
    """One line for a failed file operation: what, where and why (disk full, no permission...)."""
    why = e.strerror or str(e) or type(e).__name__
    if e.errno in (errno.EEXIST, errno.ENOTDIR):  # mkdir or open through a file
        why = "a file is in the way where a folder is needed"
    if e.filename is None:
        return why
    where = f"{e.filename} -> {e.filename2}" if e.filename2 is not None else str(e.filename)
    return f"{where}: {why}"
