"""The progressive GAN's settings (torch-free, so ``--help`` and the registry stay light).

See :mod:`genzoo.models.progan` for the model and the paper (Karras, Aila, Laine,
Lehtinen 2018, "Progressive Growing of GANs for Improved Quality, Stability, and
Variation", ICLR).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from genzoo.declare import Declarations, ReportFigure, View
from genzoo.errors import ConfigError
from genzoo.models.gan_config import TRUNCATION


@dataclass(frozen=True)
class ProGANConfig:
    """Progressive GAN (Karras et al. 2018): generator and discriminator grown from 4x4 to
    the data's size, each new level faded in over ``fade_images`` images shown and then
    stabilised over ``stable_images``; WGAN-GP with the drift term, equalised learning
    rate, pixelwise feature normalisation in G, minibatch standard deviation in D, Adam
    (0, 0.99) and an EMA of G's weights for sampling."""

    latent_dim: int = 512
    """Units of z ~ N(0, I), normalised to unit RMS before G's first layer (paper: 512)."""
    channel_base: int = 16384
    """A level of resolution r has min(channel_base // r, max_channels) feature maps in G
    and D (paper: 16384 // r capped at 512, i.e. 512 up to 32x32, then 256, 128, ...)."""
    max_channels: int = 512
    """Cap on the feature maps of every level (paper: 512)."""
    fade_images: int = 800_000
    """Real images shown while a new level fades in (alpha rising linearly from 0 to 1;
    paper: 800k)."""
    stable_images: int = 800_000
    """Real images shown at each level after its fade (alpha = 1), and at 4x4 before the
    first growth (paper: 800k). The last level stays stable until --train.steps."""
    mbstd_group_size: int = 4
    """Samples per group of the minibatch standard-deviation layer (paper: 4); a batch
    whose size it does not divide uses the largest group size below it that does."""
    gp_weight: float = 10.0
    """lambda of WGAN-GP's gradient penalty (paper: 10)."""
    drift: float = 0.001
    """epsilon of the drift term epsilon E[D(x)^2] on real scores (paper: 0.001)."""
    n_critic: int = 1
    """D updates per G update (paper: 1): G steps on every n_critic-th training step."""
    lr_g: float | None = None
    """Adam learning rate of G (None: --train.lr; paper: 0.001)."""
    lr_d: float | None = None
    """Adam learning rate of D (None: --train.lr; paper: 0.001)."""
    betas: tuple[float, float] = (0.0, 0.99)
    """Adam's (beta1, beta2) for both players (paper: 0, 0.99)."""
    reuse_fakes: bool = False
    """G's step reuses the D step's samples and their G forward (one G forward per step
    instead of two; see genzoo.models.adversarial). False, as the paper's code and
    pytorch_GAN_zoo: G's step draws fresh codes."""
    g_ema_decay: float = 0.999
    """Decay of the model's own EMA of G's weights, used for sampling (paper: 0.999; 0
    makes the EMA a copy of G). Leave --train.ema-decay at 0: the model keeps this one."""

    def __post_init__(self) -> None:
        for name in ("latent_dim", "channel_base", "max_channels", "n_critic"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(name, f"must be a positive integer, got {value!r}")
        for name in ("fade_images", "stable_images", "mbstd_group_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(name, f"must be a positive integer, got {value!r}")
        for name in ("gp_weight", "drift"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ConfigError(name, f"must be a finite number >= 0, got {value!r}")
        for name in ("lr_g", "lr_d"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ConfigError(name, f"must be positive (or unset), got {value!r}")
        if len(self.betas) != 2 or not all(0.0 <= float(b) < 1.0 for b in self.betas):
            raise ConfigError("betas", f"must be two numbers in [0, 1), got {self.betas!r}")
        if not 0.0 <= self.g_ema_decay < 1.0:
            raise ConfigError("g_ema_decay", f"must be in [0, 1), got {self.g_ema_decay!r}")

    def channels(self, resolution: int) -> int:
        """Feature maps of the level at ``resolution`` (its side in pixels)."""
        return max(1, min(self.channel_base // resolution, self.max_channels))


@dataclass
class GrowthOptions:
    n: int = 8
    """Codes shown (one per column)."""


GROWTH = View(
    "growth",
    "A progressive GAN's growth: the same prior codes at every level (4x4 first, one row "
    "per level, each enlarged to the final size).",
    GrowthOptions,
    "genzoo.viz.growth:growth_view",
    report=(
        ReportFigure(
            "growth",
            "the same 8 prior codes at every level trained, 4x4 (top) to the final size",
        ),
    ),
)

DECLARES = Declarations(views=(GROWTH,), sample_options=(TRUNCATION,))
"""What the progressive GAN shows above the models: its growth view and the truncation of
its sampler."""
