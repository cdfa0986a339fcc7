"""Output likelihoods of discrete images: the one home of p(x | parameters).

Every model that scores or draws pixels holds one of these: the autoregressive base
(:class:`genzoo.models.autoregressive.AutoregressiveModel`, per sub-pixel given the ones
before it) and the VAE decoder (:class:`genzoo.models.vae.VAE`, every sub-pixel given z).
Each gives

- ``log_prob(target, params)``: the log-probability of the discrete data in nats, per
  sub-pixel (N, C, H, W) (per pixel (N, H, W) for the mixture, whose channels are joint);
- ``sample(params, generator)``: a draw of every (sub-)pixel, uint8 (N, C, H, W);
- ``point(params)``: a point image (the mode or the mean; each class says which), uint8;
- ``draw_at(params, x, i, j, c, generator)``: one draw of sub-pixel (i, j, c) given the
  sub-pixels before it, long (N,): what the autoregressive samplers call.

Parameter layout: the factorised likelihoods read ``params`` of shape (N, C, K, H, W) with
K = :attr:`FactorisedLikelihood.num_params` parameters per sub-pixel; the mixture reads the
network's (N, P, H, W) (see :class:`DiscretizedLogisticMixture`). 8-bit values v in 0..255
sit at 2 v / 255 - 1 on the [-1, 1] scale (:func:`genzoo.config.signed_scale`).

Likelihoods:
    :class:`Bernoulli` (binary data): one logit per sub-pixel.
    :class:`Categorical` (8-bit): a 256-way softmax per sub-pixel (van den Oord et al.
        2016, "Pixel Recurrent Neural Networks", section 5.3).
    :class:`DiscretizedLogistic` (8-bit): a logistic discretised into 256 bins, the edge
        bins extended to -inf and +inf (Salimans et al. 2017, "PixelCNN++", eq. 2).
    :class:`DiscretizedLogisticMixture` (8-bit): PixelCNN++'s mixture of those over whole
        pixels, with means linear in the earlier channels (Salimans et al. 2017, eq. 3).
    :class:`DequantizedGaussian` (8-bit): a Gaussian density on uniformly dequantised data
        y = (x + u) / 256, a bound on the discrete likelihood (Theis, van den Oord, Bethge
        2016, "A note on the evaluation of generative models", eq. 7).

Deviations and choices:
    - The log-scale of the logistic (and the log-std of the Gaussian) is clamped below at
      :data:`LOG_SCALE_MIN` = -7 in every use (log-prob, draw), as PixelCNN++'s code does:
      a scale of e^-7 puts almost all mass in one bin of width 2/255, and the clamp keeps
      the bin masses and their gradients representable. (Before this module the VAE's copy
      clamped and PixelCNN++'s did not, relying on its own clamp; PixelCNN++ keeps its upper
      clamp at 7 as part of its parameterisation.)
    - The bin mass log(sigmoid(b) - sigmoid(a)) is computed as logsigmoid(b) +
      logsigmoid(-a) + log(1 - exp(a - b)), with the edges' distance b - a = 2 / (255 s)
      taken exactly, so it stays finite and exact in the far tails (no density fall-back,
      unlike the authors' code).
    - Draws of the 256-way and mixture conditionals use ``torch.multinomial`` on the bin
      probabilities (the same distribution as the paper's draw-a-component-then-round).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import Generator, Tensor

from genzoo.config import signed_scale

LOG_SCALE_MIN = -7.0
"""Lower clamp of the logistic's log-scale and the Gaussian's log-std (PixelCNN++'s)."""
LOG_SCALE_MAX = 7.0
"""Upper clamp of the discretised logistic's log-scale (PixelCNN++'s): beyond about 30 the
bin's log-probability has a NaN gradient in float32 (the bin width over the scale
underflows), which made a network that drifted there (the 8-bit GSN at step 965) stop
with a non-finite gradient. A scale of e^7 on the [-1, 1] scale is already flat."""
MAX_8BIT = 255
NUM_8BIT = 256
HALF_BIN = 1.0 / MAX_8BIT
"""Half the width of one of the 256 bins on the [-1, 1] scale."""
LOG_2PI = math.log(2.0 * math.pi)


# ---------------------------------------------------------------------------------------
# Pure functions (tested on their own).


def log1mexp(d: Tensor) -> Tensor:
    """log(1 - exp(-d)) for d > 0, accurate for small and large d (Maechler 2012)."""
    return torch.where(d < math.log(2.0), torch.log(-torch.expm1(-d)), torch.log1p(-torch.exp(-d)))


def discretized_logistic_log_prob(values: Tensor, loc: Tensor, log_scale: Tensor) -> Tensor:
    """log P(value) of a logistic(loc, exp(log_scale)) discretised to 256 bins on [-1, 1].

    The value v in {0..255} maps to x = 2v/255 - 1; its bin is [x - 1/255, x + 1/255], the
    first and last bins extended to -inf and +inf, so the 256 probabilities sum to one.

    Args:
        values: integer values 0..255 (any shape broadcastable with ``loc``).
        loc: logistic locations on the [-1, 1] scale.
        log_scale: log of the logistic scales, clamped to [:data:`LOG_SCALE_MIN`,
            :data:`LOG_SCALE_MAX`].

    Returns:
        log-probabilities in nats, broadcast shape. Exact: the 256 values' probabilities
        sum to 1, however far ``loc`` lies in the tails.
    """
    log_scale = log_scale.clamp(LOG_SCALE_MIN, LOG_SCALE_MAX)
    x = signed_scale(values, MAX_8BIT, loc.dtype)
    inv_s = torch.exp(-log_scale)
    upper = inv_s * (x - loc + HALF_BIN)  # standardised upper bin edge
    lower = inv_s * (x - loc - HALF_BIN)  # standardised lower bin edge
    # log(sigmoid(upper) - sigmoid(lower)) without cancellation; the edges' distance
    # upper - lower = 2 inv_s / 255 is taken exactly, not as a difference that rounds to 0
    # far out in the tails
    interior = F.logsigmoid(upper) + F.logsigmoid(-lower) + log1mexp(2.0 * HALF_BIN * inv_s)
    first = F.logsigmoid(upper)  # value 0: P(X < x + 1/255)
    last = F.logsigmoid(-lower)  # value 255: P(X > x - 1/255)
    return torch.where(values == 0, first, torch.where(values == MAX_8BIT, last, interior))


def to_uint8(values: Tensor, max_value: int = MAX_8BIT) -> Tensor:
    """Clamp values to 0..max_value and store them as uint8 (any shape)."""
    return values.clamp(0, max_value).to(torch.uint8)


def signed_to_8bit(y: Tensor) -> Tensor:
    """Floats on the [-1, 1] scale -> the nearest 8-bit values, uint8 (any shape)."""
    return to_uint8(torch.round((y + 1.0) * (MAX_8BIT / 2.0)))


def _drawable(probs: Tensor) -> Tensor:
    """Probabilities in a dtype torch's samplers take (bfloat16 / half -> float32)."""
    return probs if probs.dtype in (torch.float32, torch.float64) else probs.float()


def draw_categorical(log_probs: Tensor, generator: Generator | None) -> Tensor:
    """One draw per row of (unnormalised) log-probabilities (M, V) -> long (M,)."""
    probs = _drawable(F.softmax(log_probs, dim=-1))
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)


