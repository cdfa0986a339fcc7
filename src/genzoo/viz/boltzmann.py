"""Views of Boltzmann machines: first-layer filters and a Gibbs chain over time.

Both return uint8 image stacks (N, C, H, W) for :func:`genzoo.viz.save_grid`; nothing here
writes files. They take any model with the interface of
:class:`genzoo.models.boltzmann.BoltzmannMachine` (``stack``, ``init_state``,
``gibbs_sweep``, ``to_images``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from genzoo.errors import UserInputError


@torch.no_grad()
def filters(model: torch.nn.Module, n: int | None = 100, *, order: str = "norm") -> Tensor:
    """The first-layer weights as images: column j of W_0 (the weights from every pixel to
    hidden unit j), reshaped to the image shape.

    Each filter is scaled on its own, symmetrically: 128 + 127 w / max|w|, so mid-grey is
    0, white excitatory and black inhibitory (values are 8-bit greys, not binary).

    Args:
        model: an RBM or DBM.
        n: filters to show (None: all hidden units of the first layer).
        order: "norm" (largest weight vectors first, the most formed filters) or "index".

    Returns:
        uint8 (n, C, H, W).
    """
    if order not in ("norm", "index"):
        raise UserInputError(f"unknown filter order {order!r}; use norm or index")
    weights, _, _ = model.stack()
    W = weights[0].detach().float().cpu()  # (D, H)
    units = W.shape[1]
    n = units if n is None else n
    if n < 1:
        raise UserInputError(f"number of filters must be positive, got {n}")
    cols = torch.arange(units)
    if order == "norm":
        cols = torch.argsort(W.norm(dim=0), descending=True)
    W = W[:, cols[: min(n, units)]].T  # (n, D)
    scale = W.abs().amax(1, keepdim=True).clamp_min(1e-12)  # (n, 1)
    grey = (128 + 127 * W / scale).round().clamp(0, 255).to(torch.uint8)  # (n, D)
    return grey.view(-1, *model.data.image_shape)


@torch.no_grad()
def gibbs_chain(
    model: torch.nn.Module,
    n_chains: int = 8,
    steps: int = 1000,
    every: int = 100,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Chains from random starts over time: the visible state every ``every`` sweeps.

    Frames are taken at sweeps 0 (the random start), every, 2 every, ..., up to
    ``steps``: ``frames = steps // every + 1``.

    Args:
        model: an RBM or DBM.
        n_chains: chains run side by side.
        steps: block Gibbs sweeps in all.
        every: sweeps between frames.
        generator: source of every random draw (on the model's device).

    Returns:
        uint8 (frames * n_chains, C, H, W) in {0, 1}, frame-major: image f * n_chains + c is
        chain c at sweep f * every, so ``save_grid(x, nrow=n_chains)`` puts one time per row.
    """
    if n_chains < 1 or steps < 1 or every < 1:
        raise UserInputError(
            f"n_chains, steps and every must be positive, got {n_chains}, {steps}, {every}"
        )
    states = model.init_state(n_chains, generator)
    frames = [model.to_images(states[0])]
    for t in range(1, steps + 1):
        states = model.gibbs_sweep(states, generator)
        if t % every == 0:
            frames.append(model.to_images(states[0]))
    return torch.cat(frames)


def chain_view(model: torch.nn.Module, run: Any, options: Any, seed: int) -> tuple[Tensor, int]:
    """The ``chain`` view (:data:`genzoo.models.boltzmann_config.CHAIN`): Gibbs chains from
    random starts over time, one row per time (sweep 0, every, ...), one column per chain."""
    g = torch.Generator(model.device).manual_seed(seed)  # type: ignore[arg-type]
    chains = options.chains
    return gibbs_chain(model, chains, options.steps, options.every, generator=g).cpu(), chains


def filters_view(model: torch.nn.Module, run: Any, options: Any, seed: int) -> tuple[Tensor, int]:
    """The ``filters`` view (:data:`genzoo.models.boltzmann_config.FILTERS`): the
    first-layer weights as images (largest first), ten per row."""
    grid = filters(model, options.n).cpu()
    return grid, min(10, len(grid))
