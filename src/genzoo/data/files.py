"""Where dataset files are looked for, and how ``prepare(..., download=True)`` fetches them.

Nothing here runs at import time; the network is touched only by :func:`download`.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.request
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath

from genzoo.errors import CorruptFileError, DataNotFoundError
from genzoo.io import atomic_path

#: Folders where system packages install datasets, each holding ``<name>/``; Debian's
#: ``dataset-fashion-mnist`` package installs ``/usr/share/datasets/fashion-mnist/``.
SYSTEM_DATA_DIRS: tuple[str, ...] = ("/usr/share/datasets",)

#: Debian packages that provide a dataset (named in the "not found" message).
APT_PACKAGES: dict[str, str] = {"fashion-mnist": "dataset-fashion-mnist"}

#: Mirrors of the official files, tried in order (module-level so tests can point them at
#: a local server). The checksums below pin the content, whichever mirror serves it.
BASE_URLS: dict[str, tuple[str, ...]] = {
    # torchvision's mirror of http://yann.lecun.com/exdb/mnist/, then TensorFlow's.
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    # Zalando Research's bucket, then the data folder of github.com/zalandoresearch/fashion-mnist.
    "fashion-mnist": (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
    # Krizhevsky's page, https://www.cs.toronto.edu/~kriz/cifar.html.
    "cifar10": ("https://www.cs.toronto.edu/~kriz/",),
}

#: ``{dataset: {file name: (hash algorithm, hex digest)}}`` of every file a download fetches.
CHECKSUMS: dict[str, dict[str, tuple[str, str]]] = {
    "mnist": {  # the md5 sums torchvision checks
        "train-images-idx3-ubyte.gz": ("md5", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        "train-labels-idx1-ubyte.gz": ("md5", "d53e105ee54ea40749a09fcbcd1e9432"),
        "t10k-images-idx3-ubyte.gz": ("md5", "9fb629c4189551a2d022fa330f9573f3"),
        "t10k-labels-idx1-ubyte.gz": ("md5", "ec29112dd5afa0611ce80d1b7f02629c"),
    },
    "fashion-mnist": {  # sha256 of the files in Debian's dataset-fashion-mnist
        "train-images-idx3-ubyte.gz": (
            "sha256",
            "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
        ),
        "train-labels-idx1-ubyte.gz": (
            "sha256",
            "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
        ),
        "t10k-images-idx3-ubyte.gz": (
            "sha256",
            "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
        ),
        "t10k-labels-idx1-ubyte.gz": (
            "sha256",
            "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
        ),
    },
    "cifar10": {"cifar-10-python.tar.gz": ("md5", "c58f30108f718f92721af3b95e74349a")},
}


def cache_root() -> Path:
    """genzoo's cache: ``$GENZOO_CACHE``, else ``${XDG_CACHE_HOME:-~/.cache}/genzoo``."""
    if env := os.environ.get("GENZOO_CACHE"):
        return Path(env).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "genzoo"


def data_places(name: str, root: str | Path | None = None) -> list[Path]:
    """The folders searched for dataset ``name``, in order; the first that has the files wins.

    1. ``root`` (the files directly inside), 2. ``$GENZOO_DATA/<name>``, 3. the user cache
    ``<cache_root()>/data/<name>`` (where downloads go), 4. ``<d>/<name>`` for each ``d`` in
    :data:`SYSTEM_DATA_DIRS`.
    """
    places = [] if root is None else [Path(root).expanduser()]
    if env := os.environ.get("GENZOO_DATA"):
        places.append(Path(env).expanduser() / name)
    places.append(cache_root() / "data" / name)
    places += [Path(d) / name for d in SYSTEM_DATA_DIRS]
    return places


def prepare_hint(name: str) -> str:
    """The end of a "not found" message: how to get dataset ``name``."""
    apt = f", or 'apt-get install {APT_PACKAGES[name]}'" if name in APT_PACKAGES else ""
    return (
        f"run 'genzoo data prepare {name} --download'{apt}, "
        f"or set $GENZOO_DATA to a folder holding {name}/"
    )


