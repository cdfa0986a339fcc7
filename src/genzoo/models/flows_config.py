"""The configs of the normalising flows (NICE, RealNVP, Glow) and what they declare for
the upper floors: the temperature option of ``sample``, the dequantisation draws of the
bound ``genzoo eval`` reports, the temperature-grid view.

Torch-free (``genzoo --help`` reads it); the models are in :mod:`genzoo.models.flows`, the
layers in :mod:`genzoo.models.flow_layers`.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Any, Literal

from genzoo.config import check_choice, check_positive
from genzoo.declare import Declarations, Option, ReportFigure, Term, View
from genzoo.errors import ConfigError

CouplingKind = Literal["affine", "additive"]


def _check_alpha(config: Any) -> None:
    alpha = config.logit_alpha
    if not 0.0 <= alpha < 0.5:
        raise ConfigError(
            "logit_alpha",
            f"must be in [0, 0.5) (0: no logit, the data centred to [-0.5, 0.5); RealNVP: "
            f"0.05), got {alpha}",
        )


@dataclass(frozen=True)
class NICEConfig:
    """NICE (Dinh, Krueger & Bengio 2015): additive couplings of MLPs over the flattened
    image, odd and even sub-pixels in turn, then a diagonal scaling; the input is first
    normalised per sub-pixel (an actnorm initialised from the first training batch).
    Paper (MNIST): 4 couplings, 5 ReLU layers of 1000 units, logistic prior; genzoo's
    prior is N(0, I), so that the latent views see codes like every other latent
    model's."""

    couplings: int = 4
    """Additive coupling layers (the paper: 4), alternating which half they change."""
    hidden: int = 1000
    """Units of each hidden layer of the coupling MLPs (the paper: 1000)."""
    hidden_layers: int = 5
    """Hidden ReLU layers of each coupling MLP (the paper: 5)."""
    logit_alpha: float = 0.0
    """Preprocessing of the dequantised data y in [0, 1): 0 centres it (y - 1/2, as NICE
    rescales); alpha > 0 maps it through logit(alpha + (1 - 2 alpha) y) (RealNVP)."""

    def __post_init__(self) -> None:
        check_positive(self, "couplings", "hidden", "hidden_layers")
        _check_alpha(self)


@dataclass(frozen=True)
class RealNVPConfig:
    """RealNVP (Dinh, Sohl-Dickstein & Bengio 2017): affine couplings of convolutional
    nets with checkerboard and channel masks, squeezes and a multi-scale architecture
    that factors out half of the channels at each scale. Each scale but the last:
    ``couplings`` checkerboard couplings, a squeeze, ``couplings`` channel couplings,
    half the channels out; the last scale: ``couplings + 1`` checkerboard couplings (the
    paper: 3, 3, then 4)."""

    scales: int = 3
    """Scales of the multi-scale architecture; the image sides must be divisible by
    2^(scales - 1) (28 -> 14 -> 7 with 3 scales)."""
    couplings: int = 3
    """Coupling layers per mask type and scale (the paper: 3)."""
    hidden: int = 32
    """Channels of the coupling networks (the paper: 64 with residual blocks)."""
    actnorm: bool = True
    """An actnorm layer after each coupling (Glow's data-initialised affine layer, in place
    of the paper's batch normalisation, whose running statistics make sampling differ
    from training)."""
    logit_alpha: float = 0.05
    """Preprocessing of the dequantised data y in [0, 1): logit(alpha + (1 - 2 alpha) y),
    the paper's alpha 0.05; 0 centres it to [-0.5, 0.5) instead."""

    def __post_init__(self) -> None:
        check_positive(self, "scales", "couplings", "hidden")
        _check_alpha(self)


@dataclass(frozen=True)
class GlowConfig:
    """Glow (Kingma & Dhariwal 2018): ``levels`` levels of a squeeze and ``steps`` steps of
    flow (actnorm, invertible 1x1 convolution, coupling), half the channels factored out
    between levels under a learned prior conditioned on the other half; a learned top
    prior; class-conditional priors when ``conditional``. The paper: 3 levels of 32 steps,
    512 hidden channels."""

    levels: int = 2
    """Levels, each starting with a squeeze: the image sides must be divisible by
    2^levels (28 -> 14 -> 7 with 2)."""
    steps: int = 8
    """Steps of flow per level (the paper: 32)."""
    hidden: int = 64
    """Channels of the coupling networks (the paper: 512)."""
    coupling: CouplingKind = "affine"
    """affine (scale sigmoid(h + 2), as the paper's code) or additive (volume preserving)."""
    learn_top: bool = True
    """Learn the top prior's mean and scale per channel (the paper's learntop)."""
    conditional: bool = False
    """Class-conditional priors: the top prior's and every factored-out prior's mean and
    scale depend on the label (the paper's y-conditioning, without its classifier loss)."""
    logit_alpha: float = 0.0
    """Preprocessing of the dequantised data y in [0, 1): 0 centres it (y - 1/2, the
    paper's choice); alpha > 0 uses logit(alpha + (1 - 2 alpha) y)."""

    def __post_init__(self) -> None:
        check_positive(self, "levels", "steps", "hidden")
        check_choice(self, "coupling", typing.get_args(CouplingKind))
        _check_alpha(self)


@dataclass
class TemperatureOptions:
    temperatures: str = "0,0.5,0.7,0.85,1"
    """Temperatures of the rows, comma-separated (0 decodes the prior's mode)."""
    n: int = 8
    """Samples per row (the same noise down each column)."""
    label: int | None = None
    """Class label for a conditional model."""


TEMPERATURE = View(
    "temperature",
    "Samples at several temperatures T (one row each, z ~ N(0, T^2 I)); the same noise "
    "down each column (Kingma & Dhariwal 2018, figure 8).",
    TemperatureOptions,
    "genzoo.models.flows:temperature_view",
    needs=("has_latent",),
    report=(
        ReportFigure(
            "temperature grid",
            "rows: T = 0, 0.5, 0.7, 0.85, 1; the same noise down each column",
            lambda m: {"label": 0 if m.conditional else None},
        ),
    ),
)

DECLARES = Declarations(
    views=(TEMPERATURE,),
    sample_options=(
        Option(
            "temperature",
            float,
            "Flows: draw z ~ N(0, T^2 I) (Glow's reduced temperature; default 1, the model's "
            "own distribution; about 0.7 gives smoother images).",
            minimum=0.0,
        ),
    ),
    estimator_options=(
        Option(
            "dequant_k",
            int,
            "Uniform dequantisation draws per image of the flows' bound on log P(x): "
            "log mean_k p(x + u_k) (k = 1: the plain bound; larger k is tighter).",
            default=1,
            minimum=1,
        ),
    ),
)
"""What every flow shows above the models (the latent views are the shared ones)."""

TERMS = (
    Term(
        "nll_deq{dequant_k}",
        "dequantised bound (k={dequant_k})",
        "bound",
        "Flows: uniform dequantisation, -log mean over {dequant_k} draws u of p((x + u) / "
        "256) / 256^D, an upper bound on the discrete NLL in expectation (Theis et al. "
        "2016), so its bits/dim compare with the exact figures of autoregressive models.",
    ),
)
"""The flows' one likelihood term (``nll_terms`` key, with the estimator option filled in)."""
