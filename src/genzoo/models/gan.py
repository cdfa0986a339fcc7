"""Generative adversarial networks: the minimax game and its successors.

A generator G turns z ~ N(0, I) into a sample; a discriminator (or critic) D scores real
against generated examples; the two play (Goodfellow et al. 2014, eq. 1)

    min_G max_D V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))].

For a fixed G the best D is D*(x) = p_data(x) / (p_data(x) + p_g(x)), and then
V(D*, G) = -log 4 + 2 JSD(p_data || p_g) (their theorem 1; tests/test_gan.py checks it).
The losses (minimax, non-saturating, WGAN, WGAN-GP, LSGAN, hinge) are pure functions in
:mod:`genzoo.losses.gan`; the networks (DCGAN, MLP) are in :mod:`genzoo.nn.gan_nets`.

Training goes through the one loop (:func:`genzoo.train.loop.fit`): the model has two
optimizers, "discriminator" and "generator", and overrides only
:meth:`GAN.training_step`, which takes one D step on every batch and one G step on every
``n_critic``-th (so ``--train.steps`` counts D updates). Each optimizer holds only its own
player's parameters; D's parameters stop requiring gradients during the G step and G's
samples are detached in the D step, so neither step computes the other's gradients.

A GAN defines no density: :meth:`GAN.log_prob` raises :class:`genzoo.errors.NoDensityError`
(compare GANs by sample-based metrics instead). It has the decoding half of the latent
interface (:class:`genzoo.models.base.latent interface`): ``latent_dim`` and ``decode(z) =
G(z)``; ``encode`` raises, since nothing maps x back to z.

Data scale: 8-bit images enter D as x / 127.5 - 1, binary ones as 2x - 1, points as they
are; G ends in tanh for images and is linear for points.

Deviations:
    - Every loss uses Adam (``betas``, DCGAN's (0.5, 0.999) by default); the WGAN paper
      used RMSProp, WGAN-GP Adam with (0, 0.9): set ``betas`` for that.
    - G's step reuses the samples (and their G forward) of the D step just before it
      (``reuse_fakes``, on by default as in DCGAN's reference code); Goodfellow et al.'s
      Algorithm 1 draws fresh codes for G's step (``reuse_fakes = false``, and always in
      distributed runs: see :mod:`genzoo.models.adversarial`).
    - n_critic is counted in loop steps, each with a fresh batch; the WGAN papers' extra
      critic iterations (100 per G step early in WGAN training) are not reproduced.
    - Samples of binary data are G's tanh output thresholded at 0 (real binary images
      enter D as -1/+1), not a Bernoulli draw; 8-bit samples are rounded.
    - EMA of G's weights for sampling is the loop's ``--train.ema-decay``, which averages
      the whole model (G and D): the averaged G is what sampling and the export use; the
      averaged D is never used (it costs D's size in memory, nothing else). Batch-norm
      running statistics of G are averaged too (``use_buffers``).
    - The conditional G reads a one-hot label concatenated to z (Mirza and Osindero),
      not the conditional batch norm of Miyato and Koyama's generator.
    - The truncation trick (Brock et al. 2019, BigGAN) is a sampling option that redraws
      each latent entry whose magnitude exceeds the threshold.

Distributed training: the D step leaves G's parameters without gradients and the G step
D's, so DDP needs ``--train.strategy ddp_find_unused_parameters_true``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from genzoo.config import DataSpec
from genzoo.errors import UserInputError
from genzoo.losses import gan as losses
from genzoo.models.adversarial import AdversarialModel
from genzoo.models.base import StepContext
from genzoo.models.gan_config import GANConfig
from genzoo.nn.gan_nets import (
    DCGANFeatures,
    DCGANGenerator,
    Discriminator,
    MLPFeatures,
    MLPGenerator,
    add_spectral_norm_,
)
from genzoo.nn.likelihoods import signed_to_8bit

LATENT_CHUNK = 256
"""Latent codes are drawn in blocks of this many rows, so that code i of a seeded draw
does not depend on how many codes are drawn (sample i of ``genzoo sample --seed S`` is
index i of ``genzoo viz arithmetic --seed S``)."""


class GAN(AdversarialModel):
    """Generator and discriminator of one adversarial game; see the module docstring.

    Args:
        config: :class:`genzoo.models.gan_config.GANConfig`.
        data: shape (C, H, W) or (2,), kind ("8bit", "binary" or "points"), classes.

    Example:
        >>> model = genzoo.create_model("gan", image_shape=(1, 28, 28), loss="wgan-gp")
        >>> fit(model, genzoo.data.load_dataset("fashion-mnist"), "runs/gan", TrainConfig())
        >>> x = model.eval().sample(64, generator=torch.Generator().manual_seed(0))
    """

    name = "gan"
    sample_options = ("truncation",)

    def __init__(self, config: GANConfig, data: DataSpec) -> None:
        super().__init__(config, data)
        self.loss_name = losses.check_loss_name(config.loss)
        self.architecture = self._resolve_architecture(config.architecture, data)
        self.d_norm = self._resolve_norm(config, self.architecture)
        self.latent_dim = config.latent_dim
        self.num_cond = self.label_classes
        k = self.num_cond
        concat_k = k if config.conditioning == "concat" else 0
        g_in = config.latent_dim + k
        if self.architecture == "mlp":
            self.generator: torch.nn.Module = MLPGenerator(
                g_in, data.image_shape, config.width, config.hidden_layers, data.is_image
            )
            body: torch.nn.Module = MLPFeatures(
                data.num_dims + concat_k, config.width, config.hidden_layers
            )
        else:
            self.generator = DCGANGenerator(g_in, data.image_shape, config.width)
            c = data.image_shape[0]
            body = DCGANFeatures(c + concat_k, data.image_shape, config.width, self.d_norm)
        self.discriminator = Discriminator(body, k, config.conditioning)
        if config.spectral_norm:
            add_spectral_norm_(self.discriminator)

    @staticmethod
    def _resolve_architecture(architecture: str, data: DataSpec) -> str:
        if architecture == "auto":
            return "mlp" if data.is_points else "dcgan"
        if architecture == "dcgan" and len(data.image_shape) != 3:
            raise UserInputError(
                f"the dcgan networks take images (C, H, W), not {data.image_shape}; "
                "use --model.architecture mlp (or auto) for 2-D points"
            )
        return architecture

    @staticmethod
    def _resolve_norm(config: GANConfig, architecture: str) -> str:
        if config.d_norm != "auto":
            return config.d_norm
        if config.spectral_norm or architecture == "mlp":
            return "none"
        return "layer" if config.loss == "wgan-gp" or config.r1 > 0 else "batch"

    # -- data scale ------------------------------------------------------------------------

    def to_model_space(self, images: Tensor) -> Tensor:
        """Checked data-space examples -> D's input: [-1, 1] for images, points as floats."""
        images = self.check_images(images)
        if self.data.is_image:
            return self.data.to_signed(images, self.dtype)
        return images.to(self.dtype)

    def to_data_space(self, y: Tensor) -> Tensor:
        """G's output -> data space: uint8 images (rounded, or thresholded at 0 for binary
        data), or float points."""
        if self.data.is_binary:
            return (y > 0).to(torch.uint8)
        if self.data.is_image:
            return signed_to_8bit(y)
        return y

    # -- networks --------------------------------------------------------------------------

    def _g_input(self, z: Tensor, labels: Tensor | None) -> Tensor:
        """z (N, L) [+ one-hot labels (N, K)] -> G's input (N, L [+ K])."""
        if not self.num_cond:
            return z
        assert labels is not None  # checked by check_labels
        return torch.cat([z, F.one_hot(labels.long(), self.num_cond).to(z.dtype)], dim=1)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """The generator network: z (N, latent_dim) -> G(z) in model space, (N, *shape)."""
        return self.generator(self._g_input(z, labels))

    def generator_forward(self, z: Tensor, labels: Tensor | None) -> Tensor:
        """G(z) in model space: :meth:`forward`."""
        return self(z, labels)

    def critic(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """The discriminator network: model-space inputs (N, *shape) -> logits (N,)."""
        return self.discriminator(x, labels)

    def latents(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        truncation: float | None = None,
    ) -> Tensor:
        """Draw n codes z ~ N(0, I), (n, latent_dim).

        Drawn in blocks of :data:`LATENT_CHUNK` rows, so row i is the same whatever n
        (without truncation). With ``truncation`` t, every entry with |z| > t is redrawn
        until none is left (the truncation trick, Brock et al. 2019, section 3.1).
        """
        if n <= 0:
            raise UserInputError(f"number of samples must be positive, got {n}")
        device, dtype = self.device, self.dtype
        blocks = [
            torch.randn(
                LATENT_CHUNK, self.latent_dim, generator=generator, device=device, dtype=dtype
            )
            for _ in range(0, n, LATENT_CHUNK)
        ]
        z = torch.cat(blocks)[:n]  # (n, L)
        if truncation is not None:
            if truncation <= 0:
                raise UserInputError(f"--truncation must be positive, got {truncation}")
            bad = z.abs() > truncation
            while bool(bad.any()):
                z[bad] = torch.randn(
                    int(bad.sum()), generator=generator, device=device, dtype=dtype
                )
                bad = z.abs() > truncation
        return z

    # -- the two players' losses (routed through Fabric: see forward_methods) ---------------

    def discriminator_loss(
        self, images: Tensor, labels: Tensor | None = None, *, keep_fakes: bool = False
    ) -> dict[str, Tensor]:
        """D's loss on a batch of real examples and as many fresh (detached) samples.

        Args:
            images: real examples, as the data gives them.
            labels: their classes (conditional GAN).
            keep_fakes: make the samples with their graph into G and return them as
                ``fakes``, for G's step to reuse (config ``reuse_fakes``).

        Returns:
            ``loss`` (what D minimises: the adversarial term, plus lambda GP for wgan-gp,
            plus gamma/2 R1 when r1 > 0) and, detached, ``d_loss`` (the adversarial term),
            ``d_acc_real`` / ``d_acc_fake`` (fractions D classifies correctly; see
            :func:`genzoo.losses.gan.decision_threshold`), ``d_score_real`` /
            ``d_score_fake`` (mean logits), ``gp`` or ``r1`` when used, and ``fakes``
            with ``keep_fakes``.
        """
        cfg = self.config
        x = self.to_model_space(images)  # (N, *shape)
        labels = self.check_labels(labels, x.shape[0])
        fakes = self.draw_fakes(x.shape[0], labels, graph=keep_fakes, like=x)  # (N, *shape)
        fake = fakes.detach()  # what D trains on: no gradient reaches G
        if cfg.r1 > 0:
            x = x.detach().requires_grad_(True)
        real_logits = self.critic(x, labels)  # (N,)
        fake_logits = self.critic(fake, labels)  # (N,)
        adv = losses.discriminator_loss(self.loss_name, real_logits, fake_logits)
        loss = adv
        out: dict[str, Tensor] = {}
        if self.loss_name == "wgan-gp":
            gp = losses.gradient_penalty(lambda v: self.critic(v, labels), x.detach(), fake)
            loss = loss + cfg.gp_weight * gp
            out["gp"] = gp.detach()
        if cfg.r1 > 0:
            r1 = losses.r1_penalty(real_logits, x)
            loss = loss + 0.5 * cfg.r1 * r1
            out["r1"] = r1.detach()
        thr = losses.decision_threshold(self.loss_name, real_logits, fake_logits)
        return {
            "loss": loss,
            "d_loss": adv.detach(),
            "d_acc_real": (real_logits.detach() > thr).float().mean(),
            "d_acc_fake": (fake_logits.detach() <= thr).float().mean(),
            "d_score_real": real_logits.detach().mean(),
            "d_score_fake": fake_logits.detach().mean(),
            **out,
            **({"fakes": fakes} if keep_fakes else {}),
        }

    def generator_loss(
        self, n: int, labels: Tensor | None = None, *, fakes: Tensor | None = None
    ) -> dict[str, Tensor]:
        """G's loss on n fresh samples, or on ``fakes`` (the D step's, with their graph
        into G): ``loss`` (with its graph through D into G) and ``g_loss`` (detached)."""
        labels = self.check_labels(labels, n)
        if fakes is None:
            fakes = self.draw_fakes(n, labels, graph=True)  # (n, *shape)
        fake_logits = self.critic(self.check_fakes(fakes, n), labels)  # (n,)
        loss = losses.generator_loss(self.loss_name, fake_logits)
        return {"loss": loss, "g_loss": loss.detach()}

    # -- the contract ----------------------------------------------------------------------

    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        labels: Tensor | None = None,
        generator: torch.Generator | None = None,
        truncation: float | None = None,
    ) -> Tensor:
        """G(z) for n codes z ~ N(0, I): uint8 (n, C, H, W) images, or float (n, 2) points.

        Args:
            n: number of samples.
            labels: (n,) or one label, for a conditional GAN.
            generator: draws z (on the model's device).
            truncation: redraw latent entries with |z| above this (None: no truncation).

        G's batch norm uses its running statistics in eval mode (call ``.eval()`` first, as
        ``genzoo.load`` does) and the batch's own in train mode.
        """
        z = self.latents(n, generator=generator, truncation=truncation)
        return self.decode(z, labels)

    # -- the latent interface (decoding half) ----------------------------------------------

    def encode(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        """Raises UserInputError: a GAN has no encoder."""
        raise UserInputError(
            "a GAN has no encoder (G maps z to x; nothing maps x back to z): its latent "
            "views use codes drawn from the prior ('genzoo viz interpolate' between "
            "sample:I,sample:J, 'genzoo viz arithmetic', 'genzoo viz manifold')"
        )

    @torch.no_grad()
    def decode(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """G(z) in data space: codes (N, latent_dim) -> uint8 (N, C, H, W), or float (N, 2)
        points. Deterministic (G has no output noise)."""
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise UserInputError(
                f"latent codes must have shape (N, {self.latent_dim}), got {tuple(z.shape)}"
            )
        labels = self.check_labels(labels, z.shape[0])
        device = self.device
        z = z.to(device=device, dtype=self.dtype)
        labels = None if labels is None else labels.to(device)
        return self.to_data_space(self(z, labels))

    # -- training ----------------------------------------------------------------------------

    def after_discriminator_step(self) -> None:
        """WGAN (Arjovsky et al. 2017) clips D's weights after each of its steps."""
        if self.loss_name == "wgan":
            losses.clip_weights_(self.discriminator, self.config.clip_value)

    def training_step(self, images: Tensor, labels: Tensor | None, ctx: StepContext) -> dict:
        """The two players' alternating steps (:meth:`AdversarialModel.alternate`), with the
        labels only for a conditional GAN."""
        return self.alternate(images, labels if self.num_cond else None, ctx)
