"""The Gated PixelCNN config: sizes and options, validated when built.

Torch-free (``genzoo --help`` reads it without importing torch); the model is in
:mod:`genzoo.models.gated_pixelcnn`.
"""

from __future__ import annotations

from dataclasses import dataclass

from genzoo.config import check_positive


@dataclass(frozen=True)
class GatedPixelCNNConfig:
    """Gated PixelCNN (van den Oord et al. 2016, "Conditional Image Generation with PixelCNN
    Decoders"): vertical and horizontal stacks (no blind spot), gated tanh x sigmoid units,
    a class-conditional bias, and a 256-way softmax or a Bernoulli per sub-pixel."""

    hidden_channels: int = 64
    """Channels of both stacks (paper: 384 on CIFAR-10); divisible by the colour channels."""
    num_layers: int = 8
    """Gated layers: the first 7x7, the rest 3x3 (paper: 15 on CIFAR-10)."""
    output_channels: int = 128
    """Channels of the two 1x1 output layers."""
    conditional: bool = False
    """Condition on the class label (a learned per-class bias in both stacks' gates)."""

    def __post_init__(self) -> None:
        check_positive(self, "hidden_channels", "num_layers", "output_channels")