# ---------------------------------------------------------------------------------------
# What the autoregressive models and samplers use.


class AutoregressiveLikelihood(Protocol):
    """The per-sub-pixel use of a likelihood by autoregressive models and their samplers
    (:class:`FactorisedLikelihood` and :class:`DiscretizedLogisticMixture` provide it)."""

    def log_prob(self, target: Tensor, params: Tensor) -> Tensor:
        """log p(target | params) in nats, per sub-pixel or per pixel (summed by callers)."""
        ...

    def draw_at(
        self, params: Tensor, x: Tensor, i: int, j: int, c: int, generator: Generator | None
    ) -> Tensor:
        """One draw (long (N,)) of sub-pixel (i, j, c) of every image.

        Args:
            params: the network output for ``x`` (or for a crop of it holding (i, j): the
                cached sampler passes the output at the one pixel).
            x: the data-space images (N, C, H', W') as long, in the frame of ``params``;
                every sub-pixel before (i, j, c) is already drawn.
            i, j, c: row, column and channel of the sub-pixel, in that frame.
            generator: the random generator of the draw.
        """
        ...


# ---------------------------------------------------------------------------------------
# Factorised likelihoods: every sub-pixel independent given its K parameters.


class FactorisedLikelihood(ABC):
    """p(x | params) = prod over sub-pixels of p(x_s | params_s), params (N, C, K, H, W).

    Subclasses set :attr:`num_params` (K) and implement the per-sub-pixel methods; a
    likelihood holds no weights (it is not a module), so it adds nothing to checkpoints.
    """

    num_params: int = 1
    """Parameters per sub-pixel, K."""

    @abstractmethod
    def log_prob(self, target: Tensor, params: Tensor) -> Tensor:
        """log p(target | params) in nats per sub-pixel: (N, C, H, W), (N, C, K, H, W) ->
        (N, C, H, W)."""

    @abstractmethod
    def draw_subpixel(self, params: Tensor, generator: Generator | None) -> Tensor:
        """One draw per row of one sub-pixel's parameters: (M, K) -> long values (M,)."""

    @abstractmethod
    def point(self, params: Tensor) -> Tensor:
        """The point image of (N, C, K, H, W) parameters: uint8 (N, C, H, W)."""

    def sample(self, params: Tensor, generator: Generator | None = None) -> Tensor:
        """A draw of every sub-pixel: params (N, C, K, H, W) -> uint8 (N, C, H, W)."""
        n, c, k, h, w = params.shape
        rows = params.permute(0, 1, 3, 4, 2).reshape(-1, k)  # (NCHW, K)
        return to_uint8(self.draw_subpixel(rows, generator).view(n, c, h, w))

    def draw_at(
        self, params: Tensor, x: Tensor, i: int, j: int, c: int, generator: Generator | None
    ) -> Tensor:
        """:meth:`AutoregressiveLikelihood.draw_at` for params (N, C, K, H, W); ``x`` is
        unused (the sub-pixel's parameters already read the sub-pixels before it)."""
        return self.draw_subpixel(params[:, c, :, i, j], generator)


