"""Binarised Fashion-MNIST test NLL of every family with a likelihood, in one table: RBM
(CD-1), RBM (PCD), DBM, VAE and PixelCNN, each trained for a stated number of steps, then
one ``genzoo compare --metrics nll`` on the same binarised test images (exact for the
PixelCNN, bounds for the VAE, AIS estimates for the Boltzmann machines).

    python benchmarks/binarized_nll.py --out /tmp/binll      # about 30 CPU minutes

Steps are fixed (not time budgets), so the figures do not depend on the machine's load;
the wall time of each training is recorded beside them. Anchors from the papers (MNIST,
not Fashion-MNIST, and far larger budgets): RBM 500 hidden CD-25 86.34 nats (Salakhutdinov
and Murray 2008), DBM 500-1000 84.62 nats (Salakhutdinov and Hinton 2009).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

DATA = ["--data", "binarized-fashion-mnist:fixed"]
RUNS = {
    "rbm-cd1": ["rbm", "--config", "configs/rbm-binarized-fashion-mnist.toml",
                "--train.steps", "6000"],
    "rbm-pcd": ["rbm", "--config", "configs/rbm-binarized-fashion-mnist.toml",
                "--model.persistent", "true", "--model.lr", "0.01", "--train.lr", "0.01",
                "--train.steps", "6000"],
    "dbm": ["dbm", "--config", "configs/dbm-binarized-fashion-mnist.toml"],
    # the recipe before 2026-12-01's change: joint lr 0.005, one sweep, no decay
    "dbm-old-joint": ["dbm", "--config", "configs/dbm-binarized-fashion-mnist.toml",
                      "--model.lr", "0.005", "--model.chain-steps", "1",
                      "--model.lr-decay", "false"],
    "vae": ["vae", "--model.latent-dim", "32", "--train.steps", "4000",
            "--train.batch-size", "100"],
    "pixelcnn": ["pixelcnn", "--model.num-blocks", "3", "--model.hidden-channels", "32",
                 "--train.steps", "1000", "--train.batch-size", "32"],
}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="folder for the runs")
    ap.add_argument("--n", type=int, default=2000, help="test images evaluated")
    ap.add_argument("--ais-runs", type=int, default=100)
    ap.add_argument("--ais-betas", type=int, default=14500)
    ap.add_argument("--iwae-k", type=int, default=1000)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    from _common import START_COMMIT, compare_table, genzoo, machine, record

    started = machine()
    root = Path(__file__).resolve().parents[1]
    walls = {}
    for name, argv in RUNS.items():
        out = args.out / name
        if (out / "checkpoint.pt").is_file():
            walls[name] = "(existing run)"
            continue
        t = time.monotonic()
        cmd = genzoo("train", *argv, *DATA, "--train.no-progress", "--out", str(out))
        subprocess.run(cmd, check=True, cwd=root)
        walls[name] = f"{(time.monotonic() - t) / 60:.1f} min"
    options = [
        "--metrics", "nll", "--n", str(args.n), "--ais-runs", str(args.ais_runs),
        "--ais-betas", str(args.ais_betas), "--iwae-k", str(args.iwae_k),
    ]  # fmt: skip
    table, compare_min = compare_table([args.out / n for n in RUNS], options, args.out / "table.md")
    record(
        [
            f"## Binarised Fashion-MNIST test NLL, five families ({time.strftime('%Y-%m-%d')}, "
            f"commit {START_COMMIT})",
            "",
            f"`python benchmarks/binarized_nll.py --out {args.out}`; {started}.",
            "Training (fixed steps; wall time as measured, the machine possibly shared): "
            + "; ".join(f"{n} `genzoo train {' '.join(RUNS[n])}` {walls[n]}" for n in RUNS)
            + f". The compare (first {args.n} test images, AIS {args.ais_runs} x "
            f"{args.ais_betas}, IWAE-{args.iwae_k}) took {compare_min:.1f} min.",
            "",
            table,
            "",
        ],
        write=not args.no_write,
    )


if __name__ == "__main__":
    main()
