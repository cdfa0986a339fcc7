"""Precision and recall (Kynkäänniemi et al. 2019, "Improved precision and recall metric for
assessing generative models") and density and coverage (Naeem, Oh, Uh, Choi, Yoo 2020,
"Reliable fidelity and diversity metrics for generative models").

Each real vector r_i gets the ball B(r_i, NND_k(r_i)) whose radius is the distance to its
k-th nearest other real vector (likewise for fake vectors f_j):

- precision = mean_j [ f_j in some real ball ]           (fidelity; k = 3 in the paper)
- recall    = mean_i [ r_i in some fake ball ]           (diversity; k = 3)
- density   = mean_j (1/k) #{ i : f_j in B(r_i) }       (fidelity, counts overlaps; k = 5)
- coverage  = mean_i [ the nearest fake vector lies in B(r_i) ]  (diversity; k = 5)

"In a ball" is a strict ``<`` as in the papers' code. Deviation from the ``prdc`` package
(Naeem et al.'s own code, which the tests compare against): that package builds three
full N x N distance matrices (1.2 GB at N = 10k), prints, uses 8 jobs and one k for all
four numbers; here the distances are computed in blocks with torch (float32 by default,
float64 on request), with k = 3 for precision/recall and k = 5 for density/coverage as
their papers use. Exact ties at the boundary of a ball may fall differently in float32.
"""

from __future__ import annotations

import numpy as np
import torch

from genzoo.errors import UserInputError

BLOCK = 2048


def _as_tensor(x: object, what: str, dtype: torch.dtype) -> torch.Tensor:
    t = torch.as_tensor(x.detach().cpu() if hasattr(x, "detach") else np.asarray(x))
    if t.ndim != 2:
        raise UserInputError(f"{what} must be a 2-D array (N, D), got shape {tuple(t.shape)}")
    t = t.to(dtype)
    if not torch.isfinite(t).all():
        raise UserInputError(f"{what} holds NaN or infinite values")
    return t


def _dist(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Euclidean distances (len(a), len(b))."""
    return torch.cdist(a, b, compute_mode="use_mm_for_euclid_dist")


def kth_neighbour_radii(x: torch.Tensor, k: int | list[int]) -> torch.Tensor:
    """Distance of each row of x (N, D) to its k-th nearest other row: (N,), or (N, len(k))
    for a list of k."""
    ks = [k] if isinstance(k, int) else list(k)
    if not ks or not all(1 <= kk < len(x) for kk in ks):
        raise UserInputError(f"k={k} needs more than k vectors; got {len(x)}")
    out = torch.empty(len(x), len(ks), dtype=x.dtype)
    for i in range(0, len(x), BLOCK):
        d = _dist(x[i : i + BLOCK], x)  # (B, N), includes each row's 0 to itself
        out[i : i + BLOCK] = d.topk(max(ks) + 1, dim=1, largest=False).values[:, ks]
    return out[:, 0] if isinstance(k, int) else out


def precision_recall(
    real: object, fake: object, k: int = 3, dtype: torch.dtype = torch.float32
) -> dict[str, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) of fake against real.

    Args:
        real: real feature vectors (N, D).
        fake: generated feature vectors (M, D).
        k: neighbourhood size (paper: 3).
        dtype: torch.float32 (fast) or torch.float64.

    Returns:
        ``{"precision": p, "recall": r}``, both in [0, 1].
    """
    return prdc(real, fake, k_pr=k, k_dc=None, dtype=dtype)


def density_coverage(
    real: object, fake: object, k: int = 5, dtype: torch.dtype = torch.float32
) -> dict[str, float]:
    """Density (>= 0, about 1 for matching distributions) and coverage (in [0, 1]) of fake
    against real (Naeem et al. 2020), with neighbourhood size k (paper: 5)."""
    return prdc(real, fake, k_pr=None, k_dc=k, dtype=dtype)


def prdc(
    real: object,
    fake: object,
    *,
    k_pr: int | None = 3,
    k_dc: int | None = 5,
    dtype: torch.dtype = torch.float32,
) -> dict[str, float]:
    """Precision/recall with ``k_pr`` and density/coverage with ``k_dc`` (None skips a pair).

    One pass over the real-real, fake-fake and real-fake distances, in blocks.

    Args:
        real: real feature vectors (N, D), array or tensor.
        fake: generated feature vectors (M, D).
        k_pr: neighbourhood size for precision and recall (Kynkäänniemi et al.: 3).
        k_dc: neighbourhood size for density and coverage (Naeem et al.: 5).
        dtype: torch.float32 (fast) or torch.float64.

    Returns:
        A dict with the requested keys among precision, recall, density, coverage.
    """
    r, f = _as_tensor(real, "real", dtype), _as_tensor(fake, "fake", dtype)
    if r.shape[1] != f.shape[1]:
        raise UserInputError(f"feature sizes differ: {r.shape[1]} and {f.shape[1]}")
    ks = [k for k in (k_pr, k_dc) if k is not None]
    if not ks:
        raise UserInputError("give k_pr, k_dc or both")
    with torch.inference_mode():
        radii = kth_neighbour_radii(r, ks)  # (N, len(ks))
        r_pr = radii[:, 0] if k_pr is not None else None
        r_dc = radii[:, -1] if k_dc is not None else None
        f_pr = kth_neighbour_radii(f, k_pr) if k_pr is not None else None  # (M,)
        in_pr = torch.zeros(len(f), dtype=torch.bool)  # fake inside some real ball
        recalled = torch.zeros(len(r), dtype=torch.bool)  # real inside some fake ball
        n_in_dc = torch.zeros(len(f), dtype=torch.long)  # real balls holding each fake
        nearest = torch.full((len(r),), float("inf"), dtype=dtype)  # nearest fake of each real
        for j in range(0, len(f), BLOCK):
            d = _dist(r, f[j : j + BLOCK])  # (N, B)
            if r_pr is not None and f_pr is not None:
                in_pr[j : j + BLOCK] = (d < r_pr[:, None]).any(dim=0)
                recalled |= (d < f_pr[None, j : j + BLOCK]).any(dim=1)
            if r_dc is not None:
                n_in_dc[j : j + BLOCK] = (d < r_dc[:, None]).sum(dim=0)
                nearest = torch.minimum(nearest, d.min(dim=1).values)
    out: dict[str, float] = {}
    if k_pr is not None:
        out["precision"] = float(in_pr.double().mean())
        out["recall"] = float(recalled.double().mean())
    if r_dc is not None and k_dc is not None:
        out["density"] = float(n_in_dc.double().mean() / k_dc)
        out["coverage"] = float((nearest < r_dc).double().mean())
    return out
