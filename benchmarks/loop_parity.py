"""The full training loop beside the bare training step, for every genzoo family.

For each family (the registry's models at the sizes ``genzoo train NAME`` builds with no
``--model.*`` options, on data of its default dataset's shape, random and in memory), two
fresh models with the same seed take the same step indices 0 .. N-1 on the same batches:

- bare: the model's own ``training_step`` through its own optimizers, with a
  ``ctx.optimize`` that zeroes, back-propagates, clips at the family's
  ``--train.grad-clip`` and steps (benchmarks/_steps.py);
- loop: :func:`genzoo.train.loop.fit`, what ``genzoo train`` runs, on an ImageDataset /
  PointDataset held in memory, progress bar off, every other setting at the loop's and the
  family's defaults (log every 50 steps, checkpoint every 500 and at the end, sample grid
  every 1000, grad-clip 1 or the family's, no EMA).

Timed: steps ``--warmup`` .. N-2 of each (the loop's from the start of each step, so
start-up and the final checkpoint are outside), alternated bare / loop for ``--rounds``.
Reported: loop/bare images/s (median over rounds; target >= 0.97), the ratio of the median
step times (the per-step overhead without the periodic logging), the loop's own work per
step (``fit`` over 2000 steps whose ``training_step`` does nothing: drawing and moving the
batch, the step context, progress, the logging and checkpoint checks, amortised logging)
and its share of a bare step, and the loop/bare ratio once a checkpoint (timed: the
loop's final one) and a sample grid (timed once) are amortised over their default
intervals, which a window of N steps does not reach. The bare step cycles through 8 batches
drawn once; the loop draws a fresh batch from the whole dataset every step, which costs
small models a little memory traffic that is not the loop's own work.

    python benchmarks/loop_parity.py                      # print the table
    python benchmarks/loop_parity.py --record             # + benchmarks/RESULTS.md
    python benchmarks/loop_parity.py --families pixelcnn,vae-mlp --steps 30 --warmup 5 \\
        --rounds 1                                         # smoke test

Runtime with the defaults (13 families, 2 rounds of 2 x 150 steps): about 25 minutes on 2
quiet cores, most of it the PixelRNNs and PixelCNN++.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

import torch  # noqa: E402
from _common import entry_start, machine, record  # noqa: E402
from _steps import (  # noqa: E402
    bare_stepper,
    compile_forward_methods,
    cycle,
    median_step,
    time_steps,
    timed_fit,
    window_rate,
)

import genzoo  # noqa: E402
from genzoo.config import TrainConfig  # noqa: E402
from genzoo.data.datasets import ImageDataset, PointDataset  # noqa: E402
from genzoo.data.toy2d import toy_distribution  # noqa: E402
from genzoo.registry import get_entry  # noqa: E402
from genzoo.train import loop as gz_loop  # noqa: E402

# family label -> (registry name, data shape, data kind, model options)
FAMILIES: dict[str, tuple[str, tuple[int, ...], str, dict[str, Any]]] = {
    "pixelcnn": ("pixelcnn", (1, 28, 28), "8bit", {}),
    "gated-pixelcnn": ("gated-pixelcnn", (1, 28, 28), "8bit", {}),
    "pixelcnn++": ("pixelcnn++", (1, 28, 28), "8bit", {}),
    "pixelrnn-row": ("pixelrnn", (1, 28, 28), "8bit", {"cell": "row-lstm"}),
    "pixelrnn-diag": ("pixelrnn", (1, 28, 28), "8bit", {"cell": "diagonal-bilstm"}),
    "vae-mlp": ("vae", (1, 28, 28), "8bit", {}),
    "vae-conv": ("vae", (1, 28, 28), "8bit", {"architecture": "conv"}),
    "vae-binary": ("vae", (1, 28, 28), "binary", {}),
    "gan": ("gan", (1, 28, 28), "8bit", {}),
    "gan-toy2d": ("gan", (2,), "points", {}),
    "progan": ("progan", (1, 32, 32), "8bit", {}),  # fashion-mnist at --image-size 32
    "rbm": ("rbm", (1, 28, 28), "binary", {}),
    "dbm": ("dbm", (1, 28, 28), "binary", {}),
}
POOL = 2048  # in-memory examples


def dataset(shape: tuple[int, ...], kind: str) -> Any:
    g = torch.Generator().manual_seed(0)
    if kind == "points":
        dist = toy_distribution("8gaussians")
        points, labels = dist.sample(POOL, generator=g)
        return PointDataset(points, labels, dist, name="toy2d:8gaussians")
    high = 2 if kind == "binary" else 256
    images = torch.randint(0, high, (POOL, *shape), generator=g, dtype=torch.uint8)
    if kind == "binary":
        return ImageDataset(images, kind="binary", binarize="fixed")
    return ImageDataset(images)


def build(family: str) -> Any:
    name, shape, kind, options = FAMILIES[family]
    torch.manual_seed(0)
    return genzoo.create_model(name, image_shape=shape, kind=kind, **options).train()


def measure(
    family: str,
    steps: int,
    warmup: int,
    rounds: int,
    compiled: bool,
    device: str = "cpu",
    overrides: dict[str, Any] | None = None,
) -> dict:
    """Bare and loop images/s of ``family`` (see the module docstring) on ``device``;
    ``overrides``: TrainConfig fields beyond the family's defaults."""
    name, shape, kind, _ = FAMILIES[family]
    settings = dict(get_entry(name).train_defaults) | {
        "steps": steps, "progress": False, "accelerator": device, "compile": compiled,
    } | (overrides or {})  # fmt: skip
    train = TrainConfig(**settings)
    data = dataset(shape, kind)
    g = torch.Generator().manual_seed(1)
    batches = [
        tuple(
            t.to(device)
            for t in data.batch(torch.randperm(len(data), generator=g)[: train.batch_size])
        )
        for _ in range(8)
    ]
    last = steps - 1  # the loop's last step start is followed by its final checkpoint
    out: dict[str, Any] = {"bare": [], "loop": [], "bare_med": [], "loop_med": [], "ckpt": []}
    for _ in range(rounds):
        model = build(family).to(device)
        if compiled:
            compile_forward_methods(model)
        step = bare_stepper(model, train)
        feed = cycle(batches)

        def one(i: int, step: Any = step, feed: Any = feed) -> None:
            images, labels = next(feed)
            step(images, labels, i)

        stamps = time_steps(one, steps)
        out["bare"].append(window_rate(stamps, warmup, last, train.batch_size))
        out["bare_med"].append(median_step(stamps, warmup, last))
        model = build(family)
        stamps, ckpt = timed_fit(model, data, train)
        out["loop"].append(window_rate(stamps, warmup, last, train.batch_size))
        out["loop_med"].append(median_step(stamps, warmup, last))
        out["ckpt"].append(ckpt[-1])
        print(f"{family}: bare {out['bare'][-1]:.0f} img/s, loop {out['loop'][-1]:.0f} img/s",
              file=sys.stderr)  # fmt: skip
    out["own"] = loop_work(family, data, train)
    grid_train = dataclasses.replace(train, compile=False)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        gz_loop._sample_grid(
            model.eval(), grid_train, Path(tmp), 1, getattr(data, "log_prob", None)
        )
        out["grid"] = time.perf_counter() - t
    out["params"] = sum(p.numel() for p in model.parameters())
    out["train"] = train
    return out


