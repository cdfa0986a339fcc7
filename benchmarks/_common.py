"""What every benchmark script shares: the machine line and appending to RESULTS.md."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import torch

RESULTS = Path(__file__).with_name("RESULTS.md")
HEADER = "# Benchmark results\n\nEach entry is appended by the script in its command.\n\n"


def _head_commit() -> str:
    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
        cwd=Path(__file__).parent,
    )  # fmt: skip
    return out.stdout.strip() or "unknown"


START_COMMIT = _head_commit()
"""The commit checked out when the benchmark started (read at import, so commits made while
a long benchmark runs are not credited with its figures)."""


def machine() -> str:
    """CPU model, cores, load average, torch and Python versions, for a results entry."""
    from genzoo.zoo.build import cpu_name

    cpu = cpu_name()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"load average at start {load}; {cpu}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, Python {platform.python_version()}"
    )


def append_result(table: str) -> None:
    """Append one entry (a markdown block) to benchmarks/RESULTS.md."""
    header = "" if RESULTS.exists() else HEADER
    gap = "\n" if RESULTS.exists() and not RESULTS.read_text().endswith("\n\n") else ""
    with RESULTS.open("a") as f:
        f.write(header + gap + table + "\n")


def genzoo(*argv: str) -> list[str]:
    """The command line of ``genzoo ARGV`` with this interpreter (the checkout's package)."""
    import sys

    return [sys.executable, "-m", "genzoo.cli", *argv]


def compare_table(runs: list[Path], options: list[str], table_file: Path) -> tuple[str, float]:
    """Run ``genzoo compare`` on ``runs`` (markdown to ``table_file``); return the table's
    text and the minutes it took."""
    import time

    cmd = genzoo("compare", *map(str, runs), *options, "--out", str(table_file), "--force")
    start = time.monotonic()
    subprocess.run(cmd, check=True, cwd=Path(__file__).resolve().parents[1])
    return table_file.read_text().strip(), (time.monotonic() - start) / 60


def entry_start(title: str, minutes: float, started: str, details: str) -> list[str]:
    """An entry's first lines: ``## TITLE (date, commit)``, a blank line, and its paragraph:
    the command as run (``python benchmarks/SCRIPT ARGS``), its minutes, the machine line
    ``started`` (:func:`machine`) and ``details`` (the rest of the sentence on)."""
    import shlex
    import sys
    import time

    script = Path(sys.argv[0]).name
    return [
        f"## {title} ({time.strftime('%Y-%m-%d')}, commit {START_COMMIT})",
        "",
        f"`python benchmarks/{script} {shlex.join(sys.argv[1:])}` ({minutes:.0f} min); "
        f"{started}{details}",
    ]


def record(entry_lines: list[str], write: bool) -> None:
    """Print a results entry and, unless told not to, append it to RESULTS.md."""
    entry = "\n".join(entry_lines)
    print(entry)
    if write:
        append_result(entry)


def quiet_fit_config(
    batch_size: int, lr: float, *, steps: int = 10**7, max_minutes: float = 0.0, log_every: int = 50
):
    """The TrainConfig of a benchmark's own ``fit``: on the CPU, no progress bar, no sample
    grids, no checkpoint before the last; ``max_minutes`` bounds it by time instead."""
    from genzoo.config import TrainConfig

    return TrainConfig(
        steps=steps, batch_size=batch_size, lr=lr, sample_every=0, progress=False,
        accelerator="cpu", max_minutes=max_minutes, checkpoint_every=10**9, log_every=log_every,
    )  # fmt: skip
