"""Window sampling for convolutional autoregressive models (after Ramachandran et al. 2017,
"Fast Generation for Convolutional Autoregressive Models", ICLR workshop).

The naive sampler runs the whole network over the whole image for every sub-pixel, although
a new pixel changes only the outputs inside its forward cone, and the next output needs only
the activations inside its receptive field. This sampler keeps the image drawn so far and,
for each new pixel (i, j), evaluates the network on the window of the image that can reach
output (i, j) (:func:`genzoo.nn.receptive_field.window`): the rows ``up`` above it down to
row i and the columns ``left`` to its left to ``right`` to its right. Every activation
inside the window's receptive-field cone is then the same as in the full image (the cone
never reaches the window's borders except where they are the image's own), so the output at
(i, j) is the naive one and the draw, made by the same likelihood from the same generator
in the same order, is the same value.

The sampler talks to the model through :class:`WindowSampleable` only (public, documented
methods that :class:`genzoo.models.autoregressive.AutoregressiveModel` provides), so any
family that offers them can use it.

Since the cached sampler (:mod:`genzoo.models.cached_sampling`, their per-layer caches)
became the default, this one stays as a fallback for networks that declare a receptive
field but no caches, and as a second reference in the tests and benchmarks.

Deviations from Ramachandran et al.:
    - They cache every layer's activations in per-layer queues and compute one position
      per layer per step; we recompute the receptive-field window of each new pixel from
      the image drawn so far instead. This needs no per-layer code (any network of local,
      causal layers works once it declares its receptive field), is exact by construction,
      and costs O(window) instead of O(image) per step: a speed-up of (H*W) / window-size,
      less than their per-layer caches give where the receptive field is large.
    - Networks whose output at a pixel ignores that pixel's own channels
      (``output_sees_current_pixel = False``, PixelCNN++) are evaluated once per pixel
      rather than once per sub-pixel.

The result is identical to the naive sampler's up to floating-point summation order: a
convolution over a window may round differently from the same convolution over the full
image, and a draw could then differ if a uniform variate falls within about 1e-7 of a
bin edge. The test suite and benchmarks/ar_sampling.py compare the two samplers image by
image.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor

from genzoo import progress
from genzoo.errors import UserInputError
from genzoo.nn.likelihoods import AutoregressiveLikelihood
from genzoo.nn.receptive_field import ReceptiveField, window


class WindowSampleable(Protocol):
    """What the window sampler needs of a model (all public, documented; provided by
    :class:`genzoo.models.autoregressive.AutoregressiveModel`).

    Attributes:
        output_sees_current_pixel: False when the network output at a pixel ignores every
            channel of that pixel (then one evaluation serves all its sub-pixels).
        likelihood: draws one sub-pixel from the network output
            (:meth:`genzoo.nn.likelihoods.AutoregressiveLikelihood.draw_at`).
    """

    output_sees_current_pixel: bool
    likelihood: AutoregressiveLikelihood

    def receptive_field(self) -> ReceptiveField | None:
        """The window of input pixels that can reach an output pixel (None: unbounded)."""
        ...

    def subpixel_params(self, images: Tensor, labels: Tensor | None) -> Tensor:
        """The network output (every sub-pixel's distribution parameters) for long
        data-space images (N, C, H', W'), any H', W'."""
        ...


@torch.no_grad()
def sample_windowed(
    model: WindowSampleable,
    x: Tensor,
    labels: Tensor | None,
    generator: torch.Generator | None,
    start: int = 0,
) -> Tensor:
    """Fill ``x`` in raster order from pixel ``start`` on, evaluating windows only.

    Args:
        model: a model whose :meth:`WindowSampleable.receptive_field` is not None.
        x: long images (N, C, H, W); pixels before ``start`` (raster order) are given and
            kept, the rest are overwritten in place.
        labels: class labels (N,) for conditional models, else None.
        generator: the random generator of the draws (the naive sampler's order).
        start: the first pixel to draw, counted in raster order.

    Returns:
        ``x``, filled.

    Raises:
        UserInputError: if the model declares no receptive field.
    """
    rf = model.receptive_field()
    if rf is None:
        raise UserInputError(
            f"{type(model).__name__} declares no receptive field; use sampler='naive'"
        )
    _, c_, h_, w_ = x.shape
    per_subpixel = model.output_sees_current_pixel
    progress.start(h_ * w_ - start, "pixel")
    for pos in range(start, h_ * w_):
        i, j = divmod(pos, w_)
        r0, r1, c0, c1 = window(rf, i, j, h_, w_)
        crop = x[:, :, r0:r1, c0:c1]  # a view: draws written into x show up here
        out = None
        for c in range(c_):
            if out is None or per_subpixel:
                out = model.subpixel_params(crop, labels)
            x[:, c, i, j] = model.likelihood.draw_at(out, crop, i - r0, j - c0, c, generator)
        progress.advance()
    return x
