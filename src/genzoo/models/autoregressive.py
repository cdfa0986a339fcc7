"""What every fully visible autoregressive image model shares.

p(x) = prod_i p(x_i | x_<i) over the sub-pixels in raster order (rows, then columns, then
R -> G -> B), so the log-likelihood is exact: a sum of per-sub-pixel log-probabilities
(van den Oord et al. 2016, eq. 1-2). A subclass only provides :meth:`logits`, a causal
network from images to per-sub-pixel distribution parameters; this class turns them into
the loss, the exact ``log_prob``, and the raster-order sampler (also used for completion).

Output distributions:
    8-bit data: a 256-way softmax per sub-pixel (logits of shape N x C x 256 x H x W).
    binary data: a Bernoulli per sub-pixel (logits of shape N x C x H x W).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from genzoo.errors import UserInputError
from genzoo.models.base import GenerativeModel


class AutoregressiveModel(GenerativeModel):
    """Base class: exact likelihood and sequential sampling from a causal network."""

    log_prob_is_bound = False

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
            (N, C, 256, H, W) logits for 8-bit data, (N, C, H, W) logits for binary data.
        """
        raise NotImplementedError

    def log_prob(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        """Exact log p(x) in nats per example, (N,)."""
        images = self.check_images(images)
        labels = self.check_labels(labels, images.shape[0])
        logits = self.logits(self.preprocess(images), labels)
        if self.data.kind == "8bit":
            # logits (N, C, 256, H, W); pick the log-probability of the observed value
            logp = F.log_softmax(logits, dim=2)
            logp = logp.gather(2, images.long().unsqueeze(2)).squeeze(2)  # (N, C, H, W)
        else:
            logp = -F.binary_cross_entropy_with_logits(
                logits, images.float(), reduction="none"
            )  # (N, C, H, W)
        return logp.flatten(1).sum(1)

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
    ) -> Tensor:
        """Sample in raster order, one sub-pixel per network evaluation.

        This is the naive sampler: H*W*C full forward passes. It doubles as the
        completion sampler: the first ``num_known`` pixels (raster order) are copied
        from ``prefix`` and only the rest are drawn.

        Args:
            n: number of images.
            labels: class labels (N,) or one label for all, for conditional models.
            generator: a torch.Generator on the model's device, for reproducible draws.
            prefix: uint8 images (n, C, H, W) whose first ``num_known`` pixels are kept.
            num_known: pixels (not sub-pixels) given, counted in raster order.

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
        for pos in range(num_known, h_ * w_):
            i, j = divmod(pos, w_)
            for c in range(c_):
                logits = self.logits(self.preprocess(x), labels)
                if self.data.kind == "8bit":
                    probs = F.softmax(logits[:, c, :, i, j], dim=1)  # (n, 256)
                    draw = torch.multinomial(probs, 1, generator=generator).squeeze(1)
                else:
                    probs = torch.sigmoid(logits[:, c, i, j])  # (n,)
                    draw = torch.bernoulli(probs, generator=generator).long()
                x[:, c, i, j] = draw
        return x.to(torch.uint8)

    @torch.no_grad()
    def complete(
        self,
        images: Tensor,
        num_known_rows: int,
        *,
        labels: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Keep the top ``num_known_rows`` rows of each image and sample the rest."""
        w_ = self.data.image_shape[2]
        return self.sample(
            images.shape[0],
            labels=labels,
            generator=generator,
            prefix=images,
            num_known=num_known_rows * w_,
        )
