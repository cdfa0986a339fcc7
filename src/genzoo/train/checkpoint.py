"""The file formats of checkpoints and exports, read without unpickling arbitrary objects.

- ``checkpoint.pt``: the full training state of a run directory (see :mod:`genzoo.runs`,
  which owns the directory).
- An *exported model*: a folder with ``config.json`` (model name, config, data spec) and
  ``model.safetensors`` (the weights; the EMA weights when the run kept an average).

``checkpoint.pt`` is written with ``torch.save`` and read with ``torch.load(...,
weights_only=True)``, whose unpickler accepts only tensors and plain containers, so a
crafted checkpoint cannot run code. Everything else is JSON or safetensors.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from genzoo.config import DataSpec, SettingTypeError, from_dict, to_dict
from genzoo.errors import CorruptFileError, GenzooError, MissingFileError
from genzoo.io import atomic_path, write_json
from genzoo.registry import get_entry

if TYPE_CHECKING:
    from genzoo.models.base import GenerativeModel

FORMAT_VERSION = 1
RUN_FILE = "run.json"
CHECKPOINT_FILE = "checkpoint.pt"
EXPORT_DIR = "model"


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write a training state (tensors, numbers, strings, lists, dicts) atomically."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a training state written by :func:`save_checkpoint`; never runs pickled code."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"checkpoint {path} not found; train first or check the path")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises several types for truncated or foreign files
        # Only the first line, and never torch's advice to load with weights_only=False: a
        # file that needs it could run code.
        first = (str(e).strip().splitlines() or [""])[0].split(" Please file an issue")[0]
        if "weights_only" in first or "WeightsUnpickler" in first or not first:
            first = "holds objects other than tensors and plain containers" if first else "empty"
        raise CorruptFileError(
            f"checkpoint {path} is unreadable ({type(e).__name__}: {first}); it is truncated, "
            "corrupt or not a genzoo checkpoint: restore it or train again"
        ) from e
    if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION:
        raise CorruptFileError(
            f"checkpoint {path} is not a genzoo checkpoint (format {FORMAT_VERSION})"
        )
    missing = [k for k in ("step", "model", "optimizers", "rng") if k not in state]
    if missing or not isinstance(state.get("step"), int) or not isinstance(state["model"], dict):
        raise CorruptFileError(
            f"checkpoint {path} is damaged (missing or wrong: {', '.join(missing) or 'step'}); "
            "restore it or train again"
        )
    return state


def checkpoint_step(path: Path) -> int | None:
    """The step of a checkpoint, read without loading its tensors (None if unreadable)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        step = state.get("step") if isinstance(state, dict) else None
        return step if isinstance(step, int) else None
    except Exception:  # an unreadable checkpoint says so when it is loaded for real
        return None


def export_model(
    model: GenerativeModel,
    out_dir: Path,
    state_dict: dict | None = None,
    *,
    step: int | None = None,
    training: dict[str, Any] | None = None,
) -> Path:
    """Write ``config.json`` + ``model.safetensors`` so the model can be rebuilt alone.

    Args:
        model: the model (its name, config and data spec are saved).
        out_dir: the folder to write (created; both files replaced atomically).
        state_dict: weights to save instead of ``model.state_dict()`` (e.g. EMA weights).
        step: the training step of the weights (a run's export records it, so a stale
            export is told apart from the checkpoint it should match).
        training: the training budget so far (``{"epochs", "seconds", "batch_size"}``),
            shown beside the run's figures.
    """
    out_dir = Path(out_dir)
    weights = state_dict if state_dict is not None else model.state_dict()
    weights = {k: v.detach().cpu().contiguous() for k, v in weights.items()}
    with atomic_path(out_dir / "model.safetensors") as tmp:
        save_file(weights, str(tmp))
    write_json(
        out_dir / "config.json",
        {
            "format": FORMAT_VERSION,
            "model": model.name,
            "config": to_dict(model.config),
            "data": to_dict(model.data),
        }
        | ({} if step is None else {"step": step})
        | ({} if training is None else {"training": training}),
    )
    return out_dir


MAX_PARAMETERS = 4_000_000_000
"""A stored config that builds a larger network is refused before anything is allocated."""

MAX_BUILD_TENSORS = 5_000
"""Parameters and buffers a stored config may register while its network is built on the
meta device (the registered models' defaults register a few dozen to a few hundred); more
means a crafted layer count (10^9 blocks) that would take hours just to build, and is
refused as soon as the count is passed."""


class _TooManyTensors(Exception):
    pass


