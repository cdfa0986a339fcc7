"""Reader of the IDX files of MNIST and Fashion-MNIST.

Format (LeCun, Cortes & Burges, http://yann.lecun.com/exdb/mnist/): a 4-byte magic number
``0x00 0x00 <type> <ndim>`` (type ``0x08`` = unsigned byte), then ``ndim`` big-endian uint32
dimensions, then the ``prod(dims)`` values in row-major order. Files may be gzipped.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np
import torch

from genzoo.errors import CorruptFileError

#: Stems of the (images, labels) files of each split.
IDX_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def idx_path(directory: Path, stem: str) -> Path | None:
    """The file ``stem`` or ``stem.gz`` in ``directory`` (plain first), or None."""
    for path in (directory / stem, directory / f"{stem}.gz"):
        if path.is_file():
            return path
    return None


def read_idx(path: Path, fix: str) -> np.ndarray:
    """Read an unsigned-byte IDX file (gzipped when its name ends in ``.gz``).

    Args:
        path: the file.
        fix: how to repair a corrupt file, appended to the error message.

    Returns:
        The array, uint8, of the shape the header gives.

    Raises:
        CorruptFileError: bad gzip stream, bad magic number, or a payload whose length is
            not exactly the product of the dimensions.
    """

    def corrupt(problem: str) -> CorruptFileError:
        return CorruptFileError(f"{path} {problem}; delete it and {fix}")

    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise corrupt(f"is not a valid gzip file ({e})") from e
    if len(raw) < 4 or raw[:3] != b"\x00\x00\x08" or not 1 <= raw[3] <= 4:
        raise corrupt(f"is not an unsigned-byte IDX file (magic {raw[:4].hex() or 'missing'})")
    ndim = raw[3]
    offset = 4 + 4 * ndim
    if len(raw) < offset:
        raise corrupt("is truncated inside its header")
    dims = struct.unpack(f">{ndim}I", raw[4:offset])
    if len(raw) - offset != math.prod(dims):
        shape = "x".join(map(str, dims))
        raise corrupt(
            f"holds {len(raw) - offset} data bytes but its header promises {shape} = "
            f"{math.prod(dims)} (truncated or padded)"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(dims)


def load_idx_split(
    directory: Path, split: str, fix: str, num_classes: int = 10, hw: tuple[int, int] = (28, 28)
) -> tuple[torch.Tensor, torch.Tensor]:
    """Load the images and labels of ``split`` ("train" or "test") from ``directory``.

    Returns:
        images: uint8 (N, 1, H, W); labels: int64 (N,).

    Raises:
        CorruptFileError: a file is corrupt, of the wrong shape, has labels outside
            ``[0, num_classes)``, or the two files disagree on N.
    """
    image_stem, label_stem = IDX_FILES[split]
    image_path, label_path = idx_path(directory, image_stem), idx_path(directory, label_stem)
    if image_path is None or label_path is None:  # the caller's look-up found them: a race
        raise CorruptFileError(f"{directory} lacks {image_stem} or {label_stem}; {fix}")
    images, labels = read_idx(image_path, fix), read_idx(label_path, fix)
    if images.ndim != 3 or images.shape[1:] != hw:
        raise CorruptFileError(
            f"{image_path} holds arrays of shape {images.shape}, not (N, {hw[0]}, {hw[1]}); "
            f"delete it and {fix}"
        )
    if labels.ndim != 1 or len(labels) != len(images):
        raise CorruptFileError(
            f"{label_path} holds labels of shape {labels.shape} but {image_path} holds "
            f"{len(images)} images; delete both and {fix}"
        )
    if len(labels) and labels.max() >= num_classes:
        raise CorruptFileError(
            f"{label_path} holds label {labels.max()} outside 0..{num_classes - 1}; "
            f"delete it and {fix}"
        )
    images_t = torch.from_numpy(images.copy()).unsqueeze(1)  # (N, 1, H, W) uint8
    return images_t, torch.from_numpy(labels.astype(np.int64))  # (N,) int64
