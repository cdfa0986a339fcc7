"""The MADE config (Germain, Gregor, Murray & Larochelle 2015), validated when built.

Torch-free (``genzoo --help`` reads it); the model is in :mod:`genzoo.models.made`.
"""

from __future__ import annotations

from dataclasses import dataclass

from genzoo.config import check_choice
from genzoo.models.boltzmann_config import parse_hidden
from genzoo.models.fvbn_config import LIKELIHOODS, check_pool


@dataclass(frozen=True)
class MADEConfig:
    """MADE: a masked MLP (ReLU hidden layers) whose outputs are the conditionals p(x_d |
    x_<d) in one forward pass; connectivity-agnostic training cycles through num_masks
    masks (each with its own hidden connectivity, and its own ordering when the ordering
    is agnostic), and the test-time ensemble averages the probabilities of the first
    ``ensemble`` masks."""

    hidden: tuple[int, ...] | str = (500,)
    """Units of the hidden layers, e.g. 500 or 500,500 (the paper's best MNIST model:
    two layers of 500, 32 masks)."""
    ordering: str = "raster"
    """Input ordering: raster, random (one fixed permutation) or agnostic (each mask draws
    its own random ordering: order-agnostic training)."""
    num_masks: int = 1
    """Masks of the training pool, one per step in turn (1: one fixed mask; the paper
    used up to 32)."""
    ensemble: int = 1
    """Masks whose probabilities are averaged at test time (the first of the pool):
    log p(x) = logsumexp_k log p_k(x) - log K, never a mean of logits."""
    likelihood: str = "categorical"
    """8-bit data: each sub-pixel's conditional, categorical (a 256-way softmax) or
    logistic (a discretised logistic: 2 outputs per sub-pixel instead of 256). Binary
    data: a Bernoulli (any other choice is refused)."""
    seed: int = 0
    """Seed of the masks' connectivity and random orderings (kept in the config)."""
    conditional: bool = False
    """Condition on the class label (per-class biases of every hidden and output layer)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", parse_hidden(self.hidden))
        check_pool(self, "num_masks", fixed_hint="mask")
        check_choice(self, "likelihood", LIKELIHOODS)
