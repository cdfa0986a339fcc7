"""The CPU thread policy: how many threads PyTorch uses, chosen by timing the work.

PyTorch's OpenMP threads spin-wait for each other at the end of every parallel region. On
an idle machine that is the fastest setting; on a machine whose cores are shared (a laptop
with a browser open, a server with other jobs, the test suite beside a training) a
descheduled partner keeps the others waiting and small models run 10-100x slower
(benchmarks/RESULTS.md, "CPU thread policy"). Asking OpenMP to sleep instead
(``OMP_WAIT_POLICY=PASSIVE``) avoids the collapse but costs up to 64% on an idle machine
(a wake-up per small operation), and one thread loses up to half the idle speed of a
convolutional model. No fixed setting is right on both kinds of machine.

genzoo's default (``auto``) therefore keeps OpenMP's own wait policy and chooses the
thread count while the work runs: the work ticks a :class:`Tuner` through :func:`tick`
(the training loop once per step, evaluation once per batch, samplers once per unit
through :func:`genzoo.progress.advance`; progress bars only draw), which times the steps
at the current count, now and then tries a neighbouring count for a few steps, and keeps
whichever is faster. A step that is much slower than the current ones ends a trial at
once, so a trial on a busy machine costs about one slow step; trials become rarer while
they keep failing, and come at once when the speed changes (another job starts or ends).
Written by hand: neither PyTorch nor OpenMP adapts the thread count to the load of the machine.

The same policy keeps freed memory in glibc's heap (:func:`tune_malloc`): a training step
frees and re-allocates the same large buffers every step, and glibc's defaults hand them
back to the system and fault them in again: keeping them makes a small model's CPU step
1.06-1.24x faster on top of the fused AdamW (RESULTS.md, "CPU training step").

The policy is put in force by the command line only (:func:`apply`; ``genzoo train``
through ``train_run(thread_policy=True)``): a Python user's ``fit`` or ``train_run`` keeps
PyTorch's own thread setting unless ``TrainConfig.threads`` fixes a count, and without a
tuner :func:`tick` does nothing. Measured against the fixed counts through the command line:
benchmarks/threads_cli.py. Users who want otherwise: ``--train.threads N`` for a training run, or
``GENZOO_THREADS=N`` for every command, fixes the count (``GENZOO_THREADS=auto`` is the
default); ``OMP_WAIT_POLICY`` set in the environment is respected. The policy in force is
printed at the start of a training run, and how the time was split between thread counts
at its end. A fixed count also keeps a run reproducible bit for bit: a different thread
count may round reductions differently (about 1e-7 relative).
"""

from __future__ import annotations

import os
import statistics
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from typing import Any

ENV_THREADS = "GENZOO_THREADS"


def requested(threads: int | None = None) -> int | None:
    """The fixed thread count asked for: ``threads`` if positive, else ``$GENZOO_THREADS``
    if it is a number; None means ``auto`` (the tuner chooses)."""
    if threads:
        return int(threads)
    env = os.environ.get(ENV_THREADS, "").strip().lower()
    if env in ("", "auto", "0"):
        return None
    try:
        n = int(env)
    except ValueError:
        from genzoo.errors import UserInputError

        raise UserInputError(
            f"{ENV_THREADS}={env!r} is not a number of threads; use a count such as 1, or auto"
        ) from None
    if n < 0:
        from genzoo.errors import UserInputError

        raise UserInputError(f"{ENV_THREADS}={n} must be positive (or auto)")
    return n


def choices(cores: int) -> list[int]:
    """The thread counts the tuner moves between: 1, 2, 4, ... up to ``cores``, and ``cores``."""
    out, n = [], 1
    while n < cores:
        out.append(n)
        n *= 2
    return [*out, max(1, cores)]


