"""What every fully visible autoregressive image model shares.

p(x) = prod_i p(x_i | x_<i) over the sub-pixels in raster order (rows, then columns, then
R -> G -> B), so the log-likelihood is exact: a sum of per-sub-pixel log-probabilities
(van den Oord et al. 2016, eq. 1-2). A subclass only provides :meth:`logits`, a causal
network from images to per-sub-pixel distribution parameters; this class turns them into
the loss, the exact ``log_prob``, and the raster-order sampler (also used for completion).

Output distributions (the defaults of the two per-sub-pixel hooks below):
    8-bit data: a 256-way softmax per sub-pixel (logits of shape N x C x 256 x H x W).
    binary data: a Bernoulli per sub-pixel (logits of shape N x C x H x W).

A family with another output distribution (PixelCNN++'s discretised logistic mixture)
overrides the hooks :meth:`AutoregressiveModel.log_prob_from_output` (the exact log p(x)
from the network output) and :meth:`AutoregressiveModel.draw_subpixel` (one draw of one
sub-pixel given the network output and the sub-pixels before it); the loss, ``log_prob``
and both samplers stay here.

Samplers: ``sampler="naive"`` is the reference (a full forward pass per sub-pixel);
``sampler="fast"`` (:mod:`genzoo.sampling.cached`, Ramachandran et al. 2017) evaluates
only the receptive-field window of each new pixel, for networks that declare one via
:meth:`AutoregressiveModel.receptive_field`, and draws the same samples.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from genzoo.config import DataSpec
from genzoo.errors import UserInputError
from genzoo.models.base import GenerativeModel

if TYPE_CHECKING:
    from genzoo.sampling.cached import ReceptiveField

SAMPLERS = ("naive", "fast")


class AutoregressiveModel(GenerativeModel):
    """Base class: exact likelihood and sequential sampling from a causal network."""

    density = "exact"
    can_complete = True
    sample_options = ("sampler",)
    output_sees_current_pixel: ClassVar[bool] = True
    """False when the network output at a pixel ignores every channel of that pixel (the
    channel dependence lives in the output distribution, as in PixelCNN++); the fast sampler
    then evaluates the network once per pixel instead of once per sub-pixel."""

    def __init__(self, config: Any, data: DataSpec) -> None:
        super().__init__(config, data)
        if len(data.image_shape) != 3:
            raise UserInputError(
                f"{type(self).__name__} models images (C, H, W), not {data.image_shape}"
            )

    @property
    def num_values(self) -> int:
        """Values one sub-pixel takes: 256 for 8-bit data, 2 for binary."""
        return 256 if self.data.kind == "8bit" else 2

    def preprocess(self, images: Tensor) -> Tensor:
        """uint8/long data-space images (N, C, H, W) -> floats in [-1, 1] for the network."""
        top = 255.0 if self.data.kind == "8bit" else 1.0
        return images.float() * (2.0 / top) - 1.0

    def logits(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """Distribution parameters of every sub-pixel given the ones before it.

        Args:
            x: network input from :meth:`preprocess`, (N, C, H, W).
            labels: class labels (N,) for conditional models.

        Returns:
            By default (N, C, 256, H, W) logits for 8-bit data, (N, C, H, W) logits for
            binary data; a family that overrides the two hooks below may return any layout
            they read (PixelCNN++: mixture parameters, (N, P, H, W)).
        """
        raise NotImplementedError

    # -- per-sub-pixel hooks (override both for another output distribution) ---------------

    def log_prob_from_output(self, out: Tensor, images: Tensor) -> Tensor:
        """Exact log p(x) in nats per example, (N,), from the network output ``out``.

        Args:
            out: :meth:`logits` of the preprocessed ``images``.
            images: the data-space images (N, C, H, W), integer values.
        """
        if self.data.kind == "8bit":
            # out (N, C, 256, H, W); pick the log-probability of the observed value
            logp = F.log_softmax(out, dim=2)
            logp = logp.gather(2, images.long().unsqueeze(2)).squeeze(2)  # (N, C, H, W)
        else:
            logp = -F.binary_cross_entropy_with_logits(
                out, images.float(), reduction="none"
            )  # (N, C, H, W)
        return logp.flatten(1).sum(1)

    def draw_subpixel(
        self,
        out: Tensor,
        x: Tensor,
        i: int,
        j: int,
        c: int,
        generator: torch.Generator | None,
    ) -> Tensor:
        """Draw sub-pixel (i, j, c) of every image from its conditional distribution.

        Args:
            out: :meth:`logits` of ``x`` (or of a window of the image holding (i, j)).
            x: the data-space images (N, C, H', W') as long, in the same frame as ``out``;
                every sub-pixel before (i, j, c) is already drawn.
            i, j, c: row, column and channel of the sub-pixel, in that frame.
            generator: the random generator of the draws.

        Returns:
            the drawn values, long (N,).
        """
        if self.data.kind == "8bit":
            probs = F.softmax(out[:, c, :, i, j], dim=1)  # (N, 256)
            return torch.multinomial(probs, 1, generator=generator).squeeze(1)
        probs = torch.sigmoid(out[:, c, i, j])  # (N,)
        return torch.bernoulli(probs, generator=generator).long()

    def conditional_params(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """Parameters of each sub-pixel's conditional, differentiable in ``x``: (N, C, P, H, W).

        Entry [:, c, :, i, j] is everything the distribution of sub-pixel (i, j, c) reads
        (for causality checks by gradients). By default the logits, with P = 256 (8-bit)
        or 1 (binary).
        """
        out = self.logits(x, labels)
        return out if self.data.kind == "8bit" else out.unsqueeze(2)

    def receptive_field(self) -> ReceptiveField | None:
        """The window of input pixels that can reach an output pixel, or None (unbounded,
        e.g. recurrent networks): enables ``sampler="fast"``. Convolutional families declare
        it; a test checks the declaration against gradients."""
        return None

    @property
    def supports_fast_sampling(self) -> bool:
        """Whether ``sample(..., sampler="fast")`` applies to this network."""
        return self.receptive_field() is not None

    def log_prob(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        """Exact log p(x) in nats per example, (N,)."""
        images = self.check_images(images)
        labels = self.check_labels(labels, images.shape[0])
        out = self.logits(self.preprocess(images), labels)
        return self.log_prob_from_output(out, images)

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
        ``sampler="fast"`` evaluates only the receptive-field window of each new pixel
        (:func:`genzoo.sampling.cached.sample_windowed`) and makes the same draws from the
        same generator, so it returns the same images; it is the default where the network
        declares a :meth:`receptive_field`. Both double as the completion sampler: the first
        ``num_known`` pixels (raster order) are copied from ``prefix`` and only the rest are
        drawn. The network runs in eval mode (dropout off) while sampling.

        Args:
            n: number of images.
            labels: class labels (N,) or one label for all, for conditional models.
            generator: a torch.Generator on the model's device, for reproducible draws.
            prefix: uint8 images (n, C, H, W) whose first ``num_known`` pixels are kept.
            num_known: pixels (not sub-pixels) given, counted in raster order.
            sampler: "naive", "fast", or None for "fast" where it applies, else "naive".

        Returns:
            uint8 images, (n, C, H, W).
        """
        if n <= 0:
            raise UserInputError(f"number of samples must be positive, got {n}")
        c_, h_, w_ = self.data.image_shape
        device = next(self.parameters()).device
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
            if sampler == "fast":
                from genzoo.sampling.cached import sample_windowed

                sample_windowed(self, x, labels, generator, num_known)
            else:
                for pos in range(num_known, h_ * w_):
                    i, j = divmod(pos, w_)
                    for c in range(c_):
                        out = self.logits(self.preprocess(x), labels)
                        x[:, c, i, j] = self.draw_subpixel(out, x, i, j, c, generator)
        finally:
            self.train(was_training)
        return x.to(torch.uint8)

    def resolve_sampler(self, sampler: str | None) -> str:
        """``sampler`` checked, or the default: "fast" where it applies, else "naive"."""
        if sampler is None:
            return "fast" if self.supports_fast_sampling else "naive"
        if sampler not in SAMPLERS:
            raise UserInputError(f"unknown sampler {sampler!r}; choose one of {SAMPLERS}")
        if sampler == "fast" and not self.supports_fast_sampling:
            raise UserInputError(
                f"{type(self).__name__} has no fast sampler (its receptive field is unbounded); "
                "use --sampler naive"
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
