"""The NADE config (Larochelle & Murray 2011; order-agnostic training: Uria, Murray &
Larochelle 2014), validated when built.

Torch-free (``genzoo --help`` reads it); the model is in :mod:`genzoo.models.nade`.
"""

from __future__ import annotations

from dataclasses import dataclass

from genzoo.config import check_choice, check_positive
from genzoo.errors import ConfigError
from genzoo.models.fvbn_config import LIKELIHOODS, check_pool


@dataclass(frozen=True)
class NADEConfig:
    """NADE: one sigmoid hidden layer shared by every conditional, h_d = sigm(c + W x_<d),
    p(x_d | x_<d) from b_d + V_d h_d (a Bernoulli for binary data, a 256-way softmax for
    8-bit data), computed for all d in O(D H) by a running sum."""

    hidden: int = 500
    """Hidden units H (the paper's MNIST model: 500)."""
    ordering: str = "raster"
    """Sub-pixel ordering: raster, random (one fixed permutation) or agnostic (order-agnostic
    training over num_orderings random orderings, one per step in turn; the input then also
    carries which sub-pixels are observed, as in Uria et al. 2014)."""
    num_orderings: int = 1
    """Orderings of the training pool (agnostic ordering only; 1 otherwise)."""
    ensemble: int = 1
    """Orderings whose probabilities are averaged at test time (the first of the pool):
    log p(x) = logsumexp_k log p_k(x) - log K."""
    likelihood: str = "categorical"
    """8-bit data: each sub-pixel's conditional, categorical (a 256-way softmax) or
    logistic (a discretised logistic: 2 outputs per sub-pixel instead of 256). Binary
    data: a Bernoulli (any other choice is refused)."""
    seed: int = 0
    """Seed of the random orderings (part of the model: kept in its config)."""
    conditional: bool = False
    """Condition on the class label (per-class biases of the hidden and output units)."""

    def __post_init__(self) -> None:
        check_positive(self, "hidden")
        check_pool(self, "num_orderings", fixed_hint="ordering")
        check_choice(self, "likelihood", LIKELIHOODS)
        if self.num_orderings > 1 and self.ordering != "agnostic":
            raise ConfigError(
                "num_orderings",
                f"a pool of {self.num_orderings} orderings needs ordering = 'agnostic' "
                f"(with ordering {self.ordering!r} they are all one): set --model.ordering "
                "agnostic or --model.num-orderings 1",
            )
