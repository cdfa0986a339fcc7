"""The VAE config: networks, decoder, objective and sizes, validated when built.

Torch-free (``genzoo --help`` reads it without importing torch); the model is in
:mod:`genzoo.models.vae`.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Literal

from genzoo.config import check_choice, check_non_negative, check_positive
from genzoo.declare import Declarations, Option, Term
from genzoo.errors import ConfigError

Architecture = Literal["mlp", "conv"]
DecoderName = Literal["auto", "bernoulli", "logistic", "categorical", "gaussian"]
Objective = Literal["elbo", "iwae"]


@dataclass(frozen=True)
class VAEConfig:
    """Variational autoencoder (Kingma & Welling 2014) with the IWAE bound (Burda, Grosse,
    Salakhutdinov 2016), beta-VAE (Higgins et al. 2017) and a class-conditional variant
    (Sohn et al. 2015): Gaussian encoder q(z|x), standard normal prior, decoder p(x|z)."""

    latent_dim: int = 32
    """Units of the latent z (the top layer with two stochastic layers; IWAE paper: 50)."""
    architecture: Architecture = "mlp"
    """Encoder/decoder networks: mlp (tanh layers, as in the IWAE paper) or conv
    (stride-2 ReLU convolutions, mirrored by upsampling ones)."""
    hidden: int = 200
    """Units of each MLP hidden layer (IWAE paper: 200), or base channels of the conv nets."""
    hidden_layers: int = 2
    """Deterministic hidden layers of each MLP (IWAE paper: 2); the conv nets have 2."""
    decoder: DecoderName = "auto"
    """p(x|z): bernoulli (binary data); for 8-bit data logistic (discretised logistic),
    categorical (256-way softmax) or gaussian (on uniformly dequantised data: a bound on the
    discrete likelihood); auto picks bernoulli or logistic."""
    objective: Objective = "elbo"
    """Training objective: elbo (the VAE; with --model.k > 1 the mean of k ELBO estimates)
    or iwae (the k-sample importance-weighted bound)."""
    k: int = 1
    """Samples of z per example in training (IWAE paper: 1, 5 or 50)."""
    beta: float = 1.0
    """Weight of the KL term (beta-VAE; 1 is the VAE). Only with --model.objective elbo."""
    stochastic_layers: int = 1
    """1, or 2 for x <- z1 <- z2 as in the IWAE paper's second architecture."""
    lower_latent_dim: int = 100
    """Units of the lower stochastic layer z1 when stochastic_layers is 2 (IWAE paper: 100)."""
    conditional: bool = False
    """Condition encoder and decoder on the class label (conditional VAE); the prior stays
    N(0, I)."""

    def __post_init__(self) -> None:
        check_positive(self, "latent_dim", "hidden", "k", "lower_latent_dim")
        check_non_negative(self, "hidden_layers", "beta")
        check_choice(self, "architecture", typing.get_args(Architecture))
        check_choice(self, "decoder", typing.get_args(DecoderName))
        check_choice(self, "objective", typing.get_args(Objective))
        check_choice(self, "stochastic_layers", (1, 2))
        if self.objective == "iwae" and self.beta != 1.0:
            raise ConfigError(
                "beta",
                f"weights the ELBO's KL term: use it with objective elbo (got beta {self.beta} "
                "with objective iwae)",
            )


DECLARES = Declarations(
    estimator_options=(
        Option(
            "iwae_k",
            int,
            "Importance samples of the IWAE bound, for models whose likelihood is bounded "
            "(VAE); the IWAE paper used 5000. Ignored by models with an exact likelihood.",
            default=1000,
            minimum=1,
        ),
        Option(
            "ais_steps",
            int,
            "Also an annealed importance sampling estimate with this many annealing steps "
            "(VAE with one stochastic layer; Wu et al. 2017 used 1000-10000); 0: none. Slow: "
            "each step costs about 11 decoder passes with gradients per chain.",
            default=0,
            minimum=0,
        ),
        Option("ais_chains", int, "AIS chains per example (VAE).", default=16, minimum=1),
    ),
)
"""What the VAE shows above the models: the options of its bounds (its views are the
shared latent ones, :mod:`genzoo.models.shared_views`)."""

TERMS = (
    Term("nll_elbo", "ELBO bound", "bound"),
    Term(
        "nll_iwae{iwae_k}",
        "IWAE-{iwae_k} bound",
        "bound",
        "VAE: the tightest of the ELBO and the IWAE-{iwae_k} bound (Burda et al. 2016) is shown.",
    ),
    Term(
        "nll_ais{ais_steps}",
        "AIS-{ais_steps} estimate",
        "bound",
        "VAE, AIS-{ais_steps}: annealed importance sampling of p(x), {ais_chains} chains per "
        "example (Wu et al. 2017), an upper bound on the NLL in expectation.",
    ),
)
"""The VAE's likelihood terms (``nll_terms`` keys, with the estimator options filled in)."""
