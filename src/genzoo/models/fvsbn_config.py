"""The FVSBN config (Frey 1998: a logistic regression per pixel on every earlier pixel),
validated when built.

Torch-free (``genzoo --help`` reads it); the model is in :mod:`genzoo.models.fvsbn`.
"""

from __future__ import annotations

from dataclasses import dataclass

from genzoo.errors import ConfigError
from genzoo.models.fvbn_config import check_pool


@dataclass(frozen=True)
class FVSBNConfig:
    """FVSBN: p(x_d = 1 | x_<d) = sigm(b_d + sum_{j<d} W_dj x_j), binary data only (the
    linear baseline of the fully visible belief nets)."""

    ordering: str = "raster"
    """Pixel ordering: raster, random (one fixed permutation) or agnostic (one shared W
    trained over num_orderings random orderings, one per step in turn)."""
    num_orderings: int = 1
    """Orderings of the training pool (agnostic ordering only; 1 otherwise)."""
    ensemble: int = 1
    """Orderings whose probabilities are averaged at test time (the first of the pool)."""
    seed: int = 0
    """Seed of the random orderings (part of the model: kept in its config)."""
    conditional: bool = False
    """Condition on the class label (a per-class bias of every pixel's logit)."""

    def __post_init__(self) -> None:
        check_pool(self, "num_orderings", fixed_hint="ordering")
        if self.num_orderings > 1 and self.ordering != "agnostic":
            raise ConfigError(
                "num_orderings",
                f"a pool of {self.num_orderings} orderings needs ordering = 'agnostic' "
                f"(with ordering {self.ordering!r} they are all one): set --model.ordering "
                "agnostic or --model.num-orderings 1",
            )
