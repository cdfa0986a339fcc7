"""Configs of the energy-based family: restricted and deep Boltzmann machines.

Torch-free (like :mod:`genzoo.config`), so that ``genzoo train rbm --help`` answers at once.
Every class validates itself in ``__post_init__`` and raises
:class:`genzoo.errors.ConfigError` naming the field; the field docstrings become ``--help``.
"""

from __future__ import annotations

from dataclasses import dataclass

from genzoo.declare import Declarations, Option, ReportFigure, Term, View
from genzoo.errors import ConfigError


def _positive(config: object, *names: str) -> None:
    for name in names:
        value = getattr(config, name)
        if value <= 0:
            raise ConfigError(name, f"must be positive, got {value}")


def _non_negative(config: object, *names: str) -> None:
    for name in names:
        value = getattr(config, name)
        if value < 0:
            raise ConfigError(name, f"must be >= 0, got {value}")


def _check_common(config: RBMConfig | DBMConfig) -> None:
    """The settings both machines share: SGD, initial weights, sampling."""
    _positive(config, "num_chains", "gibbs_steps", "init_std")
    _non_negative(config, "weight_decay")
    if not 0.0 < config.centering_rate <= 1.0:
        raise ConfigError("centering_rate", f"must be in (0, 1], got {config.centering_rate}")
    if config.lr is not None and config.lr <= 0:
        raise ConfigError("lr", f"must be positive (or None for --train.lr), got {config.lr}")
    if not 0.0 <= config.momentum < 1.0:
        raise ConfigError("momentum", f"must be in [0, 1), got {config.momentum}")


def parse_hidden(value: object) -> tuple[int, ...]:
    """``"500,1000"``, ``"500 1000"``, ``[500, 1000]`` or ``(500, 1000)`` -> ``(500, 1000)``.

    Raises:
        ConfigError: on anything else, or on a size that is not a positive integer.
    """
    if isinstance(value, str):
        parts = [p for p in value.replace(",", " ").split() if p]
    elif isinstance(value, list | tuple):
        parts = list(value)
    else:
        parts = [value]
    try:
        sizes = tuple(int(p) for p in parts)
        if any(float(p) != int(p) for p in parts if not isinstance(p, str)):
            raise ValueError
    except (TypeError, ValueError):
        raise ConfigError(
            "hidden", f"must be layer sizes such as 500,1000, got {value!r}"
        ) from None
    if not sizes or any(s <= 0 for s in sizes):
        raise ConfigError("hidden", f"must be positive layer sizes, got {value!r}")
    return sizes


@dataclass(frozen=True)
class RBMConfig:
    """Restricted Boltzmann machine with binary visible and hidden units (Smolensky 1986;
    Hinton 2002), trained by contrastive divergence CD-k (Hinton 2002) or persistent CD
    (Tieleman 2008) with SGD, momentum and L2 weight decay (Hinton 2010, "A practical guide
    to training RBMs"), optionally centred (Montavon and Mueller 2012). log Z is exact when a
    layer has at most 20 units, else estimated by AIS (Salakhutdinov and Murray 2008)."""

    hidden: int = 500
    """Hidden units (Salakhutdinov and Murray 2008: 20, 25 or 500 on MNIST)."""
    cd_k: int = 1
    """Gibbs steps of each negative phase: CD-k from the data, or k steps of the persistent
    chains with --model.persistent (Salakhutdinov and Murray 2008: CD-1, 3 and 25)."""
    persistent: bool = False
    """Persistent contrastive divergence (Tieleman 2008): the negative phase continues a
    fixed set of Markov chains across updates instead of restarting at the data."""
    num_chains: int = 100
    """Persistent chains ("fantasy particles") of PCD; kept in the checkpoint."""
    lr: float | None = None
    """SGD learning rate (None: --train.lr). The recipes use 0.05 with batches of 100."""
    momentum: float = 0.9
    """SGD momentum (Hinton's guide: 0.5 early, then 0.9; one value here)."""
    weight_decay: float = 1e-4
    """L2 weight decay on the weights, not the biases (Hinton's guide: 1e-4 to 1e-2)."""
    centering: bool = False
    """Centre the units: energy -(v - mu)^T W (h - lambda) - b^T v - c^T h with offsets
    mu, lambda tracking the data means (Montavon and Mueller 2012); the distribution
    family is unchanged, the gradient better conditioned."""
    centering_rate: float = 0.01
    """Moving-average rate of the centring offsets per update (with --model.centering)."""
    init_std: float = 0.01
    """Standard deviation of the initial weights, N(0, init_std^2) (Hinton's guide: 0.01)."""
    gibbs_steps: int = 1000
    """Default Gibbs steps of ``sample`` from random starts (``--gibbs-steps`` overrides)."""

    def __post_init__(self) -> None:
        _positive(self, "hidden", "cd_k")
        _check_common(self)


