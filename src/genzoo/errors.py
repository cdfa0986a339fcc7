"""The errors genzoo raises for problems a user can fix.

Every class here carries a one-line message that names the problem and the fix. The
command line prints that line and exits non-zero; Python callers can catch the usual
built-in base (``ValueError``, ``FileNotFoundError``, ...) or ``GenzooError`` for all.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


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


def _squash(name: str) -> str:
    return "".join(c for c in name.lower() if c.isalnum())


def _abbreviations(name: str) -> set[str]:
    """'fashion-mnist' -> {'fashionmnist', 'fmnist', 'fashionm', 'fm'}: each hyphenated word
    whole or by its initial, as people shorten names."""
    out = {""}
    for word in [w for w in name.lower().replace("_", "-").split("-") if w]:
        out = {a + form for a in out for form in {word, word[0]}}
    return {_squash(a) for a in out}


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """' (did you mean X?)' for the choice ``name`` most likely stands for, else ''.

    An abbreviation ('fmnist' for 'fashion-mnist') or a spelling without hyphens wins over
    a merely similar spelling (difflib), so 'fmnist' suggests fashion-mnist, not mnist.
    """
    choices = list(choices)
    key = _squash(name)
    exact = [c for c in choices if key and key in _abbreviations(c)]
    if exact:
        return f" (did you mean '{exact[0]}'?)"
    close = difflib.get_close_matches(name.lower(), choices, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
