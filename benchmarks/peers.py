"""genzoo's training step beside its peers' at the same architecture, in one run.

Pairs (each checked by parameter count, by FLOPs of one training step and by the loss of
the first step on the same batch in nats per image, all printed):

- ``pixelcnn``: pytorch-generative's ``PixelCNN`` (EugenHotaj/pytorch-generative; its
  ``reproduce()`` sizes: 15 residual blocks of 16 channels, head 32; 53,569 parameters)
  against genzoo's ``pixelcnn`` (h=16, 15 blocks, 32 output maps) on binary 28x28 images,
  batch 64, Bernoulli loss, Adam lr 1e-3.
- ``vae``: pythae's ``VAE`` (clementchadebec/benchmark_VAE; its reparameterisation and BCE
  loss, with MLP encoder/decoder built on its ``BaseEncoder`` / ``BaseDecoder``:
  784-200-200-(50+50), 50-200-200-784, tanh; 425,284 parameters) against genzoo's ``vae``
  (latent 50, hidden 200, 2 layers) on binary 28x28 images, batch 100, Adam lr 1e-3.
- ``dcgan``: pytorch/examples ``dcgan/main.py``'s ``Generator`` and ``Discriminator``
  (nz 100, ngf = ndf = 64, 3x64x64; 6,342,272 parameters) and the update of its training
  loop (D on real, D on G(z).detach(), G through D; BCE; Adam 2e-4, betas (0.5, 0.999))
  against genzoo's ``gan`` (width 64, latent 100, non-saturating loss), batch 64.
- ``nade``: pytorch-generative's ``NADE`` (its ``reproduce()``: 784 inputs, 500 hidden
  units, batch 512, Adam lr 1e-3; 785,284 parameters) against genzoo's ``nade`` (hidden
  500, raster ordering) on binary 28x28 images, Bernoulli NLL.
- ``made``: pytorch-generative's ``MADE`` (its ``reproduce()``: one hidden layer of 8000,
  one mask, batch 64, Adam lr 1e-3; 12,552,784 parameters) against genzoo's ``made``
  (hidden 8000, random ordering, one mask, no ensemble) on binary 28x28 images. Both
  rebuild their one mask in every step (as each ships), so both timed steps include it.
- ``realnvp`` and ``glow``: normflows (VincentStimper/normalizing-flows) models built from
  its layers (``AffineCouplingBlock`` with its ``ConvNet2d``, ``GlowBlock``, ``ActNorm``,
  ``Squeeze``, ``Merge``, ``MultiscaleFlow`` with ``DiagGaussian`` / ``GlowBase`` priors
  and its ``Logit`` / ``Shift`` transforms, as its Glow example builds them) against
  genzoo's ``realnvp`` (2 scales, 3 couplings per mask type, 32 hidden channels, actnorm,
  logit 0.05) and ``glow`` (the zoo recipe: 2 levels of 8 steps, 64 hidden channels) on
  random 8-bit 1x28x28 images, uniform dequantisation y = (x + u) / 256 on both sides,
  batch 64, Adam lr 1e-3. RealNVP has 2 scales, not the zoo recipe's 3, because
  normflows' checkerboard split needs an even width (the third scale is 7x7).

The flows cannot match parameter for parameter: genzoo's coupling net reads the masked
input (all channels, half of them zero) and writes a shift and scale for every channel,
of which the kept half is multiplied by zero; normflows' reads only the kept half and
writes only the changed half. The weights genzoo holds on the zero side never receive a
gradient (and cost convolution work: genzoo's FLOPs are 1.5x (Glow) to 1.9x (RealNVP) the
peer's). So for these two the check is on the parameters a gradient reaches (entries with
a nonzero gradient in the second step, which also leaves out ReLU units dead on that
batch), equal within 3%: the smoke run had 25,497 / 25,643 for RealNVP (genzoo 30,867 /
normflows 25,648 in all) and 151,438 / 151,446 for Glow (235,324 / 152,232 in all). The
rest of the difference: genzoo's RealNVP scale is a learned s_c tanh(h), normflows' exp(h)
(one parameter per channel and coupling); genzoo's Glow split prior is a 3x3 convolution
of the kept half, normflows' GlowBase a mean and scale per channel.

The first step's loss shows both sides compute the same objective in the same units
(nats per image: genzoo's ``nll_nats``, the peer's Bernoulli NLL or -ELBO summed over
pixels, or the flows' -log q(y) + D log 256): the flows start as the identity on both
sides after actnorm's data-dependent initialisation, so their first losses agree to a
fraction of a nat (smoke run: RealNVP 4377.9 / 4378.0, Glow 4491.8 / 4491.7); the
autoregressive models start from different random weights near D log 2 = 543.4 nats
(random binary data), except pytorch-generative's PixelCNN, whose residual stream doubles
at each block (see its note).

For each pair, at one thread and at PyTorch's default thread count (OpenMP's own wait
policy, as genzoo leaves it; fixed for all three), with and without
compilation (genzoo: ``torch.compile`` of the methods the loop compiles with
``--train.compile``; peer: ``torch.compile`` of its modules), one process runs rounds of
the peer's step, genzoo's bare step and genzoo's full training loop (``fit`` on an
in-memory dataset, the function ``genzoo train`` calls) for ``--seconds`` each after a
warm-up. Printed: median images/s, genzoo/peer per round and its median, and loop/bare.
In one process both sides share glibc's allocator, so the malloc setting every ``genzoo``
command applies is not in those ratios; ``--as-shipped`` runs each round as two processes
instead, the peer's alone and genzoo's alone with that setting.

Differences that remain are printed with the table (e.g. the example's G step also
computes D's weight gradients, which it discards, so its step has more FLOPs).
No gradient clipping in the bare steps (the peers clip nothing); the loop row runs
``--train.grad-clip 0`` too, so it differs from the bare step only by the loop.

The peers' source is read from ``--peers DIR`` at run time, never part of genzoo; lay
DIR out as benchmarks/fetch_peers.md says (pythae needs pydantic: DIR/_deps).

    python benchmarks/peers.py --peers /work/peers                       # print only
    python benchmarks/peers.py --peers /work/peers --record              # + RESULTS.md
    python benchmarks/peers.py --peers /work/peers --models nade,made,realnvp,glow \\
        --record                                                         # the new pairs
    python benchmarks/peers.py --peers DIR --models vae --threads 1 --no-compile \\
        --seconds 1 --rounds 1                                           # smoke test

Runtime with the defaults (2 thread settings x compile off/on, 3 rounds of 3 x 5 s):
about 20 minutes on 2 cores for pixelcnn, vae and dcgan, compilation included. For nade,
made, realnvp and glow 8 minutes without compilation (``--no-compile``; measured
2026-12-07, RESULTS.md), and about an hour with it (an estimate): the compiled settings run the same
rounds plus the compilation, which was not timed here (NADE's two sides unroll Python
loops over the image: 784 pixels in the peer's forward, 98 blocks in genzoo's).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import math
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import types
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SRC = str(HERE.parent / "src")
MODELS = ("pixelcnn", "vae", "dcgan", "nade", "made", "realnvp", "glow")
THREADS = ("1", "default")
WARMUP = 3
LOOP_WARMUP = 5

LAYOUT = {
    "pixelcnn": "pytorch-generative/pytorch_generative/models/autoregressive/pixel_cnn.py",
    "vae": "benchmark_VAE/src/pythae/models/vae/vae_model.py",
    "dcgan": "examples/dcgan/main.py",
    "nade": "pytorch-generative/pytorch_generative/models/autoregressive/nade.py",
    "made": "pytorch-generative/pytorch_generative/models/autoregressive/made.py",
    "realnvp": "normalizing-flows/normflows/flows/affine/coupling.py",
    "glow": "normalizing-flows/normflows/flows/affine/glow.py",
}


class PeerMissing(SystemExit):
    """A one-line error naming what the peers folder lacks."""


def _package(name: str, path: Path) -> None:
    """Register ``name`` as a package at ``path`` without running its ``__init__`` (which
    imports the peer's datasets, trainers, torchvision...): only the modules the model
    needs are then imported, from their files."""
    if name not in sys.modules:
        module = types.ModuleType(name)
        module.__path__ = [str(path)]
        sys.modules[name] = module


def _require(peers: Path, model: str) -> Path:
    path = peers / LAYOUT[model]
    if not path.is_file():
        raise PeerMissing(
            f"--peers {peers}: {LAYOUT[model]} is missing (see benchmarks/fetch_peers.md)"
        )
    return path


# -- the pairs ---------------------------------------------------------------------------


@dataclass
class Pair:
    """One comparison: genzoo's model and step, the peer's step, and what to check."""

    name: str
    batch: int
    genzoo: Any  # the genzoo model of the bare step
    genzoo_step: Callable[[int], object]
    peer_modules: list[Any]  # the peer's nn.Modules (parameters counted over them)
    peer_step: Callable[[int], object]
    make_genzoo: Callable[[], Any]  # a fresh genzoo model (for the loop)
    dataset: Any  # in-memory genzoo dataset for the loop
    lr: float
    compile_peer: Callable[[], None]
    expected_extra: int = 0  # genzoo parameters the peer's architecture has no slot for
    notes: list[str] = field(default_factory=list)
    # (genzoo step's output, peer step's output) -> each side's loss of that batch in nats
    # per image, the same objective on the same scale (None: no likelihood, the GAN)
    nll: Callable[[Any, Any], tuple[float, float]] | None = None
    # compare the parameters a gradient reaches instead of all (flows: genzoo's masked
    # couplings hold weights that never receive one), equal within this fraction
    trained_tolerance: float | None = None


def _binary_pool(n: int, seed: int = 0) -> Any:
    import torch

    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 2, (n, 1, 28, 28), generator=g, dtype=torch.uint8)


def _genzoo_side(name: str, shape: tuple[int, ...], kind: str, lr: float, **cfg: Any):
    import torch

    import genzoo
    from genzoo.config import TrainConfig

    def make() -> Any:
        torch.manual_seed(0)
        return genzoo.create_model(name, image_shape=shape, kind=kind, **cfg).train()

    model = make()
    from _steps import bare_stepper

    step = bare_stepper(model, TrainConfig(lr=lr, grad_clip=0.0))
    return make, model, step


def _pytorch_generative(peers: Path, model: str, module: str) -> Any:
    """pytorch_generative.models.autoregressive.MODULE from the peers folder (its package
    ``__init__``s skipped)."""
    _require(peers, model)
    root = peers / "pytorch-generative" / "pytorch_generative"
    _package("pytorch_generative", root)
    _package("pytorch_generative.models", root / "models")
    return importlib.import_module(f"pytorch_generative.models.autoregressive.{module}")


def _bernoulli_nll(out: Any, x: Any, logits: bool = True) -> Any:
    """pytorch-generative's reproduce() loss: the Bernoulli NLL summed over pixels, mean
    over the batch (nats per image); ``out`` logits, or probabilities if not ``logits``."""
    import torch.nn.functional as F

    n = x.shape[0]
    bce = F.binary_cross_entropy_with_logits if logits else F.binary_cross_entropy
    return bce(out.reshape(n, -1), x.reshape(n, -1), reduction="none").sum(dim=1).mean()


def _nll_nats(genzoo_out: Any, peer_loss: Any) -> tuple[float, float]:
    """genzoo's ``nll_nats`` (nats per image) and a peer loss already in nats per image."""
    return float(genzoo_out["nll_nats"]), float(peer_loss)


def pixelcnn_pair(peers: Path) -> Pair:
    import torch
    from torch import nn

    from genzoo.data.datasets import ImageDataset

    pg = _pytorch_generative(peers, "pixelcnn", "pixel_cnn")
    pg_nn = importlib.import_module("pytorch_generative.nn")
    batch, lr = 64, 1e-3
    torch.manual_seed(0)
    peer = pg.PixelCNN(in_channels=1, out_channels=1, n_residual=15, residual_channels=16,
                       head_channels=32).train()  # fmt: skip
    pool = _binary_pool(16 * batch)
    batches = list(pool.split(batch))
    peer(batches[0].float())  # its __call__ registers shape buffers on the first call
    opt = torch.optim.Adam(peer.parameters(), lr=lr)
    net: dict[str, Any] = {"f": peer}

    causal = [m for m in peer.modules() if isinstance(m, pg_nn.CausalConv2d)]

    def peer_step(i: int) -> Any:
        x = batches[i % len(batches)].float()  # (B, 1, 28, 28) in {0, 1}
        if net["f"] is not peer:  # compiled: the masking moved out of forward (see below)
            with torch.no_grad():
                for m in causal:
                    m.weight.data *= m.mask
        logits = net["f"](x)
        # its reproduce()'s loss_fn: Bernoulli NLL summed over pixels, mean over the batch
        loss = _bernoulli_nll(logits, x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.detach()

    def compile_peer() -> None:
        # CausalConv2d.forward masks by `self.weight.data *= self.mask`, which inductor
        # refuses ("a set_ on a graph input"); the same masking runs before each compiled
        # forward instead (peer_step), and the convolutions run as plain Conv2d.
        for m in causal:
            m.forward = types.MethodType(nn.Conv2d.forward, m)
        net["f"] = torch.compile(peer)

    make, model, step = _genzoo_side(
        "pixelcnn", (1, 28, 28), "binary", lr, hidden_channels=16, num_blocks=15,
        output_channels=32,
    )  # fmt: skip
    return Pair(
        "pixelcnn", batch, model, lambda i: step(batches[i % len(batches)], None, i), [peer],
        peer_step, make, ImageDataset(pool, kind="binary", binarize="fixed"), lr, compile_peer,
        nll=_nll_nats, notes=[
            "pixelcnn: pytorch-generative masks by `weight.data *= mask` before each conv "
            "(no autograd), genzoo by a masked weight inside the graph; its PixelCNN.forward "
            "adds the block input twice (`x = x + layer(x)` around a block that already "
            "returns `x + net(x)`): one more addition, same parameters and FLOPs, but its "
            "activations double at each of the 15 blocks, so its first loss is thousands of "
            "times genzoo's (same units: nats per image); genzoo's "
            "loss is the mean over dimensions (nats/dim), the peer's the sum over pixels; "
            "compiled, the peer's in-place masking (which inductor refuses) runs before the "
            "compiled forward, the same operation outside the graph",
        ],
    )  # fmt: skip


def vae_pair(peers: Path) -> Pair:
    import itertools

    import torch
    from torch import nn

    from genzoo.data.datasets import ImageDataset

    _require(peers, "vae")
    deps = peers / "_deps"
    if deps.is_dir() and str(deps) not in sys.path:
        sys.path.append(str(deps))  # after the venv: its own packages win
    try:
        importlib.import_module("pydantic")
    except ImportError:
        raise PeerMissing(
            f"pythae needs pydantic>=2: pip install --target {deps} pydantic "
            "(see benchmarks/fetch_peers.md)"
        ) from None
    root = peers / "benchmark_VAE" / "src" / "pythae"
    _package("pythae", root)
    _package("pythae.models", root / "models")
    vae_model = importlib.import_module("pythae.models.vae.vae_model")
    vae_config = importlib.import_module("pythae.models.vae.vae_config")
    base_utils = importlib.import_module("pythae.models.base.base_utils")
    pnn = importlib.import_module("pythae.models.nn")
    latent, hidden, batch, lr = 50, 200, 100, 1e-3

    def mlp(sizes: list[int], last: nn.Module) -> nn.Sequential:
        mods: list[nn.Module] = []
        for a, b in itertools.pairwise(sizes):
            mods += [nn.Linear(a, b), nn.Tanh()]
        mods[-1] = last
        return nn.Sequential(*mods)

    class Encoder(pnn.BaseEncoder):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.body = mlp([784, hidden, hidden], nn.Tanh())
            self.mu, self.logvar = nn.Linear(hidden, latent), nn.Linear(hidden, latent)

        def forward(self, x: torch.Tensor) -> Any:
            h = self.body(x.flatten(1))
            return base_utils.ModelOutput(embedding=self.mu(h), log_covariance=self.logvar(h))

    class Decoder(pnn.BaseDecoder):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.net = mlp([latent, hidden, hidden, 784], nn.Sigmoid())

        def forward(self, z: torch.Tensor) -> Any:
            return base_utils.ModelOutput(reconstruction=self.net(z).view(-1, 1, 28, 28))

    torch.manual_seed(0)
    cfg = vae_config.VAEConfig(input_dim=(1, 28, 28), latent_dim=latent, reconstruction_loss="bce")
    peer = vae_model.VAE(cfg, encoder=Encoder(), decoder=Decoder()).train()
    pool = _binary_pool(16 * batch)
    batches = list(pool.split(batch))
    opt = torch.optim.Adam(peer.parameters(), lr=lr)
    net: dict[str, Any] = {"f": peer}

    def peer_step(i: int) -> Any:
        x = batches[i % len(batches)].float()
        loss = net["f"]({"data": x}).loss  # pythae's training step: model(inputs).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.detach()  # -ELBO, nats per image (BCE summed over pixels + KL)

    def compile_peer() -> None:
        # torch.compile(peer) fails under dynamo on pythae's ModelOutput (an OrderedDict
        # whose items are also attributes: "'ModelOutput' object has no attribute
        # 'embedding'"); compile the networks inside it, pythae's glue stays eager.
        try:
            compiled = torch.compile(peer)
            compiled({"data": batches[0].float()})
            net["f"] = compiled
        except Exception as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            print(f"vae: torch.compile(pythae VAE) failed ({first}); compiling its "
                  "encoder and decoder networks only", file=sys.stderr)  # fmt: skip
            torch._dynamo.reset()
            for owner, names in ((peer.encoder, ("body", "mu", "logvar")),
                                 (peer.decoder, ("net",))):  # fmt: skip
                for name in names:
                    setattr(owner, name, torch.compile(getattr(owner, name)))
            net["f"] = peer
            notes.append(
                "vae, compiled: torch.compile of pythae's whole VAE fails (its ModelOutput "
                "under dynamo), so only its encoder and decoder networks are compiled; its "
                "reparameterisation and loss run eagerly"
            )

    notes = [
        "vae: pythae's decoder ends in a sigmoid and its loss is binary_cross_entropy on "
        "probabilities; genzoo's Bernoulli decoder takes logits (BCE with logits); "
        "pythae's encoder has two 200x50 heads, genzoo one 200x100 head (same parameters "
        "and FLOPs); genzoo's loss is per dimension, pythae's per image",
    ]
    make, model, step = _genzoo_side(
        "vae", (1, 28, 28), "binary", lr, latent_dim=latent, hidden=hidden, hidden_layers=2
    )
    return Pair(
        "vae", batch, model, lambda i: step(batches[i % len(batches)], None, i), [peer],
        peer_step, make, ImageDataset(pool, kind="binary", binarize="fixed"), lr, compile_peer,
        notes=notes, nll=lambda g, p: (-float(g["elbo_nats"]), float(p)),
    )  # fmt: skip


def _dcgan_namespace(path: Path) -> dict[str, Any]:
    """weights_init, Generator and Discriminator from dcgan/main.py, executed alone (the
    script parses arguments and loads a dataset at import), with nz=100, ngf=ndf=64, nc=3."""
    import torch
    from torch import nn

    tree = ast.parse(path.read_text(), filename=str(path))
    wanted = {"weights_init", "Generator", "Discriminator"}
    nodes = [
        n for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef) and n.name in wanted
    ]
    if {n.name for n in nodes} != wanted:
        raise PeerMissing(f"{path} no longer defines {', '.join(sorted(wanted))}")
    ns: dict[str, Any] = {"torch": torch, "nn": nn, "nz": 100, "ngf": 64, "ndf": 64, "nc": 3}
    exec(compile(ast.Module(body=nodes, type_ignores=[]), str(path), "exec"), ns)
    return ns


def dcgan_pair(peers: Path) -> Pair:
    import torch
    from torch import nn

    from genzoo.data.datasets import ImageDataset

    ns = _dcgan_namespace(_require(peers, "dcgan"))
    batch, lr, nz = 64, 2e-4, 100
    torch.manual_seed(0)
    net_g, net_d = ns["Generator"](1), ns["Discriminator"](1)
    net_g.apply(ns["weights_init"])
    net_d.apply(ns["weights_init"])
    g = torch.Generator().manual_seed(0)
    pool = torch.randint(0, 256, (8 * batch, 3, 64, 64), generator=g, dtype=torch.uint8)
    batches = list(pool.split(batch))
    criterion = nn.BCELoss()
    opt_d = torch.optim.Adam(net_d.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(net_g.parameters(), lr=lr, betas=(0.5, 0.999))
    net: dict[str, Any] = {"g": net_g, "d": net_d}

    def peer_step(i: int) -> None:  # main.py's loop body, less its prints and .item()s
        real = batches[i % len(batches)].float() / 127.5 - 1  # its Normalize((0.5,), (0.5,))
        D, G = net["d"], net["g"]
        net_d.zero_grad()
        label = torch.full((batch,), 1.0)
        err_real = criterion(D(real), label)
        err_real.backward()
        noise = torch.randn(batch, nz, 1, 1)
        fake = G(noise)
        label.fill_(0.0)
        err_fake = criterion(D(fake.detach()), label)
        err_fake.backward()
        opt_d.step()
        net_g.zero_grad()
        label.fill_(1.0)
        err_g = criterion(D(fake), label)
        err_g.backward()
        opt_g.step()

    def compile_peer() -> None:
        net["g"], net["d"] = torch.compile(net_g), torch.compile(net_d)

    make, model, step = _genzoo_side(
        "gan", (3, 64, 64), "8bit", lr, width=64, latent_dim=100, loss="non-saturating",
        lr_g=lr, lr_d=lr,
    )  # fmt: skip
    return Pair(
        "dcgan", batch, model, lambda i: step(batches[i % len(batches)], None, i),
        [net_g, net_d], peer_step, make, ImageDataset(pool), lr, compile_peer,
        expected_extra=64 + 3 + 1,
        notes=[
            "dcgan: genzoo's nets have 68 more parameters, biases the example's nets lack "
            "(D's first convolution 64, G's last transposed convolution 3, D's final linear "
            "layer 1 where the example has a bias-free 4x4 convolution: the same product); "
            "both G steps reuse the D step's G(z) (genzoo's reuse_fakes, its default); "
            "genzoo freezes D during G's step while the example also computes D's weight "
            "gradients there (which it then discards): the example's extra FLOPs above; "
            "genzoo's D ends in logits with BCE-with-logits, the example's in a sigmoid "
            "with BCELoss",
        ],
    )  # fmt: skip


def nade_pair(peers: Path) -> Pair:
    import torch

    from genzoo.data.datasets import ImageDataset

    pg = _pytorch_generative(peers, "nade", "nade")
    # its reproduce(): NADE(input_dim=784, hidden_dim=500), batch 512, Adam's default lr 1e-3
    hidden, batch, lr = 500, 512, 1e-3
    torch.manual_seed(0)
    peer = pg.NADE(input_dim=784, hidden_dim=hidden).train()
    pool = _binary_pool(8 * batch)
    batches = list(pool.split(batch))
    opt = torch.optim.Adam(peer.parameters(), lr=lr)
    net: dict[str, Any] = {"f": peer}

    def peer_step(i: int) -> Any:
        x = batches[i % len(batches)].float()  # (B, 1, 28, 28) in {0, 1}
        probs = net["f"](x)  # its forward returns sigmoid probabilities, (B, 1, 28, 28)
        loss = _bernoulli_nll(probs, x, logits=False)  # the Bernoulli NLL of its output
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.detach()

    def compile_peer() -> None:
        net["f"] = torch.compile(peer)

    make, model, step = _genzoo_side(
        "nade", (1, 28, 28), "binary", lr, hidden=hidden, ordering="raster"
    )
    return Pair(
        "nade", batch, model, lambda i: step(batches[i % len(batches)], None, i), [peer],
        peer_step, make, ImageDataset(pool, kind="binary", binarize="fixed"), lr, compile_peer,
        nll=_nll_nats,
        notes=[
            "nade: the same parameters (W, c, V, b; raster order), pytorch-generative's "
            "hidden units ReLU, genzoo's sigmoid (the paper's); its forward is a Python loop "
            "over the 784 pixels that also draws a Bernoulli sample of each (its sampler's "
            "code path) and adds each pixel's column to the pre-activation, genzoo's a "
            "running sum over blocks of pixels sized to stay in cache (1 pixel at batch "
            "512: an outer product added to the carry); its reproduce()'s loss_fn applies "
            "binary_cross_entropy_with_logits to the probabilities its forward returns (a "
            "second sigmoid), so the peer's step here takes binary_cross_entropy of those "
            "probabilities, the Bernoulli NLL (the same cost); inputs 0/1 (peer), -1/+1 "
            "(genzoo); the FLOPs column counts matrix products only: the peer's per-pixel "
            "column updates are products ((B, 1) x (1, H)), genzoo's running sum is "
            "elementwise products and a cumulative sum, not counted, so genzoo's figure "
            "lacks at least 0.4 G (2 D B H, its forward alone)",
        ],
    )  # fmt: skip


def made_pair(peers: Path) -> Pair:
    import torch
    from torch import nn

    from genzoo.data.datasets import ImageDataset

    pg = _pytorch_generative(peers, "made", "made")
    # its reproduce(): MADE(input_dim=784, hidden_dims=[8000], n_masks=1), batch 64, Adam 1e-3
    hidden, batch, lr = 8000, 64, 1e-3
    torch.manual_seed(0)
    peer = pg.MADE(input_dim=784, hidden_dims=[hidden], n_masks=1).train()
    pool = _binary_pool(16 * batch)
    batches = list(pool.split(batch))
    opt = torch.optim.Adam(peer.parameters(), lr=lr)
    net: dict[str, Any] = {"f": peer}
    masked = [m for m in peer.modules() if isinstance(m, pg.MaskedLinear)]

    def peer_step(i: int) -> Any:
        x = batches[i % len(batches)].float()  # (B, 1, 28, 28) in {0, 1}
        if net["f"] is peer:
            logits = peer(x)  # draws its masks (numpy), copies them in, masks in place
        else:  # compiled: the same mask drawing and in-place masking, before the network
            masks, _ = peer._sample_masks()
            with torch.no_grad():
                for m, mask in zip(masked, masks, strict=True):
                    m.set_mask(mask)
                    m.weight.data *= m.mask
            logits = net["f"](x.view(batch, -1))
        loss = _bernoulli_nll(logits, x)  # its reproduce()'s loss_fn
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.detach()

    def compile_peer() -> None:
        # MaskedLinear.forward masks by `self.weight.data *= self.mask` (inductor refuses
        # it, as PixelCNN's); that masking and the numpy mask drawing run before the
        # compiled network (peer_step), whose layers run as plain Linear
        for m in masked:
            m.forward = types.MethodType(nn.Linear.forward, m)
        net["f"] = torch.compile(peer._net)

    make, model, step = _genzoo_side(
        "made", (1, 28, 28), "binary", lr, hidden=(hidden,), ordering="random", num_masks=1,
        ensemble=1,
    )  # fmt: skip
    return Pair(
        "made", batch, model, lambda i: step(batches[i % len(batches)], None, i), [peer],
        peer_step, make, ImageDataset(pool, kind="binary", binarize="fixed"), lr, compile_peer,
        nll=_nll_nats,
        notes=[
            "made: one mask on both sides (no ensemble, no resampling: pytorch-generative's "
            "n_masks=1, genzoo's num_masks=1), one random ordering; both rebuild that one "
            "mask in every step (pytorch-generative draws it again from seed 0 with numpy "
            "and copies it into the layers' buffers, then masks the weights in place, "
            "outside autograd; genzoo makes it from its stored degrees and multiplies "
            "inside the graph), so both timed steps include it; inputs 0/1 (peer), -1/+1 "
            "(genzoo)",
        ],
    )  # fmt: skip


def _normflows(peers: Path, model: str) -> Any:
    """normflows from the peers folder (ahead of any installed copy; needs numpy and torch)."""
    _require(peers, model)
    root = peers / "normalizing-flows"
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    nf = importlib.import_module("normflows")
    if not Path(nf.__file__).resolve().is_relative_to(root.resolve()):
        raise PeerMissing(f"normflows was imported from {nf.__file__}, not from {root}")
    return nf


def _flow_pair(
    name: str, peers: Path, build_peer: Callable[[Any], Any], cfg: dict[str, Any], notes: str
) -> Pair:
    """A normflows model (``build_peer(nf)``, a MultiscaleFlow) beside genzoo's ``name``
    with ``cfg``, on random 8-bit 1x28x28 images, batch 64, Adam lr 1e-3 on both sides."""
    import torch

    from genzoo.data.datasets import ImageDataset

    nf = _normflows(peers, name)
    batch, lr, shape = 64, 1e-3, (1, 28, 28)
    torch.manual_seed(0)
    peer = build_peer(nf).train()
    g = torch.Generator().manual_seed(0)
    pool = torch.randint(0, 256, (16 * batch, *shape), generator=g, dtype=torch.uint8)
    batches = list(pool.split(batch))
    opt = torch.optim.Adam(peer.parameters(), lr=lr)
    net: dict[str, Any] = {"f": peer}
    bits = math.prod(shape) * math.log(256)  # D log 256: from the density of y to P(x)

    def peer_step(i: int) -> Any:
        x = batches[i % len(batches)].float()
        # uniform dequantisation into [0, 1), as its examples' ToTensor, Scale(255 / 256)
        # and Jitter(1 / 256) do: y = (x + u) / 256
        y = (x + torch.rand_like(x)) / 256
        loss = net["f"](y).mean()  # its forward is -log q(y): the mean is its forward_kld
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.detach()

    def compile_peer() -> None:
        net["f"] = torch.compile(peer)

    make, model, step = _genzoo_side(name, shape, "8bit", lr, **cfg)
    return Pair(
        name, batch, model, lambda i: step(batches[i % len(batches)], None, i), [peer],
        peer_step, make, ImageDataset(pool), lr, compile_peer,
        nll=lambda gz, p: (float(gz["nll_nats"]), float(p) + bits), trained_tolerance=0.03,
        notes=[notes],
    )  # fmt: skip


def _nf_coupling(nf: Any, channels: int, hidden: int, mode: str, scale_map: str) -> Any:
    """normflows' affine coupling block (split, coupling, merge) with its ConvNet2d of 3x3,
    1x1 and 3x3 convolutions (ReLU, the last zero-initialised), as its GlowBlock builds it."""
    if "channel" in mode:  # half the channels read, the other half changed
        sizes = ((channels + 1) // 2, hidden, hidden, 2 * (channels // 2))
    else:  # checkerboard: every channel at half the pixels
        sizes = (channels, hidden, hidden, 2 * channels)
    param_map = nf.nets.ConvNet2d(sizes, (3, 1, 3), leaky=0.0, init_zeros=True)
    return nf.flows.AffineCouplingBlock(param_map, True, scale_map, mode)


def realnvp_pair(peers: Path) -> Pair:
    """RealNVP at 2 scales: normflows' checkerboard split needs an even width (7 is not)."""
    scales, couplings, hidden, alpha = 2, 3, 32, 0.05

    def build(nf: Any) -> Any:
        c, h, w = 1, 28, 28
        levels, codes = [], []  # per scale, its layers data -> latent; the codes' shapes
        for s in range(scales):
            last = s == scales - 1
            seq: list[Any] = []
            for i in range(couplings + last):  # checkerboard couplings, each with actnorm
                mode = "checkerboard_inv" if i % 2 else "checkerboard"
                seq += [_nf_coupling(nf, c, hidden, mode, "exp"), nf.flows.ActNorm((c, 1, 1))]
            if not last:
                seq.append(nf.flows.Squeeze())  # its inverse squeezes (data -> latent)
                c, h, w = 4 * c, h // 2, w // 2
                for i in range(couplings):  # channel couplings, each with actnorm
                    mode = "channel_inv" if i % 2 else "channel"
                    seq += [_nf_coupling(nf, c, hidden, mode, "exp"), nf.flows.ActNorm((c, 1, 1))]
                codes.append((c - c // 2, h, w))  # the factored-out half
                c //= 2
            levels.append(seq)
        codes.append((c, h, w))
        # MultiscaleFlow lists its levels deepest first, each from latent to data
        flows = [list(reversed(seq)) for seq in reversed(levels)]
        q0 = [nf.distributions.DiagGaussian(s, trainable=False) for s in reversed(codes)]
        merges = [nf.flows.Merge() for _ in range(scales - 1)]
        return nf.MultiscaleFlow(
            q0, flows, merges, transform=nf.transforms.Logit(alpha), class_cond=False
        )

    return _flow_pair(
        "realnvp", peers, build,
        {"scales": scales, "couplings": couplings, "hidden": hidden, "actnorm": True,
         "logit_alpha": alpha},
        "realnvp: 2 scales (not the zoo recipe's 3: normflows' checkerboard split needs an "
        "even width, and the third scale is 7x7): 3 checkerboard affine couplings, a "
        "squeeze, 3 channel couplings, half the channels out under N(0, I), then 4 "
        "checkerboard couplings, each coupling followed by actnorm; 32-channel "
        "3x3-1x1-3x3 coupling nets; logit(0.05 + 0.9 y) in. "
        "normflows' checkerboard coupling gathers the kept half of the pixels into a half-"
        "width image and runs its net on that, genzoo's multiplies by a mask and runs its net "
        "on the whole image (twice the convolution work); its channel coupling's net reads "
        "the kept half of the channels and writes the other half, genzoo's reads the masked "
        "image and writes all channels (weights that never get a gradient: compared here "
        "are the parameters a gradient reaches); its checkerboard alternates by channel too; "
        "scale exp(s) (normflows) against genzoo's learned bound s_c tanh (one more "
        "parameter per channel and coupling); Adam lr 1e-3 both (its examples use Adamax)",
    )  # fmt: skip


def glow_pair(peers: Path) -> Pair:
    """Glow as the zoo recipe sizes it, after normflows' multiscale Glow example."""
    levels, steps, hidden = 2, 8, 64

    def build(nf: Any) -> Any:
        c, h, w = 1, 28, 28
        q0, merges, flows = [], [], []
        for i in range(levels):  # i = 0 the deepest level, as in its example
            channels = c * 2 ** (levels + 1 - i)
            with warnings.catch_warnings():  # its LU init calls the deprecated torch.lu
                warnings.filterwarnings("ignore", "torch.lu is deprecated")
                blocks = [nf.flows.GlowBlock(channels, hidden, split_mode="channel",
                                             scale=True) for _ in range(steps)]  # fmt: skip
            flows.append([*blocks, nf.flows.Squeeze()])
            if i > 0:
                merges.append(nf.flows.Merge())
                k = 2 ** (levels - i)
                latent = (c * k, h // k, w // k)
            else:
                latent = (c * 2 ** (levels + 1), h // 2**levels, w // 2**levels)
            q0.append(nf.distributions.GlowBase(latent))
        # genzoo's Glow centres y - 1/2 (log-det 0): normflows' Shift(-0.5) transform
        return nf.MultiscaleFlow(q0, flows, merges, transform=nf.transforms.Shift(),
                                 class_cond=False)  # fmt: skip

    return _flow_pair(
        "glow", peers, build,
        {"levels": levels, "steps": steps, "hidden": hidden, "coupling": "affine",
         "learn_top": True, "logit_alpha": 0.0},
        "glow: the zoo recipe's 2 levels of 8 steps (actnorm, LU 1x1 convolution, affine "
        "coupling with scale sigmoid(h + 2)), 64-channel coupling nets, half the channels "
        "out between levels, y - 1/2 in; normflows' coupling net reads the kept half of "
        "the channels and writes the other half, genzoo's reads the masked input and "
        "writes all channels (weights that never get a gradient, and more convolution "
        "work: compared here are the parameters a gradient reaches); priors: genzoo's "
        "split prior is a 3x3 convolution of the kept half and its top prior a mean and "
        "scale per channel, normflows' GlowBase a mean and scale per channel for each "
        "(each times exp(3 t) of a second learned t, as the Glow code's logscale factor); "
        "Adam lr 1e-3 both (its example uses Adamax)",
    )  # fmt: skip


PAIRS = {
    "pixelcnn": pixelcnn_pair, "vae": vae_pair, "dcgan": dcgan_pair, "nade": nade_pair,
    "made": made_pair, "realnvp": realnvp_pair, "glow": glow_pair,
}  # fmt: skip


# -- one worker: one pair at one thread setting and compile setting -----------------------


def _count(modules: list[Any]) -> int:
    return sum(p.numel() for m in modules for p in m.parameters())


def _trained(modules: list[Any]) -> int:
    """Parameter entries whose gradient in the last step was not zero (weights that can
    never get one, e.g. those a mask multiplies by zero, are left out)."""
    return sum(
        int((p.grad != 0).sum()) for m in modules for p in m.parameters() if p.grad is not None
    )


def _flops(step: Callable[[int], object]) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        step(0)
    return int(counter.get_total_flops())


def worker(
    model: str,
    peers: Path,
    threads: str,
    compiled: bool,
    seconds: float,
    rounds: int,
    side: str = "both",
):
    """``side``: ``both`` (one process, a shared allocator), or ``genzoo`` / ``peer`` alone
    (``--as-shipped``: genzoo's process with the malloc setting its command applies)."""
    import torch

    from genzoo.config import TrainConfig

    if side == "genzoo":
        from genzoo.threads import tune_malloc

        tune_malloc()  # what every genzoo command does with its thread policy
    if threads != "default":
        torch.set_num_threads(int(threads))
    pair = PAIRS[model](peers)
    ours, theirs = _count([pair.genzoo]), _count(pair.peer_modules)
    print(f"{model}: parameters genzoo {ours:,}, peer {theirs:,}", file=sys.stderr)
    if pair.trained_tolerance is None and ours - theirs != pair.expected_extra:
        raise SystemExit(
            f"{model}: genzoo has {ours:,} parameters, the peer {theirs:,}: not the same "
            f"architecture (expected a difference of {pair.expected_extra})"
        )
    # the first step of each on the same batch (its loss: the objective check), then the
    # FLOPs of one step, eager (after a step each, so lazy state exists)
    out_g, out_p = pair.genzoo_step(0), pair.peer_step(0)
    nll = list(pair.nll(out_g, out_p)) if pair.nll is not None else None
    if nll is not None:
        print(f"{model}: first step's loss genzoo {nll[0]:.1f}, peer {nll[1]:.1f} nats/image",
              file=sys.stderr)  # fmt: skip
    flops_g, flops_p = _flops(pair.genzoo_step), _flops(pair.peer_step)
    print(f"{model}: FLOPs per step genzoo {flops_g:,}, peer {flops_p:,}", file=sys.stderr)
    trained = None
    if pair.trained_tolerance is not None:  # after two steps, so zero-initialised last
        # layers have moved and every weight in use has a gradient
        trained = [_trained([pair.genzoo]), _trained(pair.peer_modules)]
        print(f"{model}: parameters a gradient reaches genzoo {trained[0]:,}, peer "
              f"{trained[1]:,}", file=sys.stderr)  # fmt: skip
        if abs(trained[0] - trained[1]) > pair.trained_tolerance * trained[1]:
            raise SystemExit(
                f"{model}: a gradient reaches {trained[0]:,} of genzoo's parameters and "
                f"{trained[1]:,} of the peer's: more than {pair.trained_tolerance:.0%} apart"
            )
    if compiled:
        from _steps import compile_forward_methods

        compile_forward_methods(pair.genzoo)
        pair.compile_peer()
    from _steps import for_seconds, timed_fit, uncompile_forward_methods, window_rate

    loop_model = pair.make_genzoo()
    rates: dict[str, list[float]] = {"genzoo": [], "peer": [], "loop": []}
    for _ in range(rounds):
        if side in ("both", "peer"):
            n, s = for_seconds(pair.peer_step, seconds, WARMUP)
            rates["peer"].append(n * pair.batch / s)
        if side == "peer":
            continue
        n, s = for_seconds(pair.genzoo_step, seconds, WARMUP)
        rates["genzoo"].append(n * pair.batch / s)
        steps = LOOP_WARMUP + max(10, round(rates["genzoo"][-1] * seconds / pair.batch)) + 1
        train = TrainConfig(
            steps=steps, batch_size=pair.batch, lr=pair.lr, grad_clip=0.0, sample_every=0,
            progress=False, accelerator="cpu", compile=compiled,
            threads=torch.get_num_threads(),  # fixed: the tuner would change the rounds after
        )  # fmt: skip
        uncompile_forward_methods(loop_model)
        stamps, _ = timed_fit(loop_model, pair.dataset, train)
        rates["loop"].append(window_rate(stamps, LOOP_WARMUP, steps - 1, pair.batch))
        print(
            f"{model} threads={threads} compile={compiled}: "
            + ", ".join(f"{k} {v[-1]:.0f}" for k, v in rates.items() if v),
            file=sys.stderr,
        )
    return {
        "model": model, "threads": threads, "torch_threads": torch.get_num_threads(),
        "compile": compiled, "batch": pair.batch, "params": [ours, theirs],
        "trained": trained, "nll": nll, "flops": [flops_g, flops_p], "rates": rates,
        "notes": pair.notes,
    }  # fmt: skip


# -- the driver ----------------------------------------------------------------------------


def _env(threads: str) -> dict[str, str]:
    """The worker's environment: OpenMP's own wait policy (genzoo's default; the user's
    OMP_WAIT_POLICY if set), PyTorch's default thread count or ``threads``, fixed for the
    bare steps and the loop alike (the tuner's choice is measured by threads.py)."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "GENZOO_THREADS")}
    if threads != "default":
        env["OMP_NUM_THREADS"] = threads
    env["PYTHONPATH"] = os.pathsep.join([SRC, str(HERE), env.get("PYTHONPATH", "")])
    return env


def _run_worker(
    args: argparse.Namespace,
    model: str,
    threads: str,
    compiled: bool,
    side: str = "both",
    rounds: int | None = None,
) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        cmd = [sys.executable, __file__, "--worker", model, "--peers", str(args.peers),
               "--threads", threads, "--seconds", str(args.seconds), "--rounds",
               str(rounds or args.rounds), "--worker-out", out.name, "--side", side]  # fmt: skip
        cmd += ["--compile"] if compiled else []
        proc = subprocess.run(cmd, env=_env(threads), text=True)
        if proc.returncode != 0:
            raise SystemExit(f"the {model} worker failed (exit {proc.returncode})")
        return json.loads(Path(out.name).read_text())


def _as_shipped(args: argparse.Namespace, model: str, threads: str, compiled: bool) -> dict:
    """Rounds of two processes, the peer's step alone then genzoo's (bare step and loop)
    alone with the malloc setting the ``genzoo`` command applies: genzoo as shipped beside
    the peer as shipped, interleaved in the same run."""
    merged: dict | None = None
    for _ in range(args.rounds):
        peer = _run_worker(args, model, threads, compiled, "peer", 1)
        ours = _run_worker(args, model, threads, compiled, "genzoo", 1)
        if merged is None:
            merged = {**ours, "rates": {"genzoo": [], "peer": [], "loop": []}}
        for key, src in (("genzoo", ours), ("loop", ours), ("peer", peer)):
            merged["rates"][key] += src["rates"][key]
    assert merged is not None
    return merged


def _table(results: list[dict]) -> list[str]:
    rows = [
        "| model | threads | compile | genzoo img/s | peer img/s | genzoo/peer per round | "
        "median genzoo/peer | genzoo loop img/s | loop/bare |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        g, p, lp = (r["rates"][k] for k in ("genzoo", "peer", "loop"))
        ratios = [a / b for a, b in zip(g, p, strict=True)]
        mg, mp, ml = statistics.median(g), statistics.median(p), statistics.median(lp)
        rows.append(
            f"| {r['model']} | {r['threads']} ({r['torch_threads']}) | "
            f"{'on' if r['compile'] else 'off'} | {mg:.0f} | {mp:.0f} | "
            f"{' '.join(f'{x:.2f}' for x in ratios)} | **{statistics.median(ratios):.2f}** | "
            f"{ml:.0f} | {ml / mg:.2f} |"
        )
    return rows


def _checks(results: list[dict]) -> list[str]:
    rows = ["| model | batch | parameters genzoo / peer | FLOPs per step genzoo / peer | "
            "first step's loss, nats/image genzoo / peer |",
            "|---|---|---|---|---|"]  # fmt: skip
    seen = set()
    for r in results:
        if r["model"] in seen:
            continue
        seen.add(r["model"])
        (pg, pp), (fg, fp) = r["params"], r["flops"]
        params = f"{pg:,} / {pp:,}"
        if r.get("trained"):
            tg, tp = r["trained"]
            params += f" (a gradient reaches {tg:,} / {tp:,}, {100 * (tg - tp) / tp:+.2f}%)"
        nll = r.get("nll")
        loss = f"{nll[0]:.1f} / {nll[1]:.1f}" if nll else "- (no likelihood)"
        rows.append(
            f"| {r['model']} | {r['batch']} | {params} | {fg / 1e9:.3f} G / "
            f"{fp / 1e9:.3f} G ({fg / fp:.3f}) | {loss} |"
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--peers", type=Path, required=True, help="the peers' source (fetch_peers.md)")
    ap.add_argument("--models", default=",".join(MODELS), help="subset of " + ",".join(MODELS))
    ap.add_argument("--threads", default=",".join(THREADS), help="'1', 'default' or both")
    ap.add_argument("--seconds", type=float, default=5.0, help="timed seconds per measurement")
    ap.add_argument("--rounds", type=int, default=3, help="A B C rounds per setting")
    ap.add_argument("--no-compile", action="store_true", help="skip the compiled settings")
    ap.add_argument(
        "--as-shipped",
        action="store_true",
        help="each side in its own process, genzoo's with the malloc setting its command "
        "applies (default: both in one process, one allocator)",
    )
    ap.add_argument("--out", type=Path, help="also write the raw figures (JSON) here")
    ap.add_argument("--record", action="store_true", help="append the entry to RESULTS.md")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--worker-out", help=argparse.SUPPRESS)
    ap.add_argument("--compile", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--side", default="both", help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.peers = args.peers.resolve()
    if args.worker:
        result = worker(args.worker, args.peers, args.threads, args.compile, args.seconds,
                        args.rounds, args.side)  # fmt: skip
        Path(args.worker_out).write_text(json.dumps(result))
        return
    models = [m for m in args.models.split(",") if m]
    for m in models:
        if m not in PAIRS:
            raise SystemExit(f"--models: unknown {m!r}; choose from {', '.join(MODELS)}")
        _require(args.peers, m)
    thread_settings = [t for t in args.threads.split(",") if t]
    sys.path.insert(0, SRC)
    sys.path.insert(0, str(HERE))
    from _common import START_COMMIT, machine, record

    started, t0 = machine(), time.monotonic()
    results = []
    for model in models:
        for threads in thread_settings:
            for compiled in [False] if args.no_compile else [False, True]:
                run = _as_shipped if args.as_shipped else _run_worker
                results.append(run(args, model, threads, compiled))
    minutes = (time.monotonic() - t0) / 60
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))
    notes = sorted({n for r in results for n in r["notes"]})
    cmd = "python benchmarks/peers.py " + shlex.join(
        a if a != str(args.peers) else "PEERS" for a in sys.argv[1:]
    )
    record(
        [
            f"## genzoo beside peers at the same architecture ({time.strftime('%Y-%m-%d')}, "
            f"commit {START_COMMIT})",
            "",
            f"`{cmd}` ({minutes:.0f} min); {started} (the parent's; workers set their own "
            "threads); load average at the end "
            + ", ".join(f"{x:.1f}" for x in os.getloadavg())
            + (
                ". As shipped: each round two processes, the peer's step alone, then "
                "genzoo's bare step and loop alone with the malloc setting of the `genzoo` "
                "command (`genzoo.threads.tune_malloc`)"
                if args.as_shipped
                else ". Each setting one process (one allocator: genzoo's malloc setting is "
                "not applied): rounds of the peer's step, genzoo's bare step and genzoo's loop"
            )
            + f" (`fit`, in-memory data, grad-clip 0, no sample grids), "
            f"{args.seconds:g} s each after {WARMUP} warm-up steps. Threads: '1' or 'default' "
            "(PyTorch's count, in brackets; OpenMP's own wait policy), fixed for all three.",
            "",
            *_checks(results),
            "",
            *_table(results),
            "",
            *[f"- {n}" for n in notes],
            "",
        ],
        args.record,
    )


if __name__ == "__main__":
    main()
