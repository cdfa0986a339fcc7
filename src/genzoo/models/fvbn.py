"""What the fully visible belief nets (FVSBN, NADE, MADE) share: orderings, the pool of
orderings or masks trained over, the test-time ensemble, the exact likelihood, sampling
and completion.

p_k(x) = prod_t p_k(x_{o_k(t)} | x_{o_k(<t)}) over the D = C*H*W sub-pixels of an image in
the ordering o_k of mask k (Frey 1998; Larochelle & Murray 2011; Germain et al. 2015). A
subclass gives :meth:`FullyVisibleModel.conditionals`, the parameters of every
sub-pixel's conditional under mask k in one pass; this class turns them into the loss, the
exact ``log_prob`` and the samplers. Its output likelihood is the one of
:mod:`genzoo.nn.likelihoods`: a Bernoulli per sub-pixel (binary data); for 8-bit data a
256-way softmax or, with ``likelihood = "logistic"`` (NADE, MADE), a discretised logistic.

The pool and its state: mask k (0 <= k < pool size) is drawn at construction from the
config's ``seed`` and k (its ordering, the buffer ``orders``; for MADE also its hidden
degrees), and kept in persistent buffers, so a checkpoint carries its masks; the counter
``mask_step`` (a buffer too) picks the training mask: training step s uses mask s mod the
pool size (connectivity- or order-agnostic training, Germain et al. 2015 section 4.1, Uria
et al. 2014), and a resume goes on with the mask it stopped at.

Ensembles: log p(x) = logsumexp_k log p_k(x) - log K over the first K = ``ensemble`` masks
(the log of the mean probability, Germain et al. 2015 section 4.1), never a mean of logits;
the mixture is normalised like each of its members, so the likelihood stays exact, and
``sample`` draws from the mixture (a mask per image, then the image under it).

Completion keeps the top rows and draws the rest in the mask's ordering, each sub-pixel
given everything before it; the mask of an image is drawn from its posterior given the
known rows. Exact (a draw of p(rest | known rows)) when the known rows come first in every
mask's ordering (raster ordering); with other orderings a known sub-pixel that comes after
an unknown one is not conditioned on by it, so the completion is an approximation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import Tensor

from genzoo.config import DataSpec
from genzoo.errors import UserInputError
from genzoo.models.base import GenerativeModel
from genzoo.nn.likelihoods import (
    Bernoulli,
    Categorical,
    DiscretizedLogistic,
    FactorisedLikelihood,
)


def raster_order(shape: tuple[int, ...]) -> Tensor:
    """The dimensions of a flattened (C, H, W) image in raster order: rows, then columns,
    then channels (R -> G -> B), as the PixelCNN family orders them; long (D,)."""
    c, h, w = shape
    return torch.arange(c * h * w).view(c, h, w).permute(1, 2, 0).reshape(-1)


def on_meta_device() -> bool:
    """Whether tensors are being made on the meta device (no data: nothing to draw)."""
    return torch.empty(0).device.type == "meta"


def pick(rows: Tensor, k: int | Tensor) -> Tensor:
    """Row k of ``rows``; a tensor k is gathered (not read into Python: no graph break
    when the training step is compiled)."""
    return rows[k] if isinstance(k, int) else rows.index_select(0, k.reshape(1)).squeeze(0)


class FullyVisibleModel(GenerativeModel):
    """Base class of FVSBN, NADE and MADE; see the module docstring.

    Attributes:
        likelihood: Bernoulli (binary data), Categorical or DiscretizedLogistic (8-bit, the
            config's ``likelihood``), from nn/likelihoods.py.
        mask_step: buffer, the training steps taken (picks the training mask).
    """

    density = "exact"
    can_complete = True
    pool_field: ClassVar[str] = "num_orderings"
    """The config field holding the size of the pool of orderings or masks."""

    def __init__(self, config: Any, data: DataSpec) -> None:
        super().__init__(config, data)
        if len(data.image_shape) != 3 or not data.is_image:
            raise UserInputError(
                f"{type(self).__name__} models images (C, H, W), not {data.kind} {data.image_shape}"
            )
        self.likelihood: FactorisedLikelihood = self.output_likelihood(config, data)
        self.num_params = self.likelihood.num_params
        self.num_dims = data.num_dims
        self.register_buffer("mask_step", torch.zeros((), dtype=torch.long))
        self.register_buffer("orders", self.make_orders())
        self._cache: tuple[tuple, Any] | None = None

    @staticmethod
    def output_likelihood(config: Any, data: DataSpec) -> FactorisedLikelihood:
        """Each sub-pixel's law: a Bernoulli for binary data; for 8-bit data the config's
        ``likelihood`` (NADE, MADE; FVSBN takes binary data only)."""
        if data.is_binary:
            if config.likelihood != "categorical":
                raise UserInputError(
                    f"--model.likelihood {config.likelihood} is for 8-bit data; binary data "
                    "uses a Bernoulli: drop the option or train on 8-bit data"
                )
            return Bernoulli()
        return DiscretizedLogistic() if config.likelihood == "logistic" else Categorical()

    def per_mask(self, k: int | Tensor, like: Tensor, build: Callable[[Any], Any]) -> Any:
        """``build(k)`` (a mask's derived tensors, e.g. its weight masks), kept for the last
        int k in ``like``'s device and dtype (sampling and evaluation reuse one mask for many
        passes); built afresh for a tensor k (the training step's, which changes each step)."""
        if not isinstance(k, int):
            return build(k)
        key = (k, like.device, like.dtype)
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, build(k))
        return self._cache[1]

    def _load_from_state_dict(self, *args: Any, **kwargs: Any) -> None:
        self._cache = None  # loaded orderings or degrees replace the ones it was built from
        super()._load_from_state_dict(*args, **kwargs)

    # -- the pool --------------------------------------------------------------------

    @property
    def pool_size(self) -> int:
        """Orderings or masks trained over, one per step in turn."""
        return int(getattr(self.config, self.pool_field))

    def mask_generator(self, k: int, salt: int = 0) -> torch.Generator:
        """The CPU generator of mask k's random choices (a pure function of seed and k)."""
        return torch.Generator().manual_seed((self.config.seed * 1_000_003 + k) * 7 + salt + 1)

    def make_orders(self) -> Tensor:
        """The orderings of the pool, drawn once at construction: long (pool size, D), row
        k the dimensions in the order mask k draws them. A persistent buffer: a checkpoint
        carries its orderings, whatever a later torch's random streams would draw."""
        if on_meta_device():  # a size probe (genzoo.train.checkpoint): shapes only
            return torch.empty(self.pool_size, self.num_dims, dtype=torch.long)
        raster = raster_order(tuple(self.data.image_shape))
        rows = []
        for k in range(self.pool_size):
            if self.config.ordering == "raster":
                rows.append(raster)
            else:  # random: one fixed permutation; agnostic: one per mask
                g = self.mask_generator(0 if self.config.ordering == "random" else k)
                rows.append(torch.randperm(self.num_dims, generator=g))
        return torch.stack(rows)

    def order(self, k: int | Tensor) -> Tensor:
        """The ordering of mask k (an int or a long scalar tensor): long (D), entry t the
        dimension drawn t-th, on the model's device."""
        return pick(self.orders, k)

    def rank(self, k: int | Tensor) -> Tensor:
        """The 1-based position of each dimension in mask k's ordering: long (D,)."""
        return torch.argsort(self.order(k)) + 1

    def training_mask(self) -> Tensor:
        """The mask of this training step, ``mask_step`` mod the pool size (a long scalar
        tensor, so a compiled step reads it without a graph break); the counter advances."""
        k = self.mask_step % self.pool_size
        with torch.no_grad():
            self.mask_step += 1
        return k

    # -- what a family provides ------------------------------------------------------

    def conditionals(self, x: Tensor, k: int | Tensor, labels: Tensor | None = None) -> Tensor:
        """Parameters of every sub-pixel's conditional under mask k, in one pass.

        Args:
            x: the images as the network reads them, (N, D) floats on the [-1, 1] scale,
                dimensions in the (C, H, W) flattening.
            k: the mask (ordering) index, 0 <= k < pool size: an int, or a long scalar
                tensor in training (:meth:`training_mask`).
            labels: class labels (N,) of a conditional model, else None.

        Returns:
            (N, D, K): entry [:, d] is what p(x_d | the sub-pixels before d in mask k's
            ordering) reads (K = 1 logit for binary data, 256 for 8-bit), differentiable
            in ``x``, and independent of x_j for j at or after d in the ordering.
        """
        raise NotImplementedError

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """The network under mask 0: (N, C, H, W) in [-1, 1] -> (N, D, K) parameters."""
        return self.conditionals(x.flatten(1), 0, labels)

    # -- the likelihood --------------------------------------------------------------

    def signed(self, images: Tensor) -> Tensor:
        """Integer images (N, C, H, W) or (N, D) -> the network's input (N, D) in [-1, 1]."""
        return self.data.to_signed(images.flatten(1), self.dtype)

    def as_image_params(self, params: Tensor) -> Tensor:
        """(N, D, K) -> (N, C, K, H, W), the layout nn/likelihoods.py reads."""
        c, h, w = self.data.image_shape
        return params.view(params.shape[0], c, h, w, -1).permute(0, 1, 4, 2, 3)

    def dim_log_probs(self, images: Tensor, k: int | Tensor, labels: Tensor | None) -> Tensor:
        """log p_k(x_d | x_before d) of every dimension, (N, D), images (N, C, H, W)."""
        params = self.conditionals(self.signed(images), k, labels)
        return self.likelihood.log_prob(images, self.as_image_params(params)).flatten(1)

    def log_prob_under(
        self, images: Tensor, k: int | Tensor, labels: Tensor | None = None
    ) -> Tensor:
        """Exact log p_k(x) under mask k alone, nats per example (N,) (unchecked input)."""
        return self.dim_log_probs(images, k, labels).sum(1)

    def ensemble_log_probs(self, images: Tensor, labels: Tensor | None) -> Tensor:
        """log p_k(x) of each mask k of the ensemble, (K, N)."""
        return torch.stack(
            [self.log_prob_under(images, k, labels) for k in range(self.config.ensemble)]
        )

    def log_prob(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        """Exact log p(x) in nats per example (N,): the mixture of the ensemble's masks,
        logsumexp_k log p_k(x) - log K (K = 1: the one mask)."""
        images = self.check_images(images)
        labels = self.check_labels(labels, images.shape[0])
        lps = self.ensemble_log_probs(images, labels)
        return torch.logsumexp(lps, 0) - math.log(lps.shape[0])

    def likelihood_details(self, **options: Any) -> dict[str, Any]:
        """What the exact figure is of: the ordering and the ensemble (stored beside it)."""
        k, what = self.config.ensemble, self.pool_field.removeprefix("num_")
        summary = f"{self.config.ordering} ordering; " + (
            f"ensemble of the first {k} of {self.pool_size} {what}: log of their mean probability"
            if k > 1
            else f"the first of {self.pool_size} {what}"
            if self.pool_size > 1
            else f"one {what[:-1]}"
        )
        return {"ordering": self.config.ordering, "ensemble": k, "pool": self.pool_size,
                "summary": summary}  # fmt: skip

    def loss(self, images: Tensor, labels: Tensor | None = None) -> dict[str, Tensor]:
        """Mean NLL in nats per dimension (minimised) plus nats/image and bits/dim.

        In training mode the NLL is under the step's mask (``mask_step`` mod the pool size;
        the counter advances), in eval mode under the ensemble (:meth:`log_prob`)."""
        if self.training:
            images = self.check_images(images)
            labels = self.check_labels(labels, images.shape[0])
            k = self.training_mask()
            nll = -self.log_prob_under(images, k, labels)
        else:
            nll = -self.log_prob(images, labels)
        mean = nll.mean()
        return {
            "loss": mean / self.num_dims,
            "nll_nats": mean.detach(),
            "bpd": self.bits_per_dim(mean).detach(),
        }

    # -- sampling --------------------------------------------------------------------

    def draw_in_order(
        self,
        x: Tensor,
        k: int,
        known: Tensor,
        labels: Tensor | None,
        generator: torch.Generator | None,
    ) -> None:
        """Draw, in place, every unknown dimension of ``x`` (long (N, D)) in mask k's
        ordering, each from its conditional given the dimensions before it. The reference:
        one pass of :meth:`conditionals` per dimension (NADE overrides it with its O(D H)
        running sum)."""
        for d in self.order(k).tolist():
            if known[d]:
                continue
            params = self.conditionals(self.signed(x), k, labels)[:, d]  # (N, K)
            x[:, d] = self.likelihood.draw_subpixel(params, generator)

    def _draw(
        self,
        x: Tensor,
        known: Tensor,
        labels: Tensor | None,
        generator: torch.Generator | None,
        mask_of: Tensor | None,
    ) -> Tensor:
        was_training = self.training
        self.eval()
        try:
            self.draw_rows(x, known, labels, generator, mask_of)
        finally:
            self.train(was_training)
        return x.view(x.shape[0], *self.data.image_shape).to(torch.uint8)

    def draw_rows(
        self,
        x: Tensor,
        known: Tensor,
        labels: Tensor | None,
        generator: torch.Generator | None,
        mask_of: Tensor | None,
    ) -> None:
        """Draw, in place, the unknown dimensions of ``x`` (long (N, D)), row i under mask
        ``mask_of[i]`` (mask 0 for every row when None): the rows of each mask in turn,
        in its ordering (:meth:`draw_in_order`). MADE overrides it to draw the rows of
        every mask together."""
        ks = [0] if mask_of is None else sorted(set(mask_of.tolist()))
        for k in ks:
            rows = None if mask_of is None else (mask_of == k).nonzero().squeeze(1)
            xs = x if rows is None else x[rows]
            ls = labels if (labels is None or rows is None) else labels[rows]
            self.draw_in_order(xs, k, known, ls, generator)
            if rows is not None:
                x[rows] = xs

    @torch.no_grad()
    def sample(
        self, n: int, *, labels: Tensor | None = None, generator: torch.Generator | None = None
    ) -> Tensor:
        """Draw n images (uint8 (n, C, H, W)) from the ensemble: a mask per image (uniform
        over the ensemble), then every sub-pixel in its ordering."""
        if n <= 0:
            raise UserInputError(f"number of samples must be positive, got {n}")
        labels = self.check_labels(labels, n)
        labels = labels.to(self.device) if labels is not None else None
        x = torch.zeros(n, self.num_dims, dtype=torch.long, device=self.device)
        mask_of = None
        if self.config.ensemble > 1:
            mask_of = torch.randint(
                self.config.ensemble, (n,), generator=generator, device=self.device
            ).cpu()
        known = torch.zeros(self.num_dims, dtype=torch.bool)
        return self._draw(x, known, labels, generator, mask_of)

    @torch.no_grad()
    def complete(
        self,
        images: Tensor,
        num_known_rows: int,
        *,
        labels: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Keep the top ``num_known_rows`` rows of each image and draw the rest (see the
        module docstring for when the draw is exact)."""
        images = self.check_images(images).to(self.device)
        n = images.shape[0]
        c, h, w = self.data.image_shape
        if not 0 <= num_known_rows <= h:
            raise UserInputError(f"num_known_rows must be in [0, {h}], got {num_known_rows}")
        labels = self.check_labels(labels, n)
        labels = labels.to(self.device) if labels is not None else None
        rows = torch.arange(h)[None, :, None].expand(c, h, w).reshape(-1)
        known = rows < num_known_rows  # (D,)
        x = images.flatten(1).long().clone()
        mask_of = None
        if self.config.ensemble > 1:  # the mask's posterior given the known sub-pixels
            logw = torch.stack(
                [
                    self.dim_log_probs(images, k, labels)[:, known.to(self.device)].sum(1)
                    for k in range(self.config.ensemble)
                ],
                1,
            )  # (N, K)
            probs = torch.softmax(logw.float(), 1)
            mask_of = torch.multinomial(probs, 1, generator=generator).squeeze(1).cpu()
        return self._draw(x, known, labels, generator, mask_of)
