"""The DBM's joint training under different settings: how the recipe's were chosen.

Each variant trains the recipe's DBM (configs/dbm-binarized-fashion-mnist.toml: 784-500-1000,
2 x 2500 pre-training steps, the same seed, so every variant starts joint training from the
same pre-trained weights) with some settings overridden, then ``genzoo eval`` gives its test
NLL (the mean-field bound with an AIS log Z; AIS tends to underestimate log Z, so these are
optimistic, all in the same way). The first variant stops at the end of pre-training.

    python benchmarks/dbm_joint.py --out /tmp/dbm-joint            # about 15 CPU minutes
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

RECIPE = ["dbm", "--config", "configs/dbm-binarized-fashion-mnist.toml"]
OLD = ["--model.lr", "0.005", "--model.chain-steps", "1", "--model.lr-decay", "false"]
VARIANTS = {
    "pre-training only": ["--train.steps", "5000"],
    "3000 joint, lr 0.005, 1 sweep, no decay (the old recipe)": ["--train.steps", "8000", *OLD],
    "3000 joint, lr 0.001, 1 sweep, no decay": [
        "--train.steps", "8000", "--model.chain-steps", "1", "--model.lr-decay", "false",
    ],
    "3000 joint, lr 0.001, 5 sweeps, no decay": [
        "--train.steps", "8000", "--model.lr-decay", "false",
    ],
    "8000 joint, lr 0.001, 5 sweeps, no decay": [
        "--train.steps", "13000", "--model.lr-decay", "false",
    ],
    "8000 joint, lr 0.001, 5 sweeps, decay (the recipe)": [],
    "8000 joint, lr 0.001, 1 sweep, decay": ["--model.chain-steps", "1"],
}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="folder for the runs")
    ap.add_argument("--n", type=int, default=1000, help="test images evaluated")
    ap.add_argument("--ais-runs", type=int, default=100)
    ap.add_argument("--ais-betas", type=int, default=2000)
    ap.add_argument("--only", help="comma-separated variant numbers (0-based; default all)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    from _common import entry_start, genzoo, machine, record

    started, t0 = machine(), time.monotonic()
    root = Path(__file__).resolve().parents[1]
    rows = []
    chosen = {int(i) for i in args.only.split(",")} if args.only else set(range(len(VARIANTS)))
    for i, (name, argv) in enumerate(VARIANTS.items()):
        if i not in chosen:
            continue
        out = args.out / f"v{i}"
        t = time.monotonic()
        train = genzoo("train", *RECIPE, *argv, "--train.no-progress",
                       "--train.sample-every", "0", "--out", str(out), "--force")  # fmt: skip
        subprocess.run(train, check=True, cwd=root, capture_output=True)
        minutes = (time.monotonic() - t) / 60
        ev = genzoo("eval", str(out), "--split", "test", "--n", str(args.n), "--ais-runs",
                    str(args.ais_runs), "--ais-betas", str(args.ais_betas))  # fmt: skip
        text = subprocess.run(ev, check=True, cwd=root, capture_output=True, text=True).stdout
        log_z = re.search(r"log Z = ([-\d.]+) \+/- ([\d.]+)", text)
        nll = re.search(r"nll_bound_ais: ([-\d.]+) nats/image", text)
        if not (log_z and nll):
            raise SystemExit(f"could not read the eval of {out}:\n{text}")
        rows.append(
            f"| {name} | `{' '.join(argv) or '(none)'}` | {minutes:.1f} min | "
            f"{float(log_z[1]):.1f} +/- {float(log_z[2]):.2f} | **{float(nll[1]):.1f}** |"
        )
        print(rows[-1], file=sys.stderr)
    minutes = (time.monotonic() - t0) / 60
    details = (
        f". Each variant: `genzoo train {' '.join(RECIPE)} OPTIONS` (same seed), then "
        f"`genzoo eval RUN --split test --n {args.n} --ais-runs {args.ais_runs} --ais-betas "
        f"{args.ais_betas}`; train time includes start-up."
    )
    record(
        [
            *entry_start("DBM joint training, settings compared", minutes, started, details),
            "",
            "| variant | options | train time | log Z (AIS) | test NLL bound, nats/image |",
            "|---|---|---|---|---|",
            *rows,
            "",
        ],
        write=not args.no_write,
    )


if __name__ == "__main__":
    main()
