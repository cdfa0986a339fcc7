"""The GAN config: losses, networks, penalties and optimizers, validated when built.

Torch-free (``genzoo --help`` reads it without importing torch); the model is in
:mod:`genzoo.models.gan`.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Literal

from genzoo.config import check_choice, check_non_negative, check_positive
from genzoo.declare import Declarations, Option
from genzoo.errors import ConfigError

LossName = Literal["minimax", "non-saturating", "wgan", "wgan-gp", "lsgan", "hinge"]
LOSSES: tuple[str, ...] = typing.get_args(LossName)
"""The adversarial losses (:mod:`genzoo.losses.gan` implements each)."""
Architecture = Literal["auto", "dcgan", "mlp"]
Conditioning = Literal["projection", "concat"]
DNorm = Literal["auto", "batch", "layer", "none"]


@dataclass(frozen=True)
class GANConfig:
    """Generative adversarial network (Goodfellow et al. 2014): a generator G(z), z ~ N(0, I),
    against a discriminator D, each with its own Adam optimizer, D updated every step and G
    every n_critic-th step. DCGAN networks (Radford, Metz, Chintala 2016) for images, MLPs for
    2-D toy data; the losses are those of genzoo.losses.gan."""

    loss: LossName = "non-saturating"
    """minimax (the saturating game of Goodfellow et al.), non-saturating (G maximises
    log D(G(z))), wgan (weight clipping, Arjovsky et al. 2017), wgan-gp (gradient penalty,
    Gulrajani et al. 2017), lsgan (least squares, Mao et al. 2017) or hinge."""
    n_critic: int = 1
    """D (critic) updates per G update: G steps on every n_critic-th training step, so
    --train.steps counts D updates (WGAN and WGAN-GP papers: 5)."""
    latent_dim: int = 100
    """Units of z ~ N(0, I) (DCGAN: 100)."""
    architecture: Architecture = "auto"
    """Networks: dcgan (strided convolutions, batch norm in G) or mlp (fully connected);
    auto picks mlp for 2-D points and dcgan for images."""
    width: int = 64
    """DCGAN: channels of G's last and D's first convolution, doubled at each other
    resolution (DCGAN's 64x64 net: 128). MLP: units of each hidden layer."""
    hidden_layers: int = 3
    """Hidden layers of each MLP (Gulrajani et al.'s toy nets: 3); unused by dcgan."""
    conditional: bool = False
    """Condition G and D on the class label (Mirza and Osindero 2014): a one-hot label
    concatenated to z in G; in D see conditioning."""
    conditioning: Conditioning = "projection"
    """How a conditional D reads the label: projection (an inner product of a class
    embedding with D's features, Miyato and Koyama 2018) or concat (one-hot label maps
    concatenated to D's input, Mirza and Osindero 2014)."""
    spectral_norm: bool = False
    """Spectral normalisation of every D layer (Miyato et al. 2018)."""
    r1: float = 0.0
    """Weight gamma of the R1 penalty gamma/2 E||grad_x D(x)||^2 on real data (Mescheder
    et al. 2018; 0 disables; their image experiments: 10)."""
    gp_weight: float = 10.0
    """lambda of WGAN-GP's gradient penalty (paper: 10)."""
    clip_value: float = 0.01
    """c of WGAN's weight clipping to [-c, c] (paper: 0.01); used by loss wgan only."""
    d_norm: DNorm = "auto"
    """Normalisation between D's convolutions: batch (DCGAN), layer (over C, H, W; what
    WGAN-GP uses, since a penalty per sample needs a critic without batch coupling) or
    none; auto: none with spectral_norm or mlp, layer with wgan-gp or r1, else batch."""
    lr_g: float | None = None
    """Adam learning rate of G (None: --train.lr; DCGAN: 2e-4)."""
    lr_d: float | None = None
    """Adam learning rate of D (None: --train.lr; DCGAN: 2e-4)."""
    betas: tuple[float, float] = (0.5, 0.999)
    """Adam's (beta1, beta2) for both players (DCGAN: 0.5, 0.999; WGAN-GP: 0.0, 0.9)."""
    reuse_fakes: bool = True
    """G's step reuses the samples of the D step just before it and the G forward pass that
    made them, as DCGAN's reference code does (dcgan.torch, pytorch/examples): one G
    forward per step instead of two. False draws fresh codes for G's step (Goodfellow et
    al.'s Algorithm 1), as distributed (DDP) runs always do."""

    def __post_init__(self) -> None:
        check_choice(self, "loss", LOSSES)
        check_positive(self, "n_critic", "latent_dim", "width")
        check_non_negative(self, "hidden_layers", "r1", "gp_weight", "clip_value")
        for name in ("lr_g", "lr_d"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigError(name, f"must be positive (or None: the training lr), got {value}")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ConfigError("betas", f"must be two numbers in [0, 1), got {self.betas}")
        check_choice(self, "architecture", typing.get_args(Architecture))
        check_choice(self, "conditioning", typing.get_args(Conditioning))
        check_choice(self, "d_norm", typing.get_args(DNorm))


TRUNCATION = Option(
    "truncation",
    float,
    "GANs: redraw every latent entry with |z| above this (the truncation trick, Brock et "
    "al. 2019): smaller values give more typical, less varied samples.",
)

DECLARES = Declarations(sample_options=(TRUNCATION,))
"""What the GAN shows above the models: the truncation of its sampler (its latent views
are the shared ones, :mod:`genzoo.models.shared_views`)."""
