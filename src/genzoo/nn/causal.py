"""Causal building blocks beyond the square masked convolution of :mod:`genzoo.nn.masked`.

- :class:`MaskedRowConv2d`: a 1 x k convolution along the row, masked like the centre row
  of a PixelCNN kernel (left of the centre, plus the R -> G -> B channel masks at the
  centre). The horizontal stack of the Gated PixelCNN and the input-to-state convolution
  of the Row LSTM.
- :func:`grouped_gates`: split pre-activations into gates so that every gate keeps the
  colour group of its channels (needed wherever channel masks must survive a gate).
- Shifted convolutions of PixelCNN++ (Salimans et al. 2017, section 2.5 and the authors'
  code): :class:`DownShiftedConv2d` (reads rows above and the current row, centred
  columns), :class:`DownRightShiftedConv2d` (rows above and the current row, columns to
  the left), their strided and transposed versions, and :func:`down_shift` /
  :func:`right_shift`, which move a map by one pixel so that it only holds earlier pixels.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.errors import UserInputError
from genzoo.nn.masked import MaskedConv2d


class MaskedRowConv2d(MaskedConv2d):
    """A 'same'-padded 1 x k convolution that reads only the left of the row (and, at the
    centre, the earlier colour groups (mask "A") or those up to its own (mask "B")).

    Args:
        in_channels: input feature maps.
        out_channels: output feature maps.
        kernel_size: odd width k of the kernel.
        mask_type: "A" (excludes the current sub-pixel) or "B" (includes it).
        color_channels: colour channels of the image (1 or 3).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        mask_type: str,
        color_channels: int = 1,
    ) -> None:
        super().__init__(
            in_channels, out_channels, kernel_size, mask_type, color_channels, centre_row_only=True
        )


def grouped_gates(pre: Tensor, num_gates: int, num_groups: int) -> list[Tensor]:
    """Split (N, num_gates * h, ...) pre-activations into ``num_gates`` maps of h channels.

    The channels are laid out group-major, as the masked convolutions assign colour groups
    (contiguous blocks): block g holds gate 0's h/G channels of group g, then gate 1's, ...
    Each returned gate (N, h, ...) has its channels in colour-group order again, so
    elementwise products of gates keep every channel in its group.
    """
    n, ch = pre.shape[:2]
    if ch % (num_gates * num_groups):
        raise UserInputError(
            f"{ch} channels do not split into {num_gates} gates x {num_groups} colour groups"
        )
    rest = pre.shape[2:]
    g = pre.view(n, num_groups, num_gates, ch // (num_gates * num_groups), *rest)
    return [g[:, :, k].reshape(n, ch // num_gates, *rest) for k in range(num_gates)]


def down_shift(x: Tensor) -> Tensor:
    """Move a map down one row (zeros enter at the top): (N, C, H, W) -> (N, C, H, W)."""
    return F.pad(x, (0, 0, 1, 0))[:, :, : x.shape[2]]


def right_shift(x: Tensor) -> Tensor:
    """Move a map right one column (zeros enter at the left): (N, C, H, W) -> same."""
    return F.pad(x, (1, 0))[:, :, :, : x.shape[3]]


class DownShiftedConv2d(nn.Conv2d):
    """Convolution over the rows above and the current row, columns centred (PixelCNN++).

    Output (i, j) reads rows i-kh+1 .. i and columns j-(kw-1)/2 .. j+(kw-1)/2 (of the
    stride grid). Weight-normalised in the paper; plain here (see pixelcnn_pp deviations).
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel: tuple[int, int] = (2, 3), stride: int = 1
    ) -> None:
        super().__init__(in_channels, out_channels, kernel, stride=stride)
        kh, kw = kernel
        self.pad = ((kw - 1) // 2, (kw - 1) // 2, kh - 1, 0)

    def forward(self, x: Tensor) -> Tensor:
        # x: (N, in, H, W) -> (N, out, H / stride, W / stride)
        return super().forward(F.pad(x, self.pad))


class DownRightShiftedConv2d(nn.Conv2d):
    """Convolution over the rows above and the current row, columns to the left (PixelCNN++).

    Output (i, j) reads rows i-kh+1 .. i and columns j-kw+1 .. j.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel: tuple[int, int] = (2, 2), stride: int = 1
    ) -> None:
        super().__init__(in_channels, out_channels, kernel, stride=stride)
        kh, kw = kernel
        self.pad = (kw - 1, 0, kh - 1, 0)

    def forward(self, x: Tensor) -> Tensor:
        # x: (N, in, H, W) -> (N, out, H / stride, W / stride)
        return super().forward(F.pad(x, self.pad))


class DownShiftedDeconv2d(nn.ConvTranspose2d):
    """Stride-2 transposed convolution, cropped so that output row r reads input row r // 2
    only (and columns around j // 2): the up-sampling partner of :class:`DownShiftedConv2d`."""

    def __init__(self, in_channels: int, out_channels: int, kernel: tuple[int, int] = (2, 3)):
        super().__init__(in_channels, out_channels, kernel, stride=2, output_padding=1)
        self.kh, self.kw = kernel

    def forward(self, x: Tensor) -> Tensor:
        # x: (N, in, H, W) -> (N, out, 2H, 2W)
        y = super().forward(x)
        h, w = y.shape[2:]
        return y[:, :, : h - self.kh + 1, (self.kw - 1) // 2 : w - (self.kw - 1) // 2]


class DownRightShiftedDeconv2d(nn.ConvTranspose2d):
    """Stride-2 transposed convolution cropped to read only input rows <= r // 2 and columns
    <= j // 2: the up-sampling partner of :class:`DownRightShiftedConv2d`."""

    def __init__(self, in_channels: int, out_channels: int, kernel: tuple[int, int] = (2, 2)):
        super().__init__(in_channels, out_channels, kernel, stride=2, output_padding=1)
        self.kh, self.kw = kernel

    def forward(self, x: Tensor) -> Tensor:
        # x: (N, in, H, W) -> (N, out, 2H, 2W)
        y = super().forward(x)
        h, w = y.shape[2:]
        return y[:, :, : h - self.kh + 1, : w - self.kw + 1]
