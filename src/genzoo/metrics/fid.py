"""Fréchet Inception Distance (Heusel et al. 2017), in float64, never complex or negative.

FID between two feature sets is the Fréchet (2-Wasserstein) distance between the Gaussians
fitted to them::

    FID = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2))

The trace of the matrix square root is computed as ``sum sqrt(eig(L^T S2 L))`` with
``S1 = L L^T`` (Cholesky), or, when neither covariance is positive definite, as
``sum sqrt(eig(A S2 A))`` with ``A = S1^(1/2)`` from ``eigh``: ``S1 S2`` is similar to
these symmetric positive semi-definite matrices, so all have the same real, non-negative
eigenvalues, which ``numpy.linalg.eigvalsh`` returns as real numbers; round-off negatives
are clamped to 0, and the FID is clamped at 0. This replaces the usual
``scipy.linalg.sqrtm(S1 @ S2)`` whose output can be complex (and whose real part is then
taken silently) and whose FID can come out slightly negative.

Why not torchmetrics' ``FrechetInceptionDistance`` (with a custom feature extractor):
each torchmetrics metric owns its network and runs it inside ``update``, so FID, KID and
precision/recall of the same samples would run Inception two or three times, and Inception
dominates the cost on CPU (a few images/s on two cores); genzoo extracts features once and
hands the same arrays to every metric, and caches the reference features on disk. Its FID
takes ``eigvals`` of the non-symmetric ``S1 S2`` and does not clamp; the formula is ten
lines here, tested against scipy.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from genzoo.errors import UserInputError


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run numpy's linear algebra on one BLAS thread.

    After any torch operation, torch's OpenMP threads keep spinning for a while and
    OpenBLAS's own threads then fight them for the cores: a 2048-d FID measured 23 s with
    two BLAS threads after a torch op on 2 cores, 2 s with one (4 s before any torch op).
    ``threadpoolctl`` comes with scikit-learn; without it nothing changes.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        yield
        return
    with threadpool_limits(1, user_api="blas"):
        yield


@dataclass(frozen=True)
class GaussianStats:
    """Mean and covariance of a feature set.

    Attributes:
        mu: float64 (D,).
        sigma: float64 (D, D), the unbiased covariance (ddof=1).
        n: number of feature vectors they were computed from.
    """

    mu: np.ndarray
    sigma: np.ndarray
    n: int = 0


def as_feature_array(x: object, what: str) -> np.ndarray:
    """Features (N, D) as a finite float64 array; a UserInputError names what is wrong."""
    arr = np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x, dtype=np.float64)
    if arr.ndim != 2:
        raise UserInputError(f"{what} must be a 2-D array (N, D), got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise UserInputError(f"{what} holds NaN or infinite values")
    return arr


def gaussian_stats(features: object) -> GaussianStats:
    """Fit a Gaussian to features (N, D) (array or tensor): mean and unbiased covariance.

    Raises:
        UserInputError: fewer than 2 rows, not 2-D, or non-finite values.
    """
    x = as_feature_array(features, "features")  # (N, D) float64
    if len(x) < 2:
        raise UserInputError(f"a covariance needs at least 2 feature vectors, got {len(x)}")
    with single_threaded_blas():
        sigma = np.cov(x, rowvar=False, ddof=1).reshape(x.shape[1], x.shape[1])  # (D, D)
    return GaussianStats(x.mean(axis=0), sigma, len(x))


def _psd_sqrt(sigma: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric PSD matrix (negative eigenvalues clamped)."""
    w, v = np.linalg.eigh((sigma + sigma.T) / 2)  # (D,), (D, D)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """``tr((S1 S2)^(1/2))`` for symmetric PSD S1, S2, as a real non-negative float.

    Fast path: with a Cholesky factor ``S1 = L L^T`` (S1 positive definite), ``S1 S2`` is
    similar to the symmetric PSD ``L^T S2 L``, whose eigenvalues need no eigenvectors.
    Otherwise (singular S1 and S2): ``A S2 A`` with ``A = S1^(1/2)`` from ``eigh``.
    """
    s1 = np.asarray(sigma1, dtype=np.float64)
    s2 = np.asarray(sigma2, dtype=np.float64)
    s1, s2 = (s1 + s1.T) / 2, (s2 + s2.T) / 2
    m = None
    with single_threaded_blas():
        for a, b in ((s1, s2), (s2, s1)):  # eig(S1 S2) = eig(S2 S1)
            try:
                low = np.linalg.cholesky(a)  # (D, D) lower triangular
            except np.linalg.LinAlgError:
                continue
            m = low.T @ b @ low  # (D, D) symmetric PSD up to round-off
            break
        if m is None:
            a = _psd_sqrt(s1)
            m = a @ s2 @ a
        w = np.linalg.eigvalsh((m + m.T) / 2)  # real eigenvalues of a symmetric matrix
    return float(np.sqrt(np.clip(w, 0.0, None)).sum())


def frechet_distance(stats1: GaussianStats, stats2: GaussianStats) -> float:
    """Fréchet distance between two Gaussians, a real float >= 0.

    Raises:
        UserInputError: mismatched dimensions or non-finite statistics.
    """
    mu1, mu2 = np.asarray(stats1.mu, np.float64), np.asarray(stats2.mu, np.float64)
    s1, s2 = np.asarray(stats1.sigma, np.float64), np.asarray(stats2.sigma, np.float64)
    d = mu1.shape[0]
    if mu1.shape != (d,) or mu2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise UserInputError(
            f"statistics do not match: means {mu1.shape} and {mu2.shape}, covariances "
            f"{s1.shape} and {s2.shape}"
        )
    if not all(np.isfinite(a).all() for a in (mu1, mu2, s1, s2)):
        raise UserInputError("statistics hold NaN or infinite values")
    diff = mu1 - mu2
    value = diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * trace_sqrt_product(s1, s2)
    return max(0.0, float(value))


def fid(features1: object, features2: object) -> float:
    """FID between two feature sets (arrays or tensors (N, D)) or their :class:`GaussianStats`.

    Args:
        features1: the first set, e.g. features of generated samples.
        features2: the second, e.g. the reference images' features.

    Returns:
        FID in squared feature units, a float >= 0. It is biased upwards for small N
        (Chong & Forsyth 2020): compare FIDs only at the same N.
    """
    s1 = features1 if isinstance(features1, GaussianStats) else gaussian_stats(features1)
    s2 = features2 if isinstance(features2, GaussianStats) else gaussian_stats(features2)
    return frechet_distance(s1, s2)
