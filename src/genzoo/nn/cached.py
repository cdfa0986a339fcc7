"""Per-layer caches for fast autoregressive sampling (Ramachandran, Le Paine, Khorrami,
Babaeizadeh, Chang, Zhang, Hasegawa-Johnson, Campbell, Huang 2017, "Fast Generation for
Convolutional Autoregressive Models", ICLR workshop, section 3 and algorithm 1).

A :class:`CachedConv` holds the (zero-padded) input rows that one convolution still needs.
When the sampler reaches a pixel, the layer below writes its new output position into this
cache (:meth:`CachedConv.write`) and the layer computes its own one new output position
(:meth:`CachedConv.at`: the kh x kw patch of the cache under the kernel, flattened, times
the flattened kernel, one ``F.linear``), or a whole output row where the network allows
(:meth:`CachedConv.row`, one ``F.conv2d`` over the kh input rows). Masked weights multiply
positions that are not drawn yet; those hold zeros (or any finite value), so they add
nothing.

Deviations from Ramachandran et al.:
    - Their caches are queues of the last kh rows (or kw positions) of each layer's input,
      pushed and popped per position; ours hold kh whole padded rows, shifted up once per
      row (one copy per layer per row instead of one per position). The row being drawn
      is written in place; positions right of the current one hold zeros or the image's
      placeholders, which the masks never read.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.nn.masked import MaskedConv2d


def effective_weight(conv: nn.Conv2d) -> Tensor:
    """The kernel a convolution applies: ``weight * mask`` for a masked one, (out, in, kh, kw)."""
    if isinstance(conv, MaskedConv2d):
        return conv.weight * conv.mask
    return conv.weight


class PointwiseConv:
    """A 1x1 convolution applied at one position or to a row: (N, in) -> (N, out).

    Args:
        conv: the module (plain or masked, kernel 1 x 1).
    """

    def __init__(self, conv: nn.Conv2d) -> None:
        w = effective_weight(conv)  # (out, in, 1, 1)
        self.weight = w.reshape(w.shape[0], w.shape[1])  # (out, in)
        self.bias = conv.bias

    def __call__(self, x: Tensor) -> Tensor:
        # x: (N, in) -> (N, out)
        return F.linear(x, self.weight, self.bias)

    def rows(self, x: Tensor) -> Tensor:
        # x: (N, in, W) -> (N, out, W)
        return F.linear(x.transpose(1, 2), self.weight, self.bias).transpose(1, 2)


class CachedConv:
    """The input cache of one convolution, and its output at one position or one row.

    Output position (i, j) reads the padded input's rows ``stride * i .. stride * i + kh - 1``
    and columns ``stride * j .. stride * j + kw - 1``, exactly the window the module reads in
    a forward pass over the whole map. The cache holds only the kh padded rows that the
    next output row reads (Ramachandran et al.'s queue): when a write or a read reaches
    a row below them, the rows shift up and the rows above the window are dropped. Rows
    enter as zeros, or, for a cache filled from a map (the image), as that map's rows; the
    sampler writes and reads rows in increasing order, so a dropped row is never needed.

    Args:
        conv: the convolution (``nn.Conv2d`` or :class:`genzoo.nn.masked.MaskedConv2d`).
        like: a tensor of the input map's batch size, dtype and device, (N, in, H, W); with
            ``fill`` its values are the rows that enter the cache (the image: given pixels
            of a completion, and placeholders the masks never read).
        pad: zero padding (left, right, top, bottom) that the module applies.
        stride: the module's stride (both directions).
        fill: rows enter from ``like`` (True) or as zeros (False).
    """

    def __init__(
        self,
        conv: nn.Conv2d,
        like: Tensor,
        pad: tuple[int, int, int, int],
        stride: int = 1,
        fill: bool = False,
    ) -> None:
        self.weight = effective_weight(conv)  # (out, in, kh, kw)
        self.flat = self.weight.reshape(self.weight.shape[0], -1)  # (out, in * kh * kw)
        self.bias = conv.bias
        self.kh, self.kw = self.weight.shape[2:]
        self.stride = stride
        self.left, _, self.top, _ = pad
        n, c, h, w = like.shape
        self.h, self.w = h, w
        height, width = h + pad[2] + pad[3], w + pad[0] + pad[1]
        self.source = F.pad(like, pad) if fill else None  # (N, in, height, width)
        self.rows = min(self.kh, height)  # rows held
        self.base = 0  # the padded row held first
        self.buf = like.new_zeros(n, c, self.rows, width)  # (N, in, rows, width)
        if self.source is not None:
            self.buf.copy_(self.source[:, :, : self.rows])

    def _reach(self, p: int) -> None:
        """Hold padded row p: shift the rows up until it is the last one held, if needed."""
        d = p - (self.base + self.rows) + 1
        if d <= 0:
            return
        keep = max(self.rows - d, 0)
        if keep:
            self.buf[:, :, :keep] = self.buf[:, :, d:].clone()
        self.base += d
        if self.source is None:
            self.buf[:, :, keep:] = 0
        else:
            self.buf[:, :, keep:] = self.source[:, :, self.base + keep : self.base + self.rows]

    def write(self, i: int, j: int, value: Tensor) -> None:
        """Store the input at position (i, j): value (N, in)."""
        p = self.top + i
        self._reach(p)
        self.buf[:, :, p - self.base, self.left + j] = value

    def write_row(self, i: int, row: Tensor) -> None:
        """Store input row i: row (N, in, W)."""
        p = self.top + i
        self._reach(p)
        self.buf[:, :, p - self.base, self.left : self.left + self.w] = row

    def at(self, i: int, j: int) -> Tensor:
        """The output at (i, j): (N, out)."""
        s = self.stride
        self._reach(s * i + self.kh - 1)
        r, c = s * i - self.base, s * j
        patch = self.buf[:, :, r : r + self.kh, c : c + self.kw]  # (N, in, kh, kw)
        return F.linear(patch.reshape(patch.shape[0], -1), self.flat, self.bias)

    def row(self, i: int) -> Tensor:
        """Output row i, every column: (N, out, W_out)."""
        s = self.stride
        self._reach(s * i + self.kh - 1)
        r = s * i - self.base
        strip = self.buf[:, :, r : r + self.kh]  # (N, in, kh, W_padded)
        return F.conv2d(strip, self.weight, self.bias, stride=s).squeeze(2)

    def held_input(self) -> tuple[int, Tensor]:
        """The input rows held, without padding: (first row, (N, in, rows, W))."""
        r0 = max(self.base - self.top, 0)
        r1 = min(self.base + self.rows - self.top, self.h)
        b0 = r0 + self.top - self.base
        return r0, self.buf[:, :, b0 : b0 + r1 - r0, self.left : self.left + self.w]

    def held_padded(self) -> tuple[int, Tensor]:
        """The padded input rows held: (first padded row, (N, in, rows, W_padded))."""
        return self.base, self.buf


def same_pad(conv: nn.Conv2d) -> tuple[int, int, int, int]:
    """(left, right, top, bottom) of a convolution with symmetric ``padding``."""
    ph, pw = conv.padding  # type: ignore[misc]
    return (pw, pw, ph, ph)


@torch.no_grad()
def class_biases(
    embeddings: list[nn.Embedding | None], labels: Tensor | None
) -> list[Tensor | None]:
    """Each layer's per-class bias rows for ``labels``, (N, C) each (None where the layer or
    the call is unconditional), looked up once per sampling run."""
    if labels is None:
        return [None] * len(embeddings)
    return [e(labels) if e is not None else None for e in embeddings]


def plus_bias(x: Tensor, bias: Tensor | None) -> Tensor:
    """x (N, C) or (N, C, W) plus a per-class bias (N, C): the same sum as
    :func:`genzoo.nn.conditioning.add_class_bias` makes over a whole map."""
    if bias is None:
        return x
    return x + (bias if x.ndim == 2 else bias[:, :, None])
