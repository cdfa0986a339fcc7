"""Per-layer caches for fast autoregressive sampling (Ramachandran, Le Paine, Khorrami,
Babaeizadeh, Chang, Zhang, Hasegawa-Johnson, Campbell, Huang 2017, "Fast Generation for
Convolutional Autoregressive Models", ICLR workshop, section 3 and algorithm 1).

A :class:`CachedConv` holds the (zero-padded) input map of one convolution. When the
sampler reaches a pixel, the layer below writes its new output position into this cache
(:meth:`CachedConv.write`) and the layer computes its own one new output position
(:meth:`CachedConv.at`: the kh x kw patch of the cache under the kernel, flattened, times
the flattened kernel, one ``F.linear``), or a whole output row where the network allows
(:meth:`CachedConv.row`, one ``F.conv2d`` over the kh input rows). Masked weights multiply
positions that are not drawn yet; those hold zeros (or any finite value), so they add
nothing.

Deviations from Ramachandran et al.:
    - Their caches are queues of the last kh rows (or kw positions) of each layer's input,
      pushed and popped; ours keep the whole padded input map of the layer: there is no
      pop, and the cache after a full image *is* every layer's input map, which the tests
      compare with a plain forward pass layer by layer. The price is memory, N x C x H x W
      per cached layer instead of N x C x kh x W: at 28x28 and a batch of 250, about
      0.4 GB for the default PixelCNN and PixelRNN, 0.7 GB for the Gated PixelCNN and
      1.8 GB for PixelCNN++ (its 2F-channel block inputs at three resolutions). Keeping kh
      rows (a buffer shifted up once per row) would cut this by H / kh.
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

    Output position (i, j) reads the cache's rows ``stride * i .. stride * i + kh - 1`` and
    columns ``stride * j .. stride * j + kw - 1`` (padded coordinates), exactly the window
    the module reads in a forward pass over the whole map.

    Args:
        conv: the convolution (``nn.Conv2d`` or :class:`genzoo.nn.masked.MaskedConv2d`).
        like: a tensor of the input map's batch size, dtype and device, (N, in, H, W); its
            values are copied into the cache when ``fill`` is True (the image itself).
        pad: zero padding (left, right, top, bottom) that the module applies.
        stride: the module's stride (both directions).
        fill: start from ``like``'s values (True) or from zeros (False).
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
        self.buf = like.new_zeros(n, c, h + pad[2] + pad[3], w + pad[0] + pad[1])
        if fill:
            self.buf[:, :, self.top : self.top + h, self.left : self.left + w] = like

    def write(self, i: int, j: int, value: Tensor) -> None:
        """Store the input at position (i, j): value (N, in)."""
        self.buf[:, :, self.top + i, self.left + j] = value

    def write_row(self, i: int, row: Tensor) -> None:
        """Store input row i: row (N, in, W)."""
        self.buf[:, :, self.top + i, self.left : self.left + self.w] = row

    def at(self, i: int, j: int) -> Tensor:
        """The output at (i, j): (N, out)."""
        s = self.stride
        patch = self.buf[:, :, s * i : s * i + self.kh, s * j : s * j + self.kw]  # (N, in, kh, kw)
        return F.linear(patch.reshape(patch.shape[0], -1), self.flat, self.bias)

    def row(self, i: int) -> Tensor:
        """Output row i, every column: (N, out, W_out)."""
        s = self.stride
        strip = self.buf[:, :, s * i : s * i + self.kh]  # (N, in, kh, W_padded)
        return F.conv2d(strip, self.weight, self.bias, stride=s).squeeze(2)

    @property
    def input(self) -> Tensor:
        """The cached input map without its padding: (N, in, H, W)."""
        return self.buf[:, :, self.top : self.top + self.h, self.left : self.left + self.w]


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
