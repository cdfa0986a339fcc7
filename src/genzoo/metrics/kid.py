"""Kernel Inception Distance (Bińkowski, Sutherland, Arbel, Gretton 2018, "Demystifying
MMD GANs"): the unbiased estimate of the squared MMD with the cubic polynomial kernel
``k(x, y) = (x . y / D + 1)^3``, averaged over random subsets.

As in the paper's code (and torch-fidelity, clean-fid): 100 subsets of
``m = min(1000, N1, N2)`` vectors from each set, each drawn without replacement; the
estimate per subset is

    MMD^2_u = sum_{i != j} k(x_i, x_j) / (m (m - 1)) + sum_{i != j} k(y_i, y_j) / (m (m - 1))
              - 2 sum_{i, j} k(x_i, y_j) / m^2,

unbiased, so it is about 0 (and can be slightly negative) for two samples of one
distribution. Computed with numpy in float64 on one BLAS thread (as fast as torch's float32 here;
torch's thread pool is slow for small matrices on an oversubscribed CPU, see
:func:`genzoo.metrics.fid.single_threaded_blas`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genzoo.errors import UserInputError
from genzoo.metrics.fid import as_feature_array, single_threaded_blas


@dataclass(frozen=True)
class KIDResult:
    """KID over subsets.

    Attributes:
        mean: the mean of the per-subset unbiased MMD^2 estimates (the KID).
        std: their standard deviation (ddof=1 where there are several subsets).
        num_subsets: number of subsets.
        subset_size: vectors per subset from each set.
    """

    mean: float
    std: float
    num_subsets: int
    subset_size: int


def polynomial_mmd2_unbiased(
    x: object, y: object, degree: int = 3, gamma: float | None = None, coef0: float = 1
) -> float:
    """Unbiased MMD^2 between x (m, D) and y (n, D) with ``k = (gamma x.y + coef0)^degree``."""
    x, y = as_feature_array(x, "x"), as_feature_array(y, "y")
    m, n = len(x), len(y)
    if m < 2 or n < 2:
        raise UserInputError(f"KID needs at least 2 vectors in each set, got {m} and {n}")
    g = 1.0 / x.shape[1] if gamma is None else gamma
    kxx = (x @ x.T * g + coef0) ** degree  # (m, m)
    kyy = (y @ y.T * g + coef0) ** degree  # (n, n)
    kxy = (x @ y.T * g + coef0) ** degree  # (m, n)
    sxx = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    syy = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(sxx + syy - 2 * kxy.mean())


def kid(
    features1: object,
    features2: object,
    *,
    num_subsets: int = 100,
    subset_size: int = 1000,
    degree: int = 3,
    gamma: float | None = None,
    coef0: float = 1.0,
    seed: int = 0,
) -> KIDResult:
    """KID between two feature sets (arrays or tensors (N, D)).

    Args:
        features1, features2: the two sets (e.g. samples' and reference features).
        num_subsets: subsets to average over (paper: 100).
        subset_size: vectors per subset; ``min(subset_size, N1, N2)`` is used (paper: 1000).
        degree, gamma, coef0: the kernel ``(gamma x.y + coef0)^degree``; gamma defaults to 1/D.
        seed: seeds the subset draws (the result is deterministic given it).

    Returns:
        The mean and standard deviation over subsets, in squared feature units (papers
        often print KID x 1000).
    """
    x, y = as_feature_array(features1, "features1"), as_feature_array(features2, "features2")
    if x.shape[1] != y.shape[1]:
        raise UserInputError(f"feature sizes differ: {x.shape[1]} and {y.shape[1]}")
    if num_subsets < 1 or subset_size < 2:
        raise UserInputError("KID needs num_subsets >= 1 and subset_size >= 2")
    m = min(subset_size, len(x), len(y))
    rng = np.random.default_rng(seed)
    with single_threaded_blas():
        values = [
            polynomial_mmd2_unbiased(
                x[rng.choice(len(x), m, replace=False)],
                y[rng.choice(len(y), m, replace=False)],
                degree, gamma, coef0,
            )
            for _ in range(num_subsets)
        ]  # fmt: skip
    arr = np.asarray(values)
    std = float(arr.std(ddof=1)) if len(arr) > 1 else 0.0
    return KIDResult(float(arr.mean()), std, num_subsets, m)