class Bernoulli(FactorisedLikelihood):
    """A Bernoulli per sub-pixel of binary data, K = 1 logit. Point image: the mode."""

    num_params = 1

    def log_prob(self, target: Tensor, params: Tensor) -> Tensor:
        logits = params[:, :, 0]  # (N, C, H, W)
        return -F.binary_cross_entropy_with_logits(
            logits, target.to(logits.dtype), reduction="none"
        )

    def draw_subpixel(self, params: Tensor, generator: Generator | None) -> Tensor:
        probs = _drawable(torch.sigmoid(params[:, 0]))  # (M,)
        return torch.bernoulli(probs, generator=generator).long()

    def sample(self, params: Tensor, generator: Generator | None = None) -> Tensor:
        probs = _drawable(torch.sigmoid(params[:, :, 0]))  # (N, C, H, W)
        return torch.bernoulli(probs, generator=generator).to(torch.uint8)

    def point(self, params: Tensor) -> Tensor:
        return (params[:, :, 0] > 0).to(torch.uint8)  # pixels with p > 1/2


class Categorical(FactorisedLikelihood):
    """A 256-way softmax per sub-pixel of 8-bit data, K = 256 logits. Point image: the
    rounded mean (smoother than the mode for a decoder's picture)."""

    num_params = NUM_8BIT

    def log_prob(self, target: Tensor, params: Tensor) -> Tensor:
        logp = F.log_softmax(params, dim=2)  # (N, C, 256, H, W)
        return logp.gather(2, target.long().unsqueeze(2)).squeeze(2)  # (N, C, H, W)

    def draw_subpixel(self, params: Tensor, generator: Generator | None) -> Tensor:
        return draw_categorical(params, generator)

    def point(self, params: Tensor) -> Tensor:
        values = torch.arange(NUM_8BIT, device=params.device, dtype=params.dtype)
        mean = (F.softmax(params, dim=2) * values[:, None, None]).sum(2)  # (N, C, H, W)
        return to_uint8(torch.round(mean))


class LocationScale(FactorisedLikelihood):
    """A continuous location-scale law per sub-pixel, quantised to the 256 values: K = 2
    parameters, a location and a log-scale (clamped below at :data:`LOG_SCALE_MIN`)."""

    num_params = 2

    @abstractmethod
    def quantised_draw(self, loc: Tensor, log_scale: Tensor, generator: Generator | None) -> Tensor:
        """A draw of the continuous law, quantised to 8-bit values: uint8, loc's shape."""

    def draw_subpixel(self, params: Tensor, generator: Generator | None) -> Tensor:
        return self.quantised_draw(params[:, 0], params[:, 1], generator).long()

    def sample(self, params: Tensor, generator: Generator | None = None) -> Tensor:
        return self.quantised_draw(params[:, :, 0], params[:, :, 1], generator)


