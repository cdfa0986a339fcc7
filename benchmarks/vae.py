"""VAE and IWAE on Fashion-MNIST: test ELBO and IWAE-k after a fixed CPU budget, and
training throughput against a peer implementation of the same architecture.

Architecture (all runs): the IWAE paper's one-stochastic-layer MLP (Burda et al. 2016,
section 5): 784-200-200 tanh encoder to a 50-d Gaussian z, 50-200-200-784 tanh decoder.

1. Throughput (images/s, batch 100, dynamically binarised data, Bernoulli decoder):
   pythae's VAE (``pip install pythae``; its own reparameterisation and loss, our MLPs) in
   a bare PyTorch loop; a bare PyTorch VAE written here; genzoo's VAE in the same bare loop;
   genzoo's VAE through genzoo's training loop (Fabric, clipping, logging). Alternated
   twice, best of each, so the machine's noise hits all alike.
2. Bounds after ``--budget-minutes`` of training each (``--train.max-minutes``):
   binarized-fashion-mnist (nats/image; test set binarised once with seed 0) with the VAE
   (ELBO, k=1) and IWAE (k = ``--iwae-train-k``), and fashion-mnist (8-bit, discretised
   logistic decoder, bits/dim). Test ELBO over the 10k test images (mean of
   ``--elbo-k`` log-weights per image), and the ELBO and IWAE-``--iwae-k`` bound on the first
   ``--eval-n`` test images (the same samples for both).

MNIST itself is not on this machine (no download), so the IWAE paper's anchor (Table 1,
dynamically binarised MNIST, NLL from 5000 samples: VAE 86.76, IWAE k=50 84.78 nats, after
3,280 passes of training) is quoted for orientation only; Fashion-MNIST is a harder set.

Usage:
    python benchmarks/vae.py [--budget-minutes 2] [--iwae-k 5000] [--eval-n 300]

Appends a table, with its command, machine and date, to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import math
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
from genzoo.models.vae_config import VAEConfig
from genzoo.train.loop import fit

LATENT, HIDDEN = 50, 200


def mlp(sizes: list[int], last: nn.Module | None = None) -> nn.Sequential:
    """Linear layers with tanh between them (and ``last`` after the final one)."""
    mods: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        mods.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            mods.append(nn.Tanh())
    if last is not None:
        mods.append(last)
    return nn.Sequential(*mods)


class BareVAE(nn.Module):
    """A plain PyTorch VAE of the same architecture (the baseline if pythae is absent)."""

    def __init__(self) -> None:
        super().__init__()
        self.enc = mlp([784, HIDDEN, HIDDEN, 2 * LATENT])
        self.dec = mlp([LATENT, HIDDEN, HIDDEN, 784])

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1).float()  # (N, 784) in {0, 1}
        mu, logvar = self.enc(x).chunk(2, dim=1)  # (N, L) each
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        rec = -nn.functional.binary_cross_entropy_with_logits(self.dec(z), x, reduction="none")
        kl = 0.5 * (mu.square() + logvar.exp() - 1 - logvar).sum(1)
        return (kl - rec.sum(1)).mean()


def pythae_vae():
    """pythae's VAE with our MLPs; None if pythae cannot be imported."""
    try:
        from pythae.models import VAE
        from pythae.models import VAEConfig as PVAEConfig
        from pythae.models.base.base_utils import ModelOutput
        from pythae.models.nn import BaseDecoder, BaseEncoder
    except Exception:  # any import failure means "no peer"
        return None

    class Enc(BaseEncoder):
        def __init__(self) -> None:
            super().__init__()
            self.body = mlp([784, HIDDEN, HIDDEN], nn.Tanh())
            self.mu, self.logvar = nn.Linear(HIDDEN, LATENT), nn.Linear(HIDDEN, LATENT)

        def forward(self, x):
            h = self.body(x.flatten(1))
            return ModelOutput(embedding=self.mu(h), log_covariance=self.logvar(h))

    class Dec(BaseDecoder):
        def __init__(self) -> None:
            super().__init__()
            self.net = mlp([LATENT, HIDDEN, HIDDEN, 784], nn.Sigmoid())

        def forward(self, z):
            return ModelOutput(reconstruction=self.net(z).view(-1, 1, 28, 28))

    cfg = PVAEConfig(input_dim=(1, 28, 28), latent_dim=LATENT, reconstruction_loss="bce")
    return VAE(cfg, encoder=Enc(), decoder=Dec())


def bare_loop(step_loss, params, images: torch.Tensor, batch: int, steps: int) -> float:
    """Adam steps on random batches of dynamically binarised images; returns images/s."""
    opt = torch.optim.Adam(params, lr=1e-3)
    g = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    for _ in range(steps):
        grey = images[torch.randint(0, len(images), (batch,), generator=g)].float() / 255
        x = torch.bernoulli(grey, generator=g).to(torch.uint8)  # (B, 1, 28, 28)
        opt.zero_grad(set_to_none=True)
        step_loss(x).backward()
        opt.step()
    return steps * batch / (time.perf_counter() - t0)


