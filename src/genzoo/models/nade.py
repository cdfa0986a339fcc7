"""NADE (Larochelle & Murray 2011, "The Neural Autoregressive Distribution Estimator",
AISTATS; Uria, Cote, Gregor, Murray & Larochelle 2016, JMLR) with order-agnostic training
(Uria, Murray & Larochelle 2014, "A Deep and Tractable Density Estimator", ICML).

h_d = sigm(c + W[:, <d] x_<d), p(x_d | x_<d) from b_d + V_d h_d (eq. 3-4 of the 2011
paper): the hidden pre-activations of consecutive dimensions differ by one column of W,
so all D conditionals cost O(D H) by a running sum (:meth:`NADE.conditionals`) instead of
the O(D^2 H) of D separate networks (:func:`naive_conditionals`, the reference the tests
compare with). Sampling keeps the running sum too: one column per drawn sub-pixel.

Output: a Bernoulli per sub-pixel (binary data: V_d a row of H), or a 256-way softmax
(8-bit data: V_d a 256 x H matrix, the "RNADE-free" discrete extension).

Order-agnostic training (``ordering = "agnostic"``): every training step takes the next
ordering of a pool of random orderings, and the hidden units also read which sub-pixels
are observed (a second matrix U of the observed-indicator inputs, Uria et al. 2014 section
3); at test time the probabilities of the first ``ensemble`` orderings are averaged
(log p = logsumexp_k log p_k - log K, :mod:`genzoo.models.fvbn`).

Deviations:
    - Inputs are read on the [-1, 1] scale (binary 0/1 -> -1/+1, 8-bit v -> 2v/255 - 1).
    - Uria et al. 2014 draw a fresh ordering and one dimension d per update (an unbiased
      estimate of the loss over all orderings); here each step uses the whole likelihood
      under the next ordering of a finite pool, as MADE's connectivity-agnostic training
      does, so training is deterministic given the seed and a resume is exact.
    - Class conditioning adds a learned per-class bias to the hidden and output units.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from genzoo.config import DataSpec
from genzoo.models.fvbn import FullyVisibleModel
from genzoo.models.nade_config import NADEConfig
from genzoo.nn.conditioning import class_bias


class NADE(FullyVisibleModel):
    """NADE with exact likelihood; see the module docstring.

    Args:
        config: hidden units, ordering, pool and ensemble
            (:class:`genzoo.models.nade_config.NADEConfig`).
        data: image shape (C, H, W), kind ("8bit" or "binary") and number of classes.
    """

    name = "nade"

    def __init__(self, config: NADEConfig, data: DataSpec) -> None:
        super().__init__(config, data)
        d, h, k = self.num_dims, config.hidden, self.num_params
        self.W = nn.Parameter(torch.randn(h, d) / math.sqrt(d))
        self.U = nn.Parameter(torch.zeros(h, d)) if config.ordering == "agnostic" else None
        self.c = nn.Parameter(torch.zeros(h))
        self.V = nn.Parameter(torch.randn(d, k, h) / math.sqrt(h))
        self.b = nn.Parameter(torch.zeros(d, k))
        self.hidden_bias = class_bias(self.label_classes, h)
        self.output_bias = class_bias(self.label_classes, d * k)

    def _start(self, n: int, labels: Tensor | None, like: Tensor) -> Tensor:
        """The hidden pre-activation before any input is seen: c (+ the class's bias), (N, H)."""
        a = self.c.expand(n, -1).to(like.dtype)
        if self.hidden_bias is not None and labels is not None:
            a = a + self.hidden_bias(labels)
        return a

    def _output_bias(self, labels: Tensor | None, n: int) -> Tensor | None:
        if self.output_bias is None or labels is None:
            return None
        return self.output_bias(labels).view(n, self.num_dims, self.num_params)

    cache_floats: int = 400_000
    """How many floats one block's (b, N, H) pre-activations may hold (1.6 MB: about a
    CPU's L2 cache); see :meth:`block_size`."""

    def block_size(self, n: int) -> int:
        """Dimensions whose pre-activations are taken in one batched matrix product: as many
        as keep the (b, N, H) block within :attr:`cache_floats`, from 1 to 8. Measured on
        one idle CPU core, D 784, H 500, forward and backward: at N 100 blocks of 8 took
        0.23 s (blocks of 1: 0.26 s; the earlier cumulative-sum form, 0.31 s), at N 512
        blocks of 1 took 0.64 s and blocks of 8 1.31 s, as the block left the cache."""
        return max(1, min(8, self.cache_floats // max(1, n * self.config.hidden)))

    def conditionals(self, x: Tensor, k: int | Tensor, labels: Tensor | None = None) -> Tensor:
        """All D conditionals in O(D H): a running sum of the inputs' columns of W (and U),
        each taken before its own dimension is added.

        Within a block of b dimensions the pre-activations are one batched product: with
        the inputs shifted by one place in the ordering (position t holds x_{o(t-1)}), the
        pre-activation at t is the carry from the blocks before plus the lower-triangular
        (inclusive) sum of the block's shifted columns, a (b, N, b) x (b, b, H) product.
        """
        n = x.shape[0]
        order = self.order(k)
        xs = _shift(x[:, order].t())  # (D, N) in the ordering: position t holds x_{o(t-1)}
        ws = _shift(self.W.t()[order])  # (D, H), shifted alike
        # the observed indicators (order-agnostic NADE): a column of U per earlier input
        us = _shift(self.U.t()[order]) if self.U is not None else None  # (D, H)
        v = self.V[order].transpose(1, 2)  # (D, H, K)
        run = self._start(n, labels, x)  # (N, H): the pre-activation before the block
        block = self.block_size(n)
        tril = torch.ones(block, block, dtype=x.dtype, device=x.device).tril()  # (b, b)
        outs = []
        for s in range(0, self.num_dims, block):
            e = min(self.num_dims, s + block)
            b = e - s
            if b == 1:  # one dimension: an outer product added to the carry
                start = run if us is None else run + us[s]
                a = torch.addcmul(start, xs[s][:, None], ws[s][None, :])[None]  # (1, N, H)
            else:
                start = run[None].expand(b, -1, -1)  # (b, N, H)
                if us is not None:
                    start = start + (tril[:b, :b] @ us[s:e])[:, None, :]
                masked = xs[s:e].t()[None] * tril[:b, None, :b]  # (b, N, b): x_j, j <= t
                a = torch.baddbmm(start, masked, ws[s:e][None].expand(b, -1, -1))  # (b, N, H)
            run = a[-1]
            outs.append(torch.bmm(torch.sigmoid(a), v[s:e]))  # (b, N, K)
        out = torch.cat(outs, 0).transpose(0, 1) + self.b[order]  # (N, D, K), in the ordering
        rank = self.rank(k) - 1
        out = out[:, rank]  # back to the (C, H, W) flattening
        bias = self._output_bias(labels, n)
        return out if bias is None else out + bias

    def draw_in_order(
        self,
        x: Tensor,
        k: int,
        known: Tensor,
        labels: Tensor | None,
        generator: torch.Generator | None,
    ) -> None:
        """Draw every unknown dimension in mask k's ordering, updating the hidden
        pre-activation by one column per sub-pixel (O(D H) per image)."""
        n = x.shape[0]
        a = self._start(n, labels, self.W)  # (N, H)
        bias = self._output_bias(labels, n)
        for d in self.order(k).tolist():
            if not known[d]:
                params = torch.sigmoid(a) @ self.V[d].t() + self.b[d]  # (N, K)
                if bias is not None:
                    params = params + bias[:, d]
                x[:, d] = self.likelihood.draw_subpixel(params, generator)
            value = self.data.to_signed(x[:, d], self.dtype)  # (N,)
            a = a + value[:, None] * self.W[:, d]
            if self.U is not None:
                a = a + self.U[:, d]


def _shift(rows: Tensor) -> Tensor:
    """Rows moved down one place, a zero row first: (D, ...) -> (D, ...), row t = row t - 1."""
    return torch.cat([rows.new_zeros(1, *rows.shape[1:]), rows[:-1]], 0)


def naive_conditionals(model: NADE, x: Tensor, k: int, labels: Tensor | None = None) -> Tensor:
    """The reference: each conditional from its own hidden layer, h_d = sigm(c + sum over
    the dimensions before d of W[:, j] x_j (+ U[:, j])), O(D^2 H). Same layout as
    :meth:`NADE.conditionals`, (N, D, K)."""
    n, d_ = x.shape
    order = model.order(k).tolist()
    out = x.new_zeros(n, d_, model.num_params)
    bias = model._output_bias(labels, n)
    for t, d in enumerate(order):
        before = order[:t]
        a = model._start(n, labels, x) + x[:, before] @ model.W[:, before].t()
        if model.U is not None:
            a = a + model.U[:, before].sum(1)
        out[:, d] = torch.sigmoid(a) @ model.V[d].t() + model.b[d]
        if bias is not None:
            out[:, d] = out[:, d] + bias[:, d]
    return out
