"""Errors a user can cause. The command line turns them into one line on stderr and their exit
code (2, or 1 for a missing extra)."""

import errno


class KolorizeError(Exception):
    """A problem with the user's input (paths, files, configuration), not a bug."""

    exit_code = 2


class MissingExtraError(KolorizeError):
    """A feature needs an optional extra (`pip install 'kolorize[serve]'`) this install lacks:
    the install, not the command, is what must change, so it exits 1 as a failed file
    operation does, not 2 as a usage error."""

    exit_code = 1


class MissingWeightsError(KolorizeError):
    """Pretrained weights could be neither found locally nor downloaded."""


def describe_os_error(e: OSError) -> str:
    """One line for a failed file operation: what, where and why (disk full, no permission...)."""
    why = e.strerror or str(e) or type(e).__name__
    if e.errno in (errno.EEXIST, errno.ENOTDIR):  # mkdir or open through a file
        why = "a file is in the way where a folder is needed"
    if e.filename is None:
        return why
    where = f"{e.filename} -> {e.filename2}" if e.filename2 is not None else str(e.filename)
    return f"{where}: {why}"
