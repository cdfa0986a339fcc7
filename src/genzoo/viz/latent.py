"""Views of a latent space, through the :class:`genzoo.models.base.latent interface` interface.

Everything here reads only ``latent_dim``, ``encode(images, labels)`` and
``decode(z, labels)``, so any model that declares a latent code z ~ N(0, I)
(``has_latent``; ``has_encoder`` for the views that start from images) gets the same
figures:

- :func:`manifold`: decode a grid of 2-D codes spaced by the inverse normal CDF (Kingma &
  Welling 2014, figure 4: "linearly spaced coordinates on the unit square were
  transformed through the inverse CDF of the Gaussian").
- :func:`save_latent_scatter`: encoded images as points coloured by label (figure 3 style).
- :func:`interpolate`: decode the straight line, or the great circle (spherical linear
  interpolation, White 2016, "Sampling generative networks"), between two codes.
- :func:`reconstruct`: decode(encode(x)) beside x.

Figures are PNG files written atomically (:func:`genzoo.io.atomic_path`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from genzoo.errors import UserInputError
from genzoo.io import save_figure

INTERPOLATIONS = ("linear", "spherical")


def require_latent_model(model: Any, view: str, *, encoder: bool = False) -> Any:
    """Return ``model`` if it declares a latent space (and, with ``encoder``, an encoder),
    else a one-line UserInputError that says which views it does have."""
    if not model.has_latent:
        raise UserInputError(
            f"'{view}' needs a model with a latent space; {model.name} has "
            "none: use 'genzoo sample' for its samples instead"
        )
    if encoder and not model.has_encoder:
        manifold = ", 'genzoo viz manifold'" if model.latent_dim == 2 else ""
        raise UserInputError(
            f"'{view}' starts from images and needs an encoder; {model.name} has no encoder (its "
            "codes come from the prior): use 'genzoo viz interpolate --between "
            f"sample:0,sample:1' or 'genzoo viz arithmetic'{manifold}"
        )
    return model


def manifold_codes(n: int, lo: float = 0.05, hi: float = 0.95) -> Tensor:
    """An n x n grid of 2-D codes: probabilities evenly spaced in [lo, hi] per axis, through
    the inverse normal CDF. Row-major from the top-left, z[1] decreasing down the rows so
    that the picture has z[1] pointing up. Returns (n * n, 2)."""
    if n < 2:
        raise UserInputError(f"the manifold grid needs at least 2 points per side, got {n}")
    q = torch.special.ndtri(torch.linspace(lo, hi, n, dtype=torch.float64)).float()  # (n,)
    z1, z0 = torch.meshgrid(q.flip(0), q, indexing="ij")  # rows: z1 high -> low
    return torch.stack([z0.reshape(-1), z1.reshape(-1)], dim=1)  # (n*n, 2)


@torch.no_grad()
def manifold(model: Any, n: int = 20, label: int | None = None) -> Tensor:
    """Decode the :func:`manifold_codes` grid: uint8 (n * n, C, H, W), row-major.

    Raises:
        UserInputError: if the model's latent space is not 2-D.
    """
    model = require_latent_model(model, "manifold")
    if model.latent_dim != 2:
        other = "'interpolate'" + (", 'latents' (a projection)" if model.has_encoder else "")
        other += ", 'arithmetic'" if not model.has_encoder else ""
        raise UserInputError(
            f"the manifold view decodes a 2-D grid of codes, but this {model.name} has "
            f"latent_dim {model.latent_dim}: train one with --model.latent-dim 2; for this "
            f"model use 'genzoo viz' {other}"
        )
    device = model.device
    z = manifold_codes(n).to(device)
    labels = None if label is None else torch.full((n * n,), int(label), device=device)
    return model.decode(z, labels)


@torch.no_grad()
def encode_all(
    model: Any, images: Tensor, labels: Tensor | None = None, batch_size: int = 500
) -> Tensor:
    """Encode images in batches: (N, C, H, W) -> (N, latent_dim) on the CPU."""
    model = require_latent_model(model, "latents", encoder=True)
    device = model.device
    out = []
    for i in range(0, len(images), batch_size):
        lab = None if labels is None else labels[i : i + batch_size].to(device)
        out.append(model.encode(images[i : i + batch_size].to(device), lab).cpu())
    return torch.cat(out)


def project_2d(z: Tensor) -> tuple[Tensor, str]:
    """(N, L) codes -> (N, 2) points and axis names: the codes themselves when L = 2, the
    first two principal components otherwise (L = 1 gets a zero second axis)."""
    z = z.double()
    if z.shape[1] == 2:
        return z, "z[0], z[1]"
    if z.shape[1] == 1:
        return torch.cat([z, torch.zeros_like(z)], 1), "z[0], (none)"
    centred = z - z.mean(0)
    _, _, v = torch.linalg.svd(centred, full_matrices=False)  # v: (L, L), rows = components
    return centred @ v[:2].T, "principal components 1, 2"


def save_latent_scatter(
    z: Tensor, labels: Tensor | None, path: str | Path, *, title: str = ""
) -> Path:
    """Scatter (N, L) codes (projected to 2-D if L != 2), coloured by label; PNG, atomic."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    points, axes = project_2d(z)
    fig, ax = plt.subplots(figsize=(6, 6), dpi=100)
    try:
        if labels is not None and (labels >= 0).any():
            lab = labels.cpu().numpy()
            scatter = ax.scatter(
                points[:, 0].numpy(), points[:, 1].numpy(), c=lab, cmap="tab10", s=3, alpha=0.7
            )
            fig.colorbar(scatter, ax=ax, label="label")
        else:
            ax.scatter(points[:, 0].numpy(), points[:, 1].numpy(), s=3, alpha=0.7)
        ax.set_xlabel(axes.split(", ")[0])
        ax.set_ylabel(axes.split(", ")[1])
        ax.set_title(title or f"{len(points)} encoded images ({axes})")
        fig.tight_layout()
        return save_figure(fig, path)
    finally:
        plt.close(fig)


