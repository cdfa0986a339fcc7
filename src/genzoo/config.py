"""Typed, frozen configuration dataclasses: the data's description, the training loop's
settings, and the (de)serialisation every config shares.

This module imports nothing heavy (no torch), so the command line can build its options
from these classes and answer ``--help`` at once. The command line is generated from the
fields and their docstrings by `tyro`; recipe files (TOML) give defaults that dotted
command-line options override (``--model.hidden-channels 64``, ``--train.lr 3e-4``).

Each model family's config lives beside its model, in a torch-free module
``genzoo/models/<family>_config.py``, validates itself in ``__post_init__`` with the
helpers below (raising :class:`genzoo.errors.ConfigError`), and is named in one line of
:mod:`genzoo.registry`.
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

from genzoo.errors import ConfigError, UserInputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

DataKind = Literal["8bit", "binary", "points"]


MAX_EXAMPLE_VALUES = 4096 * 4096 * 4
"""The most values one example may hold (a stored shape beyond it is refused before a
model allocates a batch of it)."""


@dataclass(frozen=True)
class DataSpec:
    """What a model needs to know about its data; filled in from the dataset at train time.

    It answers the questions the models ask of the data kind (:attr:`is_image`,
    :attr:`is_binary`, :attr:`max_value`, :attr:`num_values`) and holds the one scaling from
    data space to the networks' input (:meth:`to_unit`, :meth:`to_signed`), so no model
    compares kind strings or writes the constants 255 / 256 itself.

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
        if self.num_dims > MAX_EXAMPLE_VALUES:
            raise UserInputError(
                f"image_shape {self.image_shape} holds {self.num_dims:,} values per example, "
                f"more than {MAX_EXAMPLE_VALUES:,} (4096x4096x4); resize the data"
            )

    @property
    def num_dims(self) -> int:
        """Number of scalar dimensions D of one example (C*H*W for images)."""
        out = 1
        for s in self.image_shape:
            out *= s
        return out

    @property
    def is_image(self) -> bool:
        """Discrete images (8-bit or binary), as opposed to float points."""
        return self.kind != "points"

    @property
    def is_binary(self) -> bool:
        """Binary images (values 0 and 1)."""
        return self.kind == "binary"

    @property
    def is_points(self) -> bool:
        """Float vectors (the 2-D toy data), not images."""
        return self.kind == "points"

    @property
    def max_value(self) -> int:
        """The largest value of a sub-pixel: 255 (8-bit) or 1 (binary).

        Raises:
            UserInputError: for points, which have no discrete range.
        """
        if self.kind == "points":
            raise UserInputError("2-D points are floats: they have no largest value")
        return 1 if self.kind == "binary" else 255

    @property
    def num_values(self) -> int:
        """Values one sub-pixel takes: 256 (8-bit) or 2 (binary); images only."""
        return self.max_value + 1

    def to_unit(self, images: Any, dtype: Any = None) -> Any:
        """Data-space images -> floats in [0, 1]: x / max_value (the VAE encoder's input).

        Args:
            images: integer tensor (N, C, H, W) of values 0..max_value.
            dtype: the floating dtype to compute in (a torch dtype; None: float32), so that
                inputs follow a model's parameters (``model.dtype``).
        """
        return _as_float(images, dtype) / float(self.max_value)

    def to_signed(self, images: Any, dtype: Any = None) -> Any:
        """Data-space images -> floats in [-1, 1]: 2 x / max_value - 1 (the autoregressive
        networks', the GAN discriminator's and the discretised logistic's scale).

        Args:
            images: integer tensor of values 0..max_value, any shape.
            dtype: as in :meth:`to_unit`.
        """
        return signed_scale(images, self.max_value, dtype)


def signed_scale(values: Any, max_value: int, dtype: Any = None) -> Any:
    """Integer values 0..max_value -> floats 2 v / max_value - 1 in [-1, 1] (any shape);
    the one definition of the [-1, 1] scale (used by :meth:`DataSpec.to_signed` and the
    likelihoods of :mod:`genzoo.nn.likelihoods`)."""
    return _as_float(values, dtype) * (2.0 / max_value) - 1.0


