"""Fast sampling for convolutional autoregressive models (Ramachandran et al. 2017, "Fast
Generation for Convolutional Autoregressive Models", ICLR workshop).

The naive sampler runs the whole network over the whole image for every sub-pixel, although
a new pixel changes only the outputs inside its forward cone, and the next output needs only
the activations inside its receptive field. This sampler keeps the image drawn so far (the
cached state) and, for each new pixel (i, j), evaluates the network on the window of the
image that can reach output (i, j): the rows ``up`` above it down to row i and the columns
``left`` to its left to ``right`` to its right. Every activation inside the window's
receptive-field cone is then the same as in the full image (the cone never reaches the
window's borders except where they are the image's own), so the output at (i, j) is the
naive one and the draw, made by the same hook from the same generator in the same order,
is the same value.

Deviations from Ramachandran et al.:
    - They cache every layer's activations in per-layer queues and compute one position
      per layer per step; we recompute the receptive-field window of each new pixel from the
      cached image instead. This needs no per-layer code (any network of local, causal
      layers works once it declares its receptive field), is exact by construction, and
      costs O(window) instead of O(image) per step: a speed-up of (H*W) / window-size, less
      than their per-layer caches give where the receptive field is large.
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

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

if TYPE_CHECKING:
    from genzoo.models.autoregressive import AutoregressiveModel

UNBOUNDED = 1 << 30
"""An extent that covers any image (use for directions the network sees without limit)."""


@dataclass(frozen=True)
class ReceptiveField:
    """Input pixels that can reach the output at a pixel (i, j), in full-resolution pixels.

    The output at (i, j) may read input rows i - up .. i and, in those rows, columns
    j - left .. j + right (causality further restricts row i to columns < j).

    Attributes:
        up: rows above the output row.
        left: columns to the left.
        right: columns to the right.
        align: window corners snap to multiples of this (networks that down-sample by
            ``align`` need the window on their coarse grids).
    """

    up: int
    left: int
    right: int
    align: int = 1


def window(rf: ReceptiveField, i: int, j: int, h: int, w: int) -> tuple[int, int, int, int]:
    """The crop (r0, r1, c0, c1) of an h x w image that holds the receptive field of (i, j).

    Rows r0 .. r1-1 and columns c0 .. c1-1; corners are snapped outwards to multiples of
    ``rf.align`` (clipped to the image). Rows below i are never needed (causality).
    """
    a = rf.align
    r0 = max(0, i - rf.up) // a * a
    r1 = min(h, -(-(i + 1) // a) * a)
    c0 = max(0, j - rf.left) // a * a
    c1 = min(w, -(-(j + rf.right + 1) // a) * a)
    return r0, r1, c0, c1


@torch.no_grad()
def sample_windowed(
    model: AutoregressiveModel,
    x: Tensor,
    labels: Tensor | None,
    generator: torch.Generator | None,
    start: int = 0,
) -> Tensor:
    """Fill ``x`` in raster order from pixel ``start`` on, evaluating windows only.

    Args:
        model: an autoregressive model whose :meth:`receptive_field` is not None.
        x: long images (N, C, H, W); pixels before ``start`` (raster order) are given and
            kept, the rest are overwritten in place.
        labels: class labels (N,) for conditional models, else None.
        generator: the random generator of the draws (the naive sampler's order).
        start: the first pixel to draw, counted in raster order.

    Returns:
        ``x``, filled.
    """
    rf = model.receptive_field()
    if rf is None:
        raise ValueError(f"{type(model).__name__} declares no receptive field")
    _, c_, h_, w_ = x.shape
    per_subpixel = model.output_sees_current_pixel
    for pos in range(start, h_ * w_):
        i, j = divmod(pos, w_)
        r0, r1, c0, c1 = window(rf, i, j, h_, w_)
        crop = x[:, :, r0:r1, c0:c1]  # a view: draws written into x show up here
        out = None
        for c in range(c_):
            if out is None or per_subpixel:
                out = model.logits(model.preprocess(crop), labels)
            x[:, c, i, j] = model.draw_subpixel(out, crop, i - r0, j - c0, c, generator)
    return x