class Tuner:
    """Chooses a thread count among ``options`` by timing repeated steps.

    Steps are reported by :meth:`tick` (the time since the previous tick is one step's
    time). The tuner keeps the median of the last ``window`` step times at the current
    count and tries a neighbouring count for up to ``window`` more steps, keeping it if
    its median is at least ``margin`` faster:

    - right after the first median, and at once after a trial that was kept (to go on the
      same way: 1 -> 2 -> 4 ...);
    - when the median moves by more than ``change`` times (the load changed);
    - otherwise ``probe_after`` seconds after the last trial, doubling up to
      ``max_probe_after`` while trials fail;
    - but never sooner after a failed trial than its cost over ``overhead``, so failed
      trials cost at most that share of the time.

    A trial of more threads is skipped while other running tasks leave too few cores free
    (``/proc/loadavg``); otherwise a trial step slower than ``abort`` times the current
    median ends the trial at once (one collapsed step is all a trial costs on a busy
    machine); two steps both ``slower`` times slower end it too. Steps of different kinds
    (a training step, then the pixels of a sample grid) are told apart by ``key``; a new
    key ends a trial without a verdict and starts a fresh measurement, at the count last
    chosen for that key if it was seen before.

    Args:
        options: Thread counts to choose from, ascending.
        current: The count in force now (one of ``options``).
        set_threads: Applies a count (``torch.set_num_threads``).
        clock: Seconds, monotonic (``time.perf_counter``; a fake one in tests).
        window: Steps per median.
        probe_after: Seconds between trials at first (and again after the load changed).
        max_probe_after: The longest wait between trials.
        margin: How much faster (relative) a trial must be to be kept.
        abort: A trial step this many times slower than the current median ends the trial.
        slower: Two trial steps (after the first) both this many times slower end it too.
        change: A median this many times slower or faster than the last verdict's starts
            a trial at once (the load of the machine changed).
        overhead: After a failed trial the next waits at least its cost over this
            fraction, so failed trials cost at most this share of the time.
        min_span: A median also spans at least this many seconds of steps (more than
            ``window`` steps when they are short: sub-millisecond steps are noisy), and
            neither early end of a trial applies to steps that short.
        running: How many tasks are running on the machine now, this process's busy
            threads included (None: unknown); a trial of more threads than the cores the
            others leave free is skipped as failed, at no cost.
        cores: The cores of the machine (default: the largest option).
    """

    def __init__(
        self,
        options: Sequence[int],
        current: int,
        set_threads: Callable[[int], None],
        *,
        clock: Callable[[], float] = time.perf_counter,
        window: int = 5,
        probe_after: float = 10.0,
        max_probe_after: float = 300.0,
        margin: float = 0.05,
        abort: float = 2.0,
        slower: float = 1.2,
        change: float = 1.3,
        overhead: float = 0.02,
        min_span: float = 0.2,
        running: Callable[[], int | None] = lambda: None,
        cores: int | None = None,
    ) -> None:
        if current not in options:
            raise ValueError(f"current thread count {current} is not among {list(options)}")
        self.options = sorted(set(options))
        self.running = running
        self.cores = cores or self.options[-1]
        self.current = current
        self.set_threads = set_threads
        self.clock = clock
        self.window, self.margin, self.change, self.overhead = window, margin, change, overhead
        self.min_span = min_span
        self.abort, self.slower = abort, slower
        self.probe_after, self.max_probe_after = probe_after, max_probe_after
        self.wait = probe_after
        self.key: Hashable = None
        self.kinds: dict[Hashable, dict[str, Any]] = {}  # where each kind of step stands
        self.last: float | None = None
        self.recent: deque[float] = deque()  # step times at the current count
        self.recent_sum = 0.0  # their sum (kept, not recomputed: ticks are a hot path)
        self.unchecked = 0  # steps since the last verdict on the current median
        self.trial: int | None = None  # the count on trial, if any
        self.trial_times: list[float] = []
        self.before = 0.0  # the current count's median when the trial began
        self.reference: float | None = None  # the median at the last verdict
        self.next_trial = -float("inf")  # the first trial right after the first median
        self.earliest = -float("inf")  # no trial before: keeps failed trials' cost bounded
        self.direction = 1  # which neighbour to try next
        self.seconds: dict[int, float] = {}  # time spent at each count
        self.trials = self.kept = 0

    def tick(self, key: Hashable = None) -> None:
        """One step of the work identified by ``key`` has finished."""
        now = self.clock()
        last, self.last = self.last, now
        if key != self.key or last is None:  # a new kind of step: its first time is unknown
            self._end_trial(keep=False, now=now, verdict=False)
            self._switch_kind(key)
            self._forget_recent()
            return
        dt = now - last
        counting = self.trial if self.trial is not None else self.current
        self.seconds[counting] = self.seconds.get(counting, 0.0) + dt
        if self.trial is not None:
            self._trial_step(dt, now)
            return
        self.recent.append(dt)
        self.recent_sum += dt
        while len(self.recent) > self.window and self.recent_sum - self.recent[0] >= self.min_span:
            self.recent_sum -= self.recent.popleft()
        if len(self.recent) < self.window or self.recent_sum < self.min_span:
            return
        # a verdict once per window's worth of new steps: sorting a long window of tiny
        # steps (a grid's pixels) on every step would cost more than the steps
        self.unchecked += 1
        if self.unchecked < len(self.recent) // self.window:
            return
        self.unchecked = 0
        median = statistics.median(self.recent)
        if self.reference is None:
            self.reference = median
        moved = not (1 / self.change < median / self.reference < self.change)
        if now >= self.earliest and (moved or now >= self.next_trial):
            self._start_trial(median)

    def _forget_recent(self) -> None:
        self.recent.clear()
        self.recent_sum, self.unchecked = 0.0, 0

    def _switch_kind(self, key: Hashable) -> None:
        """Remember where the kind of step that ends stands (its count, median and trial
        schedule), and resume ``key``'s (e.g. training steps after a sample grid's pixels);
        a kind never seen starts at the current count and tries its neighbour soon."""
        fields = ("current", "reference", "next_trial", "earliest", "wait", "direction")
        self.kinds[self.key] = {f: getattr(self, f) for f in fields}
        while len(self.kinds) > 32:  # keep the recent kinds only (a bounded memory)
            self.kinds.pop(next(iter(self.kinds)))
        self.key = key
        fresh = {"current": self.current, "reference": None, "next_trial": -float("inf"),
                 "earliest": -float("inf"), "wait": self.probe_after, "direction": 1}  # fmt: skip
        before = self.current
        for f, v in self.kinds.pop(key, fresh).items():
            setattr(self, f, v)
        if self.current != before:
            self.set_threads(self.current)

    def _neighbour(self) -> int | None:
        """The next count to try: on the side last tried with success, else alternating."""
        i = self.options.index(self.current)
        for d in (self.direction, -self.direction):
            if 0 <= i + d < len(self.options):
                self.direction = d
                return self.options[i + d]
        return None

    def _start_trial(self, median: float) -> None:
        candidate = self._neighbour()
        if candidate is None:
            self.next_trial = float("inf")
            return
        running = self.running()
        # our own threads at the current count are running too (they are what ticked)
        others = None if running is None else max(0, running - self.current)
        if candidate > self.current and others is not None and others + candidate > self.cores:
            # the cores are taken: more threads would wait for each other (a failed trial,
            # known without paying for it)
            self.reference = median
            self.wait = min(2 * self.wait, self.max_probe_after)
            self.next_trial = self.clock() + self.wait
            self.direction = -self.direction
            return
        self.trial, self.trial_times, self.before = candidate, [], median
        self.trials += 1
        self.set_threads(candidate)

    def _trial_step(self, dt: float, now: float) -> None:
        self.trial_times.append(dt)
        if dt > self.abort * self.before and dt > self.min_span / self.window:
            self._end_trial(keep=False, now=now)  # a stall (not a sub-ms hiccup)
            return
        counted = self.trial_times[1:]  # the first step after a change warms up
        clear = self.before * self.window >= self.min_span  # steps long enough to judge by two
        if clear and len(counted) >= 2 and min(counted) > self.slower * self.before:
            self._end_trial(keep=False, now=now)  # clearly slower: no need for a median
            return
        if len(counted) < self.window or sum(counted) < self.min_span:
            return
        median = statistics.median(counted)
        self._end_trial(keep=median < (1 - self.margin) * self.before, now=now, median=median)

    def _end_trial(self, keep: bool, now: float, median: float = 0.0, verdict: bool = True) -> None:
        if self.trial is None:
            return
        if keep:  # and try the next count on the same side at once (1 -> 2 -> 4 ...)
            self.current, self.reference = self.trial, median
            self.recent = deque(self.trial_times[1:])
            self.recent_sum, self.unchecked = sum(self.recent), 0
            self.wait, self.kept = self.probe_after, self.kept + 1
            self.next_trial = now
        else:
            self.set_threads(self.current)
            self._forget_recent()
            self.next_trial = now + self.wait
            if verdict:  # wait longer; and long enough that trials cost <= `overhead`
                cost = sum(self.trial_times) - len(self.trial_times) * self.before
                self.reference = self.before
                self.wait = min(2 * self.wait, self.max_probe_after)
                self.earliest = now + cost / self.overhead
                self.next_trial = now + max(self.wait, cost / self.overhead)
                self.direction = -self.direction
        self.trial = None

    def summary(self) -> str:
        """How the measured time was split between thread counts, e.g. "2 threads 97%"."""
        total = sum(self.seconds.values())
        if total <= 0:
            return f"threads {self.current}"
        parts = [
            f"{n} thread{'s' * (n != 1)} {100 * s / total:.0f}%"
            for n, s in sorted(self.seconds.items(), key=lambda kv: -kv[1])
        ]
        return f"{', '.join(parts)} of the time ({self.trials} trials, {self.kept} kept)"


