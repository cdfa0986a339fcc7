"""The one training loop, on Lightning Fabric.

Fabric owns devices, distributed launch, precision and backward; this loop owns what no
library does for us in the form we need: step-based data order that resumes exactly,
atomic checkpoints loadable without unpickling, periodic sample grids, an EMA of the
weights, and one ``training_step`` hook through which every model family trains.

Exact resume: the data order is a function of (seed, step) alone, and the checkpoint holds
every RNG state, so a run stopped at step k and resumed gives the same weights as one that
never stopped, at a fixed thread count on the same device (another thread count rounds sums
differently; tests/test_train.py and tests/test_reliability.py check this).
"""

from __future__ import annotations

import contextlib
import csv
import math
import random
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning_fabric import Fabric
from lightning_fabric.loggers import TensorBoardLogger
from torch.optim.swa_utils import AveragedModel
from torch.utils.data import DataLoader, Dataset

from genzoo import threads
from genzoo.config import TrainConfig
from genzoo.data.datasets import GenzooDataset
from genzoo.errors import GenzooError, NonFiniteLossError, UserInputError
from genzoo.models.base import GenerativeModel, StepContext
from genzoo.progress import bar as progress_bar
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


def check_batch_size(n: int, batch_size: int) -> int:
    """The number of whole batches in an epoch of ``n`` examples; refuses a batch larger
    than the data (no step could see a whole batch)."""
    per_epoch = n // batch_size if batch_size > 0 else 0
    if per_epoch == 0:
        raise UserInputError(
            f"--train.batch-size {batch_size} exceeds the {n} training examples; lower it"
        )
    return per_epoch


def step_batches(
    n: int,
    batch_size: int,
    seed: int,
    start_step: int,
    rank: int = 0,
    world_size: int = 1,
    *,
    tensors: bool = False,
) -> Iterator[list[int]] | Iterator[torch.Tensor]:
    """Index batches for steps ``start_step, start_step + 1, ...`` (endless).

    Epoch ``e`` is a permutation drawn from a generator seeded with (seed, e); step ``s``
    takes batch ``s mod batches_per_epoch`` of epoch ``s div batches_per_epoch``. Each rank
    takes every ``world_size``-th index of the global batch. The last partial batch of an
    epoch is dropped so every step sees ``batch_size`` images. Batches are lists of ints
    (a DataLoader's batch sampler), or int64 tensors with ``tensors``.
    """
    per_epoch = check_batch_size(n, batch_size)
    step = start_step
    while True:
        epoch, b = divmod(step, per_epoch)
        g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        perm = torch.randperm(n, generator=g)
        for i in range(b, per_epoch):
            batch = perm[i * batch_size : (i + 1) * batch_size]
            mine = batch[rank::world_size]  # (batch_size // world_size,) int64
            yield mine if tensors else mine.tolist()
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
    note: str | None = None,
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
        note: a sentence stored in a new run's run.json (``genzoo report`` prints it beside
            the run's samples); a resumed run keeps its own.

    Returns:
        The trained model (its raw weights; the export holds the EMA weights if enabled).

    Raises:
        RunBusyError: another process trains in ``out``.
        NonFiniteLossError: the loss, a gradient or the weights became NaN or infinite; the
            last finite checkpoint is kept.
        TrainingInterrupted: Ctrl-C or SIGTERM, after the checkpoint of the last step.
    """
    run = Run(out)
    if not resume:  # refused before the folder is touched (a resume keeps its own batch)
        check_batch_size(len(dataset), train.batch_size)  # type: ignore[arg-type]
    moved = run.claim(resume=resume, force=force)
    if moved is not None:
        print(f"moved the previous contents of {run.path} to {moved}")
    existed = run.path.exists()  # for a new run: absent, or empty (claim checked)
    fabric = _fabric(train, run.path)
    fabric.launch()
    lock = run.lock() if fabric.is_global_zero else contextlib.nullcontext()
    with lock, _StopSignals() as stop:
        trainer: _Trainer | None = None
        try:
            trainer = _Trainer(model, train, fabric, run, stop)
            start = 0
            if resume and run.checkpoint_path.is_file():
                run.check_resumable(model)
                start = trainer.restore(run.load_state())
            elif resume:  # stopped before its first checkpoint: the same run, from step 0
                run.check_resumable(model)
            elif fabric.is_global_zero:
                run.write_meta(model, train, data_info or {}, note)
            trainer.setup()
            trainer.loop(dataset, start)
        except GenzooError as e:
            # A new run refused before its first step leaves nothing behind: a plain rerun
            # with other settings accepts the folder. (A divergence keeps what it says.)
            refused = trainer is None or (trainer.step == 0 and trainer.last_saved is None)
            refused = refused and not isinstance(e, NonFiniteLossError)
            if not resume and refused and fabric.is_global_zero:
                with contextlib.suppress(Exception):
                    fabric.logger.finalize("failed")  # close the event file first
                run.discard_start(keep_folder=existed)
            raise
    return model


def _fabric(train: TrainConfig, out: Path) -> Fabric:
    """Lightning Fabric for the loop's settings; a one-line error for ones it refuses."""
    try:
        return Fabric(
            accelerator=train.accelerator,
            devices=_parse_devices(train.devices),
            strategy=train.strategy,
            precision=train.precision,  # type: ignore[arg-type]
            loggers=[TensorBoardLogger(root_dir=out, name="logs", version="tensorboard")],
        )
    except (ValueError, RuntimeError) as e:  # Fabric's MisconfigurationException et al.
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserInputError(
            f"Lightning Fabric refuses --train.accelerator {train.accelerator} --train.devices "
            f"{train.devices} --train.strategy {train.strategy} --train.precision "
            f"{train.precision}: {first}"
        ) from None