@dataclass(frozen=True)
class DBMConfig:
    """Deep Boltzmann machine with 2 or 3 binary hidden layers (Salakhutdinov and Hinton
    2009): greedy layer-wise pre-training of RBMs with doubled weights, then joint training
    with a mean-field posterior for the data term and persistent Gibbs chains for the model
    term, all inside the one training loop. The phases are counted in loop steps: layer k
    (1-based) pre-trains during steps [(k-1) P, k P) with P = pretrain_steps, and joint
    training takes the remaining --train.steps."""

    hidden: tuple[int, ...] | str = (500, 1000)
    """Units of the hidden layers, bottom first: 2 or 3 sizes, e.g. 500,1000 (the paper's
    MNIST model is 500-1000)."""
    pretrain_steps: int = 2000
    """Loop steps of greedy pre-training per hidden layer (0: no pre-training)."""
    pretrain_cd_k: int = 1
    """Gibbs steps of CD-k in pre-training."""
    num_chains: int = 100
    """Persistent chains of the model term in joint training (the paper: 100)."""
    chain_steps: int = 5
    """Gibbs sweeps (odd layers, then even) of the persistent chains per update (the
    recipe's 5; with the lr decay, 1 gave a figure within run-to-run noise in 30% less
    time: benchmarks/RESULTS.md)."""
    mean_field_steps: int = 10
    """Mean-field updates (odd layers, then even) of the data posterior, in training and
    in the likelihood bound."""
    centering: bool = False
    """Centre every layer in joint training: energy -sum_k b_k^T h_k - sum_j (h_j -
    o_j)^T W_j (h_{j+1} - o_{j+1}), offsets o set to the data means (the visible mean and
    the mean-field means) at the first joint step and then moving averages of them
    (Montavon and Mueller 2012); the offsets are 0 during pre-training."""
    centering_rate: float = 0.01
    """Moving-average rate of the centring offsets per joint update."""
    lr: float | None = None
    """SGD learning rate of joint training (None: --train.lr, 0.001 for the DBM). Joint
    training with persistent chains diverged at 0.02, and at 0.005 without decay
    (benchmarks/RESULTS.md); the recipe uses 0.001 with batches of 100, decaying."""
    lr_decay: bool = True
    """Decrease the joint-training learning rate linearly from lr to 0 over the joint steps
    up to --train.steps (the paper: "gradually decreased to 0"); a resume with more
    --train.steps stretches the rest of the schedule."""
    pretrain_lr: float | None = 0.05
    """SGD learning rate of greedy pre-training (None: the same as lr; the recipe: 0.05)."""
    momentum: float = 0.9
    """SGD momentum."""
    weight_decay: float = 1e-4
    """L2 weight decay on the weights, not the biases."""
    init_std: float = 0.01
    """Standard deviation of the initial weights."""
    gibbs_steps: int = 1000
    """Default Gibbs sweeps of ``sample`` from random starts (``--gibbs-steps`` overrides)."""

    def __post_init__(self) -> None:
        hidden = parse_hidden(self.hidden)
        if len(hidden) not in (2, 3):
            raise ConfigError("hidden", f"must give 2 or 3 layer sizes, got {len(hidden)}")
        object.__setattr__(self, "hidden", hidden)
        _positive(self, "pretrain_cd_k", "chain_steps", "mean_field_steps")
        _non_negative(self, "pretrain_steps")
        if self.pretrain_lr is not None and self.pretrain_lr <= 0:
            raise ConfigError("pretrain_lr", f"must be positive (or None), got {self.pretrain_lr}")
        _check_common(self)


# -- what the Boltzmann machines show above the models ----------------------------------------


@dataclass
class ChainOptions:
    chains: int = 8
    """Chains run side by side."""
    steps: int = 1000
    """Block Gibbs sweeps in all."""
    every: int = 100
    """Sweeps between the rows shown."""


@dataclass
class FiltersOptions:
    n: int = 100
    """Filters shown."""


CHAIN = View(
    "chain",
    "Gibbs chains of a Boltzmann machine from random starts, over time (one row per time, "
    "one column per chain): how samples emerge from noise.",
    ChainOptions,
    "genzoo.viz.boltzmann:chain_view",
    report=(
        ReportFigure(
            "Gibbs chains over time",
            "8 chains from random starts (columns); rows: sweeps 0, 100, ..., 1000",
        ),
    ),
)

FILTERS = View(
    "filters",
    "A Boltzmann machine's first-layer weights as images (mid-grey 0, white excitatory, "
    "black inhibitory), the most formed first.",
    FiltersOptions,
    "genzoo.viz.boltzmann:filters_view",
    report=(
        ReportFigure(
            "first-layer filters",
            "weights from the pixels to the 50 hidden units with the largest weight vectors "
            "(mid-grey 0, white excitatory, black inhibitory)",
            {"n": 50},
        ),
    ),
)

DECLARES = Declarations(
    views=(CHAIN, FILTERS),
    sample_options=(
        Option(
            "gibbs_steps",
            int,
            "Boltzmann machines: Gibbs steps from a random start (default: the model's own).",
        ),
    ),
    estimator_options=(
        Option(
            "ais_runs",
            int,
            "Boltzmann machines: AIS runs of the log Z estimate (its spread is over runs).",
            default=100,
            minimum=1,
        ),
        Option(
            "ais_betas",
            int,
            "Boltzmann machines: intermediate distributions of AIS (Salakhutdinov and Murray "
            "2008: 14500).",
            default=14500,
            minimum=2,
        ),
    ),
)

_AIS_NOTE = (
    "Boltzmann machines: log Z by AIS, {ais_runs} runs x {ais_betas} betas, which tends to "
    "underestimate log Z and so the NLL."
)

RBM_TERMS = (
    Term("nll_exact", "exact log Z", "exact"),
    Term("nll_ais", "AIS log Z estimate", "estimate", _AIS_NOTE, spread="log_z_std"),
)
"""The RBM's likelihood terms: log Z enumerated (a small layer) or estimated by AIS."""

DBM_TERMS = (
    Term("nll_bound_exact", "mean-field bound", "bound"),
    Term("nll_bound_ais", "mean-field bound, AIS log Z", "estimate", _AIS_NOTE, "log_z_std"),
)
"""The DBM's likelihood terms: the mean-field bound with log Z enumerated or by AIS."""