class DiscretizedLogistic(LocationScale):
    """A logistic discretised to 256 bins per sub-pixel of 8-bit data, K = 2: location on
    the [-1, 1] scale and log-scale. Point image: the location rounded to its bin (the
    logistic's mean and median)."""

    def log_prob(self, target: Tensor, params: Tensor) -> Tensor:
        return discretized_logistic_log_prob(target, params[:, :, 0], params[:, :, 1])

    def quantised_draw(self, loc: Tensor, log_scale: Tensor, generator: Generator | None) -> Tensor:
        # a continuous logistic by inversion, rounded to its bin (the edge bins take the tails)
        log_scale = log_scale.clamp(LOG_SCALE_MIN, LOG_SCALE_MAX)  # the law log_prob scores
        u = torch.rand(loc.shape, generator=generator, device=loc.device, dtype=loc.dtype)
        u = u.clamp(1e-5, 1.0 - 1e-5)
        v = loc + log_scale.exp() * (torch.log(u) - torch.log1p(-u))  # [-1, 1] scale
        return signed_to_8bit(v)

    def point(self, params: Tensor) -> Tensor:
        return signed_to_8bit(params[:, :, 0])


class DequantizedGaussian(LocationScale):
    """A Gaussian density on dequantised 8-bit data y = (x + u) / 256, u ~ U[0, 1), K = 2:
    mean on [0, 1] and log-std.

    ``log_prob`` takes the dequantised ``y`` (from :meth:`dequantize`), not the integer
    image, and returns the density of x + u, log N(y) - log 256: with q(u) = 1 it is a bound
    on the discrete log P(x) in every estimator that averages over u (Theis et al. 2016).
    Draws floor y * 256 into the 256 values (mass outside [0, 1) goes to the edge values);
    the point image is the mean, quantised the same way.
    """

    @staticmethod
    def dequantize(images: Tensor, dtype: torch.dtype, generator: Generator | None) -> Tensor:
        """Integer images (any shape) -> y = (x + u) / 256 in [0, 1), u ~ U[0, 1)."""
        x = images.to(dtype)
        u = torch.rand(x.shape, generator=generator, device=x.device, dtype=dtype)
        return (x + u) / NUM_8BIT

    @staticmethod
    def midpoint(images: Tensor, dtype: torch.dtype) -> Tensor:
        """Integer images -> the centres (x + 1/2) / 256 of their cells, in [0, 1)."""
        return (images.to(dtype) + 0.5) / NUM_8BIT

    def log_prob(self, target: Tensor, params: Tensor) -> Tensor:
        log_std = params[:, :, 1].clamp(min=LOG_SCALE_MIN)
        z = (target - params[:, :, 0]) * torch.exp(-log_std)
        return -0.5 * (LOG_2PI + z.square()) - log_std - math.log(NUM_8BIT)

    def quantised_draw(self, mean: Tensor, log_std: Tensor, generator: Generator | None) -> Tensor:
        log_std = log_std.clamp(min=LOG_SCALE_MIN)
        eps = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        return to_uint8(torch.floor((mean + log_std.exp() * eps) * NUM_8BIT))

    def point(self, params: Tensor) -> Tensor:
        return to_uint8(torch.floor(params[:, :, 0] * NUM_8BIT))


# ---------------------------------------------------------------------------------------
# PixelCNN++'s mixture over whole pixels.