def loop_work(family: str, data: Any, train: TrainConfig, steps: int = 2000) -> float:
    """Seconds per step of the loop's own work: ``fit`` with a ``training_step`` that does
    nothing (no forward, backward or optimizer step), timed after 100 steps."""
    model = build(family)
    object.__setattr__(model, "training_step", lambda images, labels, ctx: {})
    noop = dataclasses.replace(
        train, steps=steps, compile=False, sample_every=0, checkpoint_every=steps
    )
    stamps, _ = timed_fit(model, data, noop)
    return (stamps[-1] - stamps[100]) / (len(stamps) - 101)


def row(family: str, m: dict) -> str:
    train: TrainConfig = m["train"]
    bare, loop = statistics.median(m["bare"]), statistics.median(m["loop"])
    ratio = statistics.median(a / b for a, b in zip(m["loop"], m["bare"], strict=True))
    med = statistics.median(b / a for a, b in zip(m["loop_med"], m["bare_med"], strict=True))
    ckpt = statistics.median(m["ckpt"])
    per_step = train.batch_size / loop  # seconds of one loop step
    periodic = ckpt / train.checkpoint_every + m["grid"] / train.sample_every
    amortised = train.batch_size / bare / (per_step + periodic)
    flag = "" if ratio >= 0.97 else " (below 0.97)"
    return (
        f"| {family} | {m['params'] / 1e6:.2f}M | {train.batch_size} | {bare:.0f} | {loop:.0f} | "
        f"{' '.join(f'{b / a:.3f}' for a, b in zip(m['bare'], m['loop'], strict=True))} | "
        f"**{ratio:.3f}**{flag} | {med:.3f} | {m['own'] * 1e6:.0f} us "
        f"({m['own'] * bare / train.batch_size:.1%}) | {ckpt * 1e3:.0f} ms | "
        f"{m['grid']:.2f} s | {amortised:.3f} |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--families", default=",".join(FAMILIES), help="subset, comma-separated")
    ap.add_argument("--steps", type=int, default=150, help="steps per measurement (N)")
    ap.add_argument("--warmup", type=int, default=20, help="untimed first steps")
    ap.add_argument("--rounds", type=int, default=2, help="bare / loop alternations")
    ap.add_argument("--compile", action="store_true", help="both with --train.compile")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (bare step and loop)")
    ap.add_argument("--record", action="store_true", help="append the entry to RESULTS.md")
    args = ap.parse_args()
    if args.steps < args.warmup + 3:
        raise SystemExit("--steps must exceed --warmup by at least 3")
    families = [f for f in args.families.split(",") if f]
    for f in families:
        if f not in FAMILIES:
            raise SystemExit(f"--families: unknown {f!r}; choose from {', '.join(FAMILIES)}")
    if args.threads:
        torch.set_num_threads(args.threads)
    started, t0 = machine(), time.monotonic()
    rows = []
    for f in families:
        rows.append(
            row(f, measure(f, args.steps, args.warmup, args.rounds, args.compile, args.device))
        )
        print(rows[-1], file=sys.stderr)
    minutes = (time.monotonic() - t0) / 60
    details = (
        "; load average at the end "
        + ", ".join(f"{x:.1f}" for x in __import__("os").getloadavg())
        + f". Steps {args.warmup}..{args.steps - 2} of {args.steps} timed, same seed, "
        "same step indices, in-memory random data; loop at its defaults (log 50, "
        "checkpoint 500, grid 1000, family grad-clip), progress bar off"
        + (", both compiled" if args.compile else "")
        + (f", device {args.device}" if args.device != "cpu" else "")
        + ". Amortised: a checkpoint (the loop's final one, timed) and a sample grid "
        "(timed once) spread over their intervals."
    )
    title = "Training loop beside the bare step, every family"
    record(
        [
            *entry_start(title, minutes, started, details),
            "",
            "| family | parameters | batch | bare img/s | loop img/s | loop/bare per round | "
            "loop/bare | median-step ratio | loop's own work per step (share of a bare step) "
            "| checkpoint | sample grid | amortised |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
        ],
        args.record,
    )


if __name__ == "__main__":
    main()
