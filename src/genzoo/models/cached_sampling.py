"""Cached sampling for autoregressive image models (Ramachandran et al. 2017, "Fast
Generation for Convolutional Autoregressive Models", ICLR workshop).

The naive sampler runs the whole network over the whole image for each sub-pixel. Here
every layer keeps a cache of its input (:class:`genzoo.nn.cached.CachedConv`), and for a
new pixel each layer computes only its one new output position and writes it into the next
layer's cache; layers whose outputs at row i depend only on complete rows (the Gated
PixelCNN's vertical stack, the Row LSTM's state-to-state term, the Diagonal BiLSTM's
right-to-left direction, PixelCNN++'s ``u`` stream and its coarse rows) are computed a
whole row at a time when a row completes. Work per pixel is one position per layer
(batched over the images), so the cost is about one forward pass per image instead of H*W*C.

Design: the sampler loop below is generic; each family provides a small *cache object*
(:class:`CachedNetwork`) built from its own layers, which knows which of its layers run per
pixel and which per row. We chose per-family cache objects over a generic graph driven by
layer declarations because the four families differ in exactly the parts that matter for
speed and exactness (two stacks with a shifted link, recurrent state, three resolutions
with shortcuts): a generic graph would need declarations as long as these classes and would
hide the one fact a reader needs, the order in which positions become final. The per-layer
mechanism itself (a cached input map, one position or one row out) is shared:
:mod:`genzoo.nn.cached`.

Same images as the naive sampler: the draws are made in the same order by the same
likelihood (:meth:`genzoo.nn.likelihoods.AutoregressiveLikelihood.draw_at`) from the same
generator, on the network output at the same sub-pixel. The cached output equals the full
network's up to floating-point summation order (a patch times a kernel versus a
convolution over the image; about 1e-7 relative in float32); elementwise steps (biases,
residual sums, gates, the LSTM cell) are made in the naive path's order, so they add no
difference. A draw can differ only if a uniform variate falls within that distance of a bin
edge; tests/test_cached_sampling.py and benchmarks/ar_sampling.py count identical images,
and the test suite checks every cached layer against a forward pass to 1e-5.

Deviations from Ramachandran et al.:
    - A convolution's cache holds the kh whole rows its next output row reads, shifted up
      once per row, rather than a queue pushed and popped per position (see
      :mod:`genzoo.nn.cached`). Recurrent states and PixelCNN++'s shortcut maps are kept
      as whole maps (memory N x C x H x W each; at 28x28 and a batch of 250, 0.5 GB for the
      default PixelCNN++, 0.2 GB for PixelRNN, under 50 MB for the two PixelCNNs).
    - Colour images: the network is re-evaluated at the pixel for each sub-pixel (R, G, B),
      as the naive sampler does; PixelCNN++ (whose output at a pixel ignores the pixel)
      once per pixel.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor

from genzoo import progress
from genzoo.nn.likelihoods import AutoregressiveLikelihood


class CachedNetwork(Protocol):
    """A network's per-layer caches during one sampling run (one per family).

    Built from the signed network input (N, C, H, W) of the images drawn so far (undrawn
    sub-pixels hold any value: the masks never read them) and the labels.
    """

    def write_input(self, i: int, j: int, pixel: Tensor) -> None:
        """Store the network input at pixel (i, j): (N, C) signed values."""
        ...

    def params_at(self, i: int, j: int) -> Tensor:
        """Compute every layer's new position (i, j); return the output parameters there:
        (N, C, K) for a factorised likelihood, (N, P) for PixelCNN++'s mixture."""
        ...

    def end_row(self, i: int) -> None:
        """Row i of the input is complete: do the work that needs whole rows."""
        ...

    def activations(self) -> dict[str, tuple[int, Tensor]]:
        """What each layer holds, keyed by the name of the module whose input (or output,
        where the key ends in ``:output``) it is: (first row, (N, channels, rows, W')), the
        rows a convolution's cache still holds or a whole map of states."""
        ...


class CacheSampleable(Protocol):
    """What the cached sampler needs of a model (provided by
    :class:`genzoo.models.autoregressive.AutoregressiveModel` and its families)."""

    output_sees_current_pixel: bool
    likelihood: AutoregressiveLikelihood

    def preprocess(self, images: Tensor) -> Tensor:
        """Long data-space images -> the network input (signed floats)."""
        ...

    def cached_network(self, x: Tensor, labels: Tensor | None) -> CachedNetwork | None:
        """The family's caches for signed input ``x`` (N, C, H, W), or None."""
        ...


@torch.no_grad()
def sample_cached(
    model: CacheSampleable,
    x: Tensor,
    labels: Tensor | None,
    generator: torch.Generator | None,
    start: int = 0,
) -> CachedNetwork:
    """Fill ``x`` in raster order from pixel ``start`` on, one cached position per layer.

    Args:
        model: a model whose :meth:`CacheSampleable.cached_network` is not None.
        x: long images (N, C, H, W); pixels before ``start`` (raster order) are given and
            kept (their positions are computed, not drawn), the rest are overwritten.
        labels: class labels (N,) for conditional models, else None.
        generator: the random generator of the draws (the naive sampler's order).
        start: the first pixel to draw, counted in raster order.

    Returns:
        The caches after the last pixel: every layer's activations for the final images.

    Raises:
        TypeError: if the model has no cached network (callers check first).
    """
    _, c_, h_, w_ = x.shape
    net = model.cached_network(model.preprocess(x), labels)
    if net is None:
        raise TypeError(f"{type(model).__name__} has no cached network")
    per_subpixel = model.output_sees_current_pixel
    progress.start(h_ * w_ - start, "pixel")
    for i in range(h_):
        for j in range(w_):
            if i * w_ + j < start:
                net.params_at(i, j)  # a given pixel: fill the caches, draw nothing
                continue
            pixel = x[:, :, i : i + 1, j : j + 1]  # (N, C, 1, 1), a view of x
            out = None
            for c in range(c_):
                if out is None or per_subpixel:
                    out = net.params_at(i, j)[..., None, None]  # (N, ..., 1, 1)
                pixel[:, c, 0, 0] = model.likelihood.draw_at(out, pixel, 0, 0, c, generator)
                net.write_input(i, j, model.preprocess(pixel[:, :, 0, 0]))
            progress.advance()
        net.end_row(i)
    return net
