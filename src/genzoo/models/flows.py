"""Normalising flows on 8-bit images: NICE, RealNVP and Glow.

A flow is a stack of invertible layers (:mod:`genzoo.models.flow_layers`) from the
dequantised image y = (x + u) / 256 to codes eps ~ N(0, I) of the same size D, so that
by the change of variables log p(y) = log N(eps; 0, I) + log|det d eps / dy| exactly, and
both directions are exact: ``encode`` is the forward pass (with u = 1/2, the centre of
each pixel's cell, so ``decode(encode(x)) == x``), ``decode`` and ``sample`` the inverse.

Likelihood: with u ~ U[0, 1)^D, log p((x + u) / 256) - D log 256 is a lower bound on the
discrete log P(x) in expectation (Jensen; Theis, van den Oord & Bethge 2016), so its
bits/dim compare with the exact figures of the autoregressive models; ``log_prob`` is one
draw of it (from a fixed seed, so repeated calls agree) and ``nll_terms`` the
importance-weighted log mean_k p(x + u_k) over ``dequant_k`` draws, tighter as k grows.
The class declares ``density = "bound"``.

Papers and deviations:

- NICE (Dinh, Krueger & Bengio 2015): additive MLP couplings over the flattened image,
  odd and even sub-pixels in turn, and a final diagonal scaling. Deviations: a N(0, I)
  prior where the paper used a logistic one on MNIST (so codes are like every other
  latent model's); the input is first normalised per sub-pixel by an actnorm initialised
  from the first training batch, dividing by at most 1/20 (without it, Adam at the
  paper's rates spends thousands of steps learning the scale of the constant background,
  measured 9.35 -> 9.26 bits/dim in 200 steps on Fashion-MNIST; initialising the final
  scaling from data instead, e^7 on the background, made training jump from 7.9 to 10.6
  bits/dim, as did an input normalisation without the bound). The paper's 1980.50 nats
  are of continuous data.
- RealNVP (Dinh, Sohl-Dickstein & Bengio 2017): affine couplings with checkerboard and
  channel masks, squeeze, multi-scale factor-out, logit preprocessing. Deviations: plain
  3-layer convolutional coupling nets (the paper: residual nets), actnorm after each
  coupling in place of batch normalisation; the factored-out codes are N(0, I).
- Glow (Kingma & Dhariwal 2018): actnorm with data-dependent initialisation, LU 1x1
  convolution, affine (or additive) coupling, split with a learned prior, learned top
  prior, class-conditional priors, temperature. Deviations: coupling nets without their
  inner actnorm and the zero-conv's exp(3 log s) scale; no classifier loss when conditional.

The actnorm initialisation reads the first training batch of one process: with several
processes each would initialise from its own share (train flows on one process).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.config import DataSpec
from genzoo.errors import NonFiniteLossError, UserInputError
from genzoo.models.base import Density, GenerativeModel
from genzoo.models.flow_layers import (
    ActNorm,
    ConvNet,
    Coupling,
    DiagonalScale,
    InvConv1x1,
    MLPNet,
    Preprocess,
    Prior,
    Split,
    Squeeze,
    alternate_mask,
    channel_mask,
    checkerboard_mask,
)
from genzoo.models.flows_config import TERMS, GlowConfig, NICEConfig, RealNVPConfig
from genzoo.nn.likelihoods import NUM_8BIT, DequantizedGaussian, to_uint8

LOG_2PI = math.log(2 * math.pi)


class Flow(GenerativeModel):
    """What NICE, RealNVP and Glow share: dequantisation, the layer stack with its
    factored-out codes, the bound, the encoder and the sampler. A subclass builds its
    layers in :meth:`build`.

    Args:
        config: the family's config.
        data: 8-bit images (C, H, W).
    """

    density: ClassVar[Density] = "bound"
    has_latent: ClassVar[bool] = True
    has_encoder: ClassVar[bool] = True
    sample_options: ClassVar[tuple[str, ...]] = ("temperature",)
    likelihood_terms = TERMS

    def __init__(self, config: Any, data: DataSpec) -> None:
        super().__init__(config, data)
        if data.kind != "8bit" or len(data.image_shape) != 3:
            raise UserInputError(
                f"{self.name} models 8-bit images (dequantised); got {data.kind} data: use an "
                "8-bit dataset such as fashion-mnist, or a binary model (e.g. made) for "
                "binarised data"
            )
        self.layers = nn.ModuleList()
        self.code_shapes: list[tuple[int, ...]] = []  # shapes of the codes, in order out
        self.build(tuple(data.image_shape))

    # -- building -----------------------------------------------------------------------

    def build(self, shape: tuple[int, ...]) -> None:
        """Append the layers (``self.add``) for images of ``shape`` (C, H, W)."""
        raise NotImplementedError

    def add(self, layer: nn.Module, shape: tuple[int, ...]) -> tuple[int, ...]:
        """Append ``layer`` to the stack; return the shape after it (C, H, W)."""
        self.layers.append(layer)
        c, h, w = shape
        if isinstance(layer, Squeeze):
            return (4 * c, h // 2, w // 2)
        if isinstance(layer, Split):
            self.code_shapes.append((c - c // 2, h, w))
            return (c // 2, h, w)
        return shape

    def finish(self, shape: tuple[int, ...]) -> None:
        """Record the shape of the last code (what is left after the last layer)."""
        self.code_shapes.append(shape)

    def check_sides(self, squeezes: int, option: str, offset: int = 0) -> None:
        """Refuse, in one line, image sides that ``squeezes`` halvings cannot divide
        (``option`` is set to squeezes + ``offset``)."""
        _, h, w = self.data.image_shape
        k = 2**squeezes
        if h % k or w % k:
            fewer = max(i for i in range(squeezes + 1) if h % 2**i == 0 and w % 2**i == 0)
            size = -(-max(h, w) // k) * k  # the next side the squeezes divide
            raise UserInputError(
                f"{self.name}: images of {h}x{w} cannot be squeezed {squeezes} times (each "
                f"halves the sides, so they must be divisible by {k}): use {option} "
                f"{fewer + offset} or fewer, or resize the data with --image-size {size}"
            )

    @property
    def latent_dim(self) -> int:
        """D: a flow's code has as many units as the image has sub-pixels."""
        return self.data.num_dims

    # -- the two directions ----------------------------------------------------------------

    def _cond(self, labels: Tensor | None, n: int) -> Tensor | None:
        labels = self.check_labels(labels, n)
        if labels is None:
            return None
        return F.one_hot(labels.to(self.device), self.label_classes).to(self.dtype)

    def flow(self, y: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Dequantised images y (N, C, H, W) in [0, 1) -> codes (N, D) and log|det|, (N,)."""
        h, logdet, codes = y, y.new_zeros(y.shape[0]), []
        for layer in self.layers:
            if isinstance(layer, Split):
                h, eps, ld = layer(h, cond)
                codes.append(eps.flatten(1))
            else:
                h, ld = layer(h, cond)
            logdet = logdet + ld
        codes.append(h.flatten(1))
        return torch.cat(codes, 1), logdet

    def inverse(self, z: Tensor, cond: Tensor | None = None) -> Tensor:
        """Codes (N, D) -> dequantised images y (N, C, H, W)."""
        sizes = [math.prod(s) for s in self.code_shapes]
        pieces = list(z.split(sizes, dim=1))
        h = pieces.pop().view(-1, *self.code_shapes[-1])
        for layer in reversed(self.layers):
            if isinstance(layer, Split):
                shape = self.code_shapes[len(pieces) - 1]
                h = layer.inverse(h, pieces.pop().view(-1, *shape), cond)
            else:
                h = layer.inverse(h, cond)
        return h

    def log_density(self, y: Tensor, cond: Tensor | None = None) -> Tensor:
        """log p(y) of dequantised images y (N, C, H, W) in [0, 1)^D, (N,): the continuous
        density the flow defines (change of variables), in nats."""
        z, logdet = self.flow(y, cond)
        log_base = -0.5 * (z.square() + LOG_2PI).sum(1)  # (N,)
        return log_base + logdet

    # -- the contract -----------------------------------------------------------------------

    def _bound(
        self, images: Tensor, labels: Tensor | None, generator: torch.Generator | None
    ) -> Tensor:
        """One draw of log p((x + u) / 256) - D log 256, (N,)."""
        images = self.check_images(images)
        cond = self._cond(labels, images.shape[0])
        y = DequantizedGaussian.dequantize(images, self.dtype, generator)
        return self.log_density(y, cond) - self.data.num_dims * math.log(NUM_8BIT)

    def loss(self, images: Tensor, labels: Tensor | None = None) -> dict[str, Tensor]:
        """Mean dequantised bound in nats per dimension (minimised), with bits/dim."""
        nll = -self._bound(images, labels, None)  # (N,) nats per image
        return {
            "loss": nll.mean() / self.data.num_dims,
            "nll_nats": nll.mean().detach(),
            "bpd": self.bits_per_dim(nll.mean()).detach(),
        }

    def _finite(self, values: Tensor, what: str) -> Tensor:
        if not bool(torch.isfinite(values).all()):
            bad = int((~torch.isfinite(values)).sum())
            raise NonFiniteLossError(
                f"{self.name}: the {what} (log-determinant plus prior) is not finite for {bad} "
                f"of {values.numel()} images: the weights have diverged; retrain with a lower "
                "--train.lr or --train.grad-clip 1, or use an earlier checkpoint"
            )
        return values

    def log_prob(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        """One draw of the dequantisation bound on log P(x), in nats, (N,); the draw comes
        from a generator seeded 0, so repeated calls agree (``nll_terms`` averages more)."""
        g = torch.Generator(self.device).manual_seed(0)
        return self._finite(self._bound(images, labels, g), "log-likelihood bound")

    def nll_terms(
        self,
        images: Tensor,
        labels: Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
        dequant_k: int = 1,
        **options: Any,
    ) -> dict[str, Tensor]:
        """-log mean_k p((x + u_k) / 256) / 256^D over ``dequant_k`` draws u_k ~ U[0, 1)^D,
        (N,) nats: an upper bound on the NLL in expectation, tighter as k grows (each
        draw's bound is the k = 1 case; the mean of k probabilities is the importance-
        weighted bound with the uniform proposal)."""
        if dequant_k < 1:
            raise UserInputError(f"--dequant-k must be >= 1, got {dequant_k}")
        draws = torch.stack([self._bound(images, labels, generator) for _ in range(dequant_k)])
        log_mean = torch.logsumexp(draws, 0) - math.log(dequant_k)  # (N,)
        return {f"nll_deq{dequant_k}": -self._finite(log_mean, "log-likelihood bound")}

    @torch.no_grad()
    def encode(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        """The exact code of each image, (N, D): the flow at the centre of each pixel's
        cell, (x + 1/2) / 256, so that ``decode(encode(x)) == x``."""
        images = self.check_images(images)
        cond = self._cond(labels, images.shape[0])
        z, _ = self.flow(DequantizedGaussian.midpoint(images, self.dtype), cond)
        return self._finite(z, "code")

    @torch.no_grad()
    def decode(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Codes (N, D) -> uint8 images (N, C, H, W): the inverse flow, each value floored
        into its 8-bit cell (values outside [0, 1) go to 0 or 255)."""
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise UserInputError(
                f"codes of shape {tuple(z.shape)} do not fit this {self.name}, which takes "
                f"(N, {self.latent_dim})"
            )
        cond = self._cond(labels, z.shape[0])
        y = self.inverse(z.to(self.device, self.dtype), cond)
        y = torch.nan_to_num(y.float(), nan=0.0, posinf=1.0, neginf=0.0)
        return to_uint8(torch.floor(y * NUM_8BIT))

    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        labels: Tensor | None = None,
        generator: torch.Generator | None = None,
        temperature: float | None = None,
    ) -> Tensor:
        """n images from codes z ~ N(0, T^2 I) (T = ``temperature``, default 1: the
        model's distribution; T < 1 trades diversity for smoother images, as in Glow)."""
        t = 1.0 if temperature is None else float(temperature)
        if not t >= 0:
            raise UserInputError(f"--temperature must be >= 0, got {temperature}")
        if n <= 0:
            raise UserInputError(f"number of samples must be positive, got {n}")
        z = self.latents(n, generator=generator) * t
        return self.decode(z, labels)