def find_data_dir(
    name: str,
    has_files: Callable[[Path], bool],
    root: str | Path | None = None,
    subdirs: Sequence[str] = ("",),
) -> Path:
    """Return the first folder of :func:`data_places` (or its ``subdirs``) where ``has_files``.

    Raises:
        DataNotFoundError: no folder has the files; the message lists where it looked.
    """
    places = [p / s if s else p for p in data_places(name, root) for s in subdirs]
    if root is not None:
        # An explicit root is used or refused, never passed over for another copy: the run
        # records the root it was given, so it must be the data it trained on.
        mine = [Path(root).expanduser() / s if s else Path(root).expanduser() for s in subdirs]
        for place in mine:
            if place.is_dir() and has_files(place):
                return place
        usual = ", ".join(str(p) for p in places[len(mine) :])
        raise DataNotFoundError(
            f"dataset '{name}' not found in the folder given ({root}): put its files there, "
            f"or drop --data-root to use the usual places ({usual}); {prepare_hint(name)}"
        )
    for place in places:
        if place.is_dir() and has_files(place):
            return place
    looked = ", ".join(str(p) for p in places)
    raise DataNotFoundError(f"dataset '{name}' not found: looked in {looked}; {prepare_hint(name)}")


def file_digest(path: Path, algorithm: str) -> str:
    """Hex digest of a file (md5 allowed on FIPS systems: it checks integrity, not secrets)."""
    h = hashlib.new(algorithm, usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def download(name: str, filename: str, dest_dir: Path) -> Path:
    """Fetch ``filename`` of dataset ``name`` into ``dest_dir``, verified, atomically.

    Each mirror of :data:`BASE_URLS` is tried until one answers. The bytes go to a temporary
    file beside the target, the checksum of :data:`CHECKSUMS` is checked, and only then is the
    file renamed into place: a failed or corrupt download leaves nothing behind.

    Raises:
        CorruptFileError: the downloaded bytes do not match the checksum.
        DataNotFoundError: no mirror could be reached.
    """
    algorithm, expected = CHECKSUMS[name][filename]
    target = dest_dir / filename
    failures = []
    for base in BASE_URLS[name]:
        url = base + filename
        try:
            with atomic_path(target) as tmp:
                with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as out:
                    shutil.copyfileobj(response, out, 1 << 20)
                if (got := file_digest(tmp, algorithm)) != expected:
                    raise CorruptFileError(
                        f"download of {url} failed its {algorithm} check (got {got}, expected "
                        f"{expected}); nothing was saved; try again later, or put the file in "
                        f"{dest_dir} by hand"
                    )
            return target
        except (OSError, http.client.HTTPException) as e:  # URLError is an OSError
            failures.append(f"{url} ({getattr(e, 'reason', e)})")
        finally:
            with contextlib.suppress(OSError):
                dest_dir.rmdir()  # only if the failure left it empty
    raise DataNotFoundError(
        f"could not download {filename}: {'; '.join(failures)}; check the network connection "
        f"and try again, or put the file in {dest_dir} by hand"
    )


def extract_tar(archive: Path, dest_dir: Path, top: str) -> Path:
    """Safely unpack ``archive`` (which holds the folder ``top``) to ``dest_dir/top``.

    Members with absolute paths, ``..`` or anything but plain files and folders are refused
    (and Python's ``data`` extraction filter is used where available, PEP 706). The archive
    is unpacked into a temporary folder first, so ``dest_dir/top`` appears complete or not at all.

    Raises:
        CorruptFileError: the archive is unreadable or holds an unsafe member.
    """
    fix = f"delete {archive} and run 'genzoo data prepare {dest_dir.name} --download' again"
    with tempfile.TemporaryDirectory(dir=dest_dir, prefix=".extract-") as tmp:
        try:
            with tarfile.open(archive, "r:*") as tar:
                members = tar.getmembers()
                for m in members:
                    p = PurePosixPath(m.name)
                    if p.is_absolute() or ".." in p.parts or not (m.isfile() or m.isdir()):
                        raise CorruptFileError(f"{archive} has an unsafe member {m.name!r}; {fix}")
                extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                tar.extractall(tmp, members=members, **extra)
        except (tarfile.TarError, EOFError, zlib.error) as e:
            raise CorruptFileError(f"{archive} is not a readable tar archive ({e}); {fix}") from e
        if not (Path(tmp) / top).is_dir():
            raise CorruptFileError(f"{archive} does not contain the folder {top}/; {fix}")
        shutil.rmtree(dest_dir / top, ignore_errors=True)
        os.replace(Path(tmp) / top, dest_dir / top)
    return dest_dir / top
