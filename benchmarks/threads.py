"""The CPU thread policy, measured: training throughput of genzoo models under each
policy, on an idle machine and with one and two busy processes beside it.

Policies: ``default`` (OpenMP's spin-then-sleep wait, one thread per core: what PyTorch
does unconfigured), ``passive`` (OMP_WAIT_POLICY=PASSIVE: sleep at once), ``short-spin``
(GOMP_SPINCOUNT=10000: spin briefly, then sleep), ``one`` (one thread),
``passive-one``, ``auto`` (genzoo's default: OpenMP's own wait, the thread count chosen by
genzoo.threads' tuner while the steps run, its trials included in the figure) and
``auto-passive``. A busy process is another training of the same model at PyTorch's
unconfigured default, as a second run or the test suite beside yours would be. Each
measurement runs in a fresh process (OpenMP reads its environment once) for a fixed time
after a warm-up; figures are ratios against the same model's best idle figure in the same
run.

    python benchmarks/threads.py                 # appends a table to benchmarks/RESULTS.md
    python benchmarks/threads.py --seconds 3 --no-write
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")

MODELS = {
    "pixelcnn": ("pixelcnn", (1, 28, 28), "8bit", {"hidden_channels": 16, "num_blocks": 3}),
    "vae-mlp": ("vae", (1, 28, 28), "8bit", {"latent_dim": 32, "hidden": 200}),
    "dcgan": ("gan", (1, 28, 28), "8bit", {"width": 32}),
}
AUTO = -1
POLICIES = {
    "default": ({}, 0),
    "passive": ({"OMP_WAIT_POLICY": "PASSIVE"}, 0),
    "short-spin": ({"GOMP_SPINCOUNT": "10000"}, 0),
    "one": ({}, 1),
    "passive-one": ({"OMP_WAIT_POLICY": "PASSIVE"}, 1),
    "auto": ({}, AUTO),
    "auto-passive": ({"OMP_WAIT_POLICY": "PASSIVE"}, AUTO),
}
BATCH = 64


def worker(model_key: str, threads: int, seconds: float, forever: bool) -> None:
    """Train on random data; print images/s after a warm-up (or train until killed)."""
    import torch

    sys.path.insert(0, SRC)
    from _steps import bare_stepper, for_seconds

    import genzoo
    from genzoo.config import TrainConfig

    tick = lambda: None  # noqa: E731
    if threads == AUTO:  # genzoo's tuner, ticked once per step as the training loop's bar does
        from genzoo import threads as policy

        policy.apply()
        tick = lambda: policy.tick("step")  # noqa: E731
    elif threads:
        torch.set_num_threads(threads)
    name, shape, kind, cfg = MODELS[model_key]
    torch.manual_seed(0)
    model = genzoo.create_model(name, image_shape=shape, kind=kind, **cfg).train()
    bare = bare_stepper(model, TrainConfig(lr=1e-4, grad_clip=0.0))
    x = torch.randint(0, 256, (BATCH, *shape), dtype=torch.uint8)

    def step(i: int) -> None:
        bare(x, None, i)
        tick()

    if forever:
        i = 0
        while True:
            step(i)
            i += 1
    n, s = for_seconds(step, seconds, warmup=3)
    print(json.dumps({"img_per_s": n * BATCH / s}))


def _spawn(model: str, env: dict[str, str], threads: int, seconds: float, forever: bool):
    cmd = [sys.executable, __file__, "--worker", model, "--threads", str(threads)]
    cmd += ["--seconds", str(seconds)] + (["--forever"] if forever else [])
    drop = ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "GOMP_SPINCOUNT", "GENZOO_THREADS")
    full = {k: v for k, v in os.environ.items() if k not in drop}
    return subprocess.Popen(cmd, env=full | env, stdout=subprocess.PIPE, text=True)


def measure(model: str, policy: str, busy: int, seconds: float) -> float:
    env, threads = POLICIES[policy]
    others = [_spawn(model, {}, 0, 0, True) for _ in range(busy)]
    try:
        time.sleep(2.0 if busy else 0.0)  # let the busy processes reach their loop
        proc = _spawn(model, env, threads, seconds, False)
        out, _ = proc.communicate(timeout=seconds * 20 + 120)
        return float(json.loads(out.strip().splitlines()[-1])["img_per_s"])
    finally:
        for p in others:
            p.kill()
            p.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--forever", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--seconds", type=float, default=5.0, help="timed seconds per figure")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--policies", default=",".join(POLICIES), help="comma-separated subset")
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.threads, args.seconds, args.forever)
        return
    sys.path.insert(0, SRC)
    sys.path.insert(0, str(Path(__file__).parent))
    from _common import START_COMMIT, machine, record

    started = machine()
    rows = []
    policies = args.policies.split(",")
    unknown = sorted(set(policies) - set(POLICIES))
    if unknown:
        raise SystemExit(f"unknown policies {unknown}; choose from {', '.join(POLICIES)}")
    for model in args.models.split(","):
        figures = {(p, b): measure(model, p, b, args.seconds) for b in (0, 1, 2) for p in policies}
        best_idle = max(figures[(p, 0)] for p in policies)
        for p in policies:
            idle, one, two = (figures[(p, b)] for b in (0, 1, 2))
            rows.append(
                f"| {model} | {p} | {idle:.0f} | {idle / best_idle:.2f} | {one:.0f} "
                f"({one / idle:.2f}) | {two:.0f} ({two / idle:.2f}) |"
            )
            print(rows[-1], flush=True)
    record(
        [
            f"## CPU thread policy ({time.strftime('%Y-%m-%d')}, commit {START_COMMIT})",
            "",
            f"`python benchmarks/threads.py --seconds {args.seconds:g} --policies "
            f"{args.policies}`; {started}; batch "
            f"{BATCH}, bare training steps on in-memory data, each figure a fresh process.",
            "Busy: other processes training the same model at PyTorch's unconfigured default.",
            "",
            "| model | policy | idle img/s | vs best idle | 1 busy img/s (vs own idle) | "
            "2 busy img/s (vs own idle) |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
        ],
        not args.no_write,
    )


if __name__ == "__main__":
    main()