def train_config(batch: int, **kw) -> TrainConfig:
    return TrainConfig(
        batch_size=batch, lr=1e-3, sample_every=0, progress=False, accelerator="cpu",
        checkpoint_every=10**9, **kw,
    )  # fmt: skip


def agreement(images: torch.Tensor) -> float | None:
    """pythae's loss and genzoo's -ELBO on identical weights and identical eps (nats/image):
    the peer really trains the same model with the same objective. None without pythae."""
    peer = pythae_vae()
    if peer is None:
        return None
    torch.manual_seed(0)
    ours = genzoo.create_model("vae", kind="binary", config=RUNS[0][2])
    lin = [m for m in ours.encoder.net if isinstance(m, nn.Linear)]
    head_w, head_b = ours.encoder_head.weight.chunk(2), ours.encoder_head.bias.chunk(2)
    with torch.no_grad():
        for a, b in zip(
            lin, [m for m in peer.encoder.body if isinstance(m, nn.Linear)], strict=True
        ):
            b.load_state_dict(a.state_dict())
        for layer, w, bias in ((peer.encoder.mu, head_w[0], head_b[0]),
                               (peer.encoder.logvar, head_w[1], head_b[1])):  # fmt: skip
            layer.weight.copy_(w)
            layer.bias.copy_(bias)
        ours_dec = [m for m in ours.decoder.net if isinstance(m, nn.Linear)]
        peer_dec = [m for m in peer.decoder.net if isinstance(m, nn.Linear)]
        for a, b in zip(ours_dec, peer_dec, strict=True):
            b.load_state_dict(a.state_dict())
        g = torch.Generator().manual_seed(1)
        x = torch.bernoulli(images[:200].float() / 255, generator=g).to(torch.uint8)
        torch.manual_seed(2)
        neg_elbo = ours.data.num_dims * float(ours.loss(x)["loss"])  # nats/image
        torch.manual_seed(2)
        peer_loss = float(peer({"data": x.float()}).loss)
    return abs(peer_loss - neg_elbo)


def throughput(args, train_bin) -> dict[str, float]:
    images = train_bin.images  # grey values; binarised per batch in the bare loops

    def ours():
        torch.manual_seed(0)
        return genzoo.create_model("vae", kind="binary", config=RUNS[0][2])

    peer_present = pythae_vae() is not None
    rates: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(3):  # rep 0 warms up and is dropped
            runs = {}
            if peer_present:
                p = pythae_vae()
                runs["pythae VAE, bare loop (peer)"] = lambda p=p: bare_loop(
                    lambda x: p({"data": x.float()}).loss, p.parameters(), images,
                    args.batch_size, args.throughput_steps,
                )  # fmt: skip
            b = BareVAE()
            runs["bare PyTorch VAE, bare loop"] = lambda b=b: bare_loop(
                b.loss, b.parameters(), images, args.batch_size, args.throughput_steps
            )
            m = ours()
            runs["genzoo VAE, bare loop"] = lambda m=m: bare_loop(
                lambda x: m.loss(x)["loss"], m.parameters(), images,
                args.batch_size, args.throughput_steps,
            )  # fmt: skip
            cfg = train_config(args.batch_size, steps=args.throughput_steps, log_every=10)

            def loop(rep=rep, cfg=cfg):
                t0 = time.perf_counter()
                fit(ours(), train_bin, Path(tmp) / f"tp{rep}", cfg)
                return args.throughput_steps * args.batch_size / (time.perf_counter() - t0)

            runs["genzoo VAE, genzoo loop (Fabric)"] = loop
            for name, fn in runs.items():
                rate = fn()
                if rep:
                    rates.setdefault(name, []).append(rate)
    return {k: max(v) for k, v in rates.items()}


RUNS = [
    ("VAE (ELBO, k=1)", "binarized-fashion-mnist", VAEConfig(latent_dim=LATENT, hidden=HIDDEN)),
    ("IWAE", "binarized-fashion-mnist", None),  # filled in from --iwae-train-k
    ("VAE, discretised logistic", "fashion-mnist", VAEConfig(latent_dim=LATENT, hidden=HIDDEN)),
]


