"""Figures: sample grids (and, as families land, manifolds, interpolations, reports)."""

from genzoo.viz.grid import make_grid, save_grid

__all__ = ["make_grid", "save_grid"]