class NICE(Flow):
    """NICE (Dinh, Krueger & Bengio 2015); see the module's notes and
    :class:`genzoo.models.flows_config.NICEConfig`."""

    name = "nice"

    def build(self, shape: tuple[int, ...]) -> None:
        cfg: NICEConfig = self.config
        shape = self.add(Preprocess(cfg.logit_alpha), shape)
        # per sub-pixel, at most x20 (1 / min_std): see the module's notes
        shape = self.add(ActNorm(shape[0], size=(shape[1], shape[2]), min_std=0.05), shape)
        for i in range(cfg.couplings):
            net = MLPNet(shape, cfg.hidden, cfg.hidden_layers, outputs=1)
            shape = self.add(Coupling(alternate_mask(*shape, i % 2), net, affine=False), shape)
        shape = self.add(DiagonalScale(shape), shape)
        self.finish(shape)


class RealNVP(Flow):
    """RealNVP (Dinh, Sohl-Dickstein & Bengio 2017); see the module's notes and
    :class:`genzoo.models.flows_config.RealNVPConfig`."""

    name = "realnvp"

    def build(self, shape: tuple[int, ...]) -> None:
        cfg: RealNVPConfig = self.config
        self.check_sides(cfg.scales - 1, "--model.scales", offset=1)

        def coupling(mask_fn: Any, shape: tuple[int, ...], parity: int) -> tuple[int, ...]:
            net = ConvNet(shape[0], cfg.hidden, outputs=2)
            shape = self.add(Coupling(mask_fn(*shape, parity), net, affine=True), shape)
            if cfg.actnorm:
                shape = self.add(ActNorm(shape[0]), shape)
            return shape

        shape = self.add(Preprocess(cfg.logit_alpha), shape)
        for scale in range(cfg.scales):
            last = scale == cfg.scales - 1
            for i in range(cfg.couplings + (1 if last else 0)):
                shape = coupling(checkerboard_mask, shape, i % 2)
            if last:
                break
            shape = self.add(Squeeze(), shape)
            for i in range(cfg.couplings):
                shape = coupling(channel_mask, shape, i % 2)
            shape = self.add(Split(shape[0], learned=False), shape)
        self.finish(shape)