def _as_float(values: Any, dtype: Any) -> Any:
    # torch is not imported here (``--help`` stays fast): the tensor converts itself
    return values.float() if dtype is None else values.to(dtype)


# ---------------------------------------------------------------------------------------
# Validation helpers of the model configs (``__post_init__``): neutral wording, the field
# named by the error, so the command line can prefix its flag.


def check_positive(config: Any, *fields: str) -> None:
    """Raise ConfigError unless every named field is > 0."""
    for name in fields:
        value = getattr(config, name)
        if value <= 0:
            raise ConfigError(name, f"must be positive, got {value}")


def check_non_negative(config: Any, *fields: str) -> None:
    """Raise ConfigError unless every named field is >= 0."""
    for name in fields:
        value = getattr(config, name)
        if value < 0:
            raise ConfigError(name, f"must be >= 0, got {value}")


def check_choice(config: Any, name: str, choices: tuple[Any, ...]) -> None:
    """Raise ConfigError unless field ``name`` is one of ``choices``."""
    value = getattr(config, name)
    if value not in choices:
        raise ConfigError(name, f"must be one of {', '.join(map(str, choices))}; got {value!r}")


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
    sampling and evaluation of the run then use the average. It warms up: the decay at
    update t is min(decay, (1 + t) / (10 + t)), so a short run's average is not dragged
    back to its first weights."""
    seed: int = 0
    """Seed for weights, data order and every random draw of the run."""
    log_every: int = 50
    """Write scalars to TensorBoard and CSV every this many steps."""
    sample_every: int = 1000
    """Save a sample grid every this many steps (0 disables)."""
    num_samples: int = 16
    """Images in the periodic sample grid (2-D points: a scatter of at least 1000 samples
    over the data density)."""
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
    compile: bool = False
    """Compile the model's training computations with torch.compile (off by default: the
    first steps then take tens of seconds to compile, which pays off only on long runs)."""
    threads: int = 0
    """CPU threads of this run (0: $GENZOO_THREADS if set, else auto: the count is chosen
    by timing the steps, so a busy machine does not stall the run; see genzoo.threads)."""

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "log_every", "checkpoint_every"):
            if getattr(self, name) <= 0:
                raise ConfigError(name, f"must be positive, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ConfigError("lr", f"must be positive, got {self.lr}")
        if self.max_minutes < 0:
            raise ConfigError("max_minutes", "must be >= 0 (0: no limit)")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ConfigError("ema_decay", f"must be in [0, 1), got {self.ema_decay}")
        if not 0 <= self.seed < 2**32:
            raise ConfigError("seed", f"must be in [0, 2^32), got {self.seed}")
        if self.threads < 0:
            raise ConfigError(
                "threads", f"must be >= 0 (0: the default policy), got {self.threads}"
            )


# ---------------------------------------------------------------------------------------
# Serialisation: configs <-> plain JSON-able dicts, with strict checking of unknown keys.

T = TypeVar("T")


def to_dict(config: Any) -> dict[str, Any]:
    """A config dataclass as a JSON-able dict (tuples become lists, paths strings)."""
    return json.loads(json.dumps(dataclasses.asdict(config), default=str))


class SettingTypeError(UserInputError, TypeError):
    """A setting read from a file or a dict is of the wrong type (:func:`from_dict`)."""


def from_dict(cls: type[T], data: dict[str, Any], *, where: str = "config") -> T:
    """Build ``cls`` from a dict, rejecting unknown keys with a clear error.

    Args:
        cls: a config dataclass.
        data: field values; missing fields take their defaults.
        where: names the source in error messages (a file, a checkpoint).

    Raises:
        UserInputError: an unknown setting.
        SettingTypeError: a value of the wrong type (a string for a number, null for a
            string, ...), before the class's own checks of ranges.
    """
    if not isinstance(data, dict):
        raise UserInputError(f"{where}: expected a table of settings, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise UserInputError(
            f"{where}: unknown setting(s) {', '.join(_key(k) for k in unknown)} for "
            f"{cls.__name__}; "
            f"known: {', '.join(fields)}"
        )
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in data.items():
        hint = hints[key]
        if _is_tuple_hint(hint) and isinstance(value, list):
            value = tuple(value)
        if not _has_type(value, hint):
            shown = _shown(value)
            raise SettingTypeError(f"{where}: {key} must be {_type_name(hint)}, got {shown}")
        kwargs[key] = value
    return cls(**kwargs)


def _key(name: str) -> str:
    """A key as a message shows it: bare when it is a plain name, else quoted (a key read
    from a file may hold anything, a line break included)."""
    return name if name.replace("-", "_").isidentifier() else json.dumps(name)


def _has_type(value: Any, hint: Any) -> bool:
    """Whether ``value`` (read from a file) is of the field type ``hint``: bool, int, float
    (an int is taken), str, None, Literal, unions and tuples; other hints take anything."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if hint is type(None) or hint is None:
        return value is None
    if origin in (typing.Union, types.UnionType):
        return any(_has_type(value, a) for a in args)
    if origin is Literal:
        return any(value == a and type(value) is type(a) for a in args)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_has_type(v, args[0]) for v in value)
        return len(value) == len(args) and all(map(_has_type, value, args))
    return True


