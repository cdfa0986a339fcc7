"""Parzen-window log-likelihood *estimate* for samplers without a density (Goodfellow et al.
2014, "Generative adversarial nets", Sec. 5; after Breuleux, Bengio, Vincent 2011).

A Gaussian kernel density with bandwidth sigma is fitted to the model's samples (pixels
scaled to [0, 1]); sigma is chosen by grid search to maximise the mean log-likelihood of a
validation set, and the mean log-density of test images is reported with its standard
error, in nats per image::

    log p(x) = logsumexp_i( -|x - s_i|^2 / (2 sigma^2) ) - log N - (D / 2) log(2 pi sigma^2)

The grid is the paper code's default, ``numpy.logspace(-1, 0, 10)``.

**This is an estimate with known weaknesses** (Theis, van den Oord, Bethge 2016, "A note
on the evaluation of generative models"): in high dimensions it needs astronomically many
samples, is far from the true log-likelihood even for simple models, can rank models in the
wrong order, and rewards neither sample quality nor likelihood reliably. It is a continuous
density on [0, 1]^D, so it is *not* comparable with genzoo's exact or bounded NLLs of the
discrete data. Report it only as "Parzen estimate", never as a likelihood.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from genzoo.errors import UserInputError

DEFAULT_SIGMAS: tuple[float, ...] = tuple(float(s) for s in np.logspace(-1, 0, 10))
WARNING = (
    "Parzen-window estimate (Goodfellow et al. 2014), not a likelihood: a continuous density "
    "on pixels in [0, 1], biased and high-variance in high dimensions, can rank models wrongly "
    "(Theis et al. 2016); not comparable with exact or bounded NLLs"
)


@dataclass
class ParzenResult:
    """A Parzen-window estimate.

    Attributes:
        mean_log_density: mean log-density of the test vectors, nats per image.
        std_error: its standard error over the test vectors.
        sigma: the bandwidth chosen on the validation vectors.
        validation_scores: mean validation log-density for each sigma tried.
        num_samples: kernel centres (model samples).
        num_test: test vectors.
        note: the warning that goes with every reported figure.
    """

    mean_log_density: float
    std_error: float
    sigma: float
    validation_scores: dict[float, float] = field(default_factory=dict)
    num_samples: int = 0
    num_test: int = 0
    note: str = WARNING


def _rows(x: object, what: str) -> Tensor:
    t = torch.as_tensor(x.detach().cpu() if hasattr(x, "detach") else np.asarray(x))
    if t.ndim < 2 or not t.dtype.is_floating_point:
        raise UserInputError(f"{what} must be floating point (N, ...), got {t.dtype} {t.shape}")
    return t.reshape(len(t), -1).double()


def parzen_log_density(centres: object, x: object, sigma: float, *, block: int = 256) -> Tensor:
    """Log-density of each row of x (N, D) under the Gaussian KDE on ``centres`` (M, D).

    Returns:
        float64 (N,), nats.
    """
    c, q = _rows(centres, "centres"), _rows(x, "x")
    if c.shape[1] != q.shape[1]:
        raise UserInputError(f"sizes differ: centres {c.shape[1]}, x {q.shape[1]}")
    if sigma <= 0:
        raise UserInputError(f"sigma must be > 0, got {sigma}")
    m, d = c.shape
    c_sq = (c * c).sum(1)  # (M,)
    const = math.log(m) + 0.5 * d * math.log(2 * math.pi * sigma**2)
    out = torch.empty(len(q), dtype=torch.float64)
    for i in range(0, len(q), block):
        qb = q[i : i + block]
        d2 = ((qb * qb).sum(1, keepdim=True) - 2 * qb @ c.T + c_sq).clamp_min(0)  # (B, M)
        out[i : i + block] = torch.logsumexp(-d2 / (2 * sigma**2), dim=1) - const
    return out


def parzen_estimate(
    samples: object,
    validation: object,
    test: object,
    sigmas: tuple[float, ...] | None = None,
) -> ParzenResult:
    """Choose sigma on ``validation``, then estimate the mean log-density of ``test``.

    Args:
        samples: model samples as float vectors (N, D) in [0, 1] (see
            :func:`genzoo.metrics.nearest.pixel_vectors`).
        validation: held-out real vectors for choosing sigma; must not overlap ``test``.
        test: real vectors to score.
        sigmas: bandwidths to try (default: ``logspace(-1, 0, 10)``, as the paper's code).

    Returns:
        A :class:`ParzenResult`, whose ``note`` must accompany the figure.
    """
    sigmas = tuple(sigmas or DEFAULT_SIGMAS)
    if not sigmas:
        raise UserInputError("give at least one sigma")
    scores = {float(s): float(parzen_log_density(samples, validation, s).mean()) for s in sigmas}
    best = max(scores, key=lambda s: scores[s])
    ll = parzen_log_density(samples, test, best)
    se = float(ll.std() / math.sqrt(len(ll))) if len(ll) > 1 else float("nan")
    return ParzenResult(
        float(ll.mean()),
        se,
        best,
        scores,
        num_samples=len(_rows(samples, "samples")),
        num_test=len(ll),
    )
