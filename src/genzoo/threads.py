"""The CPU thread policy: how many threads PyTorch uses, and how they wait.

PyTorch's OpenMP threads spin-wait for each other at the end of every parallel region by
default. On a machine whose cores are shared (a laptop with a browser open, a server with
other jobs, the test suite beside a training) a descheduled partner keeps the others
spinning, and small models run 10-100x slower than on an idle machine
(benchmarks/RESULTS.md, "CPU thread policy"). genzoo's entry point therefore asks OpenMP
to wait passively (``OMP_WAIT_POLICY=PASSIVE``) unless the user set the variable: the
policy must be in the environment before torch loads OpenMP, so :func:`configure` runs
before anything imports torch.

Thread count: ``--train.threads N`` for a training run, or ``GENZOO_THREADS=N`` for every
command; unset, PyTorch's own default (one per core) is kept. The policy in force is
printed at the start of a training run and stored in its run.json.
"""

from __future__ import annotations

import os

ENV_THREADS = "GENZOO_THREADS"
WAIT_POLICY = "PASSIVE"
"""The default OMP_WAIT_POLICY, chosen by measurement (benchmarks/threads.py, RESULTS.md):
with two busy processes beside it a run keeps 0.24-0.42 of its idle speed where PyTorch's
unconfigured default keeps 0.00-0.07; idle it costs nothing on convolutional models and up
to 60% on small MLPs (a thread wake-up per small operation), for which one thread
(``GENZOO_THREADS=1``) is the better choice on a shared machine."""


def configure() -> None:
    """Set the default wait policy in the environment unless the user chose one. Call it
    before torch is imported (the ``genzoo`` entry point does)."""
    os.environ.setdefault("OMP_WAIT_POLICY", WAIT_POLICY)


def requested(threads: int | None = None) -> int | None:
    """The thread count asked for: ``threads`` if positive, else ``$GENZOO_THREADS``."""
    if threads:
        return int(threads)
    env = os.environ.get(ENV_THREADS, "").strip()
    if not env:
        return None
    try:
        n = int(env)
    except ValueError:
        from genzoo.errors import UserInputError

        raise UserInputError(f"{ENV_THREADS}={env!r} is not a number of threads") from None
    return n if n > 0 else None


def apply(threads: int | None = None) -> str:
    """Use the thread count asked for (if any) and describe the policy in force."""
    import torch

    n = requested(threads)
    if n is not None and n != torch.get_num_threads():
        torch.set_num_threads(n)
    wait = os.environ.get("OMP_WAIT_POLICY", "unset (OpenMP's default, active)")
    return f"threads {torch.get_num_threads()}, OMP_WAIT_POLICY {wait}"
