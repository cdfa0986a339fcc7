"""The one training loop, on Lightning Fabric.

Fabric owns devices, distributed launch, precision and backward; this loop owns what no
library does for us in the form we need: step-based data order that resumes exactly,
atomic checkpoints loadable without unpickling, periodic sample grids, an EMA of the
weights, and one ``training_step`` hook through which every model family trains.

Exact resume: the data order is a function of (seed, step) alone, and the checkpoint holds
every RNG state, so a run stopped at step k and resumed gives the same weights as one that
never stopped (tests/test_train.py checks this).
"""

from __future__ import annotations

import csv
import math
import random
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning_fabric import Fabric
from lightning_fabric.loggers import TensorBoardLogger
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from genzoo.config import TrainConfig
from genzoo.errors import NonFiniteLossError, UserInputError
from genzoo.models.base import GenerativeModel, StepContext
from genzoo.runs import Run

POINTS_IN_SCATTER = 1000
"""Samples in the periodic scatter of a run on 2-D points."""


class TrainingInterrupted(KeyboardInterrupt):
    """Raised after Ctrl-C, once the checkpoint of the last finished step is saved."""

    def __init__(self, step: int, run_dir: Path) -> None:
        super().__init__(
            f"interrupted at step {step}; checkpoint saved in {run_dir}; continue with --resume"
        )
        self.step = step
        self.run_dir = run_dir


def step_batches(
    n: int, batch_size: int, seed: int, start_step: int, rank: int = 0, world_size: int = 1
) -> Iterator[list[int]]:
    """Index batches for steps ``start_step, start_step + 1, ...`` (endless).

    Epoch ``e`` is a permutation drawn from a generator seeded with (seed, e); step ``s``
    takes batch ``s mod batches_per_epoch`` of epoch ``s div batches_per_epoch``. Each rank
    takes every ``world_size``-th index of the global batch. The last partial batch of an
    epoch is dropped so every step sees ``batch_size`` images.
    """
    per_epoch = n // batch_size
    if per_epoch == 0:
        raise UserInputError(
            f"--train.batch-size {batch_size} exceeds the {n} training examples; lower it"
        )
    step = start_step
    while True:
        epoch, b = divmod(step, per_epoch)
        g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        perm = torch.randperm(n, generator=g)
        for i in range(b, per_epoch):
            batch = perm[i * batch_size : (i + 1) * batch_size]
            yield batch[rank::world_size].tolist()
        step = (epoch + 1) * per_epoch


def _rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python": random.getstate(),
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
    }


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    random.setstate(state["python"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))


