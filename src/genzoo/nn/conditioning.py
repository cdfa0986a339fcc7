"""Class conditioning by a learned per-class bias (the conditional PixelCNN's h = one-hot
label, V h a per-class vector added to a layer's pre-activations: van den Oord et al.
2016, "Conditional Image Generation with PixelCNN Decoders", eq. 4).

Used by every autoregressive family (PixelCNN, Gated PixelCNN, PixelRNN, PixelCNN++); the
bias is a plain ``nn.Embedding`` (its weight is the checkpoint key ``<name>.weight``).
"""

from __future__ import annotations

from torch import Tensor, nn


def class_bias(num_classes: int | None, channels: int) -> nn.Embedding | None:
    """A learned bias of ``channels`` values per class, or None for an unconditional layer."""
    return nn.Embedding(num_classes, channels) if num_classes else None


def add_class_bias(x: Tensor, bias: nn.Embedding | None, labels: Tensor | None) -> Tensor:
    """x (N, C, ...) plus the bias of each example's class, broadcast over the trailing
    dimensions; x itself when the layer or the call is unconditional."""
    if bias is None or labels is None:
        return x
    b = bias(labels)  # (N, C)
    return x + b.view(*b.shape, *([1] * (x.ndim - 2)))
