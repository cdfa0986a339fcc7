"""Exact nearest neighbours, for memorisation checks: is a sample a copy of a training image?

For each generated sample, the nearest training image (in pixel space, and in feature
space where features are given), the ratio of that distance to the distance of the nearest
*test* image, and a duplicate rate; plus the lecture's figure, samples beside their nearest
training neighbours (the original GAN paper, Goodfellow et al. 2014, Fig. 2).

Definitions (pixel space: images scaled to [0, 1], Euclidean distance over all C*H*W values):

- ``d_train(s)``, ``d_test(s)``: distance of sample s to its nearest training / test image.
- ``ratio(s) = d_train(s) / d_test(s)``. Its median is compared with the same ratio for
  held-out real images (test images, their own image left out of the test set): a model
  that generalises gives about the same median; a model that copies gives a much smaller one.
- duplicate threshold ``tau``: the 1st percentile (``quantile=0.01``) of ``d_train`` over
  held-out test images (up to ``calibration_n`` of them). The **duplicate rate** is the
  fraction of samples with ``d_train < tau``: about 1% for a model whose samples are as close
  to the training set as unseen real images are; much more means copying. ``exact_copies``
  counts samples at distance 0 from a training image.

Search: distances by ``|q|^2 - 2 q.r + |r|^2`` in float32 blocks give the ``rerank`` best
candidates of each query, whose distances are then recomputed exactly in float64 and the
smallest taken (ties: the lowest index). This is exact unless float32 round-off moves the
true neighbour below the 8th candidate, which needs distances equal to about 1e-6 relative.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from genzoo.errors import UserInputError

BLOCK = 512


@dataclass
class Neighbours:
    """Nearest neighbours of each query.

    Attributes:
        index: int64 (N, k), the reference rows, nearest first.
        distance: float64 (N, k), their Euclidean distances.
    """

    index: Tensor
    distance: Tensor


def _rows(x: object, what: str) -> Tensor:
    t = torch.as_tensor(x.detach().cpu() if hasattr(x, "detach") else np.asarray(x))
    if t.ndim < 2:
        raise UserInputError(f"{what} must have shape (N, ...), got {tuple(t.shape)}")
    t = t.reshape(len(t), -1)
    if not t.dtype.is_floating_point:
        raise UserInputError(f"{what} must be floating point (use pixel_vectors for images)")
    return t


def pixel_vectors(images: Tensor, max_value: int = 255) -> Tensor:
    """uint8 images (N, C, H, W) in [0, max_value] -> float32 (N, C*H*W) in [0, 1]."""
    if images.dtype != torch.uint8 or images.ndim != 4:
        raise UserInputError(f"need uint8 images (N, C, H, W), got {images.dtype} {images.shape}")
    return images.reshape(len(images), -1).float() / max_value


def nearest_neighbours(
    queries: object, reference: object, k: int = 1, *, rerank: int = 8, exclude_self: bool = False
) -> Neighbours:
    """The k exact nearest rows of ``reference`` (M, D) for each row of ``queries`` (N, D).

    Args:
        queries: float array or tensor (N, ...), flattened to (N, D).
        reference: float array or tensor (M, ...), flattened to (M, D).
        k: neighbours per query.
        rerank: float32 candidates recomputed in float64 (at least k).
        exclude_self: queries *are* the reference (same rows): skip each row's own index.

    Returns:
        :class:`Neighbours` with index and distance of shape (N, k).
    """
    q, r = _rows(queries, "queries"), _rows(reference, "reference")
    if q.shape[1] != r.shape[1]:
        raise UserInputError(f"sizes differ: queries have {q.shape[1]}, reference {r.shape[1]}")
    avail = len(r) - int(exclude_self)
    if not 1 <= k <= avail:
        raise UserInputError(f"k={k} neighbours asked of a reference of {avail} rows")
    c = min(max(rerank, k) + int(exclude_self), len(r))
    q32, r32 = q.float(), r.float()
    r_sq = (r32 * r32).sum(1)  # (M,)
    index = torch.empty(len(q), k, dtype=torch.long)
    dist = torch.empty(len(q), k, dtype=torch.float64)
    with torch.inference_mode():
        for i in range(0, len(q), BLOCK):
            qb = q32[i : i + BLOCK]  # (B, D)
            d2 = (qb * qb).sum(1, keepdim=True) - 2 * qb @ r32.T + r_sq  # (B, M) approx
            if exclude_self:
                rows = torch.arange(len(qb))
                d2[rows, rows + i] = float("inf")
            cand = d2.topk(c, dim=1, largest=False).indices  # (B, c)
            exact = (q[i : i + BLOCK, None, :].double() - r[cand].double()).pow(2).sum(-1)
            if exclude_self:
                exact[cand == (torch.arange(len(qb))[:, None] + i)] = float("inf")
            # Sort by exact distance, then by index, so ties go to the lowest index.
            order = torch.argsort(cand, dim=1)
            cand, exact = cand.gather(1, order), exact.gather(1, order)
            best = torch.argsort(exact, dim=1, stable=True)[:, :k]  # (B, k)
            index[i : i + BLOCK] = cand.gather(1, best)
            dist[i : i + BLOCK] = exact.gather(1, best).sqrt()
    return Neighbours(index, dist)


def memorisation(
    samples: object,
    train: object,
    test: object,
    *,
    quantile: float = 0.01,
    calibration_n: int = 1000,
) -> dict[str, float | int]:
    """Memorisation figures of samples against training and test vectors (see module doc).

    Args:
        samples: generated vectors (N, D) (pixels via :func:`pixel_vectors`, or features).
        train: training vectors (M, D).
        test: held-out vectors (T, D), T >= 2.
        quantile: the duplicate threshold is this quantile of held-out ``d_train``.
        calibration_n: held-out vectors used to calibrate (the first ones).

    Returns:
        A dict: ``n``, ``median_d_train``, ``median_ratio``, ``reference_median_ratio``
        (the same for held-out real images), ``duplicate_threshold``, ``duplicate_rate``,
        ``reference_duplicate_rate`` (= quantile by construction), ``exact_copies``.
    """
    s, tr, te = _rows(samples, "samples"), _rows(train, "train"), _rows(test, "test")
    if len(te) < 2:
        raise UserInputError("memorisation needs at least 2 test vectors")
    if not 0 < quantile < 1:
        raise UserInputError(f"quantile must lie in (0, 1), got {quantile}")
    d_train = nearest_neighbours(s, tr).distance[:, 0]  # (N,)
    d_test = nearest_neighbours(s, te).distance[:, 0]  # (N,)
    cal = te[:calibration_n]
    cal_train = nearest_neighbours(cal, tr).distance[:, 0]  # (C,)
    cal_test = nearest_neighbours(cal, te, exclude_self=True).distance[:, 0]  # (C,)
    tau = float(torch.quantile(cal_train, quantile))
    eps = torch.finfo(torch.float64).tiny
    ratio = d_train / d_test.clamp_min(eps)
    ref_ratio = cal_train / cal_test.clamp_min(eps)
    return {
        "n": len(s),
        "median_d_train": float(d_train.median()),
        "median_d_test": float(d_test.median()),
        "median_ratio": float(ratio.median()),
        "reference_median_ratio": float(ref_ratio.median()),
        "duplicate_threshold": tau,
        "duplicate_rate": float((d_train < tau).double().mean()),
        "reference_duplicate_rate": float((cal_train < tau).double().mean()),
        "exact_copies": int((d_train == 0).sum()),
        "calibration_n": len(cal),
        "quantile": quantile,
    }


def nearest_grid(
    samples: Tensor, train: Tensor, k: int = 5, max_value: int = 255
) -> tuple[Tensor, Neighbours]:
    """The lecture's figure: each sample followed by its k nearest training images (pixels).

    Args:
        samples: uint8 (N, C, H, W) generated images.
        train: uint8 (M, C, H, W) training images.
        k: neighbours shown per sample.
        max_value: 255 for 8-bit images, 1 for binary ones.

    Returns:
        uint8 (N * (k + 1), C, H, W) images in rows of k + 1 (pass ``nrow=k + 1`` to
        :func:`genzoo.viz.save_grid`), and the neighbours found.
    """
    if samples.shape[1:] != train.shape[1:]:
        raise UserInputError(
            f"samples {tuple(samples.shape[1:])} and training images "
            f"{tuple(train.shape[1:])} differ in shape"
        )
    nb = nearest_neighbours(pixel_vectors(samples, max_value), pixel_vectors(train, max_value), k)
    rows = torch.cat([samples[:, None], train[nb.index]], dim=1)  # (N, k + 1, C, H, W)
    return rows.reshape(-1, *samples.shape[1:]), nb


def save_nearest_grid(
    samples: Tensor,
    train: Tensor,
    path: str | Path,
    k: int = 5,
    max_value: int = 255,
    scale: int = 2,
) -> Path:
    """Write :func:`nearest_grid` as a PNG (first column: samples)."""
    from genzoo.viz import save_grid

    grid, _ = nearest_grid(samples, train, k, max_value)
    return save_grid(grid, path, nrow=k + 1, scale=scale)
