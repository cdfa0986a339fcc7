"""The thread policy: the tuner chooses the faster thread count by timing steps, leaves a
collapsed setting after one slow step, follows the load when it changes, and is off
wherever a user (or the test suite) fixed the count."""

from __future__ import annotations

import os

import pytest

from genzoo import progress, threads
from genzoo.errors import UserInputError


class Machine:
    """A fake CPU: each step takes ``cost[threads]`` seconds on a fake clock."""

    def __init__(self, cost: dict[int, float], threads: int = 1) -> None:
        self.cost, self.threads, self.now = cost, threads, 0.0
        self.history: list[int] = []

    def set_threads(self, n: int) -> None:
        self.threads = n

    def clock(self) -> float:
        return self.now

    def run(self, tuner: threads.Tuner, steps: int, key: str = "train") -> None:
        for _ in range(steps):
            self.now += self.cost[self.threads]
            self.history.append(self.threads)
            tuner.tick(key)


def _tuner(machine: Machine, options=(1, 2), **kw) -> threads.Tuner:
    return threads.Tuner(options, machine.threads, machine.set_threads, clock=machine.clock, **kw)


def test_idle_machine_climbs_to_two_threads_at_once_and_trials_cost_little():
    m = Machine({2: 1.0, 1: 1.7})
    tuner = _tuner(m)
    m.run(tuner, 2000)
    assert tuner.current == 2 and tuner.kept == 1 and tuner.trials >= 4
    assert m.history.index(2) <= 6  # five steps to measure, then the trial
    lost = sum(m.cost[t] - m.cost[2] for t in m.history) / m.now
    assert lost < 0.015  # short trials, backing off: 10, 20, 40, ... 300 s apart
    assert tuner.summary().startswith("2 threads 9")


def test_many_cores_climb_in_a_row_to_the_fastest_count():
    m = Machine({1: 8.0, 2: 4.2, 4: 2.3, 8: 1.5, 16: 1.6})
    tuner = _tuner(m, options=(1, 2, 4, 8, 16))
    m.run(tuner, 40)
    assert tuner.current == 8
    m.run(tuner, 2000)
    assert tuner.current == 8 and tuner.summary().startswith("8 threads 9")


def test_busy_machine_stays_off_the_collapsed_setting_and_a_trial_of_it_costs_one_step():
    m = Machine({2: 50.0, 1: 2.0})  # two spinning threads on shared cores: 25x slower
    tuner = _tuner(m)
    m.run(tuner, 4000)
    assert tuner.current == 1 and tuner.trials >= 2 and tuner.kept == 0
    for i in range(1, len(m.history) - 1):  # each trial of two threads ends after one step
        if m.history[i] == 2:
            assert m.history[i - 1] == 1 and m.history[i + 1] == 1
    lost = sum(m.cost[t] - m.cost[1] for t in m.history) / m.now
    assert lost < 0.05  # failed trials are spaced out by their cost


def test_the_tuner_follows_the_load_when_it_changes():
    m = Machine({2: 1.0, 1: 1.7})
    tuner = _tuner(m)
    m.run(tuner, 200)
    assert tuner.current == 2
    m.cost = {2: 40.0, 1: 2.5}  # another job starts
    start = len(m.history)
    m.run(tuner, 100)
    assert tuner.current == 1
    assert m.history[start:].index(1) <= 6  # at once, not at the next scheduled trial
    m.cost = {2: 1.0, 1: 1.7}  # the job ends
    m.run(tuner, 3000)
    assert tuner.current == 2
    back = m.history.index(2, start + 100)
    # back within the wait that keeps failed trials at <= 2% of the time (50 x one 40-s step)
    assert sum(m.cost[t] for t in m.history[start + 100 : back]) < 50 * 40.0 + 10


def test_a_noisy_busy_machine_does_not_trigger_costly_trials_one_after_another():
    import random

    rng = random.Random(0)
    m = Machine({2: 60.0, 1: 1.0})

    tuner = _tuner(m)
    for _ in range(5000):  # step times at one thread vary 0.5x-2x from step to step
        m.cost = {2: 60.0, 1: rng.choice([0.5, 1.0, 2.0])}
        m.run(tuner, 1)
    collapsed = m.history.count(2) * 60.0
    assert collapsed / m.now < 0.03  # each one-step trial (60 s) waits 3000 s for the next


