"""Errors a user can cause. The command line turns them into one line on stderr and exit code 2."""


class KolorizeError(Exception):
    """A problem with the user's input (paths, files, configuration), not a bug."""


class MissingWeightsError(KolorizeError):
    """Pretrained weights could be neither found locally nor downloaded."""
