"""The pictures of ``genzoo sample --complete`` and of the shared views of ``genzoo viz``
(declared in :mod:`genzoo.models.shared_views`), as library functions.

Each view is ``draw(model, run, options, seed)``: a loaded model, its
:class:`genzoo.runs.Run` (where the view reads data), the view's options dataclass and a
seed; it returns uint8 images with the number of columns to lay them out in (or a
:class:`Scatter`). The command line only parses, calls one of these and saves the picture
(:func:`save_picture`); the report draws the same pictures. Every view reads the model's
declared capabilities (``can_complete``, ``has_latent``, ``has_encoder``, ``conditional``)
and says in one line what to use instead when a model lacks what it needs. A family's own
views live beside its drawing code (e.g. :mod:`genzoo.viz.growth`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from genzoo.errors import UserInputError
from genzoo.runs import parse_indices
from genzoo.viz import latent, prior, save_grid

if TYPE_CHECKING:
    from genzoo.runs import Run

Grid = tuple[Tensor, int]
"""uint8 images (N, C, H, W) and the number of columns of their grid."""


@dataclass(frozen=True)
class Scatter:
    """2-D codes to scatter, coloured by label: a view's picture that is not a grid."""

    codes: Tensor
    labels: Tensor | None
    title: str

    def save(self, path: Path) -> Path:
        """Write the scatter as a PNG (atomically)."""
        return latent.save_latent_scatter(self.codes, self.labels, path, title=self.title)

    def png(self) -> bytes:
        """The scatter as PNG bytes."""
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            return self.save(Path(tmp) / "scatter.png").read_bytes()


def save_picture(picture: Grid | Scatter, path: Path, scale: int = 2) -> None:
    """Write a view's picture as a PNG: a grid enlarged by ``scale``, or a scatter."""
    if isinstance(picture, Scatter):
        picture.save(path)
    else:
        save_grid(picture[0], path, nrow=picture[1], scale=scale)


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
        **options: the model's sample options (its declared ``sample_options``).
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


def manifold_view(model: Any, run: Run | None, options: Any, seed: int) -> Grid:
    """The 2-D latent manifold, n x n decoded codes (a latent space of 2 units)."""
    _image_model(model, "manifold")
    latent.require_latent_model(model, "manifold")
    n = options.n
    return latent.manifold(model, n, _label_for(model, options.label)).cpu(), n


def interpolate_view(model: Any, run: Run | None, options: Any, seed: int) -> Grid:
    """Linear (top) and spherical (bottom) paths between two codes.

    ``options.between``: 'SPLIT:I,SPLIT:J' (encoded images; models with an encoder) or
    'sample:I,sample:J' (prior codes of samples drawn with ``seed``). Default:
    test:0,test:1 with an encoder, else sample:0,sample:1.
    """
    _image_model(model, "interpolate")
    latent.require_latent_model(model, "interpolate")
    between, steps = options.between, options.steps
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
        label = _label_for(model, options.label)
        rows = [
            prior.interpolate_samples(
                model, i, j, steps=steps, method=m, seed=seed, label=label
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
    lab = labels.to(model.device) if model.conditional else None
    rows = [latent.interpolate(model, images, lab, steps, m).cpu() for m in latent.INTERPOLATIONS]
    return torch.cat(rows), steps


def reconstruct_view(model: Any, run: Run, options: Any, seed: int) -> Grid:
    """Images (top row) above decode(encode(x)) (bottom row)."""
    _image_model(model, "reconstruct")
    latent.require_latent_model(model, "reconstruct", encoder=True)
    images, labels = run.pick_images(options.images, "--images")
    lab = labels.to(model.device) if model.conditional else None
    recon = latent.reconstruct(model, images, lab).cpu()
    return torch.cat([images, recon]), len(images)


def arithmetic_view(model: Any, run: Run | None, options: Any, seed: int) -> Grid:
    """Latent vector arithmetic mean z(A) - mean z(B) + mean z(C) over sample codes."""
    _image_model(model, "arithmetic")
    a, b, c = (parse_indices(g, "sample indices") for g in (options.a, options.b, options.c))
    label = _label_for(model, options.label)
    grid, cols = prior.arithmetic(model, a, b, c, seed=seed, label=label)
    return grid.cpu(), cols


def nearest_view(model: Any, run: Run, options: Any, seed: int) -> Grid:
    """Samples (first column) beside their k nearest training images in pixel space."""
    from genzoo.evaluation.samples import draw_samples, max_value_of
    from genzoo.metrics.nearest import nearest_grid

    n, k = options.n, options.k
    max_value = max_value_of(model.data)
    samples = draw_samples(model, n, batch_size=max(1, n), seed=seed)
    train_ds = run.dataset("train")
    grid, _ = nearest_grid(samples, train_ds.examples(len(train_ds), seed), k, max_value)
    return grid, k + 1


def latents_view(model: Any, run: Run, options: Any, seed: int) -> Scatter:
    """Encoded codes of the first n images of a split, scattered coloured by label."""
    _image_model(model, "latents")
    latent.require_latent_model(model, "latents", encoder=True)
    split = options.split
    ds = run.dataset(split)
    n = min(options.n, len(ds))
    images, labels = run.pick_images(f"{split}:0-{n - 1}", "--split")
    z = latent.encode_all(model, images, labels if model.conditional else None)
    return Scatter(z, labels, f"{model.name}: {n} {split} images encoded (posterior means)")