class Glow(Flow):
    """Glow (Kingma & Dhariwal 2018); see the module's notes and
    :class:`genzoo.models.flows_config.GlowConfig`."""

    name = "glow"

    def build(self, shape: tuple[int, ...]) -> None:
        cfg: GlowConfig = self.config
        self.check_sides(cfg.levels, "--model.levels")
        affine = cfg.coupling == "affine"
        classes = self.label_classes
        shape = self.add(Preprocess(cfg.logit_alpha), shape)
        for level in range(cfg.levels):
            shape = self.add(Squeeze(), shape)
            for _ in range(cfg.steps):
                shape = self.add(ActNorm(shape[0]), shape)
                shape = self.add(InvConv1x1(shape[0]), shape)
                net = ConvNet(shape[0], cfg.hidden, outputs=2 if affine else 1)
                mask = channel_mask(*shape, 0)
                shape = self.add(Coupling(mask, net, affine=affine, scale="sigmoid"), shape)
            if level < cfg.levels - 1:
                shape = self.add(Split(shape[0], learned=True, classes=classes), shape)
        if cfg.learn_top or classes:
            shape = self.add(Prior(shape[0], classes), shape)
        self.finish(shape)


@torch.no_grad()
def temperature_view(model: Any, run: Any, options: Any, seed: int) -> tuple[Tensor, int]:
    """Rows of samples at the temperatures of ``options.temperatures``, the same noise
    down each column: uint8 (rows * n, C, H, W) and n columns."""
    try:
        temps = [float(t) for t in options.temperatures.split(",") if t.strip()]
    except ValueError:
        raise UserInputError(
            f"--temperatures {options.temperatures!r}: write numbers, e.g. 0,0.5,0.7,1"
        ) from None
    if not temps or min(temps) < 0:
        raise UserInputError(
            f"--temperatures needs numbers >= 0, got {options.temperatures!r}: e.g. 0,0.5,1"
        )
    if options.n <= 0:
        raise UserInputError(f"--n must be positive, got {options.n}")
    if model.conditional and options.label is None:
        raise UserInputError("this model is class-conditional: pass --label")
    if not model.conditional and options.label is not None:
        raise UserInputError(f"this {model.name} is not class-conditional: drop --label")
    g = torch.Generator(model.device).manual_seed(seed)
    z = model.latents(options.n, generator=g)  # (n, D)
    labels = None
    if model.conditional:
        labels = torch.full((options.n,), int(options.label), device=model.device)
    rows = [model.decode(z * t, labels).cpu() for t in temps]
    return torch.cat(rows), options.n
