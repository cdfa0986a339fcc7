"""Shared fixtures: every test runs with its own genzoo cache and few torch threads."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path_factory):
    """No test reads or writes anything outside its temporary folders: its own genzoo
    cache, its own home (so ~/.cache and ~/.config are never the user's), and a temporary
    working directory (a command's default --out, e.g. samples.png, lands there, not in
    the checkout). One torch thread per test process: the suite runs on 2 processes
    (pytest -n 2) of a 2-core machine, and more threads than cores makes small
    convolutions many times slower."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("GENZOO_CACHE", str(tmp_path_factory.mktemp("genzoo-cache")))
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    monkeypatch.setenv("GENZOO_THREADS", "1")  # fixed: the thread tuner stays off in tests
    torch.set_num_threads(1)
