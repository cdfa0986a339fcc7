"""What makes genzoo's CPU training step faster, measured one change at a time: training
throughput of the same models with PyTorch's default AdamW (a loop over parameters) and
glibc's malloc defaults (``baseline``), with genzoo's fused AdamW (``fused``), and with
the fused AdamW and genzoo's malloc setting (``fused+malloc``,
``genzoo.threads.tune_malloc``), interleaved A B C A B C.

glibc returns freed memory above its trim threshold to the system and serves large blocks
with mmap, both adapting as the program runs; a training step frees and re-allocates the
same large activation buffers every step, so each step can pay page faults for memory it
just gave back; the setting keeps that memory in the heap instead. Each figure is a fresh
process (the malloc setting is process-wide) training on in-memory data after a warm-up,
at a fixed thread count; ratios are against the baseline measured in the same round.

    python benchmarks/cpu_step.py                 # appends a table to benchmarks/RESULTS.md
    python benchmarks/cpu_step.py --seconds 3 --rounds 2 --no-write
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")

MODELS = {
    "pixelcnn": ("pixelcnn", (1, 28, 28), "8bit", {"hidden_channels": 32, "num_blocks": 5}),
    "vae-mlp": ("vae", (1, 28, 28), "8bit", {"latent_dim": 32, "hidden": 200}),
    "dcgan": ("gan", (1, 28, 28), "8bit", {"width": 32}),
    "dcgan-64": ("gan", (3, 64, 64), "8bit", {"width": 64}),
}
BATCH = 64
VARIANTS = ("baseline", "fused", "fused+malloc")


def worker(model_key: str, variant: str, threads: int, seconds: float) -> None:
    """Train on random data; print images/s after a warm-up."""
    sys.path.insert(0, SRC)
    import torch
    from _steps import bare_stepper, for_seconds

    import genzoo
    from genzoo import threads as policy
    from genzoo.config import TrainConfig

    if variant == "fused+malloc" and not policy.tune_malloc():
        raise SystemExit("the malloc setting did not apply (not glibc, or MALLOC_* set)")
    torch.set_num_threads(threads)
    name, shape, kind, cfg = MODELS[model_key]
    torch.manual_seed(0)
    model = genzoo.create_model(name, image_shape=shape, kind=kind, **cfg).train()
    train = TrainConfig(lr=1e-4, grad_clip=0.0)
    opts = model.configure_optimizers(train)  # genzoo's: fused AdamW
    if variant == "baseline":  # PyTorch's default AdamW on the CPU: a loop over parameters
        opts = {
            k: torch.optim.AdamW(
                o.param_groups[0]["params"],
                **{a: o.defaults[a] for a in ("lr", "betas", "eps", "weight_decay")},
            )
            for k, o in opts.items()
        }
    step = bare_stepper(model, train, opts)
    x = torch.randint(0, 256, (BATCH, *shape), dtype=torch.uint8)
    n, s = for_seconds(lambda i: step(x, None, i), seconds, warmup=3)
    print(json.dumps({"img_per_s": n * BATCH / s}))


def measure(model: str, variant: str, threads: int, seconds: float) -> float:
    cmd = [sys.executable, __file__, "--worker", model, "--threads", str(threads)]
    cmd += ["--seconds", str(seconds), "--variant", variant]
    drop = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    return float(json.loads(out.strip().splitlines()[-1])["img_per_s"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--variant", default="baseline", help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help="fixed thread count (default 1)")
    ap.add_argument("--seconds", type=float, default=5.0, help="timed seconds per figure")
    ap.add_argument("--rounds", type=int, default=3, help="A B pairs per model")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.variant, args.threads, args.seconds)
        return
    sys.path.insert(0, str(Path(__file__).parent))
    from _common import START_COMMIT, machine, record

    started = machine()
    rows = []
    for model in args.models.split(","):
        figures: dict[str, list[float]] = {v: [] for v in VARIANTS}
        for _ in range(args.rounds):  # A B C A B C: drift in the machine hits all alike
            for v in VARIANTS:
                figures[v].append(measure(model, v, args.threads, args.seconds))
        cells = [f"{statistics.median(figures['baseline']):.0f}"]
        for v in VARIANTS[1:]:
            ratios = [x / b for b, x in zip(figures["baseline"], figures[v], strict=True)]
            cells.append(
                f"{statistics.median(figures[v]):.0f} ({statistics.median(ratios):.2f}, "
                f"{min(ratios):.2f}-{max(ratios):.2f})"
            )
        rows.append(f"| {model} | " + " | ".join(cells) + " |")
        print(rows[-1], flush=True)
    record(
        [
            f"## CPU training step: fused AdamW and glibc malloc thresholds "
            f"({time.strftime('%Y-%m-%d')}, commit {START_COMMIT})",
            "",
            f"`python benchmarks/cpu_step.py --threads {args.threads} --seconds {args.seconds:g} "
            f"--rounds {args.rounds}`; {started}; batch {BATCH}, bare training steps on "
            "in-memory data, each figure a fresh process, variants interleaved; img/s "
            "(median over rounds), in brackets the ratio to the baseline of the same round "
            "(median, range).",
            "",
            "| model | baseline img/s | fused AdamW | fused AdamW + malloc setting |",
            "|---|---|---|---|",
            *rows,
            "",
        ],
        not args.no_write,
    )


if __name__ == "__main__":
    main()
