"""FVSBN, the fully visible sigmoid belief net (Frey 1998, "Graphical Models for Machine
Learning and Digital Communication"; the linear baseline of Larochelle & Murray 2011):
p(x_d = 1 | x_<d) = sigm(b_d + sum_{j before d} W_dj x_j), one logistic regression per
pixel on every pixel before it in the ordering. Binary data only.

Deviations:
    - The inputs are read on the [-1, 1] scale (x -> 2x - 1), as every genzoo network
      reads its pixels; a reparameterisation of the biases, the same family of models.
    - Orderings beyond the raster one (random, agnostic with an ensemble) come from
      :mod:`genzoo.models.fvbn`, shared with NADE and MADE; W is shared by all orderings
      and masked by each (W_dj counts only where j comes before d).
    - Class conditioning adds a learned per-class bias to every logit.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.config import DataSpec
from genzoo.models.fvbn import FullyVisibleModel
from genzoo.models.fvsbn_config import FVSBNConfig
from genzoo.nn.conditioning import add_class_bias, class_bias
from genzoo.nn.likelihoods import Bernoulli, FactorisedLikelihood


class FVSBN(FullyVisibleModel):
    """FVSBN with exact likelihood; see the module docstring.

    Args:
        config: ordering, pool and ensemble (:class:`genzoo.models.fvsbn_config.FVSBNConfig`).
        data: image shape (C, H, W), binary, and number of classes.
    """

    name = "fvsbn"

    def __init__(self, config: FVSBNConfig, data: DataSpec) -> None:
        super().__init__(config, data)
        d = self.num_dims
        self.weight = nn.Parameter(torch.randn(d, d) * 0.01)
        self.bias = nn.Parameter(torch.zeros(d))
        self.class_bias = class_bias(self.label_classes, d)

    @staticmethod
    def output_likelihood(config: Any, data: DataSpec) -> FactorisedLikelihood:
        """A Bernoulli: FVSBN takes binary data only (the registry refuses 8-bit data)."""
        return Bernoulli()

    def mask(self, k: int | Tensor, like: Tensor) -> Tensor:
        """(D, D): 1 where dimension j (column) comes before d (row) in mask k's ordering."""

        def build(k: int | Tensor) -> Tensor:
            rank = self.rank(k)
            return (rank[None, :] < rank[:, None]).to(like.dtype)

        return self.per_mask(k, like, build)

    def conditionals(self, x: Tensor, k: int | Tensor, labels: Tensor | None = None) -> Tensor:
        logits = F.linear(x, self.weight * self.mask(k, self.weight), self.bias)  # (N, D)
        logits = add_class_bias(logits, self.class_bias, labels)
        return logits.unsqueeze(2)  # (N, D, 1)
