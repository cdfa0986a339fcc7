"""The adversarial losses, as pure functions of the discriminator's outputs.

Every function takes the discriminator's raw outputs ("logits": real-valued scores, one
per example, shape (N,)) and returns a scalar mean over the batch. The discriminator
minimises :func:`discriminator_loss`, the generator minimises :func:`generator_loss`.
With D(x) = sigmoid(logit) where a probability is meant, and f the raw score:

- minimax: D minimises -E log D(x) - E log(1 - D(G(z))); G minimises E log(1 - D(G(z)))
  (the saturating game).
- non-saturating: D as minimax; G minimises -E log D(G(z)).
- wgan, wgan-gp: D minimises E f(G(z)) - E f(x) (+ lambda GP for wgan-gp); G minimises
  -E f(G(z)).
- lsgan: D minimises 1/2 E (f(x) - 1)^2 + 1/2 E f(G(z))^2; G minimises
  1/2 E (f(G(z)) - 1)^2.
- hinge: D minimises E max(0, 1 - f(x)) + E max(0, 1 + f(G(z))); G minimises -E f(G(z)).

References:
    - minimax and non-saturating: Goodfellow et al. 2014, "Generative Adversarial Nets",
      eq. 1 and section 3 ("rather than training G to minimize log(1 - D(G(z))) we can
      train G to maximize log D(G(z))").
    - wgan: Arjovsky, Chintala, Bottou 2017, "Wasserstein GAN", algorithm 1 (the critic's
      weights clipped to [-c, c] after each update: :func:`clip_weights_`).
    - wgan-gp: Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", algorithm 1
      (:func:`gradient_penalty`, one interpolation coefficient per sample).
    - lsgan: Mao et al. 2017, "Least Squares Generative Adversarial Networks", eq. 2 with
      the 0-1 coding a = 0, b = c = 1.
    - hinge: Lim and Ye 2017 ("Geometric GAN"); Miyato et al. 2018 (SN-GAN), eq. 16-17.
    - R1: Mescheder, Geiger, Nowozin 2018, "Which Training Methods for GANs do actually
      Converge?", eq. 9 (:func:`r1_penalty`).

The logs are computed with softplus, so they are exact for large logits:
-log sigmoid(t) = softplus(-t) and -log(1 - sigmoid(t)) = softplus(t).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from genzoo.errors import UserInputError

LOSSES = ("minimax", "non-saturating", "wgan", "wgan-gp", "lsgan", "hinge")
"""The names accepted by :func:`discriminator_loss` and :func:`generator_loss`."""


# -- discriminator losses -------------------------------------------------------------------


def minimax_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    """-E[log D(x)] - E[log(1 - D(G(z)))], D = sigmoid(logit): the negated value V(D, G)."""
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def wasserstein_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    """E[f(G(z))] - E[f(x)]: minus the critic's estimate of the Wasserstein-1 distance."""
    return fake.mean() - real.mean()


def least_squares_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    """1/2 E[(f(x) - 1)^2] + 1/2 E[f(G(z))^2] (Mao et al. 2017, eq. 2, a = 0, b = 1)."""
    return 0.5 * (real - 1.0).square().mean() + 0.5 * fake.square().mean()


def hinge_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    """E[max(0, 1 - f(x))] + E[max(0, 1 + f(G(z)))]."""
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


# -- generator losses -----------------------------------------------------------------------


def minimax_g_loss(fake: Tensor) -> Tensor:
    """E[log(1 - D(G(z)))] = -E[softplus(logit)]: the saturating objective of the game."""
    return -F.softplus(fake).mean()


def non_saturating_g_loss(fake: Tensor) -> Tensor:
    """-E[log D(G(z))] = E[softplus(-logit)]."""
    return F.softplus(-fake).mean()


def wasserstein_g_loss(fake: Tensor) -> Tensor:
    """-E[f(G(z))] (WGAN, WGAN-GP and the hinge loss's generator)."""
    return -fake.mean()


def least_squares_g_loss(fake: Tensor) -> Tensor:
    """1/2 E[(f(G(z)) - 1)^2] (Mao et al. 2017, eq. 2, c = 1)."""
    return 0.5 * (fake - 1.0).square().mean()


