"""What every adversarial family shares: two players and their alternating steps.

A generator G and a discriminator (critic) D, each with its own Adam optimizer; D steps on
every training step and G on every ``n_critic``-th (Goodfellow et al. 2014; Arjovsky et al.
2017 for n_critic). With the config's ``reuse_fakes``, G's step reuses the samples of the D
step just before it, and G's forward pass that made them, as DCGAN's reference code does
(Radford et al.'s dcgan.torch, pytorch/examples): one G forward per step instead of two.
G's parameters have not moved since those samples were drawn, so this is G's loss at the
same parameters on a batch of codes that D has just trained on, rather than on a fresh batch
(Goodfellow et al.'s Algorithm 1 draws a fresh one: ``reuse_fakes = false``). Distributed
runs (DDP) always draw fresh samples for G's step: DDP joins every tensor a forward returns
into one backward node, so D's backward would free the kept graph into G.

The families (:mod:`genzoo.models.gan`, :mod:`genzoo.models.progan`) provide the networks
and ``discriminator_loss`` / ``generator_loss``; this base owns the step, the
optimizers, the monitoring loss and the declaration that there is no density.
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

    def discriminator_loss(
        self, images: Tensor, labels: Tensor | None = None, *, keep_fakes: bool = False
    ) -> dict[str, Tensor]:
        """D's loss on real ``images`` and as many fresh samples; ``out["loss"]``. With
        ``keep_fakes``, the samples are made with their graph into G and returned as
        ``out["fakes"]`` (D itself sees them detached) for :meth:`generator_loss`."""
        raise NotImplementedError

    def generator_loss(
        self, n: int, labels: Tensor | None = None, *, fakes: Tensor | None = None
    ) -> dict[str, Tensor]:
        """G's loss on n fresh samples, or on ``fakes`` (n samples with their graph into G,
        from ``discriminator_loss(..., keep_fakes=True)``); ``out["loss"]`` and
        ``out["g_loss"]``."""
        raise NotImplementedError

    def generator_forward(self, z: Tensor, labels: Tensor | None) -> Tensor:
        """G(z) in model space, as the players' losses see it (at the current stage)."""
        raise NotImplementedError

    def draw_fakes(
        self,
        n: int,
        labels: Tensor | None,
        *,
        graph: bool,
        like: Tensor | None = None,
    ) -> Tensor:
        """n samples G(z), z ~ N(0, I) on the device and in the dtype of ``like`` (default:
        the model's), with their graph into G only when ``graph``."""
        device, dtype = (like.device, like.dtype) if like is not None else (self.device, self.dtype)
        z = torch.randn(n, self.latent_dim, device=device, dtype=dtype)  # (n, L)
        with torch.set_grad_enabled(graph):
            return self.generator_forward(z, labels)

    @staticmethod
    def check_fakes(fakes: Tensor, n: int) -> Tensor:
        """``fakes`` if it holds n samples with a graph into G, else a ValueError."""
        if fakes.shape[0] != n or not fakes.requires_grad:
            raise ValueError(
                f"generator_loss needs {n} samples with their graph into G (from "
                f"discriminator_loss(..., keep_fakes=True)), got {tuple(fakes.shape)} with "
                f"requires_grad={fakes.requires_grad}"
            )
        return fakes

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
        samples (D's parameters frozen meanwhile, so it computes no D gradients): fresh
        ones, or with the config's ``reuse_fakes`` those of the D step just before.
        Calls :meth:`after_discriminator_step` and :meth:`after_generator_step`. Returns
        the logs of :meth:`discriminator_loss` and, on G steps, ``g_loss``."""
        g_step = (ctx.step + 1) % self.config.n_critic == 0
        # Not across processes: DDP joins every tensor a forward returns into one backward
        # node, so D's backward would consume the kept graph into G (fresh samples there).
        reuse = g_step and self.config.reuse_fakes and ctx.world_size == 1
        d = ctx.model.discriminator_loss(images, labels, keep_fakes=reuse)
        fakes = d.pop("fakes", None)
        ctx.optimize("discriminator", d.pop("loss"))
        self.after_discriminator_step()
        if g_step:
            self.discriminator.requires_grad_(False)
            try:
                g = ctx.model.generator_loss(images.shape[0], labels, fakes=fakes)
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