def interpolation_weights(steps: int) -> Tensor:
    """``steps`` weights evenly spaced in [0, 1], both ends included."""
    if steps < 2:
        raise UserInputError(f"an interpolation needs at least 2 steps, got {steps}")
    return torch.linspace(0.0, 1.0, steps)


def interpolate_codes(za: Tensor, zb: Tensor, steps: int, method: str = "linear") -> Tensor:
    """Codes between ``za`` and ``zb`` (each (L,)): (steps, L), ``za`` first, ``zb`` last.

    ``linear``: (1 - t) za + t zb. ``spherical``: slerp, sin((1 - t) w) / sin w za +
    sin(t w) / sin w zb with w the angle between them (linear when they are parallel).
    """
    t = interpolation_weights(steps).to(za.device, za.dtype)[:, None]  # (steps, 1)
    if method == "linear":
        return (1 - t) * za + t * zb
    if method != "spherical":
        raise UserInputError(f"unknown interpolation {method!r}; use {' or '.join(INTERPOLATIONS)}")
    cos = torch.dot(za, zb) / (za.norm() * zb.norm()).clamp_min(1e-12)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    if float(omega.sin().abs()) < 1e-6:
        return (1 - t) * za + t * zb
    return (torch.sin((1 - t) * omega) * za + torch.sin(t * omega) * zb) / torch.sin(omega)


@torch.no_grad()
def interpolate(
    model: Any,
    images: Tensor,
    labels: Tensor | None = None,
    steps: int = 10,
    method: str = "linear",
) -> Tensor:
    """Decode codes between the encodings of two images: (2, C, H, W) -> (steps, C, H, W).

    For a conditional model the first image's label is used along the path.
    """
    model = require_latent_model(model, "interpolate", encoder=True)
    if images.shape[0] != 2:
        raise UserInputError(f"interpolation needs exactly 2 images, got {images.shape[0]}")
    device = model.device
    lab = None if labels is None else labels.to(device)
    z = model.encode(images.to(device), lab)  # (2, L)
    path = interpolate_codes(z[0], z[1], steps, method)  # (steps, L)
    path_labels = None if lab is None else lab[:1].expand(steps)
    return model.decode(path, path_labels)


@torch.no_grad()
def reconstruct(model: Any, images: Tensor, labels: Tensor | None = None) -> Tensor:
    """decode(encode(x)): (N, C, H, W) -> (N, C, H, W) uint8."""
    model = require_latent_model(model, "reconstruct", encoder=True)
    device = model.device
    lab = None if labels is None else labels.to(device)
    return model.decode(model.encode(images.to(device), lab), lab)
