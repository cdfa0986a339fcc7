"""Datasets of images and 2-D toy points, loaded into memory.

>>> from genzoo.data import load_dataset
>>> train = load_dataset("fashion-mnist", "train[:50000]")
>>> image, label = train[0]   # uint8 (1, 28, 28), int64 scalar

Nothing is downloaded at import or load time: files are looked up in ``root``,
``$GENZOO_DATA/<name>``, the user cache and system folders (:mod:`genzoo.data.files`), and
fetched only by an explicit ``prepare(name, download=True)``.
"""

from __future__ import annotations

from genzoo.data.datasets import ImageDataset, PointDataset
from genzoo.data.registry import (
    DatasetInfo,
    dataset_info,
    list_datasets,
    load_dataset,
    locate,
    prepare,
)

__all__ = [
    "DatasetInfo",
    "ImageDataset",
    "PointDataset",
    "dataset_info",
    "list_datasets",
    "load_dataset",
    "locate",
    "prepare",
]
