"""Safe reader of the CIFAR-10 python batches.

Format (Krizhevsky, https://www.cs.toronto.edu/~kriz/cifar.html, "python version"): each of
``data_batch_1`` .. ``data_batch_5`` and ``test_batch`` is a pickled dict with ``data``, a
uint8 array of shape (10000, 3072) holding each 32x32 image as 1024 red, then 1024 green,
then 1024 blue values in row-major order, and ``labels``, a list of ints in 0..9.

Pickles can run arbitrary code, so they are read with :class:`SafeUnpickler`, which resolves
only the few numpy globals an array needs and refuses every other one.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genzoo.errors import CorruptFileError

try:  # numpy >= 2
    from numpy._core.multiarray import _reconstruct
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct

#: The batch files of each split.
CIFAR_FILES: dict[str, tuple[str, ...]] = {
    "train": tuple(f"data_batch_{i}" for i in range(1, 6)),
    "test": ("test_batch",),
}

_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that builds only plain containers and numpy arrays.

    Raises:
        CorruptFileError: the pickle names any other global (e.g. ``os.system``); nothing it
            would call is ever run.
    """

    def find_class(self, module: str, name: str) -> Any:
        """Resolve ``module.name`` only when it is one of the numpy array constructors."""
        if (module, name) in _ALLOWED_GLOBALS:
            return _ALLOWED_GLOBALS[module, name]
        raise CorruptFileError(
            f"{getattr(self, 'path', 'pickle')} refers to {module}.{name}, which a CIFAR-10 "
            "batch never does; delete it and run 'genzoo data prepare cifar10 --download'"
        )


def read_batch(path: Path, fix: str) -> tuple[np.ndarray, np.ndarray]:
    """Read one batch file.

    Args:
        path: the batch file.
        fix: how to repair a corrupt file, appended to error messages.

    Returns:
        data: uint8 (n, 3072); labels: int64 (n,). Any n >= 1 is accepted (the real batches
        have 10000 rows).

    Raises:
        CorruptFileError: not a (safe) pickle of the expected dict, or wrong shapes or labels.
    """
    try:
        with open(path, "rb") as f:
            unpickler = SafeUnpickler(f, encoding="latin1")  # the batches are Python 2 pickles
            unpickler.path = path
            batch = unpickler.load()
    except CorruptFileError:
        raise
    except Exception as e:  # an unpickler can fail in many ways on garbage
        raise CorruptFileError(f"{path} is not a readable pickle ({e!r}); {fix}") from e
    if isinstance(batch, dict):
        batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}
    data = batch.get("data") if isinstance(batch, dict) else None
    labels = np.asarray(batch.get("labels", []) if isinstance(batch, dict) else [])
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2:
        raise CorruptFileError(f"{path} has no uint8 'data' matrix; {fix}")
    if data.shape[1] != 3072 or len(data) == 0 or labels.shape != (len(data),):
        raise CorruptFileError(
            f"{path} holds data of shape {data.shape} and {labels.size} labels, not "
            f"(n, 3072) and n; {fix}"
        )
    if labels.dtype.kind not in "iu" or labels.min() < 0 or labels.max() > 9:
        raise CorruptFileError(f"{path} holds labels outside 0..9; {fix}")
    return data, labels.astype(np.int64)


def load_cifar_split(directory: Path, split: str, fix: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Load ``split`` ("train": the 5 data batches, or "test") from ``directory``.

    Returns:
        images: uint8 (N, 3, 32, 32); labels: int64 (N,).
    """
    batches = [read_batch(directory / name, fix) for name in CIFAR_FILES[split]]
    data = np.concatenate([d for d, _ in batches])  # (N, 3072)
    labels = np.concatenate([y for _, y in batches])  # (N,)
    images = torch.from_numpy(data.reshape(-1, 3, 32, 32))  # (N, 3, 32, 32) channel planes
    return images, torch.from_numpy(labels)
