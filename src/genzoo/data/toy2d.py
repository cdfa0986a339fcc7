"""The 2-D toy distributions of the GAN and flow literature, each with an exact log-density.

The shapes follow the toy sets of Gulrajani et al. 2017 ("Improved Training of Wasserstein
GANs", code ``gan_toy.py``) and Grathwohl et al. 2019 (FFJORD, ``toy_data.py``), with the
constants fixed here so that the density is known in closed form (or by an accurate quadrature
for the swiss roll):

* ``8gaussians``: equal mixture of 8 isotropic gaussians, std 0.05, centred on the circle of
  radius 2 at angles 2*pi*k/8; the label is k.
* ``25gaussians``: equal mixture of 25 isotropic gaussians, std 0.05, centred on the grid
  {-2,-1,0,1,2}^2; centre (i-2, j-2) has label 5*i + j.
* ``checkerboard``: uniform on the 8 "black" unit squares (those whose integer corner (i, j)
  has i + j even) of the 4x4 board [-2, 2]^2: density 1/8 there, 0 elsewhere.
* ``swissroll``: t ~ U(1.5 pi, 4.5 pi), x = (t cos t, t sin t) / 5 + N(0, 0.2^2 I), which is
  the FFJORD roll (``sklearn.datasets.make_swiss_roll(noise=1.0)``, coordinates 0 and 2, / 5).
"""

from __future__ import annotations

import itertools
import math

import torch

from genzoo.errors import UserInputError

Sample = tuple[torch.Tensor, "torch.Tensor | None"]  # points (n, 2) float32, labels (n,) or None


class Toy2D:
    """A distribution on R^2 that can be sampled and whose log-density is known."""

    name: str = ""
    num_classes: int | None = None
    chunk_rows: int = 4096  # points per chunk in log_prob

    def sample(self, n: int, generator: torch.Generator) -> Sample:
        """Draw ``n`` points, float32 (n, 2), and labels, int64 (n,) (None if unlabelled)."""
        raise NotImplementedError

    def _log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Log-density of float64 points (M, 2) -> (M,)."""
        raise NotImplementedError

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log-density in nats of points ``x`` (..., 2) -> (...).

        Computed in float64 (in chunks, to bound memory) and returned in ``x``'s dtype when
        that is float64, else float32. Points of zero density give ``-inf``.
        """
        if not isinstance(x, torch.Tensor) or x.ndim == 0 or x.shape[-1] != 2:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise UserInputError(f"log_prob takes points of shape (..., 2), got {shape}")
        flat = x.detach().reshape(-1, 2).to(device="cpu", dtype=torch.float64)  # (M, 2)
        out = torch.cat([self._log_prob(chunk) for chunk in flat.split(self.chunk_rows)])
        dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
        return out.reshape(x.shape[:-1]).to(device=x.device, dtype=dtype)


