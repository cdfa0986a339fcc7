"""Progress bars for every command, and the hook through which long samplers report.

Bars are tqdm's. On a terminal they redraw in place; when stderr is not a terminal (a log
file, CI, ``nohup``) a bar prints a plain line now and then (every ``LOG_INTERVAL``
seconds and at the end) instead of flooding the log with carriage returns.

Samplers that take long (autoregressive models draw pixel by pixel, Boltzmann machines
run Gibbs sweeps) report through :func:`start` and :func:`advance`; they cost nothing
unless a caller opened :func:`tracking` (``genzoo sample`` does, with a bar). This keeps
the model layer free of any user interface.

Bars only draw. The thread tuner (:mod:`genzoo.threads`) is ticked by the work itself:
the training loop per step, evaluation per batch, and samplers through :func:`advance`.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
from collections.abc import Iterator
from typing import IO, Any

from genzoo import threads

LOG_INTERVAL = 30.0
"""Seconds between the lines a bar prints when stderr is not a terminal."""


class _Lines:
    """A stream for tqdm that turns its carriage-return redraws into whole lines."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        line = text.replace("\r", "").rstrip()
        if line:
            self.stream.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


def bar(total: int | None, desc: str, unit: str = "it", *, disable: bool = False, **kw: Any) -> Any:
    """A tqdm bar on stderr that suits where stderr goes (see the module docstring)."""
    stream = sys.stderr
    interactive = bool(getattr(stream, "isatty", lambda: False)())
    options: dict[str, Any] = {"dynamic_ncols": True} if interactive else {
        "file": _Lines(stream), "mininterval": LOG_INTERVAL, "ascii": True, "ncols": 100,
    }  # fmt: skip
    from tqdm.auto import tqdm  # here: tqdm loads only when a bar is shown

    return tqdm(total=total, desc=desc, unit=unit, disable=disable, **(options | kw))


class Tracker:
    """Receives a sampler's progress: :meth:`start` once per pass, :meth:`advance` as it goes."""

    def __init__(self, desc: str = "sampling") -> None:
        self.desc = desc
        self._bar: Any = None

    def start(self, total: int, unit: str) -> None:
        self.close()
        self._bar = bar(total, self.desc, unit, leave=False)

    def advance(self, k: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(k)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


_TRACKER: contextvars.ContextVar[Tracker | None] = contextvars.ContextVar(
    "genzoo_progress", default=None
)


@contextlib.contextmanager
def tracking(tracker: Tracker | None = None) -> Iterator[Tracker]:
    """Show the progress of the samplers called inside (a bar per sampling pass)."""
    tracker = tracker or Tracker()
    token = _TRACKER.set(tracker)
    try:
        yield tracker
    finally:
        _TRACKER.reset(token)
        tracker.close()


def start(total: int, unit: str) -> None:
    """A sampler begins a pass of ``total`` units (e.g. pixels, Gibbs sweeps)."""
    tracker = _TRACKER.get()
    if tracker is not None:
        tracker.start(total, unit)


def advance(k: int = 1) -> None:
    """A sampler finished ``k`` more units (a step for the thread tuner, tracked or not)."""
    threads.tick("sampler")
    tracker = _TRACKER.get()
    if tracker is not None:
        tracker.advance(k)
