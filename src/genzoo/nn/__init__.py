"""Layers shared by several model families."""

from genzoo.nn.masked import MaskedConv2d, causal_mask

__all__ = ["MaskedConv2d", "causal_mask"]