class DiscretizedLogisticMixture:
    """A mixture of K discretised logistics per pixel with linear R -> G -> B dependence
    (Salimans et al. 2017, section 2.2): p(x_ij) = sum_k pi_k prod_c P_k(x_c | x_<c), with
    mu_c = m_c + sum_{c' < c} coeff_{c c'} x_c' (tanh-squashed coefficients, as in the
    authors' code) and log-scales clamped to [-7, 7].

    The network output at a pixel, (N, P, ...) with P = :attr:`num_params`, holds K mixture
    logits, then C x K means, C x K log-scales and C(C-1)/2 x K coefficients.

    Args:
        num_mixtures: components K.
        channels: colour channels C.
    """

    LOG_SCALE_MAX = LOG_SCALE_MAX

    def __init__(self, num_mixtures: int, channels: int) -> None:
        self.k = num_mixtures
        self.c = channels
        self.num_coeffs = channels * (channels - 1) // 2
        self.num_params = num_mixtures * (1 + 2 * channels + self.num_coeffs)

    def split(self, out: Tensor, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Mixture log-weights and per-channel logistic parameters, means made linear in the
        earlier channels of ``x``.

        Args:
            out: network output (N, P, ...) (any trailing spatial shape).
            x: the pixels' channel values on the [-1, 1] scale, (N, C, ...).

        Returns:
            log_weights (N, K, ...), means (N, C, K, ...), log_scales (N, C, K, ...).
        """
        n, c, k = out.shape[0], self.c, self.k
        rest = out.shape[2:]
        logit = out[:, :k]
        means = out[:, k : k + c * k].reshape(n, c, k, *rest)
        log_scales = out[:, k + c * k : k + 2 * c * k].reshape(n, c, k, *rest)
        log_scales = log_scales.clamp(LOG_SCALE_MIN, self.LOG_SCALE_MAX)
        coeffs = torch.tanh(out[:, k + 2 * c * k :]).reshape(n, self.num_coeffs, k, *rest)
        adjusted = [means[:, 0]]
        idx = 0
        for ch in range(1, c):  # mu_ch = m_ch + sum_{c' < ch} coeff * x_{c'}
            mu = means[:, ch]
            for prev in range(ch):
                mu = mu + coeffs[:, idx] * x[:, prev : prev + 1]
                idx += 1
            adjusted.append(mu)
        return F.log_softmax(logit, dim=1), torch.stack(adjusted, dim=1), log_scales

    def log_prob(self, target: Tensor, params: Tensor) -> Tensor:
        """log p(x_ij) per pixel, (N, H, W): target (N, C, H, W) integers, params (N, P, H, W)."""
        values = target.long()  # (N, C, H, W)
        log_w, means, log_scales = self.split(params, signed_scale(values, MAX_8BIT, params.dtype))
        lp = discretized_logistic_log_prob(values.unsqueeze(2), means, log_scales)  # (N,C,K,H,W)
        return torch.logsumexp(log_w + lp.sum(1), dim=1)  # (N, H, W)

    def subpixel_log_probs(self, params: Tensor, x: Tensor, c: int) -> Tensor:
        """log P(x_c = v | earlier channels of the pixel) for all 256 v: (N, 256).

        Args:
            params: the mixture parameters at one pixel, (N, P).
            x: that pixel's values (long, (N, C)); channels < c are used.
            c: the channel.
        """
        log_w, means, log_scales = self.split(
            params, signed_scale(x, MAX_8BIT, params.dtype)
        )  # (N, K), (N, C, K), (N, C, K)
        for prev in range(c):  # component posterior given the channels drawn so far
            log_w = log_w + discretized_logistic_log_prob(
                x[:, prev : prev + 1], means[:, prev], log_scales[:, prev]
            )
        values = torch.arange(NUM_8BIT, device=params.device)  # (256,)
        lp = discretized_logistic_log_prob(
            values, means[:, c, :, None], log_scales[:, c, :, None]
        )  # (N, K, 256)
        return (
            torch.logsumexp(log_w[:, :, None] + lp, dim=1) - torch.logsumexp(log_w, dim=1)[:, None]
        )

    def draw_at(
        self, params: Tensor, x: Tensor, i: int, j: int, c: int, generator: Generator | None
    ) -> Tensor:
        """:meth:`AutoregressiveLikelihood.draw_at` for params (N, P, H, W): reads the
        pixel's earlier channels in ``x``."""
        logp = self.subpixel_log_probs(params[:, :, i, j], x[:, :, i, j], c)  # (N, 256)
        probs = _drawable(logp.exp())
        return torch.multinomial(probs, 1, generator=generator).squeeze(1)

    def sample(self, params: Tensor, generator: Generator | None = None) -> Tensor:
        """A draw of every pixel given its parameters (N, P, H, W), channel by channel in
        raster order: uint8 (N, C, H, W)."""
        n, _, h, w = params.shape
        x = torch.zeros(n, self.c, h, w, dtype=torch.long, device=params.device)
        for i in range(h):
            for j in range(w):
                for c in range(self.c):
                    x[:, c, i, j] = self.draw_at(params, x, i, j, c, generator)
        return to_uint8(x)

    def point(self, params: Tensor) -> Tensor:
        """The most likely component's location per pixel, channel by channel (its means
        read the earlier channels' rounded values): uint8 (N, C, H, W)."""
        n, _, h, w = params.shape
        x = torch.zeros(n, self.c, h, w, dtype=torch.long, device=params.device)
        top = None
        for c in range(self.c):
            log_w, means, _ = self.split(params, signed_scale(x, MAX_8BIT, params.dtype))
            if top is None:
                top = log_w.argmax(1, keepdim=True)  # (N, 1, H, W)
            x[:, c] = signed_to_8bit(means[:, c].gather(1, top).squeeze(1)).long()
        return to_uint8(x)
