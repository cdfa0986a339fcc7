"""Shared fixtures: every test runs with its own genzoo cache and few torch threads."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path_factory):
    """No test reads or writes the user's cache. One torch thread per test process: the
    suite runs on 2 processes (pytest -n 2) of a 2-core machine, and more threads than
    cores makes small convolutions many times slower."""
    cache = tmp_path_factory.mktemp("genzoo-cache")
    monkeypatch.setenv("GENZOO_CACHE", str(cache))
    torch.set_num_threads(1)
