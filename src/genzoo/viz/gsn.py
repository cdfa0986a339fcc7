"""The GSN's chain view: Markov chains from random starts over time.

Returns uint8 image stacks (N, C, H, W) for :func:`genzoo.viz.save_grid`; nothing here
writes files. It takes any model with the interface of :class:`genzoo.models.gsn.GSN`
(``random_images``, ``step``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from genzoo.errors import UserInputError


@torch.no_grad()
def markov_chain(
    model: torch.nn.Module,
    n_chains: int = 8,
    steps: int = 100,
    every: int = 5,
    burn_in: int = 0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Chains from random starts: the visible state at steps burn_in, burn_in + every, ...
    up to ``steps`` (step 0 is the random start).

    Args:
        model: a GSN.
        n_chains: chains run side by side.
        steps: chain steps in all.
        every: steps between the frames kept.
        burn_in: steps before the first frame kept (shorter than the chain).
        generator: source of every random draw (on the model's device).

    Returns:
        uint8 (n_chains * frames, C, H, W), chain-major: image c * frames + f is chain c
        at step burn_in + f * every, so ``save_grid(x, nrow=frames)`` puts one chain per
        row; frames = (steps - burn_in) // every + 1.

    Raises:
        UserInputError: on a non-positive count, or a burn-in not shorter than the chain.
    """
    if n_chains < 1 or steps < 1 or every < 1:
        raise UserInputError(
            f"--chains, --steps and --every must be positive, got {n_chains}, {steps}, {every}"
        )
    if not 0 <= burn_in < steps:
        raise UserInputError(
            f"--burn-in ({burn_in}) must be >= 0 and shorter than the chain (--steps {steps}): "
            "lower --burn-in or raise --steps"
        )
    x, h = model.random_images(n_chains, generator), None
    frames = [x] if burn_in == 0 else []
    for t in range(1, steps + 1):
        x, h = model.step(x, h, generator)
        if t >= burn_in and (t - burn_in) % every == 0:
            frames.append(x)
    return torch.stack(frames, dim=1).flatten(0, 1)  # (n_chains * frames, C, H, W)


def mixing_view(model: torch.nn.Module, run: Any, options: Any, seed: int) -> tuple[Tensor, int]:
    """The ``mixing`` view (:data:`genzoo.models.gsn_config.MIXING`): one chain per row,
    one column every ``options.every`` steps after ``options.burn_in``."""
    g = torch.Generator(model.device).manual_seed(seed)  # type: ignore[arg-type]
    grid = markov_chain(
        model, options.chains, options.steps, options.every, options.burn_in, generator=g
    )
    return grid.cpu(), len(grid) // options.chains
