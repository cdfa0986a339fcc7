"""Atomic file writes: every file genzoo writes appears whole or not at all."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path``.

    The rename is atomic on POSIX file systems, so a reader (or a crash) never sees a
    half-written file, and an existing file is replaced only once the new one is complete.
    On error the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json(path: str | Path, data: Any) -> None:
    """Write ``data`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def save_figure(fig: Any, path: str | Path) -> Path:
    """Save a matplotlib figure as a PNG, atomically; returns the path."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return path


WRITER_FAILURES = ("PytorchStreamWriter failed", "file write failed", "unexpected pos", "IoError")
"""Words of the errors torch's zip writer (RuntimeError) and safetensors raise when the
file system refuses a write; they carry no errno."""


def write_failure(e: BaseException) -> str | None:
    """Why a write failed, in a few words, when ``e`` is the file system refusing it (an
    ``OSError``, or the ``RuntimeError`` of torch's zip writer); None for any other error.
    """
    if isinstance(e, OSError):
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            return f"{e.strerror or 'No space left on device'}: the disk is full"
        return e.strerror or str(e) or type(e).__name__
    text = (str(e).strip().splitlines() or [""])[-1]
    if any(words in str(e) for words in WRITER_FAILURES):
        if "No space" in str(e) or "StorageFull" in str(e) or "os error 28" in str(e):
            return "No space left on device: the disk is full"
        return f"the disk refused the write, likely full: {text[:120]}"
    return None


def free_space(path: str | Path) -> str:
    """'12.0 MB free on the disk holding PATH' (its nearest existing folder), or ''."""
    path = Path(path)
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        free = shutil.disk_usage(path).free
    except OSError:
        return ""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if free < 1000 or unit == "TB":
            return f"{free:.3g} {unit} free on the disk holding {path}"
        free /= 1000
    return ""
