"""MADE (Germain, Gregor, Murray & Larochelle 2015, "MADE: Masked Autoencoder for
Distribution Estimation", ICML): an MLP whose weights are masked so that output d reads
only the inputs before d in an ordering; one forward pass gives every conditional.

Architecture (as in the paper): D inputs, ReLU hidden layers of masked linear units, D
outputs (a Bernoulli logit per sub-pixel; 256 logits per sub-pixel for 8-bit data). The
masks come from unit degrees (:mod:`genzoo.nn.made`, eq. 12-14). Connectivity-agnostic
training (section 4.1) cycles through ``num_masks`` masks, one per step, each with its own
hidden degrees (and its own ordering when ``ordering = "agnostic"``: order-agnostic
training); at test time the probabilities of the first ``ensemble`` masks are averaged,
log p(x) = logsumexp_k log p_k(x) - log K (:mod:`genzoo.models.fvbn`).

Deviations:
    - The inputs are read on the [-1, 1] scale (binary 0/1 -> -1/+1, 8-bit v -> 2v/255-1).
    - The masks are a pure function of (seed, mask index), recomputed when the mask
      changes instead of being kept in memory; the counter that picks the training mask
      is a buffer, so a resume continues the cycle exactly.
    - No direct input-to-output connections (the paper's optional extra).
    - Class conditioning adds a learned per-class bias to every hidden and output layer.
"""

from __future__ import annotations

import itertools

import torch
from torch import Tensor, nn

from genzoo.config import DataSpec
from genzoo.models.fvbn import FullyVisibleModel
from genzoo.models.made_config import MADEConfig
from genzoo.nn.conditioning import add_class_bias, class_bias
from genzoo.nn.made import MaskedLinear, hidden_degrees, made_masks


class MADE(FullyVisibleModel):
    """MADE with exact likelihood; see the module docstring.

    Args:
        config: sizes, ordering, masks and ensemble
            (:class:`genzoo.models.made_config.MADEConfig`).
        data: image shape (C, H, W), kind ("8bit" or "binary") and number of classes.
    """

    name = "made"
    pool_field = "num_masks"

    def __init__(self, config: MADEConfig, data: DataSpec) -> None:
        super().__init__(config, data)
        sizes = (self.num_dims, *config.hidden, self.num_dims * self.num_params)
        self.layers = nn.ModuleList(MaskedLinear(a, b) for a, b in itertools.pairwise(sizes))
        self.class_biases = nn.ModuleList(
            class_bias(self.label_classes, b) or nn.Identity() for b in sizes[1:]
        )
        self._masks: tuple[tuple, list[Tensor]] | None = None

    def masks(self, k: int, like: Tensor) -> list[Tensor]:
        """The masks (out, in) of every layer under mask k, in ``like``'s device and dtype
        (the last one kept, since training changes it every step)."""
        key = (k, like.device, like.dtype)
        if self._masks is None or self._masks[0] != key:
            rank = self.rank(k)
            hidden = hidden_degrees(rank, self.config.hidden, self.mask_generator(k, salt=1))
            masks = made_masks(rank, hidden, self.num_params)
            self._masks = (key, [m.to(device=like.device, dtype=like.dtype) for m in masks])
        return self._masks[1]

    def conditionals(self, x: Tensor, k: int, labels: Tensor | None = None) -> Tensor:
        masks = self.masks(k, self.layers[0].weight)
        y = x
        last = len(self.layers) - 1
        for i, (layer, bias, mask) in enumerate(
            zip(self.layers, self.class_biases, masks, strict=True)
        ):
            y = layer(y, mask)
            if isinstance(bias, nn.Embedding):
                y = add_class_bias(y, bias, labels)
            if i < last:
                y = torch.relu(y)
        return y.view(x.shape[0], self.num_dims, self.num_params)