def test_more_threads_are_not_tried_while_other_tasks_hold_the_cores():
    m = Machine({2: 60.0, 1: 1.0})
    others = [1]
    tuner = _tuner(m, running=lambda: others[0] + m.threads, cores=2)
    m.run(tuner, 3000)
    assert 2 not in m.history and tuner.trials == 0  # no collapsed step paid at all
    others[0] = 0  # the other job ended
    m.cost = {2: 0.5, 1: 1.0}
    m.run(tuner, 3000)
    assert tuner.current == 2


def test_the_tuners_own_threads_do_not_count_as_other_tasks():
    """On 4 idle cores the tuner at 2 threads sees 2 running tasks: its own. It must still
    try (and keep) 4, which it would not if it took them for other jobs."""
    m = Machine({1: 4.0, 2: 2.0, 4: 1.0})
    tuner = _tuner(m, options=(1, 2, 4), running=lambda: m.threads, cores=4)
    m.run(tuner, 200)
    assert tuner.current == 4


def test_running_reads_the_machine():
    n = threads.running()
    assert n is None or n >= 1  # this test's own process is running


def test_a_small_difference_is_not_worth_a_switch():
    m = Machine({2: 1.0, 1: 1.02})  # within the 5% margin
    tuner = _tuner(m)
    m.run(tuner, 500)
    assert tuner.current == 1 and tuner.kept == 0


def test_a_new_kind_of_step_ends_a_trial_without_a_verdict():
    m = Machine({2: 1.0, 1: 0.5}, threads=2)
    tuner = _tuner(m)
    m.run(tuner, 6)  # five measured steps: the trial of one thread starts
    assert tuner.trial == 1 and m.threads == 1
    m.run(tuner, 1, key="sampler")  # e.g. a sample grid's pixels between training steps
    assert tuner.trial is None and m.threads == 2 and tuner.current == 2
    m.run(tuner, 20, key="sampler")
    assert tuner.current == 1  # measured afresh on the new kind of step, and kept


def test_each_kind_of_step_resumes_at_the_count_chosen_for_it():
    """Training steps prefer two threads, a sample grid's tiny per-pixel steps one: after
    the first round of each, returning to a kind restores its count without a new climb."""
    m = Machine({2: 1.0, 1: 1.7})
    tuner = _tuner(m)
    m.run(tuner, 30, key="train")
    assert tuner.current == 2
    m.cost = {2: 0.5, 1: 0.1}
    m.run(tuner, 30, key="pixels")
    assert tuner.current == 1
    m.cost = {2: 1.0, 1: 1.7}
    start = len(m.history)
    m.run(tuner, 10, key="train")
    assert m.history[start + 1 :] == [2] * 9  # back at two threads from its second step
    m.cost = {2: 0.5, 1: 0.1}
    start = len(m.history)
    m.run(tuner, 10, key="pixels")
    assert m.history[start + 1 :] == [1] * 9


def test_tiny_noisy_steps_of_equal_cost_do_not_make_the_tuner_switch_back_and_forth():
    import random

    rng = random.Random(1)
    m = Machine({2: 2.5e-4, 1: 2.5e-4})  # a sample grid's per-pixel steps: a toss-up
    tuner = _tuner(m)
    for _ in range(40000):  # 10 s of steps, each 0.5x-2x its typical time at random
        m.cost = {n: 2.5e-4 * rng.choice([0.5, 1.0, 1.0, 2.0]) for n in (1, 2)}
        m.run(tuner, 1, key="pixels")
    assert tuner.kept <= 1  # medians over >= 0.05 s of steps, not 5 noisy ones


class _Recorder:
    def __init__(self) -> None:
        self.keys: list = []

    def tick(self, key=None) -> None:
        self.keys.append(key)


