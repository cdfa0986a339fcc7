"""Progressive GAN: training throughput per level, genzoo against a peer implementation.

For each level (4x4 .. the final size) and phase (stable, and a fade at alpha 1/2), the
images per second of one training step (one WGAN-GP D step with the drift term, one G
step, the G EMA update) on a batch of real images at the level's resolution:

- genzoo: :meth:`genzoo.models.progan.ProGAN.training_step` with a bare optimizer step
  (no Fabric, as the peer has none), the stage set through ``images_shown``.
- peer (optional, ``--peer PATH``): facebookresearch/pytorch_GAN_zoo's
  ``models.progressive_gan.ProgressiveGAN`` (its ``optimizeParameters``), from a checkout
  at PATH, imported as is (nothing of it is copied here), with the same widths, latent
  size, minibatch stddev, lambda 10 and drift 0.001, grown with ``addScale`` and faded
  with ``setNewAlpha`` (its alpha is the weight of the old path: 1/2 either way). Two
  shims: its Adam gets betas as floats (it passes ints, which torch >= 2.2 refuses), and
  alpha is set on its nets directly (its ``updateAlpha`` assumes a GPU's DataParallel).

The active parameter counts of the two are printed side by side. Best of ``--repeats``
alternating runs. Appends a table, with its command, machine and date, to
benchmarks/RESULTS.md (``--no-write`` to print only).

Usage:
    python benchmarks/progan.py [--size 32] [--steps 4] [--threads 1] [--peer ~/pytorch_GAN_zoo]
"""

from __future__ import annotations

import argparse
import datetime
import shlex
import sys
import time
import types
import warnings
from pathlib import Path

import torch
from _common import START_COMMIT, append_result, machine

import genzoo
from genzoo.config import TrainConfig
from genzoo.models.base import StepContext


def genzoo_rate(model, images: torch.Tensor, shown: int, steps: int, repeats: int) -> float:
    """Images/s of ``model.training_step`` at the stage of ``shown`` images (best run)."""
    opts = model.configure_optimizers(TrainConfig(lr=1e-3))

    def optimize(name: str, loss: torch.Tensor) -> None:
        opts[name].zero_grad(set_to_none=True)
        loss.backward()
        opts[name].step()

    best = 0.0
    for r in range(repeats + 1):  # the first run warms up
        t0 = time.perf_counter()
        for s in range(steps):
            model.images_shown.fill_(shown)
            model.training_step(images, None, StepContext(model, opts, s, optimize))
        if r:
            best = max(best, steps * len(images) / (time.perf_counter() - t0))
    return best


def peer_model(peer: Path, latent: int, channels: list[int], level: int, alpha: float, c: int):
    """pytorch_GAN_zoo's ProgressiveGAN grown to ``level`` (its alpha: the old path's weight)."""
    sys.path.insert(0, str(peer))
    import models.progressive_gan as pg  # type: ignore[import-not-found]

    # Compatibility shim: the peer passes betas=[0, 0.99] (ints), which torch >= 2.2 refuses.
    pg.optim = types.SimpleNamespace(
        Adam=lambda params, betas, lr: torch.optim.Adam(
            params, betas=(float(betas[0]), float(betas[1])), lr=lr
        )
    )
    ProgressiveGAN = pg.ProgressiveGAN

    torch.manual_seed(0)
    model = ProgressiveGAN(
        dimLatentVector=latent, depthScale0=channels[0], miniBatchStdDev=True, equalizedlR=True,
        lambdaGP=10.0, epsilonD=0.001, dimOutput=c, useGPU=False, baseLearningRate=1e-3,
    )  # fmt: skip
    for depth in channels[1 : level + 1]:
        model.addScale(depth)
    if level > 0:  # updateAlpha, less its avgG.module, which exists on GPUs only
        for net in (model.getOriginalG(), model.getOriginalD(), model.getOriginalAvgG()):
            net.setNewAlpha(alpha)
        model.config.alpha = alpha
    return model


def peer_rate(model, images: torch.Tensor, steps: int, repeats: int) -> float:
    best = 0.0
    for r in range(repeats + 1):
        t0 = time.perf_counter()
        for _ in range(steps):
            model.optimizeParameters(images)
        if r:
            best = max(best, steps * len(images) / (time.perf_counter() - t0))
    return best


