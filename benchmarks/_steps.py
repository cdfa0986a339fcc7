"""What the step benchmarks share (peers.py, loop_parity.py): a genzoo model's bare training
step, the full training loop timed from inside, and rates over a window of steps.

The bare step is the model's own ``training_step`` through its own optimizers, with a
``ctx.optimize`` that zeroes, back-propagates, clips (if asked) and steps: what the loop
does per step minus the loop (Fabric, data order, the finiteness checks, logging,
checkpoints, progress). The loop is :func:`genzoo.train.loop.fit`, the function
``genzoo train`` calls, on an in-memory dataset; each step's start is read by wrapping the
model's ``training_step``, so start-up (Fabric, run directory, compilation) and the final
checkpoint fall outside the window of steps that is timed.
"""

from __future__ import annotations

import contextlib
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from genzoo.config import TrainConfig
from genzoo.models.base import GenerativeModel, StepContext
from genzoo.train import loop as gz_loop


def compile_forward_methods(model: GenerativeModel) -> None:
    """What the loop does with ``--train.compile``: compile each method it routes through
    Fabric (``forward_methods``), as an instance attribute."""
    for method in model.forward_methods:
        object.__setattr__(model, method, torch.compile(getattr(model, method)))


def uncompile_forward_methods(model: GenerativeModel) -> None:
    """Drop the instance attributes :func:`compile_forward_methods` (or the loop) set."""
    for method in model.forward_methods:
        model.__dict__.pop(method, None)


def bare_stepper(
    model: GenerativeModel,
    train: TrainConfig,
    optimizers: dict[str, torch.optim.Optimizer] | None = None,
) -> Callable[[torch.Tensor, torch.Tensor | None, int], dict]:
    """``step(images, labels, i)``: one bare training step of ``model`` (step index ``i``),
    with ``optimizers`` (default: ``model.configure_optimizers(train)``) and clipping of
    each optimizer's parameters' gradient norm at ``train.grad_clip`` (0: none)."""
    opts = optimizers if optimizers is not None else model.configure_optimizers(train)
    params = {k: [p for g in o.param_groups for p in g["params"]] for k, o in opts.items()}

    def optimize(name: str, loss: torch.Tensor) -> None:
        opt = opts[name]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if train.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params[name], train.grad_clip)
        opt.step()

    def step(images: torch.Tensor, labels: torch.Tensor | None, i: int) -> dict:
        return model.training_step(images, labels, StepContext(model, opts, i, optimize))

    return step


def cycle(batches: list[Any]) -> Iterator[Any]:
    """The batches, over and over."""
    while True:
        yield from batches


def now() -> float:
    """perf_counter after the device's queued work is done (CUDA; a plain read on CPU)."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()
    return time.perf_counter()


def time_steps(step: Callable[[int], object], n: int) -> list[float]:
    """Run ``step(0) .. step(n - 1)``; the perf_counter at the start of each, and at the end."""
    stamps = []
    for i in range(n):
        stamps.append(now())
        step(i)
    stamps.append(now())
    return stamps


def for_seconds(step: Callable[[int], object], seconds: float, warmup: int) -> tuple[int, float]:
    """``warmup`` untimed steps, then steps until ``seconds`` have passed; returns
    (timed steps, their seconds)."""
    for i in range(warmup):
        step(i)
    i, start = warmup, time.perf_counter()
    while time.perf_counter() - start < seconds or i == warmup:
        step(i)
        i += 1
    return i - warmup, time.perf_counter() - start


def window_rate(stamps: list[float], first: int, last: int, batch: int) -> float:
    """Images/s over steps ``first .. last - 1`` from per-step start times."""
    return (last - first) * batch / (stamps[last] - stamps[first])


def median_step(stamps: list[float], first: int, last: int) -> float:
    """Median seconds of one step among steps ``first .. last - 1``."""
    return statistics.median(
        b - a for a, b in zip(stamps[first:last], stamps[first + 1 : last + 1], strict=True)
    )


@contextlib.contextmanager
def timed_checkpoints() -> Iterator[list[float]]:
    """Seconds of each checkpoint the loop writes while inside (``_Trainer.checkpoint``)."""
    seconds: list[float] = []
    original = gz_loop._Trainer.checkpoint

    def checkpoint(self: Any, step_done: int) -> None:
        t = time.perf_counter()
        original(self, step_done)
        seconds.append(time.perf_counter() - t)

    gz_loop._Trainer.checkpoint = checkpoint  # type: ignore[method-assign]
    try:
        yield seconds
    finally:
        gz_loop._Trainer.checkpoint = original  # type: ignore[method-assign]


def timed_fit(
    model: GenerativeModel,
    dataset: Any,
    train: TrainConfig,
    run_dir: Path | None = None,
) -> tuple[list[float], list[float]]:
    """Train ``model`` with :func:`genzoo.train.loop.fit` for ``train.steps`` steps.

    Returns:
        The perf_counter at the start of each step (``train.steps`` of them), and the
        seconds of each checkpoint written (the final one included).
    """
    stamps: list[float] = []
    inner = model.training_step

    def training_step(images: torch.Tensor, labels: torch.Tensor | None, ctx: StepContext):
        stamps.append(now())
        return inner(images, labels, ctx)

    object.__setattr__(model, "training_step", training_step)
    try:
        with contextlib.ExitStack() as stack:
            if run_dir is None:
                run_dir = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "run"
            ckpt = stack.enter_context(timed_checkpoints())
            gz_loop.fit(model, dataset, run_dir, train, force=True)
    finally:
        model.__dict__.pop("training_step", None)
    return stamps, ckpt