class _CsvLog:
    """Appends scalars to logs/metrics.csv (Fabric's CSVLogger rewrites the file, which
    would drop the rows of a run before it was resumed)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def log(self, step: int, metrics: dict[str, float]) -> None:
        new = not self.path.exists()
        with self.path.open("a", newline="") as f:
            w = csv.writer(f)
            if new:
                w.writerow(["step", "name", "value"])
            for k, v in metrics.items():
                w.writerow([step, k, f"{v:.6g}"])


def fit(
    model: GenerativeModel,
    dataset: Dataset,
    out: str | Path,
    train: TrainConfig,
    *,
    data_info: dict[str, Any] | None = None,
    resume: bool = False,
    force: bool = False,
) -> GenerativeModel:
    """Train ``model`` on ``dataset``, writing a run directory at ``out``.

    Args:
        model: a freshly built model (seed torch before building it for reproducibility).
        dataset: any Dataset whose items are ``(image, label)``; label -1 if unlabelled.
        out: the run directory (see :mod:`genzoo.runs`).
        train: loop settings.
        data_info: how the data was specified (stored in run.json, used to resume from the
            command line), e.g. ``{"spec": "fashion-mnist"}``.
        resume: continue the run in ``out`` from its checkpoint.
        force: move an existing run in ``out`` aside and start over.

    Returns:
        The trained model (its raw weights; the export holds the EMA weights if enabled).
    """
    out = Path(out)
    run = Run(out)
    moved = run.claim(resume=resume, force=force)
    if moved is not None:
        print(f"moved the previous contents of {out} to {moved}")
    fabric = Fabric(
        accelerator=train.accelerator,
        devices=_parse_devices(train.devices),
        strategy=train.strategy,
        precision=train.precision,  # type: ignore[arg-type]
        loggers=[TensorBoardLogger(root_dir=out, name="logs", version="tensorboard")],
    )
    fabric.launch()
    raw = model
    optimizers = raw.configure_optimizers(train)
    ema = (
        AveragedModel(raw, multi_avg_fn=get_ema_multi_avg_fn(train.ema_decay), use_buffers=True)
        if train.ema_decay > 0
        else None
    )
    start = 0
    if resume:
        run.check_resumable(raw)
        state = run.load_state()
        raw.load_state_dict(state["model"])
        for name, opt in optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        if ema is not None and state.get("ema") is not None:
            ema.load_state_dict(state["ema"])
        start = int(state["step"])
    elif fabric.is_global_zero:
        run.write_meta(raw, train, data_info or {})

    names = list(optimizers)
    wrapped, *opts = fabric.setup(raw, *optimizers.values())
    optimizers = dict(zip(names, opts, strict=True))
    for method in raw.forward_methods:
        wrapped.mark_forward_method(method)
    if ema is not None:
        ema.to(fabric.device)

    index_batches = step_batches(
        len(dataset), train.batch_size, train.seed, start, fabric.global_rank, fabric.world_size
    )
    loader: Iterable[tuple[torch.Tensor, torch.Tensor]]
    if callable(getattr(dataset, "batch", None)) and train.num_workers == 0:
        # In-memory genzoo datasets index a whole batch at once (ImageDataset.batch).
        loader = (dataset.batch(torch.tensor(b)) for b in index_batches)  # type: ignore[attr-defined]
    else:
        loader = DataLoader(dataset, batch_sampler=index_batches, num_workers=train.num_workers)
    csv_log = _CsvLog(out / "logs" / "metrics.csv")
    last_norm: dict[str, float] = {}

    def optimize(name: str, loss: torch.Tensor) -> None:
        if not torch.isfinite(loss):
            raise NonFiniteLossError(
                f"the loss became {loss.item()} at step {step}; lower --train.lr or set "
                f"--train.grad-clip (the last checkpoint in {out} is intact; --resume from it)"
            )
        opt = optimizers[name]
        opt.zero_grad(set_to_none=True)
        fabric.backward(loss)
        # Fabric clips the norm of this optimizer's own parameters' gradients; with
        # --train.grad-clip 0 it only measures it (max_norm inf), on logged steps.
        if train.grad_clip > 0 or (step + 1) % train.log_every == 0:
            clip = train.grad_clip if train.grad_clip > 0 else math.inf
            norm = fabric.clip_gradients(
                wrapped, opt, max_norm=clip, error_if_nonfinite=train.grad_clip > 0
            )
            last_norm[f"grad_norm/{name}"] = float(norm)
        opt.step()

    def checkpoint(step_done: int) -> None:
        if not fabric.is_global_zero:
            return
        state = {
            "step": step_done,
            "model": raw.state_dict(),
            "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
            "ema": ema.state_dict() if ema is not None else None,
            "rng": _rng_state(),
        }
        run.save_state(state, raw, ema.module.state_dict() if ema is not None else None)

    bar = tqdm(
        total=train.steps,
        initial=start,
        disable=not (train.progress and fabric.is_global_zero),
        unit="step",
        dynamic_ncols=True,
    )
    step = start
    deadline = time.monotonic() + 60 * train.max_minutes if train.max_minutes else math.inf
    wrapped.train()
    batches = iter(loader)  # draws a seed from the global RNG, so restore RNG states after it
    if resume:
        _set_rng_state(state["rng"])
    try:
        while step < train.steps:
            images, labels = next(batches)
            images, labels = fabric.to_device(images), fabric.to_device(labels)
            ctx = StepContext(model=wrapped, optimizers=optimizers, step=step, optimize=optimize)
            logs = raw.training_step(images, labels, ctx)
            if ema is not None:
                ema.update_parameters(raw)
            step += 1
            bar.update(1)
            if step % train.log_every == 0 or step == train.steps:
                scalars = {k: float(v.detach()) for k, v in logs.items()} | last_norm
                fabric.log_dict(scalars, step=step)
                if fabric.is_global_zero:
                    csv_log.log(step, scalars)
                shown = {k: f"{v:.4g}" for k, v in scalars.items() if "/" not in k}
                rate = (bar.format_dict.get("rate") or 0.0) * train.batch_size
                bar.set_postfix(shown | {"img/s": f"{rate:.0f}"})
            if train.sample_every and step % train.sample_every == 0 and fabric.is_global_zero:
                sampler = ema.module if ema is not None else raw
                _sample_grid(sampler, train, out, step, getattr(dataset, "log_prob", None))
            out_of_time = fabric.broadcast(time.monotonic() > deadline)  # ranks agree
            if step % train.checkpoint_every == 0 or step == train.steps or out_of_time:
                checkpoint(step)
            if out_of_time:
                bar.write(
                    f"stopped at step {step}: --train.max-minutes {train.max_minutes} reached"
                )
                break
    except KeyboardInterrupt:
        bar.close()
        if not isinstance(step, int) or step <= start:
            raise
        checkpoint(step)
        raise TrainingInterrupted(step, out) from None
    bar.close()
    fabric.logger.finalize("success")
    return raw


def _sample_grid(
    model: GenerativeModel,
    train: TrainConfig,
    out: Path,
    step: int,
    log_density: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> None:
    """Write a grid of samples (fixed generator, so grids are comparable across steps).

    2-D points are drawn instead as a scatter of at least ``POINTS_IN_SCATTER`` samples
    over the data's density (``log_density``, e.g. a PointDataset's ``log_prob``).
    """
    points = model.data.kind == "points"
    was_training = model.training
    model.eval()
    device = model.device
    g = torch.Generator(device).manual_seed(train.seed)
    n = max(train.num_samples, POINTS_IN_SCATTER) if points else train.num_samples
    labels = None
    if model.conditional and model.data.num_classes:
        labels = torch.arange(n, device=device) % model.data.num_classes
    images = model.sample(n, labels=labels, generator=g)
    path = out / "samples" / f"step_{step:07d}.png"
    if points:
        from genzoo.viz.points import save_scatter

        title = f"{model.name}, step {step}: {n} samples over the data density"
        save_scatter(images, path, labels=labels, log_density=log_density, title=title)
    else:
        from genzoo.viz import save_grid

        save_grid(images, path, nrow=int(math.sqrt(n)))
    model.train(was_training)


def _parse_devices(devices: str) -> int | str | list[int]:
    """'2' -> 2, '0,1' -> [0, 1], 'auto' -> 'auto'."""
    devices = devices.strip()
    if devices == "auto":
        return devices
    if "," in devices:
        return [int(d) for d in devices.split(",") if d]
    try:
        return int(devices)
    except ValueError:
        raise UserInputError(
            f"--train.devices {devices!r} is not a count, a list like '0,1', or 'auto'"
        ) from None
