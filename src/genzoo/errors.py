"""The errors genzoo raises for problems a user can fix.

Every class here carries a one-line message that names the problem and the fix. The
command line prints that line and exits non-zero; Python callers can catch the usual
built-in base (``ValueError``, ``FileNotFoundError``, ...) or ``GenzooError`` for all.
"""

from __future__ import annotations


class GenzooError(Exception):
    """Base class of every error genzoo raises on purpose."""


class UserInputError(GenzooError, ValueError):
    """A bad argument: an unknown name, a wrong shape, a value out of range."""


class ConfigError(UserInputError):
    """A config field holds a value its class refuses (raised in ``__post_init__``).

    The message is neutral ("must be positive"); ``field`` names the field, so the command
    line can say ``--model.hidden-channels must be positive``.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class DataNotFoundError(GenzooError, FileNotFoundError):
    """A dataset's files are not on this machine (the message says how to get them)."""


class MissingFileError(GenzooError, FileNotFoundError):
    """A run, checkpoint or export that should exist is not there (the message says what
    to pass instead)."""


class CorruptFileError(GenzooError, ValueError):
    """A data file or checkpoint exists but is truncated, corrupt or of the wrong kind."""


class RunExistsError(GenzooError, FileExistsError):
    """The output directory already holds a run and neither --resume nor --force was given."""


class RunBusyError(GenzooError, BlockingIOError):
    """Another process is training in the same run directory."""


class RunWriteError(GenzooError, OSError):
    """A run directory cannot be written (full disk, read-only folder)."""


class NonFiniteLossError(GenzooError, FloatingPointError):
    """The training loss became NaN or infinite."""


class NoDensityError(GenzooError, NotImplementedError):
    """The model family defines no likelihood (for example a GAN)."""
