"""The autoregressive family: naive and cached sampling, side by side (and, with
--budget-minutes > 0, test NLL after a fixed CPU training budget on Fashion-MNIST).

1. Sampling (always): per model, on freshly initialised networks (or the trained ones at
   28x28 when --budget-minutes > 0), the naive sampler (a full forward pass per sub-pixel,
   the reference) and the cached sampler (per-layer caches, one new position per layer
   per pixel; Ramachandran et al. 2017, genzoo.models.cached_sampling), same
   generator seed, back to back, on the same --n-naive images (28x28) and --n-colour-naive
   images (32x32x3): times, speed-ups against naive at the same batch, identical images.
   Then the cached sampler alone on --n (28x28) and --n-colour (32x32x3) images, against
   the naive time *estimated* as (H*W*C evaluations) x (one timed forward pass at that
   batch): running the naive sampler itself on 64 images takes 20 minutes on one core.
2. FLOPs per image (torch.utils.flop_counter): the naive sampler's (H*W*C forward passes,
   the ceiling) against the cached sampler's (counted over a whole cached sample of one
   image); their ratio bounds the cached speed-up, and the table says which fraction of
   it the measured speed-up reaches.
3. With --budget-minutes > 0: exact test NLL (nats/image and bits/dim) of each model after
   the same wall-clock training budget, with the one training loop.

Runs before 2026-12-07 also timed the window sampler (each new pixel's receptive-field
window), retired then (issue #21): the cached sampler was faster in every case.

Usage:
    python benchmarks/ar_sampling.py [--n 64] [--n-naive 8] [--n-colour 8] [--n-colour-naive 1]
        [--budget-minutes 0] [--threads 1] [--only PixelCNN ...]

Appends a table, with its command, machine, load and date, to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

import torch
from _common import START_COMMIT, append_result, machine, quiet_fit_config
from torch.utils.flop_counter import FlopCounterMode

import genzoo
from genzoo.train.loop import fit

# (label, registry name, config): small networks that train on a CPU
MODELS = [
    ("PixelCNN", "pixelcnn", {"hidden_channels": 32, "num_blocks": 5, "output_channels": 64}),
    ("Gated PixelCNN", "gated-pixelcnn", {"hidden_channels": 48, "num_layers": 5,
                                          "output_channels": 64}),
    ("PixelCNN++", "pixelcnn++", {"filters": 32, "num_resnet": 1, "num_mixtures": 5,
                                  "dropout": 0.0}),
    ("PixelRNN Row LSTM", "pixelrnn", {"cell": "row-lstm", "hidden_channels": 24,
                                       "num_layers": 2, "output_channels": 64}),
    ("PixelRNN Diagonal BiLSTM", "pixelrnn", {"cell": "diagonal-bilstm", "hidden_channels": 18,
                                              "num_layers": 2, "output_channels": 64}),
]  # fmt: skip


def timed_sample(model, n: int, sampler: str, seed: int) -> tuple[torch.Tensor, float]:
    g = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    x = model.sample(n, generator=g, sampler=sampler)
    return x, time.perf_counter() - t0


def naive_evaluations(model) -> int:
    """Forward passes of the naive sampler per image: one per sub-pixel."""
    c, h, w = model.data.image_shape
    return c * h * w


@torch.no_grad()
def forward_seconds(model, n: int, repeats: int = 3) -> float:
    """Wall time of one forward pass over n blank images (the naive sampler's unit)."""
    x = torch.zeros(n, *model.data.image_shape, dtype=torch.long)
    model.subpixel_params(x)  # warm-up
    t0 = time.perf_counter()
    for _ in range(repeats):
        model.subpixel_params(x)
    return (time.perf_counter() - t0) / repeats


@torch.no_grad()
def flops_per_image(model) -> tuple[float, float]:
    """(naive, cached) FLOPs per image: H*W*C forward passes, and one cached sample."""
    x = torch.zeros(1, *model.data.image_shape, dtype=torch.long)
    with FlopCounterMode(display=False) as fc:
        model.subpixel_params(x)
    naive = fc.get_total_flops() * naive_evaluations(model)
    with FlopCounterMode(display=False) as fc:
        model.sample(1, generator=torch.Generator().manual_seed(0), sampler="cached")
    return float(naive), float(fc.get_total_flops())


def test_nll(model, images: torch.Tensor, batch: int = 250) -> float:
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(images), batch):
            total += float(model.log_prob(images[i : i + batch]).double().sum())
    return -total / len(images)