_D: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "minimax": minimax_d_loss,
    "non-saturating": minimax_d_loss,
    "wgan": wasserstein_d_loss,
    "wgan-gp": wasserstein_d_loss,
    "lsgan": least_squares_d_loss,
    "hinge": hinge_d_loss,
}
_G: dict[str, Callable[[Tensor], Tensor]] = {
    "minimax": minimax_g_loss,
    "non-saturating": non_saturating_g_loss,
    "wgan": wasserstein_g_loss,
    "wgan-gp": wasserstein_g_loss,
    "lsgan": least_squares_g_loss,
    "hinge": wasserstein_g_loss,
}


def check_loss_name(name: str) -> str:
    """Return ``name`` if it is a known loss, else raise a UserInputError listing them."""
    if name not in _D:
        raise UserInputError(f"unknown GAN loss {name!r}; choose one of: {', '.join(LOSSES)}")
    return name


def discriminator_loss(name: str, real: Tensor, fake: Tensor) -> Tensor:
    """The discriminator's (critic's) loss ``name`` on logits real (N,) and fake (M,)."""
    return _D[check_loss_name(name)](real, fake)


def generator_loss(name: str, fake: Tensor) -> Tensor:
    """The generator's loss ``name`` on the logits (N,) of its samples."""
    return _G[check_loss_name(name)](fake)


def decision_threshold(name: str, real: Tensor, fake: Tensor) -> Tensor:
    """The score above which D calls an example real, for the accuracy logs.

    0 for the logit losses (D(x) > 1/2) and hinge, 1/2 for LSGAN (targets 0 and 1). A
    Wasserstein critic's scores are defined up to a constant, so for wgan(-gp) the
    threshold is the midpoint of the batch's mean real and mean fake scores.
    """
    if name in ("wgan", "wgan-gp"):
        return 0.5 * (real.mean() + fake.mean()).detach()
    return torch.tensor(0.5 if name == "lsgan" else 0.0, device=real.device)


# -- regularisers ---------------------------------------------------------------------------


def gradient_penalty(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    """WGAN-GP's penalty E[(||grad_x f(x_hat)||_2 - 1)^2] (Gulrajani et al. 2017, alg. 1).

    x_hat = eps x + (1 - eps) G(z) with ONE eps ~ U[0, 1] per sample (broadcast over all
    of that sample's dimensions), the norm taken over all of a sample's dimensions. The
    graph is kept (``create_graph``) so that the penalty can be minimised. Not multiplied
    by lambda: the caller weights it.

    Args:
        critic: maps inputs (N, ...) to scores (N,).
        real: real examples (N, ...), on the critic's input scale.
        fake: generated examples (N, ...) (detached from the generator by the caller).
        generator: draws eps (None: torch's global RNG).

    Returns:
        The scalar penalty.
    """
    n = real.shape[0]
    shape = (n,) + (1,) * (real.ndim - 1)  # one coefficient per sample
    eps = torch.rand(shape, generator=generator, device=real.device, dtype=real.dtype)
    x_hat = (eps * real + (1.0 - eps) * fake).requires_grad_(True)  # (N, ...)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    norm = grad.flatten(1).norm(2, dim=1)  # (N,)
    return (norm - 1.0).square().mean()


def r1_penalty(real_scores: Tensor, real: Tensor) -> Tensor:
    """R1 = E[||grad_x D(x)||^2] on real data (Mescheder et al. 2018, eq. 9, without the
    gamma / 2 factor, which the caller applies).

    Args:
        real_scores: D's outputs (N,) on ``real``, computed with ``real.requires_grad``.
        real: the real inputs (N, ...) that produced them.

    Returns:
        The scalar penalty, with its graph (``create_graph``) so it can be minimised.
    """
    (grad,) = torch.autograd.grad(real_scores.sum(), real, create_graph=True)
    return grad.flatten(1).square().sum(1).mean()


@torch.no_grad()
def clip_weights_(module: torch.nn.Module, c: float) -> None:
    """WGAN's weight clipping: every parameter of ``module`` clamped to [-c, c], in place."""
    for p in module.parameters():
        p.clamp_(-c, c)
