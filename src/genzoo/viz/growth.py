"""The growth view of a progressive GAN: the same latent codes at every level, 4x4 upwards.

For ``genzoo viz growth RUN`` and the report. A model shows its growth when it has
``decode_levels(z, labels) -> list of uint8 (N, C, 4 * 2^l, 4 * 2^l)`` (the progressive
GAN, :mod:`genzoo.models.progan`); this module never imports a model family.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from genzoo.errors import UserInputError
from genzoo.viz.grid import save_grid


def growth(model: Any, z: Tensor, labels: Tensor | None = None) -> list[Tensor]:
    """The images of codes ``z`` at every level trained so far, 4x4 first.

    Each level's image is its own toRGB output at alpha 1 (of the EMA generator), at the
    level's own resolution; the list ends at the level training has reached (the data's
    size once training passed the last fade).

    Args:
        model: a model with ``decode_levels`` (``genzoo.load`` of a progan run).
        z: codes (N, latent_dim), e.g. ``model.latents(8, generator=g)``.
        labels: class labels for a conditional model (None otherwise).

    Returns:
        A list of uint8 tensors (N, C, 4 * 2^l, 4 * 2^l), l = 0, 1, ...

    Raises:
        UserInputError: when the model is not grown level by level (no ``decode_levels``).
    """
    if not callable(getattr(model, "decode_levels", None)):
        raise UserInputError(
            f"{model.name} is not grown level by level; the growth view needs a progressive "
            "model (genzoo train progan)"
        )
    return list(model.decode_levels(z, labels))


def growth_rows(levels: list[Tensor]) -> Tensor:
    """Stack the levels of :func:`growth` for one grid: each level up-sampled (nearest) to
    the largest size, level by level: uint8 (L * N, C, S, S), row l holding level l."""
    if not levels:
        raise UserInputError("no levels to show")
    side = max(int(x.shape[-1]) for x in levels)
    rows = [x.repeat_interleave(side // x.shape[-1], -1).repeat_interleave(side // x.shape[-2], -2)
            for x in levels]  # fmt: skip
    return torch.cat(rows)  # (L * N, C, S, S)


def growth_view(model: Any, run: Any, options: Any, seed: int) -> tuple[Tensor, int]:
    """The ``growth`` view (:data:`genzoo.models.progan_config.GROWTH`): the same
    ``options.n`` prior codes at every level, one row per level (4x4 first), each
    up-sampled to the final size."""
    n = options.n
    if n < 1:
        raise UserInputError(f"-n must be >= 1, got {n}")
    z = model.latents(n, generator=torch.Generator(model.device).manual_seed(seed))
    return growth_rows(growth(model, z)).cpu(), n


def save_growth(
    model: Any, z: Tensor, path: str | Path, labels: Tensor | None = None
) -> list[Tensor]:
    """Write the growth of codes ``z`` as a PNG grid (one row per level, one column per
    code); returns the levels of :func:`growth`."""
    levels = growth(model, z, labels)
    save_grid(growth_rows(levels), Path(path), nrow=int(z.shape[0]))
    return levels
