"""PixelCNN on Fashion-MNIST: training throughput and test bits/dim after a fixed budget.

Two measurements, in one run on one machine:

1. Throughput (images/s) of genzoo's training loop (Lightning Fabric, EMA off, gradient
   clipping, logging) against a bare PyTorch loop (Adam, same model, same batches) as the
   baseline. The ratio shows what the loop costs; the machine's noise cancels out of it.
2. Test NLL (exact, bits/dim over the full 10k test split) after training for a fixed
   wall-clock budget with ``--train.max-minutes``.

Usage:
    python benchmarks/pixelcnn_fashion_mnist.py [--budget-minutes 5] [--recipe demo|default]

Appends a table, with its command, machine and date, to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import math
import shlex
import sys
import tempfile
import time
from pathlib import Path

import torch
from _common import START_COMMIT, append_result, machine, quiet_fit_config

import genzoo
from genzoo.models.pixelcnn_config import PixelCNNConfig
from genzoo.train.loop import fit

RECIPES = {
    "demo": PixelCNNConfig(hidden_channels=32, num_blocks=5, output_channels=64),
    "default": PixelCNNConfig(),
}


def bare_loop(model, images: torch.Tensor, batch: int, steps: int, lr: float) -> float:
    """The baseline: plain PyTorch, no Fabric, no logging. Returns images/s."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    for _ in range(steps):
        x = images[torch.randint(0, len(images), (batch,), generator=g)]
        opt.zero_grad(set_to_none=True)
        model.loss(x)["loss"].backward()
        opt.step()
    return steps * batch / (time.perf_counter() - t0)


def genzoo_loop(model, dataset, batch: int, steps: int, lr: float, out: Path) -> float:
    cfg = quiet_fit_config(batch, lr, steps=steps, log_every=10)
    t0 = time.perf_counter()
    fit(model, dataset, out, cfg)
    return steps * batch / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget-minutes", type=float, default=5.0)
    p.add_argument("--recipe", choices=sorted(RECIPES), default="demo")
    p.add_argument("--throughput-steps", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--no-write", action="store_true", help="print only; do not touch RESULTS.md")
    args = p.parse_args()

    train = genzoo.data.load_dataset("fashion-mnist", "train")
    test = genzoo.data.load_dataset("fashion-mnist", "test")
    config = RECIPES[args.recipe]

    def fresh():
        torch.manual_seed(0)
        return genzoo.create_model("pixelcnn", image_shape=(1, 28, 28), config=config)

    n_params = sum(p.numel() for p in fresh().parameters())
    with tempfile.TemporaryDirectory() as tmp:
        # warm-up, then baseline and genzoo alternately (twice each), best of each
        bare_loop(fresh(), train.images, args.batch_size, 3, args.lr)
        bare, ours = [], []
        for k in range(2):
            bare.append(
                bare_loop(fresh(), train.images, args.batch_size, args.throughput_steps, args.lr)
            )
            ours.append(
                genzoo_loop(
                    fresh(),
                    train,
                    args.batch_size,
                    args.throughput_steps,
                    args.lr,
                    Path(tmp) / f"tp{k}",
                )
            )
        bare_ips, ours_ips = max(bare), max(ours)

        model = fresh()
        cfg = quiet_fit_config(args.batch_size, args.lr, max_minutes=args.budget_minutes)
        t0 = time.perf_counter()
        fit(model, train, Path(tmp) / "budget", cfg)
        train_s = time.perf_counter() - t0
        steps_done = torch.load(Path(tmp) / "budget" / "checkpoint.pt", weights_only=True)["step"]
        model.eval()
        total = 0.0
        t0 = time.perf_counter()
        with torch.no_grad():
            for i in range(0, len(test), 500):
                total += float(model.log_prob(test.images[i : i + 500]).double().sum())
        eval_s = time.perf_counter() - t0
    nll = -total / len(test)
    bpd = nll / (784 * math.log(2))

    command = "python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *sys.argv[1:]])
    commit = START_COMMIT
    table = "\n".join(
        [
            f"### PixelCNN on Fashion-MNIST ({args.recipe} size), "
            f"{datetime.date.today().isoformat()}",
            "",
            f"- command: `{command}` (commit {commit or 'unknown'})",
            f"- machine: {machine()}",
            f"- model: {config} ({n_params / 1e6:.2f}M parameters), batch {args.batch_size}, "
            f"Adam lr {args.lr}",
            "",
            "| measurement | value |",
            "|---|---|",
            f"| training throughput, bare PyTorch loop (baseline) | {bare_ips:.0f} images/s |",
            f"| training throughput, genzoo loop (Fabric) | {ours_ips:.0f} images/s |",
            f"| ratio genzoo / baseline | {ours_ips / bare_ips:.2f} |",
            f"| budget | {args.budget_minutes:g} min: {steps_done} steps, "
            f"{steps_done * args.batch_size / len(train):.2f} epochs, {train_s:.0f} s |",
            f"| test NLL (exact, 10,000 images) | {nll:.1f} nats/image, **{bpd:.3f} bits/dim** |",
            f"| test evaluation time | {eval_s:.0f} s |",
            "",
        ]
    )
    print(table)
    if not args.no_write:
        append_result(table)


if __name__ == "__main__":
    main()
