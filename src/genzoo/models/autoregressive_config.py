"""What the autoregressive families (PixelCNN, Gated PixelCNN, PixelCNN++, PixelRNN)
declare for the upper floors: their sampler option (their one likelihood term, the exact
``nll``, is the contract's default).

Torch-free (``genzoo sample --help`` reads it); the samplers are in
:mod:`genzoo.models.autoregressive`.
"""

from __future__ import annotations

from typing import Literal

from genzoo.declare import Declarations, Option

RETIRED_SAMPLERS = {
    "window": "the window sampler was retired (issue #21): use --sampler cached (the default; "
    "it draws the same images, 5-34x faster) or --sampler naive",
}
"""Sampler names once accepted, and the one-line refusal each now gets (from ``genzoo
sample``, the app and ``model.sample(sampler=...)``). No run stores a sampler: it is an
option of each sampling call, never part of run.json or an export's config.json."""

SAMPLER = Option(
    "sampler",
    Literal["cached", "naive"],
    "Autoregressive models: cached (per-layer caches, one new position per layer per pixel; "
    "the default for every autoregressive model) or naive (a full forward pass per "
    "sub-pixel, the reference). Both draw the same images.",
    retired=tuple(RETIRED_SAMPLERS.items()),
)

DECLARES = Declarations(sample_options=(SAMPLER,))
