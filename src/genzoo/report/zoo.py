"""The zoo's figures as comparison tables, one per dataset, read from the manifest.

``genzoo zoo`` prints these without loading a model: every figure was stored by
``genzoo eval`` on the shipped weights (see :mod:`genzoo.zoo.build`), with the settings it
was measured with, and is labelled by the same metric table as ``genzoo compare``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from genzoo.evaluation.settings import EvalSettings
from genzoo.evaluation.table import METRICS
from genzoo.report.compare import RunResult, Table, build_table
from genzoo.zoo import PREFIX, ZooEntry, entries


def _settings(entry: ZooEntry) -> EvalSettings:
    stored = dict(entry.record.get("settings") or {})
    fields = {f.name for f in dataclasses.fields(EvalSettings)}
    stored = {k: v for k, v in stored.items() if k in fields}
    if "metrics" in stored:
        stored["metrics"] = tuple(m for m in stored["metrics"] if m in METRICS)
    if stored.get("data_root") is not None:
        stored["data_root"] = Path(stored["data_root"])
    return EvalSettings(**stored)


def _result(entry: ZooEntry) -> RunResult:
    r = entry.record
    return RunResult(
        run=PREFIX + entry.name,
        label=entry.name,
        model=str(r.get("family")),
        num_params=int(r.get("parameters") or 0),
        density=r.get("density"),
        figures=dict(entry.figures.get("test") or {}),
        training={
            "step": r.get("steps"), "epochs": r.get("epochs"), "seconds": r.get("train_seconds"),
        },
    )  # fmt: skip


def zoo_tables(root: Path | None = None) -> list[tuple[str, Table]]:
    """``[(dataset, table)]``: the shipped models of each dataset (and image size) in one
    table.

    Models of one dataset measured with different settings share the table whose settings
    they match; the first entry's settings label it (the build script uses one setting
    per dataset, so in practice there is one table per dataset).
    """
    groups: dict[tuple[str, Any], list[ZooEntry]] = {}
    for entry in entries(root):
        settings = _settings(entry)
        size = entry.record.get("image_size")  # a resized dataset is another dataset
        dataset = f"{entry.dataset} at {size}x{size}" if size else entry.dataset
        groups.setdefault((dataset, _key(settings)), []).append(entry)
    tables = []
    for (dataset, _), members in groups.items():
        settings = _settings(members[0])
        metrics = tuple(dict.fromkeys(m for e in members for m in _settings(e).metrics))
        settings = dataclasses.replace(settings, metrics=metrics or settings.metrics)
        tables.append((dataset, build_table([_result(e) for e in members], settings)))
    return tables


def _key(settings: EvalSettings) -> tuple[Any, ...]:
    d = dataclasses.asdict(settings)
    d.pop("metrics")
    return tuple(sorted((k, str(v)) for k, v in d.items()))


def describe_entry(entry: ZooEntry) -> list[str]:
    """A zoo model's card as lines: what it is, how it was trained, where it came from."""
    r = entry.record
    size = r.get("file_bytes") or 0
    seconds = float(r.get("train_seconds") or 0)
    lines = [
        f"{PREFIX}{entry.name}: {r.get('family')} on {r.get('dataset')}, "
        f"{int(r.get('parameters') or 0) / 1e6:.2f}M parameters ({r.get('weights')}), "
        f"{size / 2**20:.1f} MiB, sha256 {str(r.get('sha256'))[:16]}...",
        f"  trained {r.get('steps')} steps ({seconds / 60:.0f} min) by: {r.get('command')}",
        f"  recipe {r.get('recipe')}; commit {r.get('commit', '?')}; {r.get('machine')}, "
        f"{r.get('date')}",
    ]
    fid = (r.get("inception") or {}).get("fid") or {}
    if "value" in fid:  # the paper-comparable FID, where one was measured
        lines.append(
            f"  Inception FID {fid['value']:.2f} at n = {fid.get('n_samples')} "
            f"(by: {r.get('inception_command')})"
        )
    if r.get("note"):
        lines.append(f"  samples: {r['note']}")
    return lines
