"""The GAN's training step with G's step reusing the D step's samples, against fresh ones.

``reuse_fakes`` (the GAN family's default since 2026-12-01) makes G's step reuse the
samples of the D step before it and the G forward that made them, as DCGAN's reference
code does; ``false`` draws fresh codes for G's step (one more G forward per step). Both
are timed here as bare training steps (benchmarks/_steps.py), in one process, alternating
A B A B for ``--rounds``, at each DCGAN size given.

    python benchmarks/gan_reuse.py                        # the demo's size and DCGAN's 64
    python benchmarks/gan_reuse.py --threads 1 --record   # + benchmarks/RESULTS.md
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

import torch  # noqa: E402
from _common import entry_start, machine, record  # noqa: E402
from _steps import bare_stepper, for_seconds  # noqa: E402

import genzoo  # noqa: E402
from genzoo.config import TrainConfig  # noqa: E402

SIZES = {"demo": (32, 64), "dcgan": (64, 100)}
"""name: (width, latent_dim); the demo's GAN (configs/demo/gan.toml) and DCGAN's widths."""


def rates(width: int, latent: int, reuse: bool, images: torch.Tensor, seconds: float) -> float:
    """Images/s of the bare step of a fresh GAN on ``images`` for ``seconds``."""
    torch.manual_seed(0)
    model = genzoo.create_model(
        "gan", image_shape=tuple(images.shape[1:]), kind="8bit", width=width,
        latent_dim=latent, reuse_fakes=reuse,
    )  # fmt: skip
    step = bare_stepper(model, TrainConfig(lr=2e-4, grad_clip=0.0))
    n, s = for_seconds(lambda i: step(images, None, i), seconds, 5)
    return n * images.shape[0] / s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default=",".join(SIZES), help="subset of " + ",".join(SIZES))
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    ap.add_argument("--seconds", type=float, default=3.0, help="timed seconds per measurement")
    ap.add_argument("--rounds", type=int, default=4, help="A B alternations")
    ap.add_argument("--record", action="store_true", help="append the entry to RESULTS.md")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    started, t0 = machine(), time.monotonic()
    images = torch.randint(0, 256, (64, 1, 28, 28), dtype=torch.uint8)  # Fashion-MNIST's shape
    rows = []
    for name in [s for s in args.sizes.split(",") if s]:
        if name not in SIZES:
            raise SystemExit(f"--sizes: unknown {name!r}; choose from {', '.join(SIZES)}")
        width, latent = SIZES[name]
        got: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(args.rounds):
            for reuse in (True, False):
                got[reuse].append(rates(width, latent, reuse, images, args.seconds))
        ratios = [a / b for a, b in zip(got[True], got[False], strict=True)]
        rows.append(
            f"| {name} (width {width}, latent {latent}) | {statistics.median(got[True]):.0f} | "
            f"{statistics.median(got[False]):.0f} | {' '.join(f'{r:.3f}' for r in ratios)} | "
            f"**{statistics.median(ratios):.3f}** |"
        )
        print(rows[-1], file=sys.stderr)
    minutes = (time.monotonic() - t0) / 60
    details = (
        ". Bare training steps (non-saturating loss, batch 64 of 1x28x28), "
        f"{args.seconds:g} s each after 5 warm-up steps, reuse / fresh alternated in one process."
    )
    record(
        [
            *entry_start(
                "GAN step, G reusing the D step's samples vs fresh ones", minutes, started, details
            ),
            "",
            "| size | reuse_fakes img/s | fresh img/s | reuse/fresh per round | median |",
            "|---|---|---|---|---|",
            *rows,
            "",
        ],
        args.record,
    )


if __name__ == "__main__":
    main()
