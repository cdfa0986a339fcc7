"""What every fully visible autoregressive image model shares.

p(x) = prod_i p(x_i | x_<i) over the sub-pixels in raster order (rows, then columns, then
R -> G -> B), so the log-likelihood is exact: a sum of per-sub-pixel log-probabilities
(van den Oord et al. 2016, eq. 1-2). A subclass provides its causal network (``forward``,
from images on the [-1, 1] scale to the parameters of every sub-pixel's conditional) and,
if not the default, its output likelihood; this class turns them into the loss, the exact
``log_prob``, and the raster-order samplers (also used for completion).

Output likelihoods (:mod:`genzoo.nn.likelihoods`, held as ``self.likelihood``):
    8-bit data: a 256-way softmax per sub-pixel (network output N x C x 256 x H x W).
    binary data: a Bernoulli per sub-pixel (network output N x C x 1 x H x W).
A family with another output distribution sets ``self.likelihood`` to it (PixelCNN++: the
discretised logistic mixture, output N x P x H x W); the loss, ``log_prob`` and both
samplers stay here.

Samplers: ``sampler="naive"`` is the reference (a full forward pass per sub-pixel);
``sampler="cached"`` (:func:`genzoo.models.cached_sampling.sample_cached`, Ramachandran et
al. 2017) keeps every layer's input in a cache and computes one new position per layer per
pixel, for families that provide :meth:`AutoregressiveModel.cached_network` (all four: the
default). Both make the same draws in the same order from the same generator. A third, the
window sampler (each new pixel's receptive-field window), was retired on 2026-12-07 (issue
#21): the cached sampler was 5-34x faster wherever both applied (benchmarks/RESULTS.md);
``sampler="window"`` is refused with a message that names the two left.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

from genzoo import progress
from genzoo.config import DataSpec
from genzoo.errors import UserInputError
from genzoo.models.autoregressive_config import RETIRED_SAMPLERS
from genzoo.models.base import GenerativeModel
from genzoo.models.cached_sampling import CachedNetwork, sample_cached
from genzoo.nn.likelihoods import (
    AutoregressiveLikelihood,
    Bernoulli,
    Categorical,
    FactorisedLikelihood,
)

SAMPLERS = ("cached", "naive")
"""The raster samplers: "cached" (per-layer caches, one position per layer per pixel) and
"naive" (whole image per sub-pixel)."""


class AutoregressiveModel(GenerativeModel):
    """Base class: exact likelihood and sequential sampling from a causal network.

    Attributes:
        likelihood: the output likelihood of every sub-pixel given the ones before it
            (:class:`genzoo.nn.likelihoods.Categorical` for 8-bit data,
            :class:`genzoo.nn.likelihoods.Bernoulli` for binary data, unless the family
            sets another): its ``log_prob`` scores the network output and its ``draw_at``
            draws one sub-pixel for both samplers.
    """

    density = "exact"
    can_complete = True
    sample_options = ("sampler",)
    output_sees_current_pixel: ClassVar[bool] = True
    """False when the network output at a pixel ignores every channel of that pixel (the
    channel dependence lives in the output distribution, as in PixelCNN++); the cached
    sampler then evaluates the network once per pixel instead of once per sub-pixel."""

    def __init__(self, config: Any, data: DataSpec) -> None:
        super().__init__(config, data)
        if len(data.image_shape) != 3 or not data.is_image:
            raise UserInputError(
                f"{type(self).__name__} models images (C, H, W), not {data.kind} {data.image_shape}"
            )
        self.likelihood: AutoregressiveLikelihood = Bernoulli() if data.is_binary else Categorical()

    def check_divides_colours(self, field: str, channels: int, why: str = "") -> None:
        """Raise UserInputError unless ``channels`` (config field ``field``) is divisible by
        the image's colour channels, as masked layers with colour groups need."""
        c = self.data.image_shape[0]
        if channels % c:
            raise UserInputError(
                f"{field}={channels} must be divisible by the {c} colour channels{why}"
            )

    @property
    def params_per_subpixel(self) -> int:
        """K, the output parameters per sub-pixel of a factorised likelihood (the width of
        the output head: 256 for 8-bit data, 1 for binary)."""
        likelihood = self.likelihood
        if not isinstance(likelihood, FactorisedLikelihood):
            raise TypeError(f"{type(likelihood).__name__} is not a per-sub-pixel likelihood")
        return likelihood.num_params

    def preprocess(self, images: Tensor) -> Tensor:
        """uint8/long data-space images (N, C, H, W) -> the network's input: floats in
        [-1, 1], in the parameters' dtype."""
        return self.data.to_signed(images, self.dtype)

    def logits(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """Distribution parameters of every sub-pixel given the ones before it.

        Args:
            x: network input from :meth:`preprocess`, (N, C, H, W).
            labels: class labels (N,) for conditional models.

        Returns:
            The network output: (N, C, K, H, W) for a factorised likelihood (K = 256
            logits for 8-bit data, 1 for binary), or the layout the family's likelihood
            reads (PixelCNN++: mixture parameters, (N, P, H, W)).
        """
        return self(x, labels)

    # -- the public per-sub-pixel protocol (the samplers; see CacheSampleable) -----------
    # (the draw of one sub-pixel is ``self.likelihood.draw_at``)

    def subpixel_params(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        """:meth:`logits` of long data-space images (N, C, H, W)."""
        return self.logits(self.preprocess(images), labels)

    def log_prob_from_output(self, out: Tensor, images: Tensor) -> Tensor:
        """Exact log p(x) in nats per example, (N,), from the network output ``out``.

        Args:
            out: :meth:`logits` of the preprocessed ``images``.
            images: the data-space images (N, C, H, W), integer values.
        """
        return self.likelihood.log_prob(images, out).flatten(1).sum(1)

    def conditional_params(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """Parameters of each sub-pixel's conditional, differentiable in ``x``: (N, C, P, H, W).

        Entry [:, c, :, i, j] is everything the distribution of sub-pixel (i, j, c) reads
        (for causality checks by gradients). By default the logits, with P = 256 (8-bit)
        or 1 (binary).
        """
        return self.logits(x, labels)

    def cached_network(self, x: Tensor, labels: Tensor | None = None) -> CachedNetwork | None:
        """The network's per-layer caches for one sampling run on signed input ``x``
        (N, C, H, W), or None where the family has none: enables ``sampler="cached"``
        (:mod:`genzoo.models.cached_sampling`). Families build it from their layers."""
        return None

    @property
    def supports_cached_sampling(self) -> bool:
        """Whether ``sample(..., sampler="cached")`` applies (the family overrides
        :meth:`cached_network`)."""
        return type(self).cached_network is not AutoregressiveModel.cached_network

    def log_prob(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        """Exact log p(x) in nats per example, (N,)."""
        images = self.check_images(images)
        labels = self.check_labels(labels, images.shape[0])
        return self.log_prob_from_output(self.subpixel_params(images, labels), images)

    def loss(self, images: Tensor, labels: Tensor | None = None) -> dict[str, Tensor]:
        """Mean NLL in nats per dimension (what is minimised) plus nats/image and bits/dim."""
        nll = -self.log_prob(images, labels)  # (N,) nats per image
        nats_per_dim = nll.mean() / self.data.num_dims
        return {
            "loss": nats_per_dim,
            "nll_nats": nll.mean().detach(),
            "bpd": self.bits_per_dim(nll.mean()).detach(),
        }

    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        labels: Tensor | None = None,
        generator: torch.Generator | None = None,
        prefix: Tensor | None = None,
        num_known: int = 0,
        sampler: str | None = None,
    ) -> Tensor:
        """Sample in raster order, sub-pixel by sub-pixel (R -> G -> B within a pixel).

        ``sampler="naive"`` is the reference: H*W*C full forward passes.
        ``sampler="cached"`` (the default where the family has a :meth:`cached_network`)
        computes one new position per layer per pixel from per-layer caches
        (:func:`genzoo.models.cached_sampling.sample_cached`); it makes the same draws from
        the same generator, so it returns the naive images. Both double as the completion
        sampler: the first ``num_known`` pixels (raster order) are copied from
        ``prefix`` and only the rest are drawn. The network runs in eval mode (dropout off)
        while sampling.

        Args:
            n: number of images.
            labels: class labels (N,) or one label for all, for conditional models.
            generator: a torch.Generator on the model's device, for reproducible draws.
            prefix: uint8 images (n, C, H, W) whose first ``num_known`` pixels are kept.
            num_known: pixels (not sub-pixels) given, counted in raster order.
            sampler: "cached", "naive", or None for the fastest that applies ("window"
                was retired: refused with a message naming these two).

        Returns:
            uint8 images, (n, C, H, W).
        """
        if n <= 0:
            raise UserInputError(f"number of samples must be positive, got {n}")
        c_, h_, w_ = self.data.image_shape
        device = self.device
        labels = self.check_labels(labels, n)
        labels = labels.to(device) if labels is not None else None
        x = torch.zeros(n, c_, h_, w_, dtype=torch.long, device=device)
        if prefix is not None:
            if prefix.shape[0] != n:
                raise UserInputError(f"prefix holds {prefix.shape[0]} images, expected {n}")
            x.copy_(self.check_images(prefix).to(device).long())
        if not 0 <= num_known <= h_ * w_:
            raise UserInputError(f"num_known must be in [0, {h_ * w_}], got {num_known}")
        sampler = self.resolve_sampler(sampler)
        was_training = self.training
        self.eval()
        try:
            if sampler == "cached":
                sample_cached(self, x, labels, generator, num_known)
            else:
                progress.start(h_ * w_ - num_known, "pixel")
                for pos in range(num_known, h_ * w_):
                    i, j = divmod(pos, w_)
                    for c in range(c_):
                        out = self.subpixel_params(x, labels)
                        x[:, c, i, j] = self.likelihood.draw_at(out, x, i, j, c, generator)
                    progress.advance()
        finally:
            self.train(was_training)
        return x.to(torch.uint8)

    def resolve_sampler(self, sampler: str | None) -> str:
        """``sampler`` checked, or the default: "cached" where the family has it, else
        "naive"."""
        if sampler is None:
            return "cached" if self.supports_cached_sampling else "naive"
        if sampler in RETIRED_SAMPLERS:
            raise UserInputError(RETIRED_SAMPLERS[sampler])
        if sampler not in SAMPLERS:
            raise UserInputError(f"unknown sampler {sampler!r}; choose one of {SAMPLERS}")
        if sampler == "cached" and not self.supports_cached_sampling:
            raise UserInputError(
                f"{type(self).__name__} has no cached sampler; use --sampler naive"
            )
        return sampler

    @torch.no_grad()
    def complete(
        self,
        images: Tensor,
        num_known_rows: int,
        *,
        labels: Tensor | None = None,
        generator: torch.Generator | None = None,
        sampler: str | None = None,
    ) -> Tensor:
        """Keep the top ``num_known_rows`` rows of each image and sample the rest."""
        w_ = self.data.image_shape[2]
        return self.sample(
            images.shape[0],
            labels=labels,
            generator=generator,
            prefix=images,
            num_known=num_known_rows * w_,
            sampler=sampler,
        )