def compare_samplers(model, label: str, what: str, n_ref: int, n_full: int, seed: int) -> dict:
    """Naive and cached on n_ref images (same seed), then cached on n_full."""
    row: dict = {"label": label, "what": what, "n_ref": n_ref, "n_full": n_full}
    naive, row["naive"] = timed_sample(model, n_ref, "naive", seed)
    x, row["cached"] = timed_sample(model, n_ref, "cached", seed)
    row["cached_same"] = int((x == naive).flatten(1).all(1).sum())
    _, row["cached_full"] = timed_sample(model, n_full, "cached", seed)
    row["naive_full_est"] = forward_seconds(model, n_full) * naive_evaluations(model)
    row["naive_ref_est"] = forward_seconds(model, n_ref) * naive_evaluations(model)
    row["flops_naive"], row["flops_cached"] = flops_per_image(model)
    print(
        f"  {what}: naive {row['naive']:.1f} s, cached {row['cached']:.2f} s on {n_ref}; "
        f"cached {row['cached_full']:.2f} s on {n_full}",
        flush=True,
    )
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=64, help="images sampled (cached) at 28x28")
    p.add_argument("--n-naive", type=int, default=8, help="28x28 images for both samplers")
    p.add_argument("--n-colour", type=int, default=8, help="images sampled (cached) at 32x32x3")
    p.add_argument("--n-colour-naive", type=int, default=1, help="32x32x3 images, both samplers")
    p.add_argument(
        "--budget-minutes",
        type=float,
        default=0.0,
        help="training budget per model (0: sample from initial weights, no NLL)",
    )
    p.add_argument("--eval-images", type=int, default=10000, help="test images for the NLL")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--threads", type=int, default=1, help="torch threads (shared machines: 1)")
    p.add_argument("--only", nargs="*", help="labels of the models to run (default: all)")
    p.add_argument("--no-write", action="store_true", help="print only; do not touch RESULTS.md")
    args = p.parse_args()  # fmt: skip
    torch.set_num_threads(args.threads)
    machine_line = machine()  # with the load average at the start
    models = [m for m in MODELS if not args.only or m[0] in args.only]

    nll_rows, rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for k, (label, name, config) in enumerate(models):
            torch.manual_seed(0)
            model = genzoo.create_model(name, image_shape=(1, 28, 28), **config)
            if args.budget_minutes > 0:
                nll_rows.append(train_and_score(model, label, args, Path(tmp) / f"m{k}"))
            print(label, flush=True)
            model.eval()
            trained = "trained" if args.budget_minutes > 0 else "initial"
            rows.append(compare_samplers(model, label, f"28x28 ({trained})", args.n_naive,
                                         args.n, seed=1))  # fmt: skip
            torch.manual_seed(0)
            colour = genzoo.create_model(name, image_shape=(3, 32, 32), **config).eval()
            rows.append(compare_samplers(colour, label, "32x32x3 (initial)", args.n_colour_naive,
                                         args.n_colour, seed=2))  # fmt: skip
    load_end = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print_and_record(args, nll_rows, rows, machine_line, load_end)


def train_and_score(model, label: str, args, out: Path) -> tuple:
    """Train for the budget on Fashion-MNIST; the exact test NLL."""
    train = genzoo.data.load_dataset("fashion-mnist", "train")
    test_images = genzoo.data.load_dataset("fashion-mnist", "test").images[: args.eval_images]
    n_params = sum(q.numel() for q in model.parameters())
    cfg = quiet_fit_config(
        args.batch_size, args.lr, max_minutes=args.budget_minutes, log_every=10**6
    )
    fit(model, train, out, cfg)
    steps = torch.load(out / "checkpoint.pt", weights_only=True)["step"]
    model.eval()
    t0 = time.perf_counter()
    nll = test_nll(model, test_images)
    eval_s = time.perf_counter() - t0
    bpd = nll / (784 * math.log(2))
    print(f"{label}: {steps} steps, NLL {nll:.1f} nats, {bpd:.3f} bits/dim", flush=True)
    return (label, n_params, steps, nll, bpd, eval_s, len(test_images))


def print_and_record(args, nll_rows: list, rows: list, machine_line: str, load_end: str) -> None:
    command = "python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *sys.argv[1:]])
    lines = [
        f"### Autoregressive sampling: naive, cached, {datetime.date.today().isoformat()}",
        "",
        f"- command: `{command}` (commit {START_COMMIT or 'unknown'}, uncommitted changes "
        "possible)",
        f"- machine: {machine_line}; load average at the end {load_end} (1, 5, 15 min; other "
        "engineers share the cores: figures taken at a load above the core count are taken "
        "under load)",
        "- speed-ups are ratios against the naive sampler in the same run, same batch, same "
        "generator seed; 'identical' counts images equal pixel for pixel to the naive ones",
        "",
    ]
    if nll_rows:
        lines += [
            f"Training: {args.budget_minutes:g} min of wall clock per model, batch "
            f"{args.batch_size}, AdamW lr {args.lr}; exact NLL on the first "
            f"{nll_rows[0][6]} test images.",
            "",
            "| model | parameters | steps in budget | test NLL (nats/image) | bits/dim | eval |",
            "|---|---|---|---|---|---|",
        ]
        for label, n_params, steps, nll, bpd, eval_s, _ in nll_rows:
            lines.append(f"| {label} | {n_params / 1e6:.2f}M | {steps} | {nll:.1f} | "
                         f"**{bpd:.3f}** | {eval_s:.0f} s |")  # fmt: skip
        lines.append("")
    lines += [
        "| model, images | n | naive | cached | cached speed-up | identical (cached) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['label']}, {r['what']} | {r['n_ref']} | {r['naive']:.1f} s | "
            f"{r['cached']:.2f} s | **{r['naive'] / r['cached']:.0f}x** | "
            f"{r['cached_same']}/{r['n_ref']} |"
        )
    lines += [
        "",
        "| model, images | n | cached | naive, estimated (C*H*W forward passes) | speed-up "
        "(estimated) | estimate check: at the first table's n, estimated / measured naive | "
        "naive GFLOP/image | cached MFLOP/image | FLOP ratio (ceiling) | measured speed-up / "
        "ceiling |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ceiling = r["flops_naive"] / r["flops_cached"]
        measured = r["naive"] / r["cached"]
        lines.append(
            f"| {r['label']}, {r['what']} | {r['n_full']} | {r['cached_full']:.2f} s | "
            f"{r['naive_full_est']:.0f} s | **{r['naive_full_est'] / r['cached_full']:.0f}x** | "
            f"{r['naive_ref_est'] / r['naive']:.2f} | {r['flops_naive'] / 1e9:.1f} | "
            f"{r['flops_cached'] / 1e6:.1f} | {ceiling:.0f}x | "
            f"{measured / ceiling:.1%} |"
        )
    lines.append("")
    table = "\n".join(lines)
    print(table)
    if not args.no_write:
        append_result(table)


if __name__ == "__main__":
    main()
