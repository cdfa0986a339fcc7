"""The views every family gets through its declared capabilities (a latent space, an
encoder, a sampler), declared once; a family's own views sit beside its config.

Torch-free (``genzoo viz --help`` reads it); the drawing functions are in
:mod:`genzoo.viz.views`, imported when a view is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from genzoo.declare import ReportFigure, View

DRAW = "genzoo.viz.views:"


@dataclass
class ManifoldOptions:
    n: int = 20
    """Codes per side of the grid."""
    label: int | None = None
    """Class label for a conditional model."""


@dataclass
class LatentsOptions:
    split: str = "test"
    """Split of the run's dataset to encode."""
    n: int = 5000
    """Encode the first N images of the split."""


@dataclass
class InterpolateOptions:
    between: str | None = None
    """The two ends: images SPLIT:INDEX,SPLIT:INDEX of the run's dataset (encoded), or
    sample:I,sample:J, the codes of samples I and J drawn with --seed. Default:
    test:0,test:1, or sample:0,sample:1 for a model without an encoder."""
    label: int | None = None
    """Class label along a sample:I,sample:J path of a conditional model."""
    steps: int = 10
    """Images along each path, both ends included."""


@dataclass
class ReconstructOptions:
    images: str = "test:0-7"
    """SPLIT:RANGE of the run's dataset, e.g. 'test:0-7' or 'train:3,5,9'."""


@dataclass
class ArithmeticOptions:
    a: str = "0,1,2"
    """Indices of group A, e.g. '1,5,9' or '0-2'."""
    b: str = "3,4,5"
    """Indices of group B (subtracted)."""
    c: str = "6,7,8"
    """Indices of group C (added)."""
    label: int | None = None
    """Class label for a conditional model."""


@dataclass
class NearestOptions:
    n: int = 8
    """Samples shown (one per row)."""
    k: int = 5
    """Nearest training images shown per sample."""


def _prior_path(model: Any) -> dict[str, Any]:
    return {"between": "sample:0,sample:1", "label": 0 if model.conditional else None}


SHARED_VIEWS: tuple[View, ...] = (
    View(
        "reconstruct",
        "Show images (top row) above their reconstructions decode(encode(x)) (bottom row).",
        ReconstructOptions,
        DRAW + "reconstruct_view",
        needs=("has_encoder",),
        report=(
            ReportFigure(
                "reconstructions",
                "top: test images; bottom: decode(encode(x)) (posterior means)",
                reads_data=True,
            ),
        ),
    ),
    View(
        "interpolate",
        "Decode the linear (top row) and spherical (bottom row) paths between two encodings "
        "(or, for a model without an encoder, between two latent codes drawn from the prior).",
        InterpolateOptions,
        DRAW + "interpolate_view",
        needs=("has_latent",),
        report=(
            ReportFigure(
                "interpolations",
                "between the codes of test images 0 and 1: linear (top), spherical",
                {"between": "test:0,test:1"},
                when=lambda m: m.has_encoder,
                reads_data=True,
            ),
            ReportFigure(
                "interpolations",
                "between two prior codes z0, z1: linear (top), spherical",
                _prior_path,
                when=lambda m: not m.has_encoder,
                reads_data=True,
            ),
        ),
    ),
    View(
        "manifold",
        "Decode a grid of 2-D latent codes spaced by the inverse normal CDF (latent_dim 2).",
        ManifoldOptions,
        DRAW + "manifold_view",
        needs=("has_latent",),
        report=(
            ReportFigure(
                "2-D latent manifold",
                "decoded at the Gaussian quantiles of a 15x15 grid of codes",
                {"n": 15},
                when=lambda m: m.has_encoder and m.latent_dim == 2 and not m.conditional,
                reads_data=True,
            ),
        ),
    ),
    View(
        "latents",
        "Encode a split and scatter the codes coloured by label (principal components if "
        "latent_dim != 2).",
        LatentsOptions,
        DRAW + "latents_view",
        needs=("has_encoder",),
    ),
    View(
        "arithmetic",
        "Latent vector arithmetic: decode mean z(A) - mean z(B) + mean z(C), where A, B, C are "
        "indices of samples drawn with --seed (as 'genzoo sample --seed' numbers them). Rows: "
        "group A, B, C (each ending in its decoded mean), then the result in the last column.",
        ArithmeticOptions,
        DRAW + "arithmetic_view",
        needs=("has_latent",),
    ),
    View(
        "nearest",
        "Samples (first column) beside their nearest training images in pixel space (any "
        "model that samples), to spot memorised training images.",
        NearestOptions,
        DRAW + "nearest_view",
    ),
)
"""The views of every model whose capabilities they need, in the report's order."""
