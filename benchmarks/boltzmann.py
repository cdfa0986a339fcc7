"""Boltzmann machines on binarised Fashion-MNIST: RBM throughput against a plain PyTorch
CD-1 loop of the same size, and test NLL estimates after a fixed CPU budget.

1. Throughput, RBM 784-500, batch 100, in this process, alternated twice (best of each):
   - CD-1 updates/s: a plain PyTorch CD-1 loop written here (explicit sigmoid, Bernoulli
     draws, outer products, momentum SGD update by hand) against genzoo's
     ``RBM.training_step`` with a bare optimize (zero_grad, backward, SGD step; no Fabric,
     no clipping, no logging);
   - Gibbs sweeps/s (v -> h -> v, 100 chains): a plain loop against ``RBM.sample``.
2. Training through the command line (``genzoo train`` with the recipes in configs/ and
   ``--train.max-minutes``): RBM CD-1, RBM PCD-1, DBM 500-1000 (pre-training shortened to
   ``--dbm-pretrain-steps`` per layer). Then, in this process, log Z by AIS
   (``--ais-runs`` x ``--ais-betas``, seed 0) and the test NLL over the first ``--eval-n``
   images of binarized-fashion-mnist:fixed (test set binarised once, seed 0):
   F(v) + log Z for the RBMs, log Z - (mean-field bound) for the DBM. Both are estimates
   that tend to be optimistic (AIS underestimates log Z in expectation).

Anchors (MNIST, which cannot be downloaded here; Fashion-MNIST is harder; the papers
trained for hours): RBM 500 (CD-25) -86.34 nats (Salakhutdinov and Murray 2008), DBM
500-1000 -84.62 nats (Salakhutdinov and Hinton 2009).

Usage:
    python benchmarks/boltzmann.py [--rbm-minutes 1.5] [--dbm-minutes 2.5] [--ais-betas 2000]

Appends a table, with its command, machine and date, to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from _common import START_COMMIT, append_result, machine

import genzoo
from genzoo.data import load_dataset
from genzoo.models.base import StepContext

ROOT = Path(__file__).resolve().parents[1]
VISIBLE, HIDDEN, BATCH = 784, 500, 100


class PlainCD1:
    """A CD-1 RBM written directly in PyTorch: no autograd, updates by hand."""

    def __init__(self, lr: float = 0.05, momentum: float = 0.9, decay: float = 1e-4) -> None:
        self.W = torch.randn(VISIBLE, HIDDEN) * 0.01
        self.b = torch.zeros(VISIBLE)
        self.c = torch.zeros(HIDDEN)
        self.vel = [torch.zeros_like(p) for p in (self.W, self.b, self.c)]
        self.lr, self.momentum, self.decay = lr, momentum, decay

    def step(self, v0: torch.Tensor) -> None:
        ph0 = torch.sigmoid(v0 @ self.W + self.c)  # (B, H)
        h0 = torch.bernoulli(ph0)
        v1 = torch.bernoulli(torch.sigmoid(h0 @ self.W.T + self.b))  # (B, D)
        ph1 = torch.sigmoid(v1 @ self.W + self.c)
        n = v0.shape[0]
        grads = [
            (v0.T @ ph0 - v1.T @ ph1) / n - self.decay * self.W,
            (v0 - v1).mean(0),
            (ph0 - ph1).mean(0),
        ]
        for p, vel, g in zip((self.W, self.b, self.c), self.vel, grads, strict=True):
            vel.mul_(self.momentum).add_(g)
            p.add_(self.lr * vel)

    def gibbs(self, v: torch.Tensor, steps: int) -> torch.Tensor:
        for _ in range(steps):
            h = torch.bernoulli(torch.sigmoid(v @ self.W + self.c))
            v = torch.bernoulli(torch.sigmoid(h @ self.W.T + self.b))
        return v


def genzoo_rbm() -> tuple[genzoo.models.base.GenerativeModel, StepContext]:
    model = genzoo.create_model(
        "rbm", image_shape=(1, 28, 28), kind="binary", hidden=HIDDEN, lr=0.05
    )
    from genzoo.config import TrainConfig

    opts = model.configure_optimizers(TrainConfig())

    def optimize(name: str, loss: torch.Tensor) -> None:
        opts[name].zero_grad(set_to_none=True)
        loss.backward()
        opts[name].step()

    return model, StepContext(model=model, optimizers=opts, step=1, optimize=optimize)


def throughput(images: torch.Tensor, steps: int, sweeps: int) -> dict[str, float]:
    """Best-of-two updates/s and sweeps/s of each implementation."""
    best: dict[str, float] = {}
    v_float = images.view(len(images), -1).float()
    for _ in range(2):
        plain = PlainCD1()
        t = time.perf_counter()
        for s in range(steps):
            plain.step(v_float[(s * BATCH) % len(images) :][:BATCH])
        best["plain_cd1"] = max(best.get("plain_cd1", 0), steps / (time.perf_counter() - t))
        model, ctx = genzoo_rbm()
        t = time.perf_counter()
        for s in range(steps):
            model.training_step(images[(s * BATCH) % len(images) :][:BATCH], None, ctx)
        best["genzoo_cd1"] = max(best.get("genzoo_cd1", 0), steps / (time.perf_counter() - t))
        t = time.perf_counter()
        plain.gibbs(torch.bernoulli(torch.full((BATCH, VISIBLE), 0.5)), sweeps)
        best["plain_gibbs"] = max(best.get("plain_gibbs", 0), sweeps / (time.perf_counter() - t))
        t = time.perf_counter()
        model.sample(BATCH, generator=torch.Generator().manual_seed(0), gibbs_steps=sweeps)
        best["genzoo_gibbs"] = max(best.get("genzoo_gibbs", 0), sweeps / (time.perf_counter() - t))
    return best


def train(model: str, recipe: str, out: Path, minutes: float, extra: list[str]) -> str:
    cmd = [
        sys.executable, "-m", "genzoo.cli", "train", model, "--config", f"configs/{recipe}",
        "--out", str(out), "--train.max-minutes", str(minutes), "--train.no-progress",
        "--train.sample-every", "0", *extra,
    ]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    subprocess.run(cmd, check=True, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    shown = ["genzoo", *cmd[3:]]
    shown[shown.index(str(out))] = "RUN"
    return shlex.join(shown)


def last_step(run: Path) -> int:
    from genzoo.train.checkpoint import load_checkpoint

    return int(load_checkpoint(run / "checkpoint.pt")["step"])


def evaluate(run: Path, test: torch.Tensor, runs: int, betas: int) -> tuple[str, float, str]:
    model = genzoo.load(run)
    t = time.perf_counter()
    terms = model.nll_terms(
        test, generator=torch.Generator().manual_seed(0), ais_runs=runs, ais_betas=betas
    )
    ((key, nll),) = terms.items()
    est = model.log_partition(runs=runs, betas=betas)
    seconds = time.perf_counter() - t
    return key, float(nll.double().mean()), f"{est.log_z:.2f} +/- {est.std:.2f} ({seconds:.0f} s)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rbm-minutes", type=float, default=1.5)
    parser.add_argument("--dbm-minutes", type=float, default=2.5)
    parser.add_argument("--dbm-pretrain-steps", type=int, default=1000)
    parser.add_argument("--ais-runs", type=int, default=100)
    parser.add_argument("--ais-betas", type=int, default=2000)
    parser.add_argument("--eval-n", type=int, default=2000)
    parser.add_argument("--throughput-steps", type=int, default=200)
    parser.add_argument("--skip-training", action="store_true")
    args = parser.parse_args()
    command = shlex.join(["python", "benchmarks/boltzmann.py", *sys.argv[1:]])
    started = datetime.datetime.now(datetime.timezone.utc)
    machine_line = machine()
    torch.manual_seed(0)
    train_images = load_dataset("binarized-fashion-mnist:fixed", "train[:10000]").images
    rates = throughput(train_images, args.throughput_steps, args.throughput_steps)
    print(rates)
    rows = []
    if not args.skip_training:
        test = load_dataset("binarized-fashion-mnist:fixed", f"test[:{args.eval_n}]").images
        pretrain = ["--model.pretrain-steps", str(args.dbm_pretrain_steps)]
        plans = [
            ("RBM 500, CD-1", "rbm", "rbm-binarized-fashion-mnist.toml", args.rbm_minutes, []),
            ("RBM 500, PCD-1", "rbm", "rbm-binarized-fashion-mnist.toml", args.rbm_minutes,
             ["--model.persistent", "True"]),
            ("DBM 500-1000", "dbm", "dbm-binarized-fashion-mnist.toml", args.dbm_minutes,
             pretrain),
        ]  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:
            for label, model, recipe, minutes, extra in plans:
                run = Path(tmp) / label.replace(" ", "_").replace(",", "")
                t = time.perf_counter()
                cmd = train(model, recipe, run, minutes, extra)
                wall = time.perf_counter() - t
                key, nll, log_z = evaluate(run, test, args.ais_runs, args.ais_betas)
                rows.append((label, cmd, last_step(run), wall, key, nll, log_z))
                print(rows[-1])
    lines = [
        f"### Boltzmann machines on binarised Fashion-MNIST, {started:%Y-%m-%d %H:%M} UTC",
        "",
        f"- command: `{command}` (commit {START_COMMIT})",
        f"- machine: {machine_line}",
        "- throughput: RBM 784-500, batch 100, best of 2; genzoo's CD-1 step is "
        "RBM.training_step with a bare SGD step (autograd through the free-energy surrogate)",
        "",
        "| measurement | plain PyTorch | genzoo | genzoo / plain |",
        "|---|---|---|---|",
        f"| CD-1 updates/s | {rates['plain_cd1']:.1f} | {rates['genzoo_cd1']:.1f} | "
        f"{rates['genzoo_cd1'] / rates['plain_cd1']:.2f} |",
        f"| Gibbs sweeps/s, 100 chains | {rates['plain_gibbs']:.1f} | "
        f"{rates['genzoo_gibbs']:.1f} | {rates['genzoo_gibbs'] / rates['plain_gibbs']:.2f} |",
    ]
    if rows:
        lines += [
            "",
            f"Test NLL over the first {args.eval_n} images of binarized-fashion-mnist:fixed "
            f"(seed 0); log Z by AIS, {args.ais_runs} runs x {args.ais_betas} betas (seed 0; "
            "+/- one standard error over runs). AIS tends to underestimate log Z, so these "
            "NLLs tend to be optimistic (too low); the DBM's is log Z minus the mean-field "
            "bound. Anchors (MNIST, long training): RBM 500 CD-25 86.34, DBM 500-1000 84.62.",
            "",
            "| run | training command | steps | wall | figure | test NLL nats/image | log Z |",
            "|---|---|---|---|---|---|---|",
        ]
        for label, cmd, steps, wall, key, nll, log_z in rows:
            lines.append(
                f"| {label} | `{cmd}` | {steps} | {wall:.0f} s | {key} | **{nll:.2f}** | {log_z} |"
            )
    append_result("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
