"""The autoregressive family on Fashion-MNIST: test NLL after a fixed CPU budget, and naive
against window sampling (``sampler="window"``).

Two measurements, in one run on one machine:

1. Exact test NLL (nats/image and bits/dim) of PixelCNN, Gated PixelCNN, PixelCNN++ and
   PixelRNN (Row LSTM, Diagonal BiLSTM) after the same wall-clock training budget each,
   with the one training loop (genzoo.train.loop.fit, --train.max-minutes).
2. Sampling time of the naive sampler (a full forward pass per sub-pixel) against the window
   sampler (genzoo.models.windowed_sampling: the receptive-field window of each new pixel only;
   Ramachandran et al. 2017), same model, same generator seed, back to back; the speed-up
   and whether the two gave identical images. On the trained 28x28 models, and on freshly
   initialised 32x32x3 models of the same sizes (colour: one evaluation per sub-pixel).

Usage:
    python benchmarks/ar_sampling.py [--budget-minutes 2] [--n 64] [--n-colour 4]

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
from _common import START_COMMIT, append_result, machine

import genzoo
from genzoo.config import TrainConfig
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
    ("PixelRNN Diagonal BiLSTM", "pixelrnn", {"cell": "diagonal-bilstm", "hidden_channels": 16,
                                              "num_layers": 2, "output_channels": 64}),
]  # fmt: skip


def timed_sample(model, n: int, sampler: str, seed: int) -> tuple[torch.Tensor, float]:
    g = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    x = model.sample(n, generator=g, sampler=sampler)
    return x, time.perf_counter() - t0


def test_nll(model, images: torch.Tensor, batch: int = 250) -> float:
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(images), batch):
            total += float(model.log_prob(images[i : i + batch]).double().sum())
    return -total / len(images)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget-minutes", type=float, default=2.0, help="training budget per model")
    p.add_argument("--n", type=int, default=64, help="images sampled at 28x28")
    p.add_argument("--n-pp", type=int, default=None, help="images for PixelCNN++ (default --n)")
    p.add_argument("--n-colour", type=int, default=4, help="images sampled at 32x32x3")
    p.add_argument("--eval-images", type=int, default=10000, help="test images for the NLL")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--threads", type=int, default=1, help="torch threads (shared machines: 1)")
    p.add_argument("--only", nargs="*", help="labels of the models to run (default: all)")
    p.add_argument("--no-write", action="store_true", help="print only; do not touch RESULTS.md")
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    train = genzoo.data.load_dataset("fashion-mnist", "train")
    test = genzoo.data.load_dataset("fashion-mnist", "test")
    test_images = test.images[: args.eval_images]
    models = [m for m in MODELS if not args.only or m[0] in args.only]

    nll_rows, sample_rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for k, (label, name, config) in enumerate(models):
            torch.manual_seed(0)
            model = genzoo.create_model(name, image_shape=(1, 28, 28), **config)
            n_params = sum(q.numel() for q in model.parameters())
            cfg = TrainConfig(
                steps=10**7,
                batch_size=args.batch_size,
                lr=args.lr,
                sample_every=0,
                progress=False,
                accelerator="cpu",
                max_minutes=args.budget_minutes,
                checkpoint_every=10**9,
                log_every=10**6,
            )
            out = Path(tmp) / f"m{k}"
            fit(model, train, out, cfg)
            steps = torch.load(out / "checkpoint.pt", weights_only=True)["step"]
            model.eval()
            t0 = time.perf_counter()
            nll = test_nll(model, test_images)
            eval_s = time.perf_counter() - t0
            bpd = nll / (784 * math.log(2))
            nll_rows.append((label, n_params, steps, nll, bpd, eval_s))
            print(f"{label}: {steps} steps, NLL {nll:.1f} nats, {bpd:.3f} bits/dim", flush=True)

            if not model.supports_window_sampling:
                continue
            n = args.n_pp if name == "pixelcnn++" and args.n_pp else args.n
            naive, t_naive = timed_sample(model, n, "naive", seed=1)
            windowed, t_window = timed_sample(model, n, "window", seed=1)
            same = (naive == windowed).flatten(1).all(1).sum().item()
            sample_rows.append((label, "28x28 (trained)", n, t_naive, t_window, same))
            print(f"  sampling {n}: naive {t_naive:.1f} s, window {t_window:.1f} s", flush=True)

            torch.manual_seed(0)
            colour = genzoo.create_model(name, image_shape=(3, 32, 32), **config).eval()
            naive, t_naive = timed_sample(colour, args.n_colour, "naive", seed=2)
            windowed, t_window = timed_sample(colour, args.n_colour, "window", seed=2)
            same = (naive == windowed).flatten(1).all(1).sum().item()
            sample_rows.append((label, "32x32x3 (initial)", args.n_colour, t_naive, t_window, same))
            print(f"  colour {args.n_colour}: naive {t_naive:.1f} s, window {t_window:.1f} s")

    command = "python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *sys.argv[1:]])
    commit = START_COMMIT
    lines = [
        f"### Autoregressive family on Fashion-MNIST, {datetime.date.today().isoformat()}",
        "",
        f"- command: `{command}` (commit {commit or 'unknown'}, uncommitted changes possible)",
        f"- machine: {machine()} (set by --threads; other jobs shared the cores)",
        f"- training: {args.budget_minutes:g} min of wall clock per model, batch "
        f"{args.batch_size}, AdamW lr {args.lr}; exact NLL on the first {len(test_images)} "
        "test images",
        "",
        "| model | parameters | steps in budget | test NLL (nats/image) | bits/dim | eval time |",
        "|---|---|---|---|---|---|",
    ]
    for label, n_params, steps, nll, bpd, eval_s in nll_rows:
        lines.append(
            f"| {label} | {n_params / 1e6:.2f}M | {steps} | {nll:.1f} | **{bpd:.3f}** | "
            f"{eval_s:.0f} s |"
        )
    lines += [
        "",
        "| sampling | images | naive | window | speed-up | identical images |",
        "|---|---|---|---|---|---|",
    ]
    for label, what, n, t_naive, t_window, same in sample_rows:
        lines.append(
            f"| {label}, {what} | {n} | {t_naive:.1f} s | {t_window:.1f} s | "
            f"**{t_naive / t_window:.1f}x** | {same}/{n} |"
        )
    lines.append("")
    table = "\n".join(lines)
    print(table)
    if not args.no_write:
        append_result(table)


if __name__ == "__main__":
    main()
