"""What every adversarial family shares: two players and their alternating steps.

A generator G and a discriminator (critic) D, each with its own Adam optimizer; D steps on
every training step and G on every ``n_critic``-th (Goodfellow et al. 2014; Arjovsky et al.
2017 for n_critic). The families (:mod:`genzoo.models.gan`, :mod:`genzoo.models.progan`)
provide the networks and ``discriminator_loss`` / ``generator_loss``; this base owns the
step, the optimizers, the monitoring loss and the declaration that there is no density.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

from genzoo.config import TrainConfig
from genzoo.errors import NoDensityError
from genzoo.models.base import GenerativeModel, StepContext, adamw

NO_DENSITY = (
    "defines no density: it has no likelihood p(x) to evaluate, only a sampler (Goodfellow "
    "et al. 2014); compare it by sample-based metrics (FID, KID, precision/recall) on samples "
    "from 'genzoo sample' instead"
)


class AdversarialModel(GenerativeModel):
    """Base of the two-player families. Subclasses set ``self.generator`` and
    ``self.discriminator`` and implement :meth:`discriminator_loss` and
    :meth:`generator_loss`; their config has ``n_critic``, ``betas``, ``lr_g`` and ``lr_d``.
    """

    density = None
    has_latent = True
    forward_methods: ClassVar[tuple[str, ...]] = ("loss", "discriminator_loss", "generator_loss")

    def discriminator_loss(self, images: Tensor, labels: Tensor | None = None) -> dict[str, Tensor]:
        """D's loss on real ``images`` and as many fresh samples; ``out["loss"]``."""
        raise NotImplementedError

    def generator_loss(self, n: int, labels: Tensor | None = None) -> dict[str, Tensor]:
        """G's loss on n fresh samples; ``out["loss"]`` and ``out["g_loss"]``."""
        raise NotImplementedError

    def loss(self, images: Tensor, labels: Tensor | None = None) -> dict[str, Tensor]:
        """Both players' losses on one batch, for monitoring (training uses training_step).

        ``loss`` is D's loss plus G's loss, a scalar with gradients into both networks (no
        optimizer minimises this sum: each player minimises its own term); ``d_loss`` and
        ``g_loss`` are the terms, with the other logs of :meth:`discriminator_loss`.
        """
        d = self.discriminator_loss(images, labels)
        g = self.generator_loss(images.shape[0], labels)
        return {**d, "loss": d["loss"] + g["loss"], "g_loss": g["g_loss"]}

    def log_prob(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        """Raises :class:`genzoo.errors.NoDensityError`: an adversarial model has no
        likelihood."""
        raise NoDensityError(f"{self.name} {NO_DENSITY}")

    def configure_optimizers(self, train: TrainConfig) -> dict[str, torch.optim.Optimizer]:
        """Adam (AdamW with --train.weight-decay, 0 by default) for each player, over its
        own parameters only: ``{"discriminator": ..., "generator": ...}``."""
        cfg = self.config
        betas = (float(cfg.betas[0]), float(cfg.betas[1]))

        def adam(params: Any, lr: float | None) -> torch.optim.Optimizer:
            return adamw(params, lr=lr or train.lr, betas=betas, weight_decay=train.weight_decay)

        return {
            "discriminator": adam(self.discriminator.parameters(), cfg.lr_d),
            "generator": adam(self.generator.parameters(), cfg.lr_g),
        }

    def alternate(self, images: Tensor, labels: Tensor | None, ctx: StepContext) -> dict:
        """One D step on the batch; then, on every n_critic-th step, one G step on as many
        fresh samples (D's parameters frozen meanwhile, so it computes no D gradients).
        Calls :meth:`after_discriminator_step` and :meth:`after_generator_step`. Returns
        the logs of :meth:`discriminator_loss` and, on G steps, ``g_loss``."""
        d = ctx.model.discriminator_loss(images, labels)
        ctx.optimize("discriminator", d.pop("loss"))
        self.after_discriminator_step()
        if (ctx.step + 1) % self.config.n_critic == 0:
            self.discriminator.requires_grad_(False)
            try:
                g = ctx.model.generator_loss(images.shape[0], labels)
                ctx.optimize("generator", g["loss"])
            finally:
                self.discriminator.requires_grad_(True)
            self.after_generator_step()
            d["g_loss"] = g["g_loss"]
        return d

    def after_discriminator_step(self) -> None:
        """Hook after each D step (WGAN clips D's weights here)."""

    def after_generator_step(self) -> None:
        """Hook after each G step (the progressive GAN updates its EMA of G here)."""

    def training_step(self, images: Tensor, labels: Tensor | None, ctx: StepContext) -> dict:
        """:meth:`alternate`, the two players' steps."""
        return self.alternate(images, labels, ctx)
