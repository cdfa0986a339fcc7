"""GANs on Fashion-MNIST: each loss for the same CPU budget, and training throughput.

Two measurements, in one run on one machine:

1. Sample quality after a fixed wall-clock budget per loss (``--train.max-minutes``): FID
   and precision/recall (k=3) on genzoo's domain-classifier features
   (:mod:`genzoo.metrics.domain`; fast on CPU, where Inception runs at ~15 images/s), and
   two pixel-space proxies: the Frechet distance between Gaussians fitted to raw pixels in
   [0, 1] ("pixel FD") and the unbiased kernel MMD^2 with a Gaussian kernel (bandwidth:
   median pairwise distance of the test images); each between ``--eval-n`` samples and as
   many test images. The row "real train images" gives the floor the same estimators reach
   on real data. None is comparable with published FIDs (Lucic et al. 2018 report 21.5 to
   30.7 on Fashion-MNIST with Inception features and 10k samples).
2. Throughput (images/s) of genzoo's GAN in the genzoo loop (Lightning Fabric, gradient
   clipping and logging at their defaults) against a peer DCGAN: the same architecture
   written out as plain ``nn.Sequential`` networks trained by a bare PyTorch loop
   (BCE-with-logits, Adam; the pytorch/examples DCGAN recipe) as the baseline. The
   parameter counts are checked equal. Best of two alternating runs each.

Hyperparameters per loss (stated in the table): Adam lr 2e-4 and betas (0.5, 0.999)
(DCGAN), except WGAN-GP's betas (0, 0.9) (Gulrajani et al.); n_critic 5 for WGAN and
WGAN-GP (their papers), 1 otherwise; batch 64; latent 100; DCGAN width 64.

Usage:
    python benchmarks/gan.py [--budget-seconds 45] [--threads 1] [--grids DIR] [--inception]

Appends a table, with its command, machine and date, to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import shlex
import sys
import tempfile
import time
from pathlib import Path

import torch
from _common import START_COMMIT, append_result, machine
from torch import nn

import genzoo
from genzoo.config import TrainConfig
from genzoo.losses.gan import LOSSES
from genzoo.models.gan_config import GANConfig
from genzoo.train.loop import fit

BASE = GANConfig(latent_dim=100, width=64)
SETTINGS = {
    "minimax": {},
    "non-saturating": {},
    "wgan": {"n_critic": 5},
    "wgan-gp": {"n_critic": 5, "betas": (0.0, 0.9)},
    "lsgan": {},
    "hinge": {},
}


# -- quality proxies ------------------------------------------------------------------------


def pixel_fd(x: torch.Tensor, y: torch.Tensor) -> float:
    """Frechet distance of Gaussians fitted to (N, D) and (M, D) features (the FID formula):
    |mu_x - mu_y|^2 + tr(S_x + S_y - 2 (S_x S_y)^(1/2)), the trace of the square root from
    the eigenvalues of S_x S_y (real and >= 0 in exact arithmetic; clamped)."""
    x, y = x.double(), y.double()
    mx, my = x.mean(0), y.mean(0)
    sx, sy = torch.cov(x.T), torch.cov(y.T)
    eig = torch.linalg.eigvals(sx @ sy).real.clamp(min=0)
    return float((mx - my).square().sum() + sx.trace() + sy.trace() - 2 * eig.sqrt().sum())


def mmd2(x: torch.Tensor, y: torch.Tensor, bandwidth: float) -> float:
    """Unbiased MMD^2 with k(a, b) = exp(-|a - b|^2 / (2 h^2)) (Gretton et al. 2012)."""
    x, y = x.double(), y.double()
    k = lambda a, b: torch.exp(-torch.cdist(a, b).square() / (2 * bandwidth**2))  # noqa: E731
    n, m = len(x), len(y)
    kxx = (k(x, x).sum() - n) / (n * (n - 1))
    kyy = (k(y, y).sum() - m) / (m * (m - 1))
    return float(kxx + kyy - 2 * k(x, y).mean())


def flat(images: torch.Tensor) -> torch.Tensor:
    return images.reshape(len(images), -1).double() / 255.0  # (N, 784) in [0, 1]


# -- the peer: a bare PyTorch DCGAN of the same architecture --------------------------------


def peer_dcgan(latent: int = 100, w: int = 64) -> tuple[nn.Module, nn.Module]:
    """DCGAN for 28x28 grey images, written out as in pytorch/examples (7x7 -> 14 -> 28)."""
    g = nn.Sequential(
        nn.Linear(latent, 2 * w * 7 * 7, bias=False),
        nn.Unflatten(1, (2 * w, 7, 7)),
        nn.BatchNorm2d(2 * w),
        nn.ReLU(True),
        nn.ConvTranspose2d(2 * w, w, 4, 2, 1, bias=False),
        nn.BatchNorm2d(w),
        nn.ReLU(True),
        nn.ConvTranspose2d(w, 1, 4, 2, 1),
        nn.Tanh(),
    )
    d = nn.Sequential(
        nn.Conv2d(1, w, 4, 2, 1),
        nn.LeakyReLU(0.2, True),
        nn.Conv2d(w, 2 * w, 4, 2, 1, bias=False),
        nn.BatchNorm2d(2 * w),
        nn.LeakyReLU(0.2, True),
        nn.Flatten(),
        nn.Linear(2 * w * 7 * 7, 1),
    )
    return g, d


def bare_loop(images: torch.Tensor, batch: int, steps: int) -> float:
    """The baseline: one D step (real + fake, BCE) and one NS G step per batch. images/s."""
    torch.manual_seed(0)
    g, d = peer_dcgan()
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    gen = torch.Generator().manual_seed(0)
    ones, zeros = torch.ones(batch, 1), torch.zeros(batch, 1)
    t0 = time.perf_counter()
    for _ in range(steps):
        x = images[torch.randint(0, len(images), (batch,), generator=gen)].float() / 127.5 - 1
        fake = g(torch.randn(batch, 100))
        opt_d.zero_grad(set_to_none=True)
        (bce(d(x), ones) + bce(d(fake.detach()), zeros)).backward()
        opt_d.step()
        opt_g.zero_grad(set_to_none=True)
        bce(d(fake), ones).backward()
        opt_g.step()
    return steps * batch / (time.perf_counter() - t0)


def fresh(loss: str) -> genzoo.models.base.GenerativeModel:
    torch.manual_seed(0)
    config = dataclasses.replace(BASE, loss=loss, **SETTINGS[loss])  # type: ignore[arg-type]
    return genzoo.create_model("gan", image_shape=(1, 28, 28), config=config)


def train_config(batch: int, **kw) -> TrainConfig:
    base = {
        "batch_size": batch,
        "lr": 2e-4,
        "sample_every": 0,
        "progress": False,
        "accelerator": "cpu",
        "log_every": 50,
        "checkpoint_every": 10**9,
    }
    return TrainConfig(**{**base, **kw})


def genzoo_loop(dataset, batch: int, steps: int, out: Path) -> float:
    model = fresh("non-saturating")
    t0 = time.perf_counter()
    fit(model, dataset, out, train_config(batch, steps=steps))
    return steps * batch / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget-seconds", type=float, default=45.0)
    p.add_argument("--throughput-steps", type=int, default=60)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--eval-n", type=int, default=2000)
    p.add_argument("--threads", type=int, default=1, help="torch threads (1: shared machine)")
    p.add_argument("--losses", default=",".join(LOSSES))
    p.add_argument("--grids", type=Path, default=None, help="save a sample grid per loss here")
    p.add_argument(
        "--inception", action="store_true", help="also FID on Inception features (slow on CPU)"
    )
    p.add_argument("--no-write", action="store_true", help="print only; do not touch RESULTS.md")
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    train = genzoo.data.load_dataset("fashion-mnist", "train")
    test = genzoo.data.load_dataset("fashion-mnist", "test")
    real_test = flat(test.images[: args.eval_n])
    real_train = flat(train.images[-args.eval_n :])
    sub = real_test[torch.randperm(len(real_test), generator=torch.Generator().manual_seed(0))]
    bandwidth = float(torch.pdist(sub[:1000]).median())

    from genzoo.metrics import DomainFeatures, fid, precision_recall

    dom = DomainFeatures(
        train.images, train.labels, test.images, test.labels, dataset="fashion-mnist"
    )
    f_test = dom.features(test.images[: args.eval_n])

    def domain_scores(images: torch.Tensor) -> tuple[float, float, float]:
        f = dom.features(images)
        pr = precision_recall(f_test, f, k=3)
        return fid(f, f_test), pr["precision"], pr["recall"]

    inception = None
    if args.inception:
        from genzoo.metrics import InceptionFeatures, reference_features

        inception = InceptionFeatures()
        i_test = reference_features(
            inception, test.images[: args.eval_n], tag="fashion-mnist-test"
        ).features

    def inception_fid(images: torch.Tensor) -> float:
        if inception is None:
            return float("nan")
        return fid(inception.features(images), i_test)

    n_ours = sum(p.numel() for p in fresh("non-saturating").parameters())
    n_peer = sum(p.numel() for m in peer_dcgan() for p in m.parameters())
    if n_ours != n_peer:
        raise SystemExit(f"peer DCGAN has {n_peer} parameters, genzoo's {n_ours}: not the same")

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        bare_loop(train.images, args.batch_size, 3)  # warm-up
        bare, ours = [], []
        for k in range(2):
            bare.append(bare_loop(train.images, args.batch_size, args.throughput_steps))
            ours.append(
                genzoo_loop(train, args.batch_size, args.throughput_steps, Path(tmp) / f"tp{k}")
            )
        bare_ips, ours_ips = max(bare), max(ours)

        for loss in args.losses.split(","):
            model = fresh(loss)
            cfg = train_config(args.batch_size, steps=10**7, max_minutes=args.budget_seconds / 60)
            out = Path(tmp) / loss
            t0 = time.perf_counter()
            fit(model, train, out, cfg)
            seconds = time.perf_counter() - t0
            steps = torch.load(out / "checkpoint.pt", weights_only=True)["step"]
            model.eval()
            samples = model.sample(args.eval_n, generator=torch.Generator().manual_seed(1))
            if args.grids is not None:
                from genzoo.viz import save_grid

                save_grid(samples[:64], args.grids / f"gan-{loss}.png", nrow=8, scale=2)
            fake = flat(samples)
            rows.append(
                (
                    loss,
                    SETTINGS[loss],
                    steps,
                    seconds,
                    pixel_fd(fake, real_test),
                    mmd2(fake, real_test, bandwidth),
                    *domain_scores(samples),
                    inception_fid(samples),
                )
            )
            print(rows[-1], flush=True)
    floor = (
        pixel_fd(real_train, real_test),
        mmd2(real_train, real_test, bandwidth),
        *domain_scores(train.images[-args.eval_n :]),
        inception_fid(train.images[-args.eval_n :]),
    )

    command = "python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *sys.argv[1:]])
    commit = START_COMMIT
    lines = [
        f"### GANs on Fashion-MNIST, {args.budget_seconds:g} s of CPU training per loss, "
        f"{datetime.date.today().isoformat()}",
        "",
        f"- command: `{command}` (commit {commit or 'unknown'})",
        f"- machine: {machine()}",
        f"- model: DCGAN 28x28 (G 100 -> 128x7x7 -> 64x14x14 -> 1x28x28; D mirrored), "
        f"{n_ours / 1e6:.2f}M parameters, batch {args.batch_size}, Adam lr 2e-4",
        f"- quality, {args.eval_n} samples vs the first {args.eval_n} test images: FID on "
        "Inception pool3 (bilinear resize; nan without --inception; biased upwards at small n, "
        "Lucic et al. used 10k), FID and "
        f"precision/recall (k=3) on {dom.label}; pixel FD (the FID formula on raw pixels in "
        f"[0, 1]) and unbiased Gaussian-kernel MMD^2 (bandwidth {bandwidth:.2f}, the median "
        "test distance); lower is better except precision and recall",
        "",
        "| loss | settings | steps (D updates) in budget | FID (Inception) | FID (domain) "
        "| precision | recall | pixel FD | MMD^2 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for loss, settings, steps, seconds, fd, mmd, dfid, prec, rec, ifid in rows:
        extra = ", ".join(f"{k}={v}" for k, v in settings.items()) or "defaults"
        lines.append(
            f"| {loss} | {extra} | {steps} ({seconds:.0f} s) | {ifid:.2f} | {dfid:.2f} | "
            f"{prec:.3f} | {rec:.3f} | {fd:.2f} | {mmd:.4f} |"
        )
    lines += [
        f"| real train images (floor) | - | - | {floor[5]:.2f} | {floor[2]:.2f} | "
        f"{floor[3]:.3f} | {floor[4]:.3f} | {floor[0]:.2f} | {floor[1]:.4f} |",
        "",
        "| throughput (non-saturating, same architecture) | images/s |",
        "|---|---|",
        f"| peer: bare PyTorch DCGAN loop (baseline) | {bare_ips:.0f} |",
        f"| genzoo GAN in the genzoo loop (Fabric) | {ours_ips:.0f} |",
        f"| ratio genzoo / baseline | {ours_ips / bare_ips:.2f} |",
        "",
    ]
    table = "\n".join(lines)
    print(table)
    if not args.no_write:
        append_result(table)


if __name__ == "__main__":
    main()
