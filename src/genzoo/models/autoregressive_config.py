"""What the autoregressive families (PixelCNN, Gated PixelCNN, PixelCNN++, PixelRNN)
declare for the upper floors: their sampler option (their one likelihood term, the exact
``nll``, is the contract's default).

Torch-free (``genzoo sample --help`` reads it); the samplers are in
:mod:`genzoo.models.autoregressive`.
"""

from __future__ import annotations

from typing import Literal

from genzoo.declare import Declarations, Option

SAMPLER = Option(
    "sampler",
    Literal["cached", "window", "naive"],
    "Autoregressive models: cached (per-layer caches, one new position per layer per pixel; "
    "the default for every autoregressive model), window (each new pixel's receptive-field "
    "window; convolutional models) or naive (a full forward pass per sub-pixel, the "
    "reference). All three draw the same images.",
)

DECLARES = Declarations(sample_options=(SAMPLER,))
