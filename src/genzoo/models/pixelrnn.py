"""PixelRNN (van den Oord, Kalchbrenner, Kavukcuoglu 2016, "Pixel Recurrent Neural
Networks", ICML, sections 3.1-3.4 and figure 4): Row LSTM and Diagonal BiLSTM.

Architecture (paper, table 1 and section 3.4):
    7x7 conv, mask A, C -> 2h maps
    L recurrent layers (``--model.cell row-lstm`` or ``diagonal-bilstm``), each with a
        residual connection: out = in + 1x1 conv mask B (h -> 2h) of the LSTM's hidden states
    ReLU, 1x1 conv (mask B), ReLU, 1x1 conv (mask B) -> 256-way softmax (or Bernoulli)

The Row LSTM's input-to-state convolution is a masked 1x3 convolution along the row and
its state-to-state convolution a 1x3 convolution over the previous row (a triangular
receptive field); the Diagonal BiLSTM skews the map, runs a 1x1 input-to-state and a 2x1
state-to-state convolution column by column in both directions, shifts the right-to-left
output down one row and unskews (the whole upper context). See :mod:`genzoo.nn.recurrent`.

Deviations:
    - Sizes default to a small network (h=32, 4 layers) that trains on a CPU; the paper used
      h=128 with 12 layers on CIFAR-10 and 7 layers on MNIST.
    - Class conditioning (``--model.conditional``) adds a learned per-class bias to the
      gates of every layer (not in the paper; as in the conditional PixelCNN).
    - The kernel width of the Row LSTM is fixed at 3 (the paper's choice).
    - Sampled incrementally with per-layer caches and carried recurrent state
      (:class:`PixelRNNCache`, after Ramachandran et al. 2017): one cell update per layer per
      sub-pixel; the Row LSTM's state-to-state term and the Diagonal BiLSTM's right-to-left
      direction are computed a row at a time, when the row they read is complete.

Observed (tests/test_autoregressive_family.py): one Diagonal BiLSTM layer reaches every
earlier pixel but one, the last pixel of the row above, as the paper's construction implies
(every position's inputs exclude its own pixel, so only the 7x7 mask-A layer at (i, W-4) or
later reaches it); the Row LSTM's context is the paper's triangle.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.config import DataSpec
from genzoo.models.autoregressive import AutoregressiveModel
from genzoo.models.pixelrnn_config import PixelRNNConfig
from genzoo.nn.cached import CachedConv, PointwiseConv, class_biases, plus_bias, same_pad
from genzoo.nn.masked import MaskedConv2d, MaskedOutputHead
from genzoo.nn.recurrent import DiagonalBiLSTM, DiagonalLSTM, RowLSTM, lstm_cell


class PixelRNN(AutoregressiveModel):
    """PixelRNN with exact likelihood; see the module docstring for the paper and deviations.

    Args:
        config: sizes and options (:class:`genzoo.models.pixelrnn_config.PixelRNNConfig`).
        data: image shape (C, H, W), kind ("8bit" or "binary") and number of classes.
    """

    name = "pixelrnn"

    def __init__(self, config: PixelRNNConfig, data: DataSpec) -> None:
        super().__init__(config, data)
        c = data.image_shape[0]
        h = config.hidden_channels
        self.check_divides_colours(
            "hidden_channels", h, " (each colour owns an equal share of the LSTM state)"
        )
        num_classes = self.label_classes
        self.input_conv = MaskedConv2d(c, 2 * h, 7, "A", c)
        cell = RowLSTM if config.cell == "row-lstm" else DiagonalBiLSTM
        self.layers = nn.ModuleList(
            cell(2 * h, h, c, num_classes=num_classes) for _ in range(config.num_layers)
        )
        self.residual = nn.ModuleList(
            MaskedConv2d(h, 2 * h, 1, "B", c) for _ in range(config.num_layers)
        )
        self.head = MaskedOutputHead(2 * h, config.output_channels, c, self.params_per_subpixel)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """The network: (N, C, H, W) in [-1, 1] -> (N, C, K, H, W) sub-pixel parameters."""
        y = self.input_conv(x)  # (N, 2h, H, W)
        for layer, up in zip(self.layers, self.residual, strict=True):
            y = y + up(layer(y, labels))  # LSTM hidden (N, h, H, W) -> (N, 2h, H, W)
        return self.head(y)

    def cached_network(self, x: Tensor, labels: Tensor | None = None) -> PixelRNNCache:
        return PixelRNNCache(self, x, labels)


class _RowLSTMCache:
    """One Row LSTM layer's cache: its input (for the masked 1 x 3 input-to-state
    convolution), the state-to-state term of the current row (computed from the row above
    when it completes), and the hidden and cell states of every position."""

    def __init__(self, layer: RowLSTM, like: Tensor, labels: Tensor | None) -> None:
        n, _, hh, ww = like.shape
        self.layer = layer
        self.input = CachedConv(layer.input_to_state, like, same_pad(layer.input_to_state))
        (self.bias,) = class_biases([layer.class_bias], labels)
        self.h = like.new_zeros(n, layer.hidden, hh, ww)  # (N, h, H, W)
        self.c = torch.zeros_like(self.h)
        zero = like.new_zeros(n, layer.hidden, ww)  # (N, h, W): the row above the image
        self.from_above = layer.state_to_state(zero)  # (N, 4h, W)
        self.c_above = zero

    def at(self, i: int, j: int, y: Tensor) -> Tensor:
        # y: (N, in) -> hidden state (N, h) at (i, j)
        self.input.write(i, j, y)
        gates = plus_bias(self.input.at(i, j), self.bias) + self.from_above[:, :, j]  # (N, 4h)
        h, c = lstm_cell(gates, self.c_above[:, :, j], self.layer.groups)
        self.h[:, :, i, j], self.c[:, :, i, j] = h, c
        return h

    def end_row(self, i: int) -> None:
        self.from_above = self.layer.state_to_state(self.h[:, :, i])  # (N, 4h, W)
        self.c_above = self.c[:, :, i]

    def output(self) -> Tensor:
        return self.h


class _DiagonalCache:
    """One direction of a Diagonal BiLSTM layer: states of every position, stepped one
    position at a time from the state above and the state to the left (for the
    right-to-left direction, "left" is the next column to the right)."""

    def __init__(self, lstm: DiagonalLSTM, like: Tensor, labels: Tensor | None) -> None:
        n, _, hh, ww = like.shape
        self.lstm = lstm
        self.input = PointwiseConv(lstm.input_to_state)
        (self.bias,) = class_biases([lstm.class_bias], labels)
        self.weight, self.state_bias = lstm.state_weight(), lstm.state_to_state.bias
        self.h = like.new_zeros(n, lstm.hidden, hh, ww)  # (N, h, H, W)
        self.c = torch.zeros_like(self.h)
        self.edge_h, self.edge_c = lstm.left_boundary(hh, like)  # (1, h, H) each
        self.zero = like.new_zeros(n, lstm.hidden)

    def step(self, i: int, j: int, pre: Tensor, left: int | None) -> Tensor:
        # pre: (N, 4h) input-to-state (with class bias) -> hidden state (N, h) at (i, j);
        # ``left`` is the column of the left neighbour, None at the image's edge
        up = self.h[:, :, i - 1, j] if i > 0 else self.zero  # (N, h)
        if left is None:
            h_left = self.edge_h[:, :, i].expand_as(up)
            c_left = self.edge_c[:, :, i].expand_as(up)
        else:
            h_left, c_left = self.h[:, :, i, left], self.c[:, :, i, left]
        pair = torch.stack([up, h_left], dim=-1).flatten(1)  # (N, 2h): (above, left)
        gates = pre + F.linear(pair, self.weight, self.state_bias)  # (N, 4h)
        h, c = lstm_cell(gates, c_left, self.lstm.groups)
        self.h[:, :, i, j], self.c[:, :, i, j] = h, c
        return h


class _DiagonalBiLSTMCache:
    """A Diagonal BiLSTM layer's cache: the left-to-right direction steps with each pixel;
    the right-to-left one, which reads the rest of its row, runs over row i when it
    completes (it reaches the output one row lower, through the down-shift)."""

    def __init__(self, layer: DiagonalBiLSTM, like: Tensor, labels: Tensor | None) -> None:
        self.fwd = _DiagonalCache(layer.forward_lstm, like, labels)
        self.bwd = _DiagonalCache(layer.backward_lstm, like, labels)
        self.input = torch.zeros_like(like)  # (N, in, H, W): the layer's input

    def at(self, i: int, j: int, y: Tensor) -> Tensor:
        # y: (N, in) -> the layer's output (N, h) at (i, j)
        self.input[:, :, i, j] = y
        pre = plus_bias(self.fwd.input(y), self.fwd.bias)  # (N, 4h)
        h = self.fwd.step(i, j, pre, j - 1 if j > 0 else None)
        return h + self.bwd.h[:, :, i - 1, j] if i > 0 else h

    def end_row(self, i: int) -> None:
        w = self.input.shape[3]
        pre = plus_bias(self.bwd.input.rows(self.input[:, :, i]), self.bwd.bias)  # (N, 4h, W)
        for j in range(w - 1, -1, -1):
            self.bwd.step(i, j, pre[:, :, j], j + 1 if j < w - 1 else None)

    def output(self) -> Tensor:
        shifted = F.pad(self.bwd.h, (0, 0, 1, 0))[:, :, : self.bwd.h.shape[2]]
        return self.fwd.h + shifted


class PixelRNNCache:
    """PixelRNN's per-layer caches and recurrent states (see
    :mod:`genzoo.models.cached_sampling`): the image for the 7x7 mask-A layer, then per
    recurrent layer its input and its states; each new pixel costs one cell update per
    layer instead of a pass over the image.

    Args:
        model: the network (its weights are read once, at construction).
        x: signed network input (N, C, H, W) of the images drawn so far.
        labels: class labels (N,) of a conditional model, else None.
    """

    def __init__(self, model: PixelRNN, x: Tensor, labels: Tensor | None) -> None:
        n, _, hh, ww = x.shape
        self.input = CachedConv(model.input_conv, x, same_pad(model.input_conv), fill=True)
        stream = x.new_zeros(n, 2 * model.config.hidden_channels, hh, ww)
        self.layers: list[_RowLSTMCache | _DiagonalBiLSTMCache] = [
            _RowLSTMCache(layer, stream, labels)
            if isinstance(layer, RowLSTM)
            else _DiagonalBiLSTMCache(layer, stream, labels)
            for layer in model.layers
        ]
        self.residual = [PointwiseConv(up) for up in model.residual]
        self.head = [PointwiseConv(model.head[1]), PointwiseConv(model.head[3])]
        self.shape = (model.head.color_channels, model.head.params_per_subpixel)

    def write_input(self, i: int, j: int, pixel: Tensor) -> None:
        self.input.write(i, j, pixel)

    def params_at(self, i: int, j: int) -> Tensor:
        y = self.input.at(i, j)  # (N, 2h)
        for layer, up in zip(self.layers, self.residual, strict=True):
            y = y + up(layer.at(i, j, y))  # (N, 2h)
        out = self.head[1](F.relu(self.head[0](F.relu(y))))  # (N, C*K)
        return out.view(out.shape[0], *self.shape)  # (N, C, K)

    def end_row(self, i: int) -> None:
        for layer in self.layers:
            layer.end_row(i)

    def activations(self) -> dict[str, tuple[int, Tensor]]:
        maps = {"input_conv": self.input.held_input()}
        for k, layer in enumerate(self.layers):
            if isinstance(layer, _DiagonalBiLSTMCache):
                maps[f"layers.{k}"] = (0, layer.input)
            else:
                maps[f"layers.{k}"] = layer.input.held_input()
            maps[f"layers.{k}:output"] = (0, layer.output())
        return maps
