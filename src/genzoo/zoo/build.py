"""Adding a trained run to the zoo: its export, its stored figures and its facts.

``scripts/zoo.py build`` trains nothing and types nothing in: it runs ``genzoo eval`` on
each run of ``configs/zoo.toml`` (the figures are stored in ``RUN/eval/test.json`` with
what they were measured against), computes the small *check* figure that the tests
reproduce from the installed package, and calls :func:`add_to_zoo`, which copies the
run's export and those stored figures into the package with the facts of the run.
"""

from __future__ import annotations

import datetime
import os
import platform
import shutil
import tempfile
from pathlib import Path
from typing import Any

from genzoo.errors import MissingFileError, UserInputError
from genzoo.io import write_json
from genzoo.runs import Run
from genzoo.zoo import MANIFEST_FORMAT, read_manifest, sha256_of


def cpu_name() -> str:
    """The CPU model as /proc/cpuinfo names it (else what platform knows)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return cpu


def machine() -> str:
    """The CPU model and core count (what the budgets in minutes were measured on)."""
    return f"{cpu_name()}, {os.cpu_count()} cores"


def add_to_zoo(
    run_dir: str | Path,
    name: str,
    *,
    recipe: str,
    command: str,
    note: str = "",
    settings: dict[str, Any] | None = None,
    check: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    half: bool = False,
    root: Path | None = None,
) -> dict[str, Any]:
    """Copy a trained run's export and stored figures into the zoo under ``name``.

    Args:
        run_dir: a run directory of ``genzoo train`` (with a checkpoint).
        name: the zoo name (``zoo:NAME`` on the command line).
        recipe: the recipe file it was trained from (relative to the repository).
        command: the command that trained it.
        note: what a person saw in its samples ("recognisable garments", ...).
        settings: the evaluation settings of the stored figures (``EvalSettings`` as a
            dict), so that ``genzoo zoo`` labels them as ``genzoo compare`` would.
        check: a small figure the tests reproduce: ``{"settings": {...}, "metric", "key",
            "value"}``, computed by ``genzoo.evaluation`` on this very export.
        extra: further facts (commit, machine, ...) stored as they are.
        half: store the floating-point weights as float16 (half the file; a loaded model
            is float32 again). The run's figures are then not the shipped file's, so none
            are copied: evaluate the entry (``zoo:NAME``) and store its figures with
            :func:`update_record`.
        root: the zoo folder (the package's own by default).

    Returns:
        The manifest record written.
    """
    import genzoo.zoo

    root = genzoo.zoo.ZOO_DIR if root is None else root
    if not name or not all(c.isalnum() or c in "-_." for c in name) or name.startswith("."):
        raise UserInputError(f"zoo name {name!r}: use letters, digits, '-', '_' and '.'")
    run = Run(run_dir)
    if not run.is_run:
        raise MissingFileError(f"{run_dir} holds no run (run.json missing); train it first")
    run.refresh_export()
    src = run.export_dir
    if not (src / "model.safetensors").is_file():
        raise MissingFileError(f"{run_dir} has no export yet; let it write a checkpoint first")
    figures = run.read_eval("test")
    if half or figures.get("model_digest") != run.weights_digest():
        figures = {}  # figures of older (or float32) weights are not the shipped file's
    meta = run.meta
    model = run.load_model()
    info = run.training_info()
    ema = float(meta.get("train", {}).get("ema_decay") or 0.0) > 0
    root.mkdir(parents=True, exist_ok=True)
    # the folder is replaced whole: files written beside it, then renamed into place
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
    try:
        tmp.chmod(0o755)  # package data: readable by every user of an installed genzoo
        for f in ("config.json", "model.safetensors"):
            shutil.copyfile(src / f, tmp / f)
            (tmp / f).chmod(0o644)
        if half:
            to_half(tmp / "model.safetensors")
            (tmp / "model.safetensors").chmod(0o644)
        dest = root / name
        if dest.exists():
            old = dest.with_name(f".{name}.old")
            shutil.rmtree(old, ignore_errors=True)
            dest.rename(old)
            tmp.rename(dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    weights = root / name / "model.safetensors"
    record: dict[str, Any] = {
        "family": meta.get("model"),
        "dataset": run.dataset_name,
        "image_size": run.data_info.get("image_size"),
        "recipe": recipe,
        "command": command,
        "density": model.density,
        "parameters": sum(p.numel() for p in model.parameters()),
        "file_bytes": weights.stat().st_size,
        "sha256": sha256_of(weights),
        "weights": ("EMA of the weights" if ema else "the trained weights")
        + (", stored as float16" if half else ""),
        "steps": info.get("step"),
        "epochs": info.get("epochs"),
        "train_seconds": info.get("seconds"),
        "batch_size": info.get("batch_size"),
        "machine": machine(),
        "date": datetime.date.today().isoformat(),
        "note": note,
        "figures": {"test": figures} if figures else {},
        "settings": settings or {},
        "check": check or {},
        **(extra or {}),
    }
    manifest = read_manifest(root)
    manifest["format"] = MANIFEST_FORMAT
    manifest["models"][name] = record
    write_json(root / genzoo.zoo.MANIFEST, manifest)
    return record


def to_half(path: Path) -> None:
    """Rewrite a safetensors file with its float32 tensors as float16, atomically.

    Integer tensors (counters, masks) are kept as they are. A weight beyond float16's range
    (|x| > 65504) is refused rather than stored as infinity.
    """
    import torch
    from safetensors.torch import load_file, save_file

    from genzoo.io import atomic_path

    weights = load_file(str(path))
    for key, value in weights.items():
        if value.dtype == torch.float32:
            half = value.half()
            if not torch.isfinite(half).all() and torch.isfinite(value).all():
                raise UserInputError(
                    f"{path}: {key} holds values up to {value.abs().max().item():.3g}, beyond "
                    "float16's 65504; ship this entry in float32 (drop 'half = true')"
                )
            weights[key] = half
    with atomic_path(path) as tmp:
        save_file(weights, str(tmp))


def update_record(name: str, fields: dict[str, Any], root: Path | None = None) -> None:
    """Store further fields of an entry: figures measured on the shipped copy, its check."""
    import genzoo.zoo

    root = genzoo.zoo.ZOO_DIR if root is None else root
    manifest = read_manifest(root)
    if name not in manifest["models"]:
        raise UserInputError(f"no zoo model {name!r} in {root}; add it first")
    manifest["models"][name].update(fields)
    write_json(root / genzoo.zoo.MANIFEST, manifest)


def set_check(name: str, check: dict[str, Any], root: Path | None = None) -> None:
    """Store the check figure of an entry (computed on the shipped copy, see scripts/zoo.py)."""
    update_record(name, {"check": check}, root)
