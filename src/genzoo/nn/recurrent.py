"""The two spatial LSTM layers of PixelRNN (van den Oord, Kalchbrenner, Kavukcuoglu 2016,
"Pixel Recurrent Neural Networks", ICML, sections 3.1-3.2).

Both compute the LSTM gates as input-to-state + state-to-state convolutions:
[o, f, i, g] = sigma(K_ss * h_prev + K_is * x), c = f . c_prev + i . g, h = o . tanh(c),
with sigma the logistic sigmoid for o, f, i and tanh for g.

- :class:`RowLSTM` processes the image row by row: the input-to-state part is a masked
  1 x k convolution along the row (precomputed for the whole map), the state-to-state part
  a 1 x k convolution over the previous row's hidden states, so output (i, j) sees a
  triangle above it.
- :class:`DiagonalBiLSTM` skews the map (row i shifted right by i) so that the diagonals
  become columns, and processes it column by column with a 1 x 1 input-to-state and a
  2 x 1 state-to-state convolution (the left neighbour and the pixel above); the
  right-to-left direction runs on the mirrored map and its output is shifted down one row
  before the two are added, so no later pixel leaks (section 3.2).

Cached sampling (:mod:`genzoo.models.cached_sampling`) steps both cells one position at a
time: :func:`lstm_cell` on (N, 4h) pre-activations, :meth:`DiagonalLSTM.state_weight` for
the 2 x 1 state-to-state kernel as one matrix over (state above, state to the left), and
:meth:`DiagonalLSTM.left_boundary` for the states left of the image that the skewed map's
padding produces.

Colour groups: the gate pre-activations are laid out group-major (see
:func:`genzoo.nn.causal.grouped_gates`), so each hidden channel keeps the colour group of
its input-to-state channels and the R -> G -> B masks of PixelCNN hold through the cell.
The state-to-state convolutions read earlier pixels only and need no mask.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.nn.causal import MaskedRowConv2d, grouped_gates
from genzoo.nn.conditioning import add_class_bias, class_bias
from genzoo.nn.masked import MaskedConv2d


def skew(x: Tensor) -> Tensor:
    """Shift row i right by i: (N, C, H, W) -> (N, C, H, W + H - 1), zeros elsewhere."""
    n, c, h, w = x.shape
    flat = F.pad(x, (0, h)).flatten(2)  # (N, C, H * (W + H)): row i then H zeros
    return flat[:, :, : h * (w + h - 1)].reshape(n, c, h, w + h - 1)


def unskew(s: Tensor, width: int) -> Tensor:
    """Undo :func:`skew`: (N, C, H, W + H - 1) -> (N, C, H, W) with W = ``width``."""
    n, c, h, ws = s.shape
    flat = F.pad(s.flatten(2), (0, h))  # (N, C, H * (W + H))
    return flat.reshape(n, c, h, ws + 1)[:, :, :, :width]


def lstm_cell(gates: Tensor, c_prev: Tensor, groups: int) -> tuple[Tensor, Tensor]:
    """One LSTM update from (N, 4h, ...) pre-activations; returns (h, c), each (N, h, ...)."""
    o, f, i, g = grouped_gates(gates, 4, groups)
    c = torch.sigmoid(f) * c_prev + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


class RowLSTM(nn.Module):
    """Row LSTM layer (section 3.1): (N, in, H, W) -> hidden states (N, hidden, H, W).

    Args:
        in_channels: input feature maps.
        hidden: LSTM state channels h (divisible by ``color_channels``).
        color_channels: colour channels of the image, for the channel masks.
        kernel_size: width k of both convolutions (paper: 3).
        num_classes: if given, a learned per-class bias on the gates.
    """

    def __init__(
        self,
        in_channels: int,
        hidden: int,
        color_channels: int,
        kernel_size: int = 3,
        num_classes: int | None = None,
    ) -> None:
        super().__init__()
        self.hidden, self.groups = hidden, color_channels
        self.input_to_state = MaskedRowConv2d(
            in_channels, 4 * hidden, kernel_size, "B", color_channels
        )
        self.state_to_state = nn.Conv1d(hidden, 4 * hidden, kernel_size, padding=kernel_size // 2)
        self.class_bias = class_bias(num_classes, 4 * hidden)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        n, _, _, ww = x.shape
        pre = self.input_to_state(x)  # (N, 4h, H, W)
        pre = add_class_bias(pre, self.class_bias, labels)
        h = x.new_zeros(n, self.hidden, ww)  # (N, h, W): the row above the image
        c = torch.zeros_like(h)
        rows = []
        for pre_i in pre.unbind(2):  # (N, 4h, W) a row; unbind: see DiagonalLSTM.forward
            gates = pre_i + self.state_to_state(h)  # (N, 4h, W)
            h, c = lstm_cell(gates, c, self.groups)
            rows.append(h)
        return torch.stack(rows, dim=2)  # (N, h, H, W)


class DiagonalLSTM(nn.Module):
    """One direction of the Diagonal BiLSTM: state (i, j) from (i, j-1) and (i-1, j).

    (N, in, H, W) -> (N, hidden, H, W). Output (i, j) sees every pixel above-left of it,
    and the input at (i, j) itself through a 1 x 1 mask-B convolution.
    """

    def __init__(
        self, in_channels: int, hidden: int, color_channels: int, num_classes: int | None = None
    ) -> None:
        super().__init__()
        self.hidden, self.groups = hidden, color_channels
        self.input_to_state = MaskedConv2d(in_channels, 4 * hidden, 1, "B", color_channels)
        self.state_to_state = nn.Conv1d(hidden, 4 * hidden, 2)  # rows (i-1, i) of column j-1
        self.class_bias = class_bias(num_classes, 4 * hidden)

    def state_weight(self) -> Tensor:
        """The state-to-state kernel as a matrix (4h, 2h) over the pair (h(i-1, j),
        h(i, j-1)) flattened channel-major, as ``torch.stack([up, left], -1).flatten(1)``."""
        return self.state_to_state.weight.reshape(self.state_to_state.weight.shape[0], -1)

    @torch.no_grad()
    def left_boundary(self, height: int, like: Tensor) -> tuple[Tensor, Tensor]:
        """The states (h, c) at (i, -1), just left of row i, for every row: (1, h, H) each.

        The skewed map pads row i with i zero positions on the left; the recurrence runs
        over them too (zero input-to-state, but the state-to-state bias), so the first
        pixel of row i reads a state that depends on the weights only. This replays the
        forward pass's recurrence over that padding (row 0 reads the zero initial state).
        """
        h = like.new_zeros(1, self.hidden, height)  # (1, h, H): the column left of the map
        c = torch.zeros_like(h)
        left_h, left_c = torch.zeros_like(h), torch.zeros_like(h)
        for s in range(height - 1):  # skewed column s holds (s + 1, -1) in row s + 1
            h, c = lstm_cell(self.state_to_state(F.pad(h, (1, 0))), c, self.groups)
            left_h[:, :, s + 1], left_c[:, :, s + 1] = h[:, :, s + 1], c[:, :, s + 1]
        return left_h, left_c

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        n, _, hh, ww = x.shape
        pre = self.input_to_state(x)  # (N, 4h, H, W)
        pre = add_class_bias(pre, self.class_bias, labels)
        pre = skew(pre)  # (N, 4h, H, W + H - 1): diagonals are now columns
        h = x.new_zeros(n, self.hidden, hh)  # (N, h, H): the column left of the map
        c = torch.zeros_like(h)
        cols = []
        # unbind, not pre[:, :, :, j] in the loop: each indexing's backward would write its
        # column into a fresh zero tensor of pre's full size (quadratic in the width; most
        # of a training step's time at batch 128), unbind's backward stacks them once
        for pre_j in pre.unbind(3):  # (N, 4h, H): one skewed column
            gates = pre_j + self.state_to_state(F.pad(h, (1, 0)))  # (N, 4h, H)
            h, c = lstm_cell(gates, c, self.groups)
            cols.append(h)
        return unskew(torch.stack(cols, dim=3), ww)  # (N, h, H, W)


class DiagonalBiLSTM(nn.Module):
    """Diagonal BiLSTM layer (section 3.2): (N, in, H, W) -> (N, hidden, H, W).

    The left-to-right direction runs on the map, the right-to-left one on the mirrored map;
    the latter's output is mirrored back and shifted down one row, so output (i, j) reads
    the right-to-left state of (i-1, j) (rows above only) and the left-to-right state of
    (i, j): together every earlier pixel, and no later one.
    """

    def __init__(
        self, in_channels: int, hidden: int, color_channels: int, num_classes: int | None = None
    ) -> None:
        super().__init__()
        self.forward_lstm = DiagonalLSTM(in_channels, hidden, color_channels, num_classes)
        self.backward_lstm = DiagonalLSTM(in_channels, hidden, color_channels, num_classes)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        fwd = self.forward_lstm(x, labels)  # (N, h, H, W)
        bwd = self.backward_lstm(x.flip(3), labels).flip(3)  # sees its row's right side
        bwd = F.pad(bwd, (0, 0, 1, 0))[:, :, : x.shape[2]]  # down one row: rows above only
        return fwd + bwd
