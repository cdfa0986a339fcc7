"""The PixelCNN++ config: sizes and options, validated when built.

Torch-free (``genzoo --help`` reads it without importing torch); the model is in
:mod:`genzoo.models.pixelcnn_pp`.
"""

from __future__ import annotations

from dataclasses import dataclass

from genzoo.config import check_positive
from genzoo.errors import ConfigError


@dataclass(frozen=True)
class PixelCNNPPConfig:
    """PixelCNN++ (Salimans et al. 2017): a discretised logistic mixture per pixel with
    linear R -> G -> B dependence, down/up-sampling with shortcut connections, gated resnet
    blocks with dropout, down- and down-right-shifted convolutions. 8-bit data only."""

    filters: int = 32
    """Channels of both streams (paper: 160 on CIFAR-10)."""
    num_resnet: int = 2
    """Gated resnet blocks per resolution (paper: 5); 3 resolutions."""
    num_mixtures: int = 5
    """Logistic components of each pixel's mixture (paper: 10)."""
    dropout: float = 0.5
    """Dropout probability inside every block (paper: 0.5 on CIFAR-10)."""
    conditional: bool = False
    """Condition on the class label (a learned per-class bias in every block's gate)."""

    def __post_init__(self) -> None:
        check_positive(self, "filters", "num_resnet", "num_mixtures")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError("dropout", f"must be in [0, 1), got {self.dropout}")
