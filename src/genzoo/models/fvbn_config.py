"""What the fully visible belief nets (FVSBN, NADE, MADE) share in their configs: the
ordering of the sub-pixels, the pool of orderings or masks trained over, and the test-time
ensemble; and what they declare for the upper floors (nothing of their own: the shared
sample grid and completions apply, and their one likelihood term is the exact ``nll``).

Torch-free (``genzoo --help`` reads it); the models are in :mod:`genzoo.models.fvbn`.
"""

from __future__ import annotations

from typing import Any

from genzoo.config import check_choice
from genzoo.declare import Declarations
from genzoo.errors import ConfigError

ORDERINGS = ("raster", "random", "agnostic")
"""raster: rows, then columns, then channels (the PixelCNN order); random: one fixed random
permutation of the sub-pixels (from ``seed``); agnostic: every ordering of the pool is its
own random permutation, one per training step in turn (order-agnostic training)."""

LIKELIHOODS = ("categorical", "logistic")
"""The conditional of an 8-bit sub-pixel (NADE, MADE): a 256-way softmax (256 outputs per
sub-pixel, as PixelRNN) or a discretised logistic (2 outputs, a location and a log-scale:
PixelCNN++'s law with one component), which makes the output layer 128x smaller. Binary
data always uses a Bernoulli."""

DECLARES = Declarations()
"""No views or options of their own: ``genzoo sample`` and the completion view apply as to
every sampler that can complete, and ``genzoo eval`` reports the exact ``nll``."""


def check_pool(config: Any, pool: str, *, fixed_hint: str) -> None:
    """Check ``ordering``, the pool size field ``pool`` and ``ensemble``; one line each.

    Args:
        config: a FVSBN, NADE or MADE config.
        pool: the name of its pool-size field (``num_orderings`` or ``num_masks``).
        fixed_hint: what a pool of one holds ("ordering" or "mask"), for the message.
    """
    check_choice(config, "ordering", ORDERINGS)
    size = getattr(config, pool)
    if not isinstance(size, int) or size < 1:
        raise ConfigError(
            pool, f"must be a whole number >= 1 (1: one fixed {fixed_hint}), got {size!r}"
        )
    if not isinstance(config.ensemble, int) or not 1 <= config.ensemble <= size:
        raise ConfigError(
            "ensemble",
            f"must be between 1 and {pool}={size} (the test-time ensemble draws from the "
            f"trained pool), got {config.ensemble!r}: lower --model.ensemble or raise "
            f"--model.{pool.replace('_', '-')}",
        )
    if not isinstance(config.seed, int) or config.seed < 0:
        raise ConfigError("seed", f"must be a whole number >= 0, got {config.seed!r}")