class _StopSignals:
    """Ctrl-C (SIGINT) and SIGTERM (schedulers, ``timeout``, ``docker stop``, SLURM) ask
    the loop to stop after the step in progress, which is then checkpointed: a signal
    that landed between a step's optimizer update and its bookkeeping would otherwise
    save weights of one step under the number of the one before. A second signal stops at
    once, without a checkpoint."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.requested: str | None = None
        self._previous: dict[int, Any] = {}

    def _handler(self, signum: int, frame: Any) -> None:
        if self.requested is not None:
            raise KeyboardInterrupt("stopped at once by a second signal")
        self.requested = signal.Signals(signum).name

    def __enter__(self) -> _StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)


EMA_WARMUP = 10
"""The warm-up of the weight average: the decay at update t is min(decay, (1 + t) / (10 + t))."""


def ema_with_warmup(decay: float) -> Callable[[list, list, torch.Tensor], None]:
    """The update of an exponential moving average of the weights, with a warm-up.

    The decay at update t (t = 1, 2, ... as ``AveragedModel`` counts them) is
    ``min(decay, (1 + t) / (10 + t))``, the ``num_updates`` rule of TensorFlow's
    ``ExponentialMovingAverage`` (as timm's ModelEmaV2 warm-up): early averages follow the
    weights, and from t ~ 10 / (1 - decay) the decay is the configured one.

    Written here because torch's ``get_ema_multi_avg_fn`` keeps a fixed decay: a run of t
    steps then still holds decay^t of its first weights (0.999^2566 = 7.7%), and an
    average that mixes in an untrained network is far worse than the weights it averages
    (a PixelCNN++ after 2,566 steps: 3.205 bits/dim with it, 2.908 without). Integer
    buffers (counters, flags) take the current value. The decay is computed on the
    weights' device, so the update never waits for it (no host sync per step).
    """

    @torch.no_grad()
    def update(averaged: list, current: list, num_averaged: torch.Tensor) -> None:
        if not (torch.is_floating_point(averaged[0]) or torch.is_complex(averaged[0])):
            torch._foreach_copy_(averaged, current)
            return
        t = num_averaged.float()  # a 0-dim tensor on the weights' device
        d = torch.clamp((1.0 + t) / (EMA_WARMUP + t), max=decay)
        w = (1.0 - d).to(averaged[0].dtype)
        torch._foreach_lerp_(averaged, current, [w] * len(averaged))  # a += (1 - d) (c - a)

    return update


def _all_finite(tensors: Iterable[Any]) -> bool:
    return all(
        bool(torch.isfinite(t).all())
        for t in tensors
        if torch.is_tensor(t) and t.is_floating_point()
    )


class _Trainer:
    """The state of one training session: the model and its Fabric wrapper, optimizers,
    EMA, logs; :meth:`loop` is the step loop of :func:`fit`."""

    def __init__(
        self,
        model: GenerativeModel,
        train: TrainConfig,
        fabric: Fabric,
        run: Run,
        stop: _StopSignals | None = None,
    ) -> None:
        self.raw, self.train, self.fabric, self.run = model, train, fabric, run
        self.stop = stop or _StopSignals()
        self.optimizers = model.configure_optimizers(train)
        self.ema = (
            AveragedModel(model, multi_avg_fn=ema_with_warmup(train.ema_decay), use_buffers=True)
            if train.ema_decay > 0
            else None
        )
        self.rng: dict[str, Any] | None = None
        self.last_saved: int | None = None
        self.seconds_before = 0.0  # training time of earlier sessions of this run
        self.session_start = time.monotonic()
        self.session_first_step = 0
        self.dataset_size = 0
        self.last_norm: dict[str, float] = {}
        self.step = 0

    # -- state ----------------------------------------------------------------------

    def restore(self, state: dict[str, Any]) -> int:
        """Load a checkpoint's state; returns its step. The learning rates of the
        optimizers are this session's (a resume may lower them), everything else the
        checkpoint's."""
        self.raw.load_state_dict(state["model"])
        for name, opt in self.optimizers.items():
            lrs = [g["lr"] for g in opt.param_groups]
            opt.load_state_dict(state["optimizers"][name])
            for group, lr in zip(opt.param_groups, lrs, strict=True):
                group["lr"] = lr
        if self.ema is not None and state.get("ema") is not None:
            self.ema.load_state_dict(state["ema"])
        self.rng = state["rng"]
        self.last_saved = int(state["step"])
        self.seconds_before = float((state.get("training") or {}).get("seconds", 0.0))
        return int(state["step"])

    def setup(self) -> None:
        """Hand the model and optimizers to Fabric (after any restore); with
        ``train.compile``, compile the methods the loop calls through Fabric."""
        names = list(self.optimizers)
        self.wrapped, *opts = self.fabric.setup(self.raw, *self.optimizers.values())
        self.optimizers = dict(zip(names, opts, strict=True))
        for method in self.raw.forward_methods:
            self.wrapped.mark_forward_method(method)
        if self.train.compile:  # after marking: Fabric checks that they are methods
            for method in self.raw.forward_methods:
                compiled = torch.compile(getattr(self.raw, method))
                object.__setattr__(self.raw, method, compiled)  # an instance attribute
        if self.ema is not None:
            self.ema.to(self.fabric.device)

    def _diverged(self, what: str) -> NonFiniteLossError:
        out, lr = self.run.path, self.train.lr
        if self.last_saved is None:
            keep = (
                "no checkpoint was written yet: start again with --force and a lower "
                f"--train.lr (e.g. {lr / 10:g}) or --train.grad-clip 1"
            )
        else:
            keep = (
                f"the last finite checkpoint (step {self.last_saved}) in {out} is kept: continue "
                f"from it with --resume --train.lr {lr / 10:g}, or set --train.grad-clip"
            )
        return NonFiniteLossError(f"{what} at step {self.step}; {keep}")

    def checkpoint(self, step_done: int) -> None:
        """Save the state of ``step_done`` steps and refresh the export, never non-finite
        weights or optimizer state (the last finite checkpoint is kept instead)."""
        if not self.fabric.is_global_zero:
            return
        optim_states = {k: o.state_dict() for k, o in self.optimizers.items()}
        tensors = [*self.raw.state_dict().values()]
        for st in optim_states.values():
            for per_param in st["state"].values():
                tensors += list(per_param.values())
        if not _all_finite(tensors):
            self.step = step_done - 1
            raise self._diverged("the weights or optimizer state became non-finite")
        seen = step_done * self.train.batch_size
        training = {
            "seconds": round(self.seconds_before + time.monotonic() - self.session_start, 1),
            "epochs": round(seen / self.dataset_size, 3) if self.dataset_size else None,
            "batch_size": self.train.batch_size,
        }
        state = {
            "step": step_done,
            "model": self.raw.state_dict(),
            "optimizers": optim_states,
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "rng": _rng_state(),
            "training": training,
        }
        weights = self.ema.module.state_dict() if self.ema is not None else None
        self.run.save_state(state, self.raw, weights, training)
        self.last_saved = step_done

    @contextlib.contextmanager
    def writing(self, what: str) -> Iterator[None]:
        """Turn the file system refusing a write of ``what`` (a full disk) into one line."""
        try:
            yield
        except (OSError, RuntimeError) as e:
            error = self.run.write_error(what, e)
            if error is None:
                raise
            raise error from e

    # -- one step ---------------------------------------------------------------------

    def optimize(self, name: str, loss: torch.Tensor) -> None:
        """Zero, back-propagate, clip and step one optimizer (the models' ``ctx.optimize``)."""
        train = self.train
        value = float(loss.detach())  # one read (an isfinite kernel and a read: 20x the time)
        if not math.isfinite(value):
            raise self._diverged(f"the loss became {value}")
        opt = self.optimizers[name]
        opt.zero_grad(set_to_none=True)
        self.fabric.backward(loss)
        # Fabric clips the norm of this optimizer's own parameters' gradients; with
        # --train.grad-clip 0 it only measures it (max_norm inf), on logged steps.
        if train.grad_clip > 0 or (self.step + 1) % train.log_every == 0:
            clip = train.grad_clip if train.grad_clip > 0 else math.inf
            try:
                norm = self.fabric.clip_gradients(
                    self.wrapped, opt, max_norm=clip, error_if_nonfinite=train.grad_clip > 0
                )
            except RuntimeError as e:
                if "non-finite" not in str(e):
                    raise
                raise self._diverged(f"the gradient norm of '{name}' became non-finite") from None
            self.last_norm[f"grad_norm/{name}"] = float(norm)
        opt.step()

    def _batches(self, dataset: Dataset, start: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        fabric, train = self.fabric, self.train
        order = (len(dataset), train.batch_size, train.seed, start)
        ranks = (fabric.global_rank, fabric.world_size)
        if isinstance(dataset, GenzooDataset) and train.num_workers == 0:
            # In-memory genzoo datasets index a whole batch at once (ImageDataset.batch);
            # any other map-style torch Dataset goes through a DataLoader.
            indices = step_batches(*order, *ranks, tensors=True)
            return (dataset.batch(b) for b in indices)  # type: ignore[attr-defined]
        index_batches = step_batches(*order, *ranks)
        loader = DataLoader(dataset, batch_sampler=index_batches, num_workers=train.num_workers)
        return iter(loader)  # draws a seed from the global RNG: RNG states are restored after

    def _log(self, logs: dict[str, torch.Tensor], bar: Any, csv_log: _CsvLog) -> None:
        scalars = {k: float(v.detach()) for k, v in logs.items()} | self.last_norm
        self.fabric.log_dict(scalars, step=self.step)
        if self.fabric.is_global_zero:
            with self.writing("logs/metrics.csv"):
                csv_log.log(self.step, scalars)
        shown = {k: f"{v:.4g}" for k, v in scalars.items() if "/" not in k}
        elapsed = time.monotonic() - self.session_start
        done = self.step - self.session_first_step
        rate = done * self.train.batch_size / elapsed if elapsed > 0 else 0.0
        # no redraw of its own: a bar that is not on a terminal prints on its own schedule
        bar.set_postfix(shown | {"img/s": f"{rate:.0f}"}, refresh=False)

    def loop(self, dataset: Dataset, start: int) -> None:
        """Steps ``start`` .. ``train.steps``: step, EMA, log, sample grid, checkpoint."""
        fabric, train, raw, out = self.fabric, self.train, self.raw, self.run.path
        self.dataset_size = len(dataset)  # type: ignore[arg-type]
        self.session_start = time.monotonic()
        self.session_first_step = start
        csv_log = _CsvLog(out / "logs" / "metrics.csv")
        bar = progress_bar(
            train.steps, "training", "step", initial=start,
            disable=not (train.progress and fabric.is_global_zero),
        )  # fmt: skip
        self.step = start
        deadline = time.monotonic() + 60 * train.max_minutes if train.max_minutes else math.inf
        self.wrapped.train()
        batches = self._batches(dataset, start)
        if self.rng is not None:
            _set_rng_state(self.rng)
        if start >= train.steps and fabric.is_global_zero:
            self.checkpoint(start)  # nothing to train: the export is made from the checkpoint
        if fabric.is_global_zero:
            _ = fabric.logger.experiment  # open the TensorBoard writer now, not at the first log
        if train.compile:  # torch.compile works during the first step: tens of seconds
            bar.set_description("training (compiling the first step)", refresh=True)
        try:
            while self.step < train.steps:
                images, labels = next(batches)
                images, labels = fabric.to_device(images), fabric.to_device(labels)
                ctx = StepContext(
                    model=self.wrapped, optimizers=self.optimizers, step=self.step,
                    optimize=self.optimize, world_size=fabric.world_size, rank=fabric.global_rank,
                )  # fmt: skip
                logs = raw.training_step(images, labels, ctx)
                if self.ema is not None:
                    self.ema.update_parameters(raw)
                self.step += 1
                threads.tick("train")
                if train.compile and self.step == start + 1:
                    bar.set_description("training", refresh=False)
                bar.update(1)
                step = self.step
                if step % train.log_every == 0 or step == train.steps:
                    if not _all_finite(raw.parameters()):
                        self.step -= 1
                        raise self._diverged("the weights became non-finite")
                    self._log(logs, bar, csv_log)
                if train.sample_every and step % train.sample_every == 0 and fabric.is_global_zero:
                    sampler = self.ema.module if self.ema is not None else raw
                    with self.writing("a sample grid"):
                        density = dataset.log_prob if isinstance(dataset, GenzooDataset) else None
                        _sample_grid(sampler, train, out, step, density)
                out_of_time = fabric.broadcast(time.monotonic() > deadline)  # ranks agree
                stop = fabric.broadcast(self.stop.requested is not None)
                if step % train.checkpoint_every == 0 or step == train.steps or out_of_time or stop:
                    self.checkpoint(step)
                if stop:
                    raise TrainingInterrupted(step, out)
                if out_of_time:
                    bar.write(
                        f"stopped at step {step}: --train.max-minutes {train.max_minutes} reached"
                    )
                    break
        except KeyboardInterrupt as e:
            if isinstance(e, TrainingInterrupted):
                raise
            last = "none yet" if self.last_saved is None else f"step {self.last_saved}"
            raise KeyboardInterrupt(
                f"stopped during step {self.step + 1}; the last checkpoint ({last}) in {out} "
                "is intact: continue with --resume"
            ) from None
        finally:
            bar.close()
        fabric.logger.finalize("success")


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
    points = model.data.is_points
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
        from genzoo.viz.grid import readable_scale

        save_grid(images, path, nrow=int(math.sqrt(n)), scale=readable_scale(images.shape[-1]))
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
