"""Comparing runs: ``genzoo compare`` (one table) and ``genzoo report`` (one static page)."""

from genzoo.report.compare import RunResult, Table, build_table, compare_runs

__all__ = ["RunResult", "Table", "build_table", "compare_runs"]
