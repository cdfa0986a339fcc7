"""The zoo: trained weights shipped inside the package, with the figures measured on them.

Layout (package data, read-only)::

    genzoo/zoo/manifest.json          one entry per model: facts, sha256, measured figures
    genzoo/zoo/NAME/config.json       the export of the run (model name, config, data spec)
    genzoo/zoo/NAME/model.safetensors its weights (the EMA weights where the run kept them)

A zoo model is named ``zoo:NAME`` wherever a command takes a run (``genzoo sample
zoo:gan-fashion-mnist``); :func:`open_run` turns such a name into a :class:`ZooRun`, which
behaves as a read-only run: its dataset is the one it was trained on, its stored figures
are the manifest's (reused by ``compare`` and ``report`` under the same rules as a run's:
same weights digest, settings and reference data), and it never writes into the package.
The weights' sha256 is checked every time an entry is opened; a missing or altered file is
refused with one line.

As torchvision and timm do, every file travels with its facts (recipe, budget, parameters,
file size, sha256, the figures with their kind and settings). The entries are written by
:mod:`genzoo.zoo.build` from trained runs after ``genzoo eval``; nothing is typed in.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from genzoo.errors import CorruptFileError, MissingFileError, UserInputError, did_you_mean
from genzoo.runs import Run

ZOO_DIR = Path(__file__).resolve().parent
MANIFEST = "manifest.json"
PREFIX = "zoo:"
MANIFEST_FORMAT = 1


@dataclasses.dataclass(frozen=True)
class ZooEntry:
    """One shipped model: its name and its manifest record (see :mod:`genzoo.zoo.build`)."""

    name: str
    record: dict[str, Any]
    root: Path

    @property
    def folder(self) -> Path:
        """The folder holding config.json and model.safetensors."""
        return self.root / self.name

    @property
    def weights_file(self) -> Path:
        return self.folder / "model.safetensors"

    @property
    def dataset(self) -> str:
        return str(self.record["dataset"])

    @property
    def figures(self) -> dict[str, dict[str, Any]]:
        """Stored evaluation figures per split, as ``genzoo eval`` stored them in the run."""
        return dict(self.record.get("figures") or {})


def read_manifest(root: Path | None = None) -> dict[str, Any]:
    """The manifest (``{"format", "models": {NAME: record}}``); an empty zoo if none."""
    root = ZOO_DIR if root is None else root
    path = root / MANIFEST
    if not path.is_file():
        return {"format": MANIFEST_FORMAT, "models": {}}
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise CorruptFileError(
            f"{path} cannot be read ({e}); reinstall genzoo (pip install --force-reinstall genzoo)"
        ) from e
    if not isinstance(manifest, dict) or not isinstance(manifest.get("models"), dict):
        raise CorruptFileError(f"{path} is not a genzoo zoo manifest; reinstall genzoo")
    return manifest


def entries(root: Path | None = None) -> list[ZooEntry]:
    """Every shipped model, in the manifest's order."""
    root = ZOO_DIR if root is None else root
    models = read_manifest(root)["models"]
    return [ZooEntry(name, record, root) for name, record in models.items()]


def get(name: str, root: Path | None = None) -> ZooEntry:
    """The entry called ``name`` (with or without the ``zoo:`` prefix)."""
    root = ZOO_DIR if root is None else root
    name = name.removeprefix(PREFIX)
    models = read_manifest(root)["models"]
    if name not in models:
        known = ", ".join(sorted(models)) or "none shipped"
        raise UserInputError(
            f"no zoo model {name!r}{did_you_mean(name, models)}; 'genzoo zoo' lists them ({known})"
        )
    return ZooEntry(name, models[name], root)


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify(entry: ZooEntry) -> None:
    """Refuse an entry whose weights or config are missing or whose sha256 differs."""
    for f in (entry.folder / "config.json", entry.weights_file):
        if not f.is_file():
            raise MissingFileError(
                f"zoo model {entry.name}: {f} is missing (a wheel without package data?); "
                "reinstall genzoo (pip install --force-reinstall genzoo)"
            )
    want = entry.record.get("sha256")
    got = sha256_of(entry.weights_file)
    if got != want:
        raise CorruptFileError(
            f"zoo model {entry.name}: {entry.weights_file} has sha256 {got[:12]}..., the "
            f"manifest says {str(want)[:12]}...: the file was altered; reinstall genzoo"
        )


