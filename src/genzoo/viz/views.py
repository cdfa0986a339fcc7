"""The pictures of ``genzoo sample --complete`` and ``genzoo viz``, as library functions.

Each function takes a loaded model (and, where it reads data, a :class:`genzoo.runs.Run`)
and returns uint8 images with the number of columns to lay them out in; the command line
only parses, calls one of these and saves the grid. The report draws the same pictures.
Every view reads the model's declared capabilities (``can_complete``, ``has_latent``,
``has_encoder``, ``conditional``) and says in one line what to use instead when a model
lacks what it needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from genzoo.errors import UserInputError
from genzoo.viz import latent, prior

if TYPE_CHECKING:
    from genzoo.runs import Run

Grid = tuple[Tensor, int]
"""uint8 images (N, C, H, W) and the number of columns of their grid."""


def _label_for(model: Any, label: int | None) -> int | None:
    if model.conditional and label is None:
        raise UserInputError("this model is class-conditional: pass --label")
    if not model.conditional and label is not None:
        raise UserInputError(f"this {model.name} is not class-conditional: drop --label")
    return label


def _image_model(model: Any, view: str) -> None:
    if model.data.is_points:
        raise UserInputError(
            f"'{view}' draws images; {model.name} models 2-D points: "
            "use 'genzoo sample' for a scatter of its samples"
        )


def completion_grid(
    model: Any,
    images: Tensor,
    labels: Tensor | None,
    known_rows: int,
    *,
    generator: torch.Generator | None = None,
    **options: Any,
) -> Grid:
    """The given top rows, the model's completions and the originals, one row each.

    Args:
        model: a model that declares ``can_complete``.
        images: uint8 (N, C, H, W) originals.
        labels: (N,) labels for a conditional model, else None.
        known_rows: image rows kept (0..H).
        generator: the random generator of the draws.
        **options: the model's sample options (e.g. ``sampler``).
    """
    if not model.can_complete:
        raise UserInputError(f"{model.name} cannot complete images; sample without --complete")
    h = model.data.image_shape[1]
    if not 0 <= known_rows <= h:
        raise UserInputError(f"--known-rows must be in [0, {h}] (image rows), got {known_rows}")
    filled = model.complete(
        images.to(model.device), known_rows, labels=labels, generator=generator, **options
    ).cpu()
    given = images.clone()
    given[:, :, known_rows:, :] = 0
    return torch.cat([given, filled, images.cpu()]), len(images)


def manifold_view(model: Any, n: int, label: int | None) -> Grid:
    """The 2-D latent manifold, n x n decoded codes (VAE with latent_dim 2)."""
    _image_model(model, "manifold")
    latent.require_latent_model(model, "manifold")
    return latent.manifold(model, n, _label_for(model, label)).cpu(), n


def interpolate_view(
    model: Any, run: Run | None, between: str | None, steps: int, seed: int, label: int | None
) -> Grid:
    """Linear (top) and spherical (bottom) paths between two codes.

    ``between``: 'SPLIT:I,SPLIT:J' (encoded images; models with an encoder) or
    'sample:I,sample:J' (prior codes of samples drawn with ``seed``). Default: test:0,test:1
    with an encoder, else sample:0,sample:1.
    """
    _image_model(model, "interpolate")
    latent.require_latent_model(model, "interpolate")
    if between is None:
        between = "test:0,test:1" if model.has_encoder else "sample:0,sample:1"
    if between.startswith("sample:"):
        parts = [p.strip().removeprefix("sample:") for p in between.split(",")]
        try:
            i, j = (int(p) for p in parts)
        except ValueError:
            raise UserInputError(
                f"--between {between!r}: write sample:I,sample:J (two sample indices)"
            ) from None
        rows = [
            prior.interpolate_samples(
                model, i, j, steps=steps, method=m, seed=seed, label=_label_for(model, label)
            ).cpu()
            for m in latent.INTERPOLATIONS
        ]
        return torch.cat(rows), steps
    latent.require_latent_model(model, "interpolate", encoder=True)
    if run is None:
        raise UserInputError("interpolating between images needs the run's dataset")
    images, labels = run.pick_images(between, "--between")
    if len(images) != 2:
        raise UserInputError(f"--between needs two images, got {len(images)}")
    lab = labels if model.conditional else None
    rows = [latent.interpolate(model, images, lab, steps, m).cpu() for m in latent.INTERPOLATIONS]
    return torch.cat(rows), steps


def reconstruct_view(model: Any, run: Run, spec: str) -> Grid:
    """Images (top row) above decode(encode(x)) (bottom row)."""
    _image_model(model, "reconstruct")
    latent.require_latent_model(model, "reconstruct", encoder=True)
    images, labels = run.pick_images(spec, "--images")
    recon = latent.reconstruct(model, images, labels if model.conditional else None).cpu()
    return torch.cat([images, recon]), len(images)


def arithmetic_view(
    model: Any, a: list[int], b: list[int], c: list[int], seed: int, label: int | None
) -> Grid:
    """Latent vector arithmetic mean z(A) - mean z(B) + mean z(C) over sample codes."""
    _image_model(model, "arithmetic")
    grid, cols = prior.arithmetic(model, a, b, c, seed=seed, label=_label_for(model, label))
    return grid.cpu(), cols


def nearest_view(model: Any, run: Run, n: int, k: int, seed: int) -> Grid:
    """Samples (first column) beside their k nearest training images in pixel space."""
    from genzoo.evaluation.samples import draw_samples, max_value_of, real_images
    from genzoo.metrics.nearest import nearest_grid

    max_value = max_value_of(model.data)
    samples = draw_samples(model, n, batch_size=max(1, n), seed=seed)
    train_ds = run.dataset("train")
    grid, _ = nearest_grid(samples, real_images(train_ds, len(train_ds), seed), k, max_value)
    return grid, k + 1


def latents_scatter(model: Any, run: Run, split: str, n: int) -> tuple[Tensor, Tensor, str]:
    """Encoded codes of the first n images of a split: (codes (N, latent_dim), labels, title)."""
    _image_model(model, "latents")
    latent.require_latent_model(model, "latents", encoder=True)
    ds = run.dataset(split)
    n = min(n, len(ds))
    images, labels = run.pick_images(f"{split}:0-{n - 1}", "--split")
    z = latent.encode_all(model, images, labels if model.conditional else None)
    return z, labels, f"{model.name}: {n} {split} images encoded (posterior means)"


def growth_view(model: Any, n: int, seed: int) -> Grid:
    """The same n prior codes at every level of a progressive GAN, one row per level
    (4x4 first), each up-sampled to the final size."""
    from genzoo.viz.growth import growth, growth_rows

    if n < 1:
        raise UserInputError(f"-n must be >= 1, got {n}")
    if not model.grows:
        raise UserInputError(
            f"{model.name} is not grown level by level; the growth view needs a progressive "
            "model (genzoo train progan)"
        )
    z = model.latents(n, generator=torch.Generator(model.device).manual_seed(seed))
    return growth_rows(growth(model, z)).cpu(), n


def _gibbs_model(model: Any, view: str) -> None:
    if not model.gibbs_chain:
        raise UserInputError(
            f"'{view}' shows a Gibbs chain and first-layer filters of a Boltzmann machine; "
            f"{model.name} is not one (genzoo train rbm / dbm): use 'genzoo sample' instead"
        )


def chain_view(model: Any, chains: int, steps: int, every: int, seed: int) -> Grid:
    """Gibbs chains from random starts over time: one row per time (sweep 0, every, ...),
    one column per chain."""
    from genzoo.viz.boltzmann import gibbs_chain

    _gibbs_model(model, "chain")
    g = torch.Generator(model.device).manual_seed(seed)
    return gibbs_chain(model, chains, steps, every, generator=g).cpu(), chains


def filters_view(model: Any, n: int) -> Grid:
    """The first-layer weights as images (largest first), ten per row."""
    from genzoo.viz.boltzmann import filters

    _gibbs_model(model, "filters")
    grid = filters(model, n).cpu()
    return grid, min(10, len(grid))
