"""The config of generative stochastic networks (GSN) and of their special case, the
generalised denoising autoencoder (DAE) run as a Markov chain; what the family declares
for the upper floors (its chain view and its sample options).

Torch-free (``genzoo --help`` reads it); the model is in :mod:`genzoo.models.gsn`.
"""

from __future__ import annotations

from dataclasses import dataclass

from genzoo.config import check_choice
from genzoo.declare import Declarations, Option, ReportFigure, View
from genzoo.errors import ConfigError

CORRUPTIONS = ("auto", "salt-pepper", "gaussian")
"""auto: salt-and-pepper for binary data, Gaussian for 8-bit data."""
LIKELIHOODS = ("auto", "bernoulli", "logistic", "categorical")
"""auto: Bernoulli for binary data, the discretised logistic for 8-bit data."""


def _whole(config: object, name: str, least: int, fix: str) -> None:
    value = getattr(config, name)
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConfigError(name, f"must be a whole number >= {least}, got {value!r}; {fix}")


@dataclass(frozen=True)
class GSNConfig:
    """A generative stochastic network (Bengio, Thibodeau-Laufer, Alain & Yosinski 2014)
    with one layer of latent state, trained by walkback; with ``recurrent = false`` and
    ``walkback = 1`` it is the generalised denoising autoencoder of Bengio, Yao, Alain &
    Vincent (2013) and its Markov chain x -> corrupt -> reconstruct -> sample."""

    hidden: int = 1000
    """Units of the latent state h (tanh)."""
    recurrent: bool = True
    """Carry the latent state along the chain, h_t = tanh(W x~_t + U h_{t-1} + b) (the GSN);
    false: h_t reads the corrupted x~_t alone, so the chain over x is the DAE's."""
    walkback: int = 4
    """Steps of the chain run from each training image, each reconstruction scored against
    that image (Bengio et al. 2013, section 3.4; 2014, section 3.4); 1: the plain DAE loss."""
    corruption: str = "auto"
    """The corruption C(x~ | x): salt-pepper (each sub-pixel replaced, with probability
    --model.noise, by a uniform random value) or gaussian (x~ = x + noise * N(0, 1) on the
    [-1, 1] scale); auto: salt-pepper for binary data, gaussian for 8-bit data."""
    noise: float = 0.4
    """Strength of the corruption: the salt-and-pepper probability in (0, 1] (the paper's
    MNIST GSN: 0.4), or the Gaussian's standard deviation on the [-1, 1] scale (> 0)."""
    hidden_noise: float = 0.0
    """Standard deviation of the Gaussian noise added to the latent state before and after
    the tanh (the paper's MNIST GSN: 2); 0: none."""
    likelihood: str = "auto"
    """The reconstruction P(x | h): bernoulli (binary data), logistic (the discretised
    logistic, 8-bit) or categorical (a 256-way softmax per sub-pixel, 8-bit); auto:
    bernoulli or logistic by the data."""
    burn_in: int = 100
    """Default chain steps from a random start before the first sample is kept
    (``--burn-in`` of 'genzoo sample' overrides it)."""
    thin: int = 10
    """Default chain steps between consecutive samples kept from one chain (``--thin``)."""

    def __post_init__(self) -> None:
        _whole(self, "hidden", 1, "the latent state needs units")
        _whole(
            self, "walkback", 1, "1 is the plain denoising loss, more walk further from the data"
        )
        _whole(self, "burn_in", 0, "0 keeps the first reconstruction")
        _whole(self, "thin", 1, "1 keeps every step")
        check_choice(self, "corruption", CORRUPTIONS)
        check_choice(self, "likelihood", LIKELIHOODS)
        noise = self.noise
        if isinstance(noise, bool) or not isinstance(noise, int | float) or not noise > 0:
            raise ConfigError(
                "noise",
                f"must be > 0, got {noise!r}: without corruption the chain cannot move "
                "(salt-pepper: a probability in (0, 1], e.g. 0.4; gaussian: a std, e.g. 0.3)",
            )
        if self.corruption == "salt-pepper" and noise > 1:
            raise ConfigError("noise", f"is a probability for salt-pepper: in (0, 1], got {noise}")
        hn = self.hidden_noise
        if isinstance(hn, bool) or not isinstance(hn, int | float) or not hn >= 0:
            raise ConfigError("hidden_noise", f"must be >= 0 (0: none), got {hn!r}")


# -- what the GSN shows above the models ------------------------------------------------------


@dataclass
class MixingOptions:
    chains: int = 8
    """Chains run side by side (one row each)."""
    steps: int = 100
    """Chain steps in all (corrupt, update the latent state, sample the reconstruction)."""
    every: int = 5
    """Steps between the columns shown."""
    burn_in: int = 0
    """Steps run before the first column (shorter than --steps)."""


MIXING = View(
    "mixing",
    "A GSN's Markov chains from random starts over time (one row per chain, one column "
    "every --every steps after --burn-in): how the chain mixes between kinds of images.",
    MixingOptions,
    "genzoo.viz.gsn:mixing_view",
    report=(
        ReportFigure(
            "Markov chains over time",
            "8 chains from random starts (rows); columns: steps 0, 5, ..., 100 of x -> "
            "corrupt -> latent state -> sample the reconstruction",
        ),
    ),
)

DECLARES = Declarations(
    views=(MIXING,),
    sample_options=(
        Option(
            "burn_in",
            int,
            "GSN: chain steps from a random start before the first sample is kept "
            "(default: the model's own).",
            minimum=0,
        ),
        Option(
            "thin",
            int,
            "GSN: chain steps between consecutive samples of one chain (with --chains).",
            minimum=1,
        ),
        Option(
            "chains",
            int,
            "GSN: run this many chains and take consecutive samples of each, --thin steps "
            "apart (default: one chain per sample).",
            minimum=1,
        ),
    ),
)
"""The GSN's own view (its chains over time) and its sample options; it has no density,
so no estimator options or likelihood terms ('genzoo eval' says so and offers the sample
metrics and the Parzen estimate)."""