def evaluate(model, test: torch.Tensor, args) -> dict[str, float]:
    model.eval()
    g = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    with torch.no_grad():
        elbo = torch.cat(
            [
                model.bounds(test[i : i + 500], k=args.elbo_k, generator=g)["elbo"]
                for i in range(0, len(test), 500)
            ]
        )
        sub = [
            model.bounds(test[i : i + 50], k=args.iwae_k, generator=g)
            for i in range(0, args.eval_n, 50)
        ]
    return {
        "elbo_full": -float(elbo.double().mean()),
        "elbo_sub": -float(torch.cat([b["elbo"] for b in sub]).double().mean()),
        "iwae_sub": -float(torch.cat([b["iwae"] for b in sub]).double().mean()),
        "eval_s": time.perf_counter() - t0,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget-minutes", type=float, default=2.0)
    p.add_argument("--iwae-train-k", type=int, default=5)
    p.add_argument("--iwae-k", type=int, default=5000)
    p.add_argument("--eval-n", type=int, default=300)
    p.add_argument("--elbo-k", type=int, default=10)
    p.add_argument("--throughput-steps", type=int, default=40)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--no-write", action="store_true", help="print only; do not touch RESULTS.md")
    p.add_argument("--throughput-only", action="store_true", help="skip the budgeted runs")
    args = p.parse_args()
    RUNS[1] = (
        f"IWAE (k={args.iwae_train_k})",
        "binarized-fashion-mnist",
        VAEConfig(latent_dim=LATENT, hidden=HIDDEN, objective="iwae", k=args.iwae_train_k),
    )

    load = genzoo.data.load_dataset
    train_bin = load("binarized-fashion-mnist", "train")
    tests = {
        "binarized-fashion-mnist": load("binarized-fashion-mnist:fixed", "test", seed=0).images,
        "fashion-mnist": load("fashion-mnist", "test").images,
    }
    tp = throughput(args, train_bin)
    agree = agreement(train_bin.images)
    peer = "pythae VAE, bare loop (peer)"
    base = peer if peer in tp else "bare PyTorch VAE, bare loop"

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (label, data, config) in enumerate([] if args.throughput_only else RUNS):
            train = load(data, "train")
            torch.manual_seed(0)
            model = genzoo.create_model("vae", kind=train.kind, config=config)
            cfg = train_config(
                args.batch_size, steps=10**7, max_minutes=args.budget_minutes, log_every=100
            )
            t0 = time.perf_counter()
            fit(model, train, Path(tmp) / f"run{i}", cfg)
            train_s = time.perf_counter() - t0
            steps = torch.load(Path(tmp) / f"run{i}" / "checkpoint.pt", weights_only=True)["step"]
            r = evaluate(model, tests[data], args)
            rows.append((label, data, steps, steps * args.batch_size / len(train), train_s, r))
            print(label, data, steps, r, flush=True)

    def fmt(nats: float, data: str) -> str:
        if data == "fashion-mnist":
            return f"{nats / (784 * math.log(2)):.3f} bits/dim"
        return f"{nats:.2f} nats"

    command = "python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *sys.argv[1:]])
    commit = START_COMMIT
    lines = [
        f"### VAE and IWAE on Fashion-MNIST, {datetime.date.today().isoformat()}",
        "",
        f"- command: `{command}` (commit {commit or 'unknown'})",
        f"- machine: {machine()} (shared with other jobs: timings are noisy)",
        f"- model: MLP 784-{HIDDEN}-{HIDDEN}-{LATENT} (IWAE paper, one stochastic layer), "
        f"batch {args.batch_size}, Adam lr 1e-3"
        + ("" if args.throughput_only else f", {args.budget_minutes:g} min CPU budget each"),
    ]
    if rows:
        lines += [
            f"- test NLL bounds (upper bounds on -log p, lower is better): ELBO on all 10,000 "
            f"test images ({args.elbo_k} samples each); ELBO and IWAE-{args.iwae_k} on the "
            f"first {args.eval_n} (same samples). binarized-fashion-mnist test set binarised "
            "once (seed 0); fashion-mnist: 8-bit, discretised logistic decoder, bits/dim.",
            "- anchor (not comparable: MNIST cannot be downloaded here, and the paper trained "
            "for 3,280 passes): IWAE paper Table 1, binarised MNIST, VAE 86.76, IWAE k=50 "
            "84.78 nats",
            "",
            "| run | data | budget | test ELBO (10k) | ELBO (first n) | "
            f"IWAE-{args.iwae_k} (first n) | eval time |",
            "|---|---|---|---|---|---|---|",
        ]
    lines += ["", "| training throughput (binarised, batch 100) | images/s | vs baseline |"]
    lines += ["|---|---|---|"]
    for name, rate in tp.items():
        lines.append(f"| {name} | {rate:.0f} | {rate / tp[base]:.2f} |")
    if peer not in tp:
        lines.append("| (pythae could not be imported: baseline is the bare PyTorch VAE) | | |")
    else:
        lines += [
            "",
            f"Same model, same objective: with genzoo's weights copied into pythae's VAE and the "
            f"same eps, pythae's loss and genzoo's -ELBO on 200 images differ by {agree:.2g} "
            "nats/image.",
        ]
    table = "\n".join(lines) + "\n"
    print(table)
    if not args.no_write:
        append_result(table)


if __name__ == "__main__":
    main()
