"""Receptive fields of causal image networks, and the window of an image that holds one.

A convolutional autoregressive network declares, through
:meth:`genzoo.models.autoregressive.AutoregressiveModel.receptive_field`, how far its
output at a pixel can look; the window sampler (:mod:`genzoo.models.windowed_sampling`)
then evaluates the network on :func:`window` crops only, and tests/test_causality.py checks
each declaration against gradients.
"""

from __future__ import annotations

from dataclasses import dataclass

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
