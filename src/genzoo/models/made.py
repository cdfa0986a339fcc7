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
    - The pool's orderings and hidden degrees (a few integers per unit) are drawn at
      construction from the seed and kept as buffers; the masks are made from them when
      the mask changes instead of being kept in memory. The counter that picks the
      training mask is a buffer too, so a resume continues the cycle exactly.
    - No direct input-to-output connections (the paper's optional extra).
    - Class conditioning adds a learned per-class bias to every hidden and output layer.
"""

from __future__ import annotations

import itertools
from typing import Any

import torch
from torch import Tensor, nn

from genzoo.config import DataSpec
from genzoo.models.fvbn import FullyVisibleModel, on_meta_device, pick
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
        if on_meta_device():  # a size probe (genzoo.train.checkpoint): shapes only
            degrees = torch.empty(self.pool_size, sum(config.hidden), dtype=torch.long)
        else:
            degrees = torch.stack(
                [
                    torch.cat(
                        hidden_degrees(self.rank(k), config.hidden, self.mask_generator(k, 1))
                    )
                    for k in range(self.pool_size)
                ]
            )
        self.register_buffer("degrees", degrees)  # (pool, sum of hidden)

    def masks(self, k: int | Tensor, like: Tensor) -> list[Tensor]:
        """The masks (out, in) of every layer under mask k, in ``like``'s dtype, from the
        ordering and the hidden degrees of mask k (buffers ``orders`` and ``degrees``)."""

        def build(k: int | Tensor) -> list[Tensor]:
            hidden = list(pick(self.degrees, k).split(list(self.config.hidden)))
            masks = made_masks(self.rank(k), hidden, self.num_params)
            return [m.to(like.dtype) for m in masks]

        return self.per_mask(k, like, build)

    def conditionals(self, x: Tensor, k: int | Tensor, labels: Tensor | None = None) -> Tensor:
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

    # -- sampling from an ensemble ---------------------------------------------------------

    def draw_rows(
        self,
        x: Tensor,
        known: Tensor,
        labels: Tensor | None,
        generator: torch.Generator | None,
        mask_of: Tensor | None,
    ) -> None:
        """Draw the unknown dimensions of ``x`` (long (N, D)), row i under mask
        ``mask_of[i]``. Where the masks share one ordering (raster or random), the rows of
        every mask are drawn together: the masked weights of the G masks in use are stacked
        and each layer is one batched matmul over (G, rows of the largest group), so a
        pass costs one matmul instead of G small ones (the zoo's 32-mask MADE, 64 samples
        on one thread at load 4.9: 22.7 s against the reference's 42.2 s; the stacked
        weights, 32 x 0.65M, are read from memory on every pass, so the gain is bounded by
        memory bandwidth, not compute). Same conditionals, so
        the same distribution; the draws take the generator's numbers in another order
        than the reference (:meth:`FullyVisibleModel.draw_rows`), which order-agnostic pools
        still use."""
        one_order = bool((self.orders == self.orders[:1]).all())
        if mask_of is None or not one_order or len(set(mask_of.tolist())) == 1:
            super().draw_rows(x, known, labels, generator, mask_of)
            return
        plan = self.group_plan(mask_of, labels)
        for d in self.order(0).tolist():
            if known[d]:
                continue
            params = self.grouped_conditional(self.signed(x), d, plan)  # (N, P)
            x[:, d] = self.likelihood.draw_subpixel(params, generator)

    def group_plan(self, mask_of: Tensor, labels: Tensor | None) -> dict[str, Any]:
        """The stacked masked weights of the masks in ``mask_of`` (long (N,), on the CPU)
        and the rows of each, padded to the largest group: index (G, M), valid (G, M)."""
        ks = sorted(set(mask_of.tolist()))
        groups = [(mask_of == k).nonzero().squeeze(1) for k in ks]
        m = max(len(g) for g in groups)
        index = torch.stack([torch.cat([g, g.new_zeros(m - len(g))]) for g in groups])
        valid = torch.stack([torch.arange(m) < len(g) for g in groups])
        masks = [self.masks(k, self.layers[0].weight) for k in ks]  # per mask, per layer
        weights = [
            torch.stack([layer.weight * masks[g][i] for g in range(len(ks))])  # (G, out, in)
            for i, layer in enumerate(self.layers)
        ]
        dev = self.device
        labels_g = None if labels is None else labels.to(dev)[index.to(dev)]  # (G, M)
        return {"index": index.to(dev), "valid": valid.to(dev), "weights": weights,
                "labels": labels_g}  # fmt: skip

    def grouped_conditional(self, xs: Tensor, d: int, plan: dict[str, Any]) -> Tensor:
        """The parameters of dimension d for every row under its own mask: xs (N, D) on
        the [-1, 1] scale -> (N, P); the rows of each mask in one batched matmul."""
        index, valid, weights, labels = (
            plan["index"],
            plan["valid"],
            plan["weights"],
            plan["labels"],
        )
        y = xs[index]  # (G, M, D)
        last = len(self.layers) - 1
        out = slice(d * self.num_params, (d + 1) * self.num_params)
        for i, (layer, bias) in enumerate(zip(self.layers, self.class_biases, strict=True)):
            w, b = weights[i], layer.bias
            if i == last:  # only the outputs of dimension d
                w, b = w[:, out], b[out]
            y = torch.baddbmm(b, y, w.transpose(1, 2))  # (G, M, out)
            if isinstance(bias, nn.Embedding) and labels is not None:
                cb = bias(labels)  # (G, M, out of the whole layer)
                y = y + (cb[..., out] if i == last else cb)
            if i < last:
                y = torch.relu(y)
        params = y.new_empty(xs.shape[0], self.num_params)
        params[index[valid]] = y[valid]  # (N, P), back in row order
        return params