def _type_name(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_type_name(args[0])}s"
        return f"a list of {len(args)} ({', '.join(_type_name(a) for a in args)})"
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    return "null" if hint is type(None) else names.get(hint, getattr(hint, "__name__", str(hint)))


def _shown(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, tuple) else json.dumps(list(value))
    return text if len(text) <= 40 else text[:37] + "..."


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


RECIPE_KEYS = ("data", "out", "data_root", "image_size", "note")
"""The settings a recipe holds beside its [model] and [train] tables."""


def apply_recipe(default: Any, recipe: dict[str, Any]) -> Any:
    """A train command's settings (``default``: a dataclass with ``model``, ``train`` and
    the :data:`RECIPE_KEYS`) with a recipe's settings as its new defaults.

    Raises:
        UserInputError: a setting the recipe should not hold, or one its config refuses.
    """
    recipe = dict(recipe)
    model = from_dict(type(default.model), recipe.pop("model", {}), where="recipe [model]")
    train = from_dict(TrainConfig, recipe.pop("train", {}), where="recipe [train]")
    unknown = sorted(set(recipe) - set(RECIPE_KEYS))
    if unknown:
        raise UserInputError(
            f"recipe: unknown setting(s) {', '.join(unknown)}; known: "
            f"[model], [train], {', '.join(RECIPE_KEYS)}"
        )
    for key, value in recipe.items():
        kind = int if key == "image_size" else str
        if not isinstance(value, kind) or isinstance(value, bool):
            what = "an integer" if kind is int else "a string"
            raise UserInputError(f"recipe: {key} must be {what}, got {value!r}; fix the file")
    fields = {k: (Path(v) if k in ("out", "data_root") else v) for k, v in recipe.items()}
    return dataclasses.replace(default, model=model, train=train, **fields)


def to_toml(d: dict[str, Any]) -> str:
    """A flat settings dict (scalars, plus [model] and [train] tables) as TOML."""

    def value(v: Any) -> str:
        return json.dumps(v) if not isinstance(v, bool) else str(v).lower()

    lines = [f"{k} = {value(v)}" for k, v in d.items() if not isinstance(v, dict) and v is not None]
    for k, v in d.items():
        if isinstance(v, dict):
            lines += ["", f"[{k}]"] + [
                f"{kk} = {value(vv)}" for kk, vv in v.items() if vv is not None
            ]
    return "\n".join(lines)