@contextlib.contextmanager
def _build_budget(limit: int) -> Iterator[None]:
    """Count the parameters and buffers modules register while the block runs; stop the
    build past ``limit``."""
    from torch.nn.modules import module as nn_module

    count = [0]

    def hook(*args: Any) -> None:
        count[0] += 1
        if count[0] > limit:
            raise _TooManyTensors

    handles = [
        nn_module.register_module_parameter_registration_hook(hook),
        nn_module.register_module_buffer_registration_hook(hook),
    ]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def check_buildable(entry: Any, config: Any, data: DataSpec, where: str) -> None:
    """Refuse a stored config whose network is too large or cannot be built, before any
    memory is allocated: it is first built on the meta device (no memory), within a budget
    of :data:`MAX_BUILD_OPERATIONS` tensor operations, and its size checked.

    Args:
        entry: the model's registry entry.
        config: its config (from a file).
        data: its data spec.
        where: the file, for messages.

    Raises:
        CorruptFileError: the network has more than :data:`MAX_PARAMETERS` parameters,
            more than :data:`MAX_BUILD_TENSORS` weight tensors, or overflows torch's size
            arithmetic.
    """
    try:
        with torch.device("meta"), _build_budget(MAX_BUILD_TENSORS):
            probe = entry.model_class()(config, data)
        size = sum(t.numel() for t in (*probe.parameters(), *probe.buffers()))
    except _TooManyTensors:
        raise CorruptFileError(
            f"{where} describes a network of more than {MAX_BUILD_TENSORS:,} weight tensors "
            "(layers); refusing to build it: the file is damaged or crafted"
        ) from None
    except (RuntimeError, TypeError, ValueError, AttributeError, OverflowError) as e:
        if isinstance(e, GenzooError):  # a model's own refusal says what to change
            raise
        # e.g. "Storage size calculation overflowed" on the meta device
        raise CorruptFileError(
            f"{where} describes a network that cannot be built ({type(e).__name__}: "
            f"{(str(e).strip().splitlines() or [''])[0]}); refusing it: the file is damaged "
            "or crafted"
        ) from e
    if size > MAX_PARAMETERS:
        raise CorruptFileError(
            f"{where} describes a network of {size:,} parameters and buffers (more than "
            f"{MAX_PARAMETERS:,}); refusing to build it: the file is damaged or crafted"
        )


def model_from_config(meta: dict[str, Any], where: str) -> GenerativeModel:
    """Rebuild an untrained model from the ``config.json`` dict of an export.

    The network is first built on the meta device (no memory, see :func:`check_buildable`),
    so a crafted config whose sizes would allocate hundreds of GB is refused before
    allocation.
    """
    if not isinstance(meta, dict):
        raise CorruptFileError(f"{where} is not a genzoo model config; re-export the model")
    try:
        entry = get_entry(meta["model"])
        config = from_dict(entry.config_class, meta["config"], where=where)
        data = from_dict(DataSpec, meta["data"], where=where)
        check_buildable(entry, config, data, where)
    except KeyError as e:
        raise CorruptFileError(f"{where} lacks the key {e}; re-export the model") from e
    except SettingTypeError as e:
        raise CorruptFileError(f"{e}: a setting of the wrong type; re-export the model") from e
    except (TypeError, AttributeError, ValueError, OverflowError) as e:
        if isinstance(e, GenzooError):
            raise
        raise CorruptFileError(
            f"{where} holds settings of the wrong type ({type(e).__name__}: "
            f"{(str(e).splitlines() or [''])[0]}); re-export the model"
        ) from e
    return entry.model_class()(config, data)


def load_export(folder: str | Path, map_location: str | torch.device = "cpu") -> GenerativeModel:
    """Load the model of an exported folder (``config.json`` + ``model.safetensors``).

    Returns the model in eval mode. :func:`genzoo.runs.load` opens run directories too.

    Raises:
        FileNotFoundError: when the folder lacks either file.
        CorruptFileError: when the files exist but cannot be read.
    """
    path = Path(folder)
    config_file, weights_file = path / "config.json", path / "model.safetensors"
    if not (config_file.is_file() and weights_file.is_file()):
        raise MissingFileError(
            f"{path} is neither a run directory (with {RUN_FILE}) nor an exported model "
            "(config.json + model.safetensors); pass the --out folder of 'genzoo train'"
        )
    try:
        meta = json.loads(config_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CorruptFileError(f"{config_file} is not valid JSON ({e}); re-export the model") from e
    model = model_from_config(meta, where=str(config_file))
    try:
        weights = load_file(str(weights_file), device=str(map_location))
    except (SafetensorError, OSError) as e:
        raise CorruptFileError(
            f"{weights_file} is unreadable ({e}); it is truncated or corrupt: re-export it "
            "from the run's checkpoint.pt with 'genzoo export'"
        ) from e
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as e:
        raise CorruptFileError(
            f"{weights_file} does not match its config.json ({str(e).splitlines()[0]})"
        ) from e
    return model.to(map_location).eval()