def test_the_work_ticks_the_tuner_and_bars_do_not(monkeypatch, tmp_path):
    import torch

    from genzoo.config import TrainConfig
    from genzoo.registry import create_model
    from genzoo.train.loop import fit

    rec = _Recorder()
    monkeypatch.setattr(threads, "_TUNER", rec)
    b = progress.bar(3, "work", disable=True)
    b.update(1)
    assert rec.keys == []  # a bar only draws
    progress.advance()  # a sampler's unit of work, tracked or not
    with progress.tracking():
        progress.start(5, "pixel")
        progress.advance()
    assert rec.keys == ["sampler", "sampler"]

    class Binary(torch.utils.data.Dataset):
        kind, image_shape, num_classes, name = "binary", (1, 4, 4), None, "tiny"

        def __len__(self) -> int:
            return 8

        def __getitem__(self, i: int):
            return ((torch.arange(16).reshape(1, 4, 4) + i) % 3 == 0).to(torch.uint8), -1

    rec.keys.clear()
    model = create_model("fvsbn", image_shape=(1, 4, 4), kind="binary")
    train = TrainConfig(steps=3, batch_size=4, sample_every=0, progress=False, accelerator="cpu")
    fit(model, Binary(), tmp_path / "run", train)
    assert rec.keys.count("train") == 3  # the loop ticks once per step


def test_a_library_run_keeps_pytorchs_thread_setting_unless_it_asks(monkeypatch):
    """Only the command line (``thread_policy=True``) or a fixed ``train.threads`` applies
    genzoo's policy; a Python user's ``train_run`` leaves torch's count alone."""
    import torch

    from genzoo.train import session

    applied = []
    monkeypatch.setattr(threads, "apply", lambda n=None, tune=True: applied.append(n) or "x")

    class Stop(Exception):
        pass

    def no_data(*a, **k):
        raise Stop

    monkeypatch.setattr("genzoo.data.load_dataset", no_data)
    from genzoo.config import TrainConfig
    from genzoo.runs import Run

    for policy, count, expected in ((False, 0, []), (True, 0, [None]), (False, 2, [2])):
        applied.clear()
        with pytest.raises(Stop):
            session.train_run(
                "fvsbn", None, TrainConfig(threads=count), {"spec": "x"}, Run("unused"),
                thread_policy=policy,
            )  # fmt: skip
        assert applied == expected
    assert torch.get_num_threads() >= 1


def test_apply_fixed_auto_and_compiled(monkeypatch):
    import torch

    before = torch.get_num_threads()
    try:
        assert "fixed" in threads.apply(1) and threads.tuner() is None
        monkeypatch.setenv("GENZOO_THREADS", "auto")
        policy = threads.apply()
        if len(threads.choices(len(os.sched_getaffinity(0)))) > 1:
            assert "auto" in policy and threads.tuner() is not None
            threads.apply(tune=False)  # --train.compile: compiled kernels fix the count
            assert threads.tuner() is None
        monkeypatch.setenv("GENZOO_THREADS", "3")
        threads.apply()
        assert threads.tuner() is None and torch.get_num_threads() == 3
        for bad in ("many", "-2"):
            monkeypatch.setenv("GENZOO_THREADS", bad)
            with pytest.raises(UserInputError, match="GENZOO_THREADS"):
                threads.apply()
    finally:
        threads._TUNER = None
        torch.set_num_threads(before)


def test_choices():
    assert threads.choices(1) == [1]
    assert threads.choices(2) == [1, 2]
    assert threads.choices(6) == [1, 2, 4, 6]
    assert threads.choices(8) == [1, 2, 4, 8]


def test_malloc_setting_applies_on_glibc_and_a_users_malloc_variables_win(monkeypatch):
    import ctypes
    import sys

    for k in threads._MALLOC_ENV:
        monkeypatch.delenv(k, raising=False)
    try:
        ctypes.CDLL("libc.so.6").gnu_get_libc_version  # noqa: B018
        glibc = sys.platform.startswith("linux")
    except (OSError, AttributeError):
        glibc = False
    assert threads.tune_malloc() is glibc
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "131072")
    assert threads.tune_malloc() is False
