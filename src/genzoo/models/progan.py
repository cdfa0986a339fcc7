"""The progressive GAN: G and D grown from 4x4 to the data's size inside the one loop.

Karras, Aila, Laine, Lehtinen 2018, "Progressive Growing of GANs for Improved Quality,
Stability, and Variation", ICLR. Training starts with 4x4 images; every further level
(8x8, 16x16, ...) is faded in over ``fade_images`` real images shown, with alpha rising
linearly from 0 to 1, then trained at alpha = 1 for ``stable_images`` (section 2 and
figure 2). During a fade the real images are down-sampled to the level's resolution and
blended with their own 2x down- and up-sampled version by the same alpha (appendix A.1),
so D sees real and generated images at one and the same blend. The networks and the
stabilisers (equalised learning rate, pixel norm, minibatch stddev) are in
:mod:`genzoo.nn.progan_nets`.

Schedule and checkpoints: the stage (level, phase "fade" or "stable", alpha, images
shown) is a pure function of the config and one persistent int64 buffer,
``images_shown``, which :meth:`ProGAN.training_step` advances by the global batch size
after every step (:func:`schedule`). The buffer is in ``state_dict``, so the loop's
checkpoint holds the stage and a run resumed in the middle of a fade continues exactly,
and an exported model samples at the stage it was trained to.

Growing without rebuilding: every level's layers exist from construction (the
full-resolution networks), so the loop's two optimizers are built once over all of them
and their state is checkpointed as usual. Each step runs only the active levels' layers;
the others get no gradient (None, as the loop's ``zero_grad(set_to_none=True)`` leaves
them), and Adam skips parameters without gradients, so they stay at their initial
values until their level arrives. This deviates from the paper's growing in memory (all
layers are held from the start), not in maths.

Loss (section 6 and appendix A.1): WGAN-GP (Gulrajani et al. 2017) with lambda = 10 and
the drift term epsilon E[D(x)^2], epsilon = 0.001, on real scores; the penalty is
:func:`genzoo.losses.gan.gradient_penalty` (one interpolation coefficient per sample,
drawn independently of the fade's alpha). Adam (beta1 0, beta2 0.99, lr 0.001), one D
step and one G step per loop step (``n_critic`` 1).

EMA: the model keeps its own exponential moving average of G's weights
(``generator_ema``, a frozen copy of G updated after every G step with
``g_ema_decay``, paper 0.999); :meth:`sample`, :meth:`decode` and the growth views use it.
It is part of ``state_dict`` (checkpoint and export). The loop's whole-model
``--train.ema-decay`` must stay 0 for this model: it would average D and the EMA once
more, and average (and so corrupt) the integer ``images_shown`` counter;
:meth:`configure_optimizers` refuses it with a message saying so.

Sampling: :meth:`sample` returns images at the data's size: while training is below the
final level (the periodic sample grids of the loop), G's output at the current level and
alpha is up-sampled (nearest) to the data's size, as in the paper's official code.

Data: square images whose side is a power of two from 4 to 1024, grey or colour, 8-bit
(x / 127.5 - 1) or binary (2x - 1; samples are G's output thresholded at 0, as in
:mod:`genzoo.models.gan`). Other sizes (Fashion-MNIST's 28x28) are refused with a message
naming ``--image-size``; :func:`genzoo.data.resize.resize_dataset` resizes a dataset.

Distributed training: inactive levels' parameters get no gradient, so DDP needs
``--train.strategy ddp_find_unused_parameters_true``; ``images_shown`` advances by the
per-device batch times the world size, so every rank follows the same schedule.

Adam's moments are reset when a new level starts to fade in and again when its fade ends,
as the official code does (``reset_opt_for_new_lod`` resets whenever the floor or the
ceiling of the level-of-detail changes): the first step of each fade and of the stable
phase after it start both optimizers afresh. The decision is a function of
``images_shown``, so a resumed run resets at the same steps.

Deviations from the paper:
    - All levels are held in memory from the start (see above).
    - D, G and real images run at the current level's resolution (as the paper's text
      describes), not at full resolution with up-scaling (as the official TF code does).
    - Unconditional only; the labels the loop passes are ignored.
    - The truncation trick (Brock et al. 2019) is a sampling option, as for the GAN.
    - Any number of images per phase (the paper: 800k, 600k for the largest levels).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor

from genzoo.config import DataSpec, TrainConfig
from genzoo.errors import UserInputError
from genzoo.losses import gan as losses
from genzoo.models.adversarial import AdversarialModel
from genzoo.models.base import StepContext
from genzoo.models.gan import LATENT_CHUNK
from genzoo.models.progan_config import ProGANConfig
from genzoo.nn.progan_nets import ProDiscriminator, ProGenerator, downsample, upsample

MIN_SIZE, MAX_SIZE = 4, 1024
"""Image sides the networks are built for (powers of two in between)."""


@dataclass(frozen=True)
class Stage:
    """Where progressive training stands after ``images_shown`` real images.

    Attributes:
        level: active level, 0 for 4x4, l for 4 * 2^l pixels a side.
        phase: "fade" (the level is being blended in) or "stable".
        alpha: weight of the new level, in [0, 1) during a fade, 1 when stable.
        images_shown: real images shown so far.
        images_in_phase: real images shown since this phase began.
        resolution: side of the images at this level.
    """

    level: int
    phase: Literal["fade", "stable"]
    alpha: float
    images_shown: int
    images_in_phase: int
    resolution: int


def schedule(images_shown: int, num_levels: int, fade_images: int, stable_images: int) -> Stage:
    """The stage after ``images_shown`` images: level 0 stable for ``stable_images``, then
    for each further level a fade of ``fade_images`` (alpha = images into the fade /
    ``fade_images``) and a stabilisation of ``stable_images``; the last level then stays
    stable.

    Example:
        >>> st = schedule(1500, 3, 1000, 1000)
        >>> st.level, st.phase, st.alpha, st.images_in_phase, st.resolution
        (1, 'fade', 0.5, 500, 8)
    """
    if images_shown < 0 or num_levels < 1 or fade_images <= 0 or stable_images <= 0:
        raise UserInputError(
            f"schedule needs images_shown >= 0 and positive levels and phase lengths, got "
            f"{images_shown}, {num_levels}, {fade_images}, {stable_images}"
        )
    if images_shown < stable_images or num_levels == 1:
        return Stage(0, "stable", 1.0, images_shown, images_shown, 4)
    period = fade_images + stable_images
    k, t = divmod(images_shown - stable_images, period)
    level = k + 1
    if level >= num_levels:  # past the last level's fade: stable for good
        last = num_levels - 1
        start = stable_images + (last - 1) * period + fade_images
        return Stage(last, "stable", 1.0, images_shown, images_shown - start, 4 << last)
    if t < fade_images:
        return Stage(level, "fade", t / fade_images, images_shown, t, 4 << level)
    return Stage(level, "stable", 1.0, images_shown, t - fade_images, 4 << level)


def check_image_size(image_shape: tuple[int, ...]) -> int:
    """The number of levels for (C, S, S) images, S a power of two in 4..1024.

    Raises:
        UserInputError: for any other shape, naming ``--image-size``.
    """
    if len(image_shape) != 3 or image_shape[1] != image_shape[2]:
        raise UserInputError(
            f"progan needs square images (C, S, S), got {tuple(image_shape)}; "
            "pass --image-size 32 (or 64, 128) to resize the data"
        )
    side = int(image_shape[1])
    if side < MIN_SIZE or side > MAX_SIZE or side & (side - 1):
        raise UserInputError(
            f"progan needs an image side that is a power of two from {MIN_SIZE} to {MAX_SIZE}, "
            f"got {side}x{side}; pass --image-size 32 (or 64, 128) to resize the data"
        )
    return int(math.log2(side)) - 1


class ProGAN(AdversarialModel):
    """Progressively grown G and D, trained by the one loop; see the module docstring.

    Args:
        config: :class:`genzoo.models.progan_config.ProGANConfig`.
        data: (C, S, S) images, S a power of two in 4..1024, kind "8bit" or "binary".

    Example:
        >>> model = genzoo.create_model("progan", image_shape=(1, 32, 32), max_channels=64)
        >>> fit(model, resize_dataset(load_dataset("fashion-mnist"), 32), "runs/pg", train)
        >>> model.stage()  # Stage(level=3, phase='stable', alpha=1.0, ...)
        >>> x = model.eval().sample(64, generator=torch.Generator().manual_seed(0))
    """

    name = "progan"
    has_latent = True
    has_encoder = False
    sample_options = ("truncation",)

    images_shown: Tensor

    def __init__(self, config: ProGANConfig, data: DataSpec) -> None:
        super().__init__(config, data)
        if data.kind not in ("8bit", "binary"):
            raise UserInputError(f"progan takes 8bit or binary images, not {data.kind!r} data")
        self.num_levels = check_image_size(data.image_shape)
        self.latent_dim = config.latent_dim
        self.channels = [config.channels(4 << level) for level in range(self.num_levels)]
        c = data.image_shape[0]
        self.generator = ProGenerator(config.latent_dim, self.channels, c)
        self.discriminator = ProDiscriminator(self.channels, c, config.mbstd_group_size)
        self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False)
        self.register_buffer("images_shown", torch.zeros((), dtype=torch.int64))

    # -- the schedule ----------------------------------------------------------------------

    def stage(self) -> Stage:
        """The current stage, from the ``images_shown`` buffer and the config."""
        cfg = self.config
        return schedule(int(self.images_shown), self.num_levels, cfg.fade_images, cfg.stable_images)

    # -- data scale ------------------------------------------------------------------------

    def to_model_space(self, images: Tensor) -> Tensor:
        """Checked data-space images -> [-1, 1] floats in the model's dtype, full size."""
        images = self.check_images(images)
        x = images.to(self.dtype)
        return x / 127.5 - 1.0 if self.data.kind == "8bit" else x * 2.0 - 1.0

    def to_data_space(self, y: Tensor) -> Tensor:
        """G's output -> uint8: rounded 0..255 (8-bit) or thresholded at 0 (binary)."""
        if self.data.kind == "8bit":
            return torch.round((y + 1.0) * 127.5).clamp(0, 255).to(torch.uint8)
        return (y > 0).to(torch.uint8)

    def real_at(self, x: Tensor, stage: Stage) -> Tensor:
        """Real model-space images (N, C, S, S) as D sees them at ``stage``: average-pooled
        to the level's resolution and, during a fade, blended with their 2x down- and
        up-sampled version by alpha (at alpha 0 exactly the previous level's view)."""
        x = downsample(x, x.shape[-1] // stage.resolution)  # (N, C, r, r)
        if stage.phase == "fade":
            x = torch.lerp(upsample(downsample(x)), x, stage.alpha)
        return x

    # -- networks --------------------------------------------------------------------------

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """The trained generator at the current stage: z (N, L) -> (N, C, r, r), model space."""
        st = self.stage()
        return self.generator(z, st.level, st.alpha)

    def critic(self, x: Tensor, stage: Stage) -> Tensor:
        """D at ``stage``: model-space images (N, C, r, r) at the stage's size -> (N,)."""
        return self.discriminator(x, stage.level, stage.alpha)

    def generate(
        self,
        z: Tensor,
        *,
        level: int | None = None,
        alpha: float | None = None,
        ema: bool = True,
    ) -> Tensor:
        """G(z) in model space at a level's own resolution, (N, C, 4 * 2^level, ...).

        Args:
            z: codes (N, latent_dim).
            level: the level (default: the current stage's).
            alpha: the fade coefficient (default: the current stage's if ``level`` is the
                current level, else 1).
            ema: use the EMA of G (default) rather than the trained G.
        """
        st = self.stage()
        if level is None:
            level = st.level
        if not 0 <= level < self.num_levels:
            raise UserInputError(f"level must be in 0..{self.num_levels - 1}, got {level}")
        if alpha is None:
            alpha = st.alpha if level == st.level else 1.0
        if not 0.0 <= alpha <= 1.0:
            raise UserInputError(f"alpha must be in [0, 1], got {alpha}")
        net = self.generator_ema if ema else self.generator
        return net(self._check_latents(z), level, float(alpha))

    # -- the two players' losses (routed through Fabric: see forward_methods) ---------------

    def generator_forward(self, z: Tensor, labels: Tensor | None) -> Tensor:
        """The training generator's G(z) at the current stage, (N, C, r, r)."""
        st = self.stage()
        return self.generator(z, st.level, st.alpha)

    def discriminator_loss(
        self, images: Tensor, labels: Tensor | None = None, *, keep_fakes: bool = False
    ) -> dict[str, Tensor]:
        """D's WGAN-GP loss at the current stage on real images and as many detached samples.

        Args:
            images: real images, as the data gives them.
            labels: ignored (the model is unconditional).
            keep_fakes: make the samples with their graph into G and return them as
                ``fakes``, for G's step to reuse (config ``reuse_fakes``).

        Returns:
            ``loss`` = E D(G(z)) - E D(x) + lambda GP + epsilon E D(x)^2 (what D
            minimises) and, detached: ``d_loss`` (the Wasserstein term), ``gp``,
            ``drift`` (E D(x)^2), ``d_score_real``, ``d_score_fake``; ``fakes`` with
            ``keep_fakes``.
        """
        cfg = self.config
        st = self.stage()
        x = self.real_at(self.to_model_space(images), st)  # (N, C, r, r)
        fakes = self.draw_fakes(x.shape[0], None, graph=keep_fakes, like=x)  # (N, C, r, r)
        fake = fakes.detach()  # what D trains on: no gradient reaches G
        real_scores = self.critic(x, st)  # (N,)
        fake_scores = self.critic(fake, st)  # (N,)
        adv = losses.discriminator_loss("wgan-gp", real_scores, fake_scores)
        drift = real_scores.square().mean()
        loss = adv + cfg.drift * drift
        out: dict[str, Tensor] = {}
        if cfg.gp_weight > 0:
            gp = losses.gradient_penalty(lambda v: self.critic(v, st), x, fake)
            loss = loss + cfg.gp_weight * gp
            out["gp"] = gp.detach()
        return {
            "loss": loss,
            "d_loss": adv.detach(),
            "drift": drift.detach(),
            "d_score_real": real_scores.detach().mean(),
            "d_score_fake": fake_scores.detach().mean(),
            **out,
            **({"fakes": fakes} if keep_fakes else {}),
        }

    def generator_loss(
        self, n: int, labels: Tensor | None = None, *, fakes: Tensor | None = None
    ) -> dict[str, Tensor]:
        """G's loss -E D(G(z)) on n fresh samples at the current stage, or on ``fakes``
        (the D step's, with their graph into G): ``loss`` (with its graph through D into
        G) and ``g_loss`` (detached)."""
        if fakes is None:
            fakes = self.draw_fakes(n, None, graph=True)  # (n, C, r, r)
        fake_scores = self.critic(self.check_fakes(fakes, n), self.stage())  # (n,)
        loss = losses.generator_loss("wgan-gp", fake_scores)
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
        """n samples of the EMA generator at the current stage: uint8 (n, C, S, S) at the
        data's size (nearest up-sampling while training is below the last level).

        Args:
            n: number of samples.
            labels: ignored (the model is unconditional).
            generator: draws z (on the model's device).
            truncation: redraw latent entries with |z| above this (None: none).
        """
        return self.decode(self.latents(n, generator=generator, truncation=truncation), labels)

    def latents(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        truncation: float | None = None,
    ) -> Tensor:
        """n codes z ~ N(0, I), (n, latent_dim), in blocks of ``LATENT_CHUNK`` rows so row i
        does not depend on n; with ``truncation`` t, entries with |z| > t are redrawn."""
        if n <= 0:
            raise UserInputError(f"number of samples must be positive, got {n}")
        kw: dict[str, Any] = {"generator": generator, "device": self.device, "dtype": self.dtype}
        blocks = [
            torch.randn(LATENT_CHUNK, self.latent_dim, **kw) for _ in range(0, n, LATENT_CHUNK)
        ]
        z = torch.cat(blocks)[:n]  # (n, L)
        if truncation is not None:
            if truncation <= 0:
                raise UserInputError(f"--truncation must be positive, got {truncation}")
            bad = z.abs() > truncation
            while bool(bad.any()):
                z[bad] = torch.randn(int(bad.sum()), **kw)
                bad = z.abs() > truncation
        return z

    def encode(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        """Raises UserInputError: a GAN has no encoder."""
        raise UserInputError(
            "a progressive GAN has no encoder (G maps z to x; nothing maps x back to z); "
            "its latent views use codes drawn from the prior"
        )

    @torch.no_grad()
    def decode(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """EMA G(z) at the current stage, up-sampled to the data's size: codes
        (N, latent_dim) -> uint8 (N, C, S, S). Deterministic."""
        y = self.generate(z)  # (N, C, r, r)
        return self.to_data_space(upsample(y, self.data.image_shape[-1] // y.shape[-1]))

    @torch.no_grad()
    def decode_levels(
        self, z: Tensor, labels: Tensor | None = None, *, ema: bool = True
    ) -> list[Tensor]:
        """The same codes at every level trained so far (alpha 1 at each): a list of uint8
        (N, C, 4 * 2^l, 4 * 2^l) for l = 0 .. the current level. For the growth view."""
        net = self.generator_ema if ema else self.generator
        levels = net.every_level(self._check_latents(z), self.stage().level + 1)
        return [self.to_data_space(y) for y in levels]

    def _check_latents(self, z: Tensor) -> Tensor:
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise UserInputError(
                f"latent codes must have shape (N, {self.latent_dim}), got {tuple(z.shape)}"
            )
        return z.to(device=self.device, dtype=self.dtype)

    # -- training ----------------------------------------------------------------------------

    def configure_optimizers(self, train: TrainConfig) -> dict[str, torch.optim.Optimizer]:
        """Adam (AdamW with --train.weight-decay, 0 by default) for each player over all its
        levels' parameters: ``{"discriminator": ..., "generator": ...}`` (not the EMA).

        Raises:
            UserInputError: when --train.ema-decay is set (the model keeps its own EMA).
        """
        if train.ema_decay > 0:
            raise UserInputError(
                "progan keeps its own EMA of G (--model.g-ema-decay); set --train.ema-decay 0 "
                "(a whole-model average would also average its images-shown counter)"
            )
        return super().configure_optimizers(train)

    def training_step(self, images: Tensor, labels: Tensor | None, ctx: StepContext) -> dict:
        """One D step on the batch and, on every n_critic-th step, one G step and an EMA
        update, all at the stage of the images shown before this step; then the images
        shown advance by the global batch. Returns D's logs, ``g_loss`` on G steps, and
        the stage as ``level``, ``alpha`` and ``images_shown``."""
        st = self.stage()
        world = ctx.world_size
        if st.level > 0 and st.images_in_phase < images.shape[0] * world:
            # the first step of a fade (a new level begins) or of the stable phase after it
            # (the fade ends): fresh Adam moments, as the official reset_opt_for_new_lod
            ctx.reset_optimizers()
        d = self.alternate(images, None, ctx)
        with torch.no_grad():
            self.images_shown += images.shape[0] * world
        d["level"] = torch.tensor(float(st.level))
        d["alpha"] = torch.tensor(st.alpha)
        d["images_shown"] = torch.tensor(float(self.images_shown))
        return d

    def after_generator_step(self) -> None:
        """The EMA of G follows each G step (Karras et al. 2018, appendix A.1)."""
        self.update_ema()

    @torch.no_grad()
    def update_ema(self) -> None:
        """generator_ema <- decay * generator_ema + (1 - decay) * generator, every weight."""
        w = 1.0 - self.config.g_ema_decay
        for e, p in zip(self.generator_ema.parameters(), self.generator.parameters(), strict=True):
            e.lerp_(p.detach(), w)