class GaussianMixture2D(Toy2D):
    """Equal-weight mixture of isotropic gaussians with ``centers`` (K, 2) and one ``std``."""

    def __init__(self, name: str, centers: torch.Tensor, std: float) -> None:
        self.name, self.std = name, std
        self.centers = centers.to(torch.float64)  # (K, 2)
        self.num_classes = len(centers)
        self.chunk_rows = max(1, 2**21 // len(centers))  # bounds the (rows, K) distances

    def sample(self, n: int, generator: torch.Generator) -> Sample:
        k = torch.randint(len(self.centers), (n,), generator=generator)  # (n,)
        noise = torch.randn(n, 2, generator=generator, dtype=torch.float64)  # (n, 2)
        return (self.centers[k] + self.std * noise).float(), k

    def _log_prob(self, x: torch.Tensor) -> torch.Tensor:
        c = self.centers  # (K, 2); |x - c|^2 by a matmul (exact enough in float64)
        d2 = x.square().sum(1, keepdim=True) - 2 * x @ c.T + c.square().sum(1)  # (M, K)
        log_norm = math.log(2 * math.pi * self.std**2) + math.log(len(self.centers))
        return torch.logsumexp(-0.5 * d2 / self.std**2, dim=1) - log_norm  # (M,)


class SwissRoll(GaussianMixture2D):
    """The FFJORD swiss roll; its density is an integral over t, done by Gauss-Legendre quadrature.

    p(x) = 1/(b - a) * integral_a^b N(x; m(t), sigma^2 I) dt with m(t) = (t cos t, t sin t)/5,
    [a, b] = [1.5 pi, 4.5 pi], sigma = 0.2. The composite 2-point Gauss-Legendre rule on
    ``panels`` equal panels gives every node the same weight, so the quadrature is exactly an
    equal mixture of 2 * ``panels`` gaussians centred at m(t_k). With 1000 panels, against a
    16x finer rule, the error is below 1e-6 nats at samples, 1e-5 where log p > -8 and 1e-4
    where log p > -20 (the test suite checks this).
    """

    t_range = (1.5 * math.pi, 4.5 * math.pi)
    scale, sigma = 5.0, 0.2

    def __init__(self, panels: int = 1000) -> None:
        a, b = self.t_range
        width = (b - a) / panels
        mid = a + (torch.arange(panels, dtype=torch.float64) + 0.5) * width  # (panels,)
        half_gap = width / (2 * math.sqrt(3))  # Gauss-Legendre nodes at mid -/+ width/(2 sqrt 3)
        t = torch.cat([mid - half_gap, mid + half_gap])  # (2 * panels,)
        super().__init__("swissroll", self._curve(t), self.sigma)
        self.num_classes = None

    def _curve(self, t: torch.Tensor) -> torch.Tensor:
        return torch.stack([t * t.cos(), t * t.sin()], dim=-1) / self.scale  # (..., 2)

    def sample(self, n: int, generator: torch.Generator) -> Sample:
        a, b = self.t_range
        t = a + (b - a) * torch.rand(n, generator=generator, dtype=torch.float64)  # (n,)
        noise = torch.randn(n, 2, generator=generator, dtype=torch.float64)  # (n, 2)
        return (self._curve(t) + self.sigma * noise).float(), None


class Checkerboard(Toy2D):
    """Uniform on the 8 black unit squares of the 4x4 board [-2, 2]^2 (density 1/8)."""

    name = "checkerboard"
    # Lower-left corners (i, j) of the black squares: i + j even.
    corners = torch.tensor(
        [(i, j) for i, j in itertools.product(range(-2, 2), repeat=2) if (i + j) % 2 == 0],
        dtype=torch.float64,
    )  # (8, 2)

    def sample(self, n: int, generator: torch.Generator) -> Sample:
        k = torch.randint(len(self.corners), (n,), generator=generator)  # (n,)
        u = torch.rand(n, 2, generator=generator, dtype=torch.float64)  # (n, 2)
        return (self.corners[k] + u).float(), None

    def _log_prob(self, x: torch.Tensor) -> torch.Tensor:
        inside = (x.abs() <= 2).all(dim=1)  # (M,)
        cell = x.floor().clamp(-2, 1)  # (M, 2) lower-left corner; x = 2 belongs to the last cell
        black = (cell.sum(dim=1) % 2) == 0  # (M,)
        return torch.where(inside & black, -math.log(8.0), -math.inf).to(torch.float64)


def toy_distribution(variant: str) -> Toy2D:
    """The distribution of ``toy2d:<variant>`` (variant already validated by the registry)."""
    if variant == "8gaussians":
        angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)  # (8,)
        return GaussianMixture2D(variant, 2 * torch.stack([angles.cos(), angles.sin()], 1), 0.05)
    if variant == "25gaussians":
        grid = torch.tensor(list(itertools.product(range(-2, 3), repeat=2)), dtype=torch.float64)
        return GaussianMixture2D(variant, grid, 0.05)  # (25, 2), row 5*i + j = (i-2, j-2)
    if variant == "swissroll":
        return SwissRoll()
    if variant == "checkerboard":
        return Checkerboard()
    raise UserInputError(f"unknown toy2d variant {variant!r}")  # the registry checks first