def count(params) -> int:
    return sum(p.numel() for p in params)


def main() -> None:
    warnings.filterwarnings("ignore", message="This overload of add_ is deprecated")
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=32, help="final image side (a power of two)")
    p.add_argument("--channels", type=int, default=1)
    p.add_argument("--latent-dim", type=int, default=128)
    p.add_argument("--channel-base", type=int, default=1024)
    p.add_argument("--max-channels", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--steps", type=int, default=4, help="timed steps per run")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--threads", type=int, default=1, help="torch threads (1: shared machine)")
    p.add_argument("--peer", type=Path, default=None, help="a pytorch_GAN_zoo checkout")
    p.add_argument("--no-write", action="store_true", help="print only; do not touch RESULTS.md")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    started = datetime.datetime.now().isoformat(timespec="seconds")
    host = machine()

    torch.manual_seed(0)
    fade, stable = 1000, 1000
    model = genzoo.create_model(
        "progan", image_shape=(args.channels, args.size, args.size), latent_dim=args.latent_dim,
        channel_base=args.channel_base, max_channels=args.max_channels, fade_images=fade,
        stable_images=stable, mbstd_group_size=4,
    )  # fmt: skip
    g = torch.Generator().manual_seed(0)
    rows = []
    for level in range(model.num_levels):
        side = 4 << level
        images = torch.randint(
            0, 256, (args.batch_size, args.channels, side, side), generator=g, dtype=torch.uint8
        )
        full = images.repeat_interleave(args.size // side, 2).repeat_interleave(
            args.size // side, 3
        )
        phases = [("stable", 1.0)] + ([("fade", 0.5)] if level else [])
        for phase, alpha in phases:
            start = 0 if level == 0 else stable + (level - 1) * (fade + stable)
            shown = start + (fade // 2 if phase == "fade" else fade if level else 0)
            model.images_shown.fill_(shown)
            st = model.stage()
            assert (st.level, st.phase, st.alpha) == (level, phase, alpha), st
            active = count(model.generator.blocks[: level + 1].parameters()) + count(
                model.generator.to_rgb[: level + 1].parameters()
            )  # G's layers up to this level, every toRGB (as the peer holds them)
            ours = genzoo_rate(model, full, shown, args.steps, args.repeats)
            row = [f"{side}x{side}", phase, f"{ours:.0f}", f"{active / 1e6:.3f}"]
            if args.peer is not None:
                peer = peer_model(
                    args.peer, args.latent_dim, model.channels, level, 1 - alpha, args.channels
                )
                x = images.float() / 127.5 - 1.0
                if phase == "fade":  # real images blended as the peer's trainer does
                    low = torch.nn.functional.avg_pool2d(x, 2)
                    x = alpha * x + (1 - alpha) * low.repeat_interleave(2, 2).repeat_interleave(
                        2, 3
                    )
                theirs = peer_rate(peer, x, args.steps, args.repeats)
                row += [f"{theirs:.0f}", f"{count(peer.getOriginalG().parameters()) / 1e6:.3f}"]
            rows.append(row)
            print(" | ".join(row), flush=True)

    head = "| level | phase | genzoo img/s | genzoo G params (M) |"
    rule = "|---|---|---|---|"
    if args.peer is not None:
        head += " pytorch_GAN_zoo img/s | its G params (M) |"
        rule += "---|---|"
    table = "\n".join(
        [
            f"## Progressive GAN throughput per level ({started})",
            "",
            f"Command: `python benchmarks/{Path(__file__).name} {shlex.join(sys.argv[1:])}`; "
            f"commit {START_COMMIT}; {host}.",
            f"Batch {args.batch_size}, {args.channels}x{args.size}x{args.size}, latent "
            f"{args.latent_dim}, widths {model.channels}; one D (WGAN-GP + drift) and one G "
            "step per batch; best of "
            f"{args.repeats} runs of {args.steps} steps.",
            "",
            head,
            rule,
            *("| " + " | ".join(r) + " |" for r in rows),
            "",
        ]
    )
    print(table)
    if not args.no_write:
        append_result(table)


if __name__ == "__main__":
    main()
