"""Evaluation of models and runs: the metric table, sample and likelihood evaluation, and
run-level evaluation whose figures are stored in the run.

Layering: :mod:`genzoo.metrics` holds functions of arrays (features, FID, KID, PR/DC,
nearest neighbours, Parzen); this package turns models and runs into those arrays and
keeps the figures; :mod:`genzoo.report` puts them side by side.
"""

from __future__ import annotations

from typing import Any

_NAMES = {
    "evaluate_likelihood": "likelihood",
    "evaluate_run": "run",
    "draw_samples": "samples",
    "evaluate_samples": "samples",
    "make_extractor": "samples",
    "FEATURES": "settings",
    "EvalSettings": "settings",
    "METRICS": "table",
    "SAMPLE_METRICS": "table",
    "Metric": "table",
    "describe": "table",
}
__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    # Imported on use: the command line reads genzoo.evaluation.table (no torch) for --help.
    if name in _NAMES:
        import importlib

        return getattr(importlib.import_module(f"genzoo.evaluation.{_NAMES[name]}"), name)
    raise AttributeError(f"module 'genzoo.evaluation' has no attribute {name!r}")
