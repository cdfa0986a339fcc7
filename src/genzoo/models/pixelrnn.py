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
    - No window sampler: the recurrence gives an unbounded receptive field, so sampling is the
      naive raster sampler of :class:`genzoo.models.autoregressive.AutoregressiveModel`.

Observed (tests/test_autoregressive_family.py): one Diagonal BiLSTM layer reaches every
earlier pixel but one, the last pixel of the row above, as the paper's construction implies
(every position's inputs exclude its own pixel, so only the 7x7 mask-A layer at (i, W-4) or
later reaches it); the Row LSTM's context is the paper's triangle.
"""

from __future__ import annotations

from torch import Tensor, nn

from genzoo.config import DataSpec
from genzoo.models.autoregressive import AutoregressiveModel
from genzoo.models.pixelrnn_config import PixelRNNConfig
from genzoo.nn.masked import MaskedConv2d, MaskedOutputHead
from genzoo.nn.recurrent import DiagonalBiLSTM, RowLSTM


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
