"""The PixelCNN config: sizes and options, validated when built.

Torch-free (``genzoo --help`` reads it without importing torch); the model is in
:mod:`genzoo.models.pixelcnn`.
"""

from __future__ import annotations

from dataclasses import dataclass

from genzoo.config import check_positive


@dataclass(frozen=True)
class PixelCNNConfig:
    """PixelCNN (van den Oord, Kalchbrenner, Kavukcuoglu 2016, "Pixel Recurrent Neural
    Networks", section 3.5 and figure 5): a 7x7 mask-A convolution, residual blocks of
    1x1 / 3x3 mask-B / 1x1 convolutions, two 1x1 mask-B output layers, and a 256-way
    softmax (8-bit data) or a Bernoulli (binary data) per sub-pixel."""

    hidden_channels: int = 64
    """Channels h inside a residual block; the residual stream has 2h (paper: h=128 on CIFAR)."""
    num_blocks: int = 7
    """Number of residual blocks (paper: 15 on CIFAR-10, 7 layers for MNIST)."""
    output_channels: int = 128
    """Channels of the two 1x1 output layers (paper: 1024 on CIFAR-10)."""
    conditional: bool = False
    """Condition on the class label (a learned per-class bias in every block)."""

    def __post_init__(self) -> None:
        check_positive(self, "hidden_channels", "num_blocks", "output_channels")
