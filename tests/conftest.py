"""Shared fixtures: every test runs with its own genzoo cache and few torch threads."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path_factory):
    """No test reads or writes the user's cache; torch stays on few threads."""
    cache = tmp_path_factory.mktemp("genzoo-cache")
    monkeypatch.setenv("GENZOO_CACHE", str(cache))
    torch.set_num_threads(2)