def running() -> int | None:
    """Tasks running on the machine now, this process's included (``/proc/loadavg``'s
    running count); None where the file does not exist."""
    try:
        with open("/proc/loadavg") as f:
            running = int(f.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return None
    return running


_TUNER: Tuner | None = None


def tick(key: Hashable = None) -> None:
    """One step of repeated work finished (the training loop, evaluation and samplers call this)."""
    if _TUNER is not None:
        _TUNER.tick(key)


def tuner() -> Tuner | None:
    """The tuner in force (None with a fixed thread count)."""
    return _TUNER


def apply(threads: int | None = None, *, tune: bool = True) -> str:
    """Put the CPU policy in force (thread count, and :func:`tune_malloc`) and describe it.

    Args:
        threads: A fixed count (``--train.threads``); 0 or None defers to
            ``$GENZOO_THREADS``, and then to ``auto``.
        tune: False keeps the count fixed even under ``auto`` (compiled kernels keep the
            thread count they were compiled with, so tuning them would measure nothing).
    """
    n = requested(threads)  # first: a bad value is reported before torch loads
    import torch

    global _TUNER
    wait = os.environ.get("OMP_WAIT_POLICY", "OpenMP's default")
    memory = "malloc keeps freed memory" if tune_malloc() else "glibc's malloc defaults"
    if n is not None:
        _TUNER = None
        if n != torch.get_num_threads():
            torch.set_num_threads(n)
        return f"threads {n} (fixed), OMP_WAIT_POLICY {wait}, {memory}"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    options = choices(cores or 1)
    if not tune or len(options) == 1:
        _TUNER = None
        torch.set_num_threads(options[-1])
        return f"threads {options[-1]} (auto, fixed here), OMP_WAIT_POLICY {wait}, {memory}"
    # Start at one thread: on a busy machine a step at more threads can take 100x longer
    # (RESULTS.md), so the first steps are cheap there; on an idle one the tuner climbs
    # 1 -> 2 -> 4 ... within the first seconds.
    start = options[0]
    torch.set_num_threads(start)
    _TUNER = Tuner(options, start, torch.set_num_threads, running=running, cores=cores)
    return (
        f"threads auto ({options[0]}-{options[-1]}, timed while it runs; starts at {start}), "
        f"OMP_WAIT_POLICY {wait}, {memory}"
    )


def summary() -> str | None:
    """How the tuner split the time (None with a fixed count)."""
    return _TUNER.summary() if _TUNER is not None else None


_MALLOC_ENV = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")


def tune_malloc() -> bool:
    """Keep freed memory in the heap (glibc only); True if the setting was applied.

    A training step frees and re-allocates the same large buffers every step; glibc's
    defaults return memory above its trim threshold to the system and serve large blocks
    with fresh mmaps, so each step pays page faults again. Raising the mmap threshold to
    its maximum (32 MiB) and the trim threshold to 1 GiB keeps that memory (measured in
    benchmarks/RESULTS.md, "CPU training step"). Skipped if the user set any of
    glibc's ``MALLOC_*_`` variables, and where the C library is not glibc.
    """
    import ctypes
    import sys

    if not sys.platform.startswith("linux") or any(k in os.environ for k in _MALLOC_ENV):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018 (raises AttributeError unless glibc)
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(libc.mallopt(m_mmap_threshold, 32 << 20)) and bool(
        libc.mallopt(m_trim_threshold, 1 << 30)
    )
