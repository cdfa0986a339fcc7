"""Scatter plots of 2-D samples over the data's density (toy2d runs).

The periodic "sample grid" of a run on 2-D points, and ``genzoo sample`` on such a run,
draw the samples as dots over a heat map of the true density p(x) (from the dataset's
exact ``log_prob``), so mode coverage and mode collapse are visible at a glance.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor

from genzoo.errors import UserInputError
from genzoo.io import save_figure

GRID = 300
"""Points per side of the density heat map."""


def save_scatter(
    points: Tensor,
    path: str | Path,
    *,
    labels: Tensor | None = None,
    log_density: Callable[[Tensor], Tensor] | None = None,
    title: str = "",
    extent: float | None = None,
) -> Path:
    """Write a PNG of ``points`` (N, 2) over exp(log_density) on a square, atomically.

    Args:
        points: samples, float (N, 2).
        path: the PNG file.
        labels: (N,) class of each sample (coloured), or None.
        log_density: maps (M, 2) points to log p (M,); None draws no background.
        title: the figure's title.
        extent: half-width of the square shown; default: 1.1 x the largest |coordinate|
            of the samples, at least 3 and at most 10.
    """
    if points.ndim != 2 or points.shape[1] != 2:
        raise UserInputError(f"a scatter needs points of shape (N, 2), got {tuple(points.shape)}")
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    pts = points.detach().float().cpu()
    finite = pts[torch.isfinite(pts).all(1)]
    if extent is None:
        big = float(finite.abs().max()) if len(finite) else 3.0
        extent = min(max(3.0, 1.1 * big), 10.0)
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    try:
        if log_density is not None:
            axis = torch.linspace(-extent, extent, GRID)
            yy, xx = torch.meshgrid(axis, axis, indexing="ij")
            grid = torch.stack([xx.reshape(-1), yy.reshape(-1)], 1)  # (GRID^2, 2)
            density = log_density(grid).double().exp().reshape(GRID, GRID)
            ax.imshow(
                density.numpy(),
                origin="lower",
                extent=(-extent, extent, -extent, extent),
                cmap="Blues",
                interpolation="bilinear",
            )
        x, y = pts[:, 0].numpy(), pts[:, 1].numpy()
        if labels is not None and (labels >= 0).any():
            ax.scatter(x, y, c=labels.cpu().numpy(), cmap="tab10", s=3, alpha=0.6)
        else:
            ax.scatter(x, y, s=2, alpha=0.5, color="tab:red")
        ax.set_xlim(-extent, extent)
        ax.set_ylim(-extent, extent)
        ax.set_aspect("equal")
        ax.set_title(title or f"{len(pts)} samples")
        fig.tight_layout()
        return save_figure(fig, path)
    finally:
        plt.close(fig)
