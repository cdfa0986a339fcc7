"""Typed, frozen configuration dataclasses: one place for every setting genzoo reads.

This module imports nothing heavy (no torch), so the command line can build its options
from these classes and answer ``--help`` at once. The command line is generated from the
fields and their docstrings by `tyro`; recipe files (TOML) give defaults that dotted
command-line options override (``--model.hidden-channels 64``, ``--train.lr 3e-4``).

Each model family adds its config class here and one line in :mod:`genzoo.registry`.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from genzoo.errors import UserInputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

DataKind = Literal["8bit", "binary", "points"]


@dataclass(frozen=True)
class DataSpec:
    """What a model needs to know about its data; filled in from the dataset at train time.

    Attributes:
        image_shape: (C, H, W) for images, (2,) for 2-D points.
        kind: "8bit" (values 0..255), "binary" (values 0/1) or "points" (float vectors).
        num_classes: number of classes for conditional models, else None.
    """

    image_shape: tuple[int, ...] = (1, 28, 28)
    kind: DataKind = "8bit"
    num_classes: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("8bit", "binary", "points"):
            raise UserInputError(
                f"unknown data kind {self.kind!r}; use '8bit', 'binary' or 'points'"
            )
        if not self.image_shape or any(int(s) <= 0 for s in self.image_shape):
            raise UserInputError(f"image_shape must be positive sizes, got {self.image_shape}")
        object.__setattr__(self, "image_shape", tuple(int(s) for s in self.image_shape))

    @property
    def num_dims(self) -> int:
        """Number of scalar dimensions D of one example (C*H*W for images)."""
        out = 1
        for s in self.image_shape:
            out *= s
        return out


@dataclass(frozen=True)
class PixelCNNConfig:
    """PixelCNN (van den Oord, Kalchbrenner, Kavukcuoglu 2016, "Pixel Recurrent Neural
    Networks", section 3.5 and figure 5): a 7x7 mask-A convolution, residual blocks of
    1x1 / 3x3 mask-B / 1x1 convolutions, two 1x1 mask-B output layers, and a 256-way
    softmax (8-bit data) or a Bernoulli (binary data) per sub-pixel."""

    hidden_channels: int = 64
    """Channels h inside a residual block; the residual stream has 2h (paper: h=128 on CIFAR)."""
    num_blocks: int = 7
    """Number of residual blocks (paper: 15 on CIFAR-10, 7 layers for MNIST)."""
    output_channels: int = 128
    """Channels of the two 1x1 output layers (paper: 1024 on CIFAR-10)."""
    conditional: bool = False
    """Condition on the class label (a learned per-class bias in every block)."""


@dataclass(frozen=True)
class TrainConfig:
    """The training loop's settings (the loop is the same for every model family)."""

    steps: int = 2000
    """Number of optimizer steps in total (on --resume, training continues up to this)."""
    batch_size: int = 64
    """Images per step, summed over all devices."""
    lr: float = 1e-3
    """Adam learning rate."""
    weight_decay: float = 0.0
    """Decoupled weight decay (AdamW)."""
    grad_clip: float = 1.0
    """Clip the global gradient norm to this (0 disables)."""
    ema_decay: float = 0.0
    """Keep an exponential moving average of the weights with this decay (0 disables);
    sampling and evaluation of the run then use the average."""
    seed: int = 0
    """Seed for weights, data order and every random draw of the run."""
    log_every: int = 50
    """Write scalars to TensorBoard and CSV every this many steps."""
    sample_every: int = 1000
    """Save a sample grid every this many steps (0 disables)."""
    num_samples: int = 16
    """Images in the periodic sample grid."""
    checkpoint_every: int = 500
    """Write a checkpoint (atomically) every this many steps, and always at the end."""
    max_minutes: float = 0.0
    """Stop after this much wall-clock time, with a checkpoint (0: no limit); for fixed
    time budgets. --resume then continues towards --train.steps."""
    accelerator: str = "auto"
    """Lightning Fabric accelerator: auto, cpu, cuda, mps."""
    devices: str = "1"
    """Lightning Fabric devices: a count ("2"), a list ("0,1") or "auto"."""
    strategy: str = "auto"
    """Lightning Fabric strategy: auto, ddp, fsdp, ..."""
    precision: str = "32-true"
    """Lightning Fabric precision: 32-true, bf16-mixed, 16-mixed, ..."""
    num_workers: int = 0
    """DataLoader worker processes (0 loads in the main process; data is in memory)."""
    progress: bool = True
    """Show a progress bar."""

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "log_every", "checkpoint_every"):
            if getattr(self, name) <= 0:
                raise UserInputError(f"--train.{name.replace('_', '-')} must be positive")
        if self.lr <= 0:
            raise UserInputError("--train.lr must be positive")
        if self.max_minutes < 0:
            raise UserInputError("--train.max-minutes must be >= 0 (0: no limit)")
        if not 0.0 <= self.ema_decay < 1.0:
            raise UserInputError("--train.ema-decay must be in [0, 1)")


# ---------------------------------------------------------------------------------------
# Serialisation: configs <-> plain JSON-able dicts, with strict checking of unknown keys.

T = TypeVar("T")


def to_dict(config: Any) -> dict[str, Any]:
    """A config dataclass as a JSON-able dict (tuples become lists, paths strings)."""
    return json.loads(json.dumps(dataclasses.asdict(config), default=str))


def from_dict(cls: type[T], data: dict[str, Any], *, where: str = "config") -> T:
    """Build ``cls`` from a dict, rejecting unknown keys with a clear error.

    Args:
        cls: a config dataclass.
        data: field values; missing fields take their defaults.
        where: names the source in error messages (a file, a checkpoint).
    """
    if not isinstance(data, dict):
        raise UserInputError(f"{where}: expected a table of settings, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise UserInputError(
            f"{where}: unknown setting(s) {', '.join(unknown)} for {cls.__name__}; "
            f"known: {', '.join(fields)}"
        )
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in data.items():
        hint = hints[key]
        if _is_tuple_hint(hint) and isinstance(value, list):
            value = tuple(value)
        kwargs[key] = value
    return cls(**kwargs)


def _is_tuple_hint(hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin is tuple:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_is_tuple_hint(a) for a in typing.get_args(hint))
    return False


def load_recipe(path: Path) -> dict[str, Any]:
    """Read a recipe file (TOML) into a dict of sections.

    A recipe holds top-level keys of a command (e.g. ``data = "fashion-mnist"``) and the
    tables ``[model]`` and ``[train]``; see ``configs/`` for examples.
    """
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"recipe {path} not found; pass an existing .toml file to --config")
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise UserInputError(f"recipe {path} is not valid TOML ({e}); fix the file") from e
