"""The PixelRNN config: cell, sizes and options, validated when built.

Torch-free (``genzoo --help`` reads it without importing torch); the model is in
:mod:`genzoo.models.pixelrnn`.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Literal

from genzoo.config import check_choice, check_positive

Cell = Literal["row-lstm", "diagonal-bilstm"]
CELLS: tuple[str, ...] = typing.get_args(Cell)
"""The recurrent layers PixelRNN offers."""


@dataclass(frozen=True)
class PixelRNNConfig:
    """PixelRNN (van den Oord, Kalchbrenner, Kavukcuoglu 2016, "Pixel Recurrent Neural
    Networks", sections 3.1-3.4): a 7x7 mask-A convolution, recurrent layers (Row LSTM or
    Diagonal BiLSTM) with residual connections, two 1x1 mask-B output layers, and a 256-way
    softmax (8-bit data) or a Bernoulli (binary data) per sub-pixel."""

    cell: Cell = "row-lstm"
    """Recurrent layer: row-lstm (1x3 state-to-state over the previous row, a triangular
    receptive field) or diagonal-bilstm (skewed 2x1 state-to-state, both directions: the
    whole context)."""
    hidden_channels: int = 32
    """LSTM state channels h; the residual stream has 2h (paper: 128); divisible by the
    colour channels."""
    num_layers: int = 4
    """Recurrent layers (paper: 12 on CIFAR-10, 7 on MNIST)."""
    output_channels: int = 128
    """Channels of the two 1x1 output layers (paper: 1024 on CIFAR-10)."""
    conditional: bool = False
    """Condition on the class label (a learned per-class bias on every layer's gates)."""

    def __post_init__(self) -> None:
        check_choice(self, "cell", CELLS)
        check_positive(self, "hidden_channels", "num_layers", "output_channels")