class ZooRun(Run):
    """A shipped model opened as a read-only run (see the module's docstring).

    Args:
        name: the zoo name, with or without ``zoo:``.
        data: evaluate on this dataset instead of the one it was trained on.
        data_root: the folder holding the dataset's files.
        root: the zoo folder (default: the package's, :data:`ZOO_DIR`, read at call time).
    """

    def __init__(
        self,
        name: str,
        *,
        data: str | None = None,
        data_root: Path | None = None,
        root: Path | None = None,
    ) -> None:
        self.entry = get(name, root)
        verify(self.entry)
        super().__init__(self.entry.folder, data=data, data_root=data_root)

    def __repr__(self) -> str:
        return f"ZooRun({self.entry.name!r})"

    @property
    def ref(self) -> str:
        return PREFIX + self.entry.name

    @property
    def label(self) -> str:
        return PREFIX + self.entry.name

    @property
    def has_dataset(self) -> bool:
        return True

    @property
    def facts(self) -> dict[str, Any]:
        """The manifest record without its figures (they are in the table)."""
        return {k: v for k, v in self.entry.record.items() if k not in ("figures", "check")}

    @property
    def note(self) -> str | None:
        return self.entry.record.get("note") or None

    @property
    def data_info(self) -> dict[str, Any]:
        return {
            "spec": self.entry.dataset,
            "root": None,
            "image_size": self.entry.record.get("image_size"),
            "seed": 0,
        }

    def refresh_export(self) -> bool:
        return False  # the package's files are never rewritten

    def read_eval(self, split: str) -> dict[str, Any]:
        """The manifest's figures of ``split`` (reused only where they match, as a run's)."""
        return dict(self.entry.figures.get(split) or {})

    def write_eval(
        self, split: str, figures: dict[str, Any], *, dropped: Iterable[str] = ()
    ) -> dict[str, Any] | None:
        return None  # figures of a zoo model under other settings are shown, not stored


def is_zoo_ref(ref: str | Path) -> bool:
    return isinstance(ref, (str, Path)) and str(ref).startswith(PREFIX)


def open_run(
    ref: str | Path | Run, *, data: str | None = None, data_root: Path | None = None
) -> Run:
    """A run directory, an exported model folder, or ``zoo:NAME``, opened as a :class:`Run`.

    A :class:`Run` given is returned as it is. A path that does not exist but names a zoo
    model is not guessed at: the ``zoo:`` prefix is what asks for the zoo.
    """
    if isinstance(ref, Run):
        return ref
    if is_zoo_ref(ref):
        return ZooRun(str(ref), data=data, data_root=data_root)
    path = Path(ref)
    if not path.exists() and not str(ref).startswith((".", "/")) and _is_zoo_name(str(ref)):
        raise MissingFileError(
            f"{ref} is no folder here; for the shipped model write zoo:{ref} "
            "('genzoo zoo' lists them)"
        )
    return Run(path, data=data, data_root=data_root)


def _is_zoo_name(name: str) -> bool:
    try:
        return name in read_manifest()["models"]
    except CorruptFileError:
        return False


def load(name: str, map_location: str = "cpu") -> Any:
    """The zoo model ``name`` in eval mode, its sha256 checked first.

    Example: ``genzoo.zoo.load("gan-fashion-mnist").sample(16)``.
    """
    return ZooRun(name).load_model(map_location)


def load_ref(ref: str | Path, map_location: str = "cpu") -> Any:
    """The model of a run directory, an export, or ``zoo:NAME`` (``genzoo.load``)."""
    return open_run(ref).load_model(map_location)
