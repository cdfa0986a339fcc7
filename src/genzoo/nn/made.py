"""Masks of MADE (Germain, Gregor, Murray & Larochelle 2015, "MADE: Masked Autoencoder for
Distribution Estimation", section 4) and its masked linear layer.

Every unit carries a degree: input d its position 1..D in the ordering, a hidden unit of
layer l an integer m in [min of layer l-1's degrees, D-1] (eq. 12), an output of dimension
d that dimension's position. A hidden unit reads the units below it of degree <= its own
(eq. 13), an output reads the hidden units of degree strictly below its own (eq. 14), so
output d depends only on the inputs before it in the ordering.

The layer calls ``F.linear(x, weight * mask, bias)`` (the pattern of karpathy/pytorch-made),
so masked weights get zero gradient and have no effect whatever the optimiser does; the
mask is an argument, since connectivity-agnostic training changes it every step.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def hidden_degrees(
    rank: Tensor, sizes: tuple[int, ...], generator: torch.Generator
) -> list[Tensor]:
    """Degrees of every hidden layer, bottom first (eq. 12).

    Args:
        rank: the degree of each input dimension, its 1-based position in the ordering, (D,).
        sizes: hidden units per layer.
        generator: the (CPU) generator the degrees are drawn from.
    """
    d = int(rank.numel())
    out, low = [], int(rank.min())
    for size in sizes:
        high = max(low, d - 1)  # D = 1: a unit of degree 1 reaches no output
        deg = torch.randint(low, high + 1, (size,), generator=generator)
        out.append(deg)
        low = int(deg.min())
    return out


def made_masks(rank: Tensor, hidden: list[Tensor], num_params: int) -> list[Tensor]:
    """The 0/1 masks (out, in) of every layer, bottom first; the output layer has
    ``num_params`` units per dimension (dimension-major: unit d * K + k)."""
    masks, below = [], rank
    for deg in hidden:
        masks.append((deg[:, None] >= below[None, :]).float())  # eq. 13
        below = deg
    out_deg = rank[:, None].expand(-1, num_params).reshape(-1)  # (D * K,)
    masks.append((out_deg[:, None] > below[None, :]).float())  # eq. 14
    return masks


class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by a 0/1 mask (out, in) given per call."""

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:  # type: ignore[override]
        return F.linear(x, self.weight * mask, self.bias)
