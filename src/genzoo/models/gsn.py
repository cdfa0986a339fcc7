"""Generative stochastic networks (Bengio, Thibodeau-Laufer, Alain & Yosinski 2014, "Deep
Generative Stochastic Networks Trainable by Backprop", ICML) and, as their special case,
generalised denoising autoencoders run as Markov chains (Bengio, Yao, Alain & Vincent 2013,
"Generalized Denoising Auto-Encoders as Generative Models", NIPS).

The model defines a Markov chain, not a density. One step from the visible state x_t and
the latent state h_{t-1}:

    x~_t ~ C(x~ | x_t)                                    corruption
    h_t  = tanh(W x~_t + U h_{t-1} + b + s e) + s e'       latent state (e, e' ~ N(0, I))
    x_{t+1} ~ P(x | h_t)                                   reconstruction, sampled

with C salt-and-pepper (each sub-pixel replaced, with probability p, by a uniform random
value) or Gaussian (x~ = x + sigma N(0, I) on the [-1, 1] scale), s the hidden noise, and
P a factorised likelihood of :mod:`genzoo.nn.likelihoods`: Bernoulli for binary data, the
discretised logistic (Salimans et al. 2017) or a 256-way softmax for 8-bit data. With
``recurrent = false`` there is no U: h_t reads x~_t alone, so the chain over x is the DAE
chain x -> C -> P(x | x~) of Bengio et al. (2013), whose stationary distribution
approaches the data distribution as P(x | x~) approaches the true reconstruction
distribution (their Theorem 1).

Walkback training (Bengio et al. 2013, section 3.4; 2014, section 3.4): from each training
image x_0 the chain runs ``walkback`` = K steps, and every reconstruction is scored
against x_0::

    loss = (1 / K) sum_{k=1..K} E[-log P(x_0 | h_k)]   (nats per image)

so the model also learns to return to the data from the spurious places its own chain
wanders to. Gradients flow through the latent states h_1..h_k (back-propagation through
the chain); the sampled visible states x_k are not differentiated. ``walkback = 1`` is the
denoising loss -log P(x_0 | h(C(x_0))).

Sampling runs the chain from a random start (uniform random sub-pixels, h_0 = 0):
``burn_in`` steps are discarded, then a sample is kept every ``thin`` steps; every random
draw comes from the caller's generator, so a seeded chain reproduces. Completion clamps
the known sub-pixels to their given values after every step (Bengio et al. 2014, section
4: sampling the missing part given the rest).

Deviations and choices:
    - One layer of latent state (the paper's MNIST GSN has two of 1500 units with a
      computational graph like a DBM's Gibbs sampler); the reconstruction is a linear map
      of h (untied from W).
    - The walkback loss is the mean, not the sum, over the K reconstructions, so its
      scale (and the logged figure) does not depend on K; Adam makes the two the same
      training up to the learning rate of other optimizers.
    - The first latent state of a chain reads h_0 = 0 (no recurrent input).
    - The sample that is kept is the sampled reconstruction x_{t+1}, never a mean.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
from torch import Generator, Tensor, nn

from genzoo import progress
from genzoo.config import DataSpec, signed_scale
from genzoo.declare import flag
from genzoo.errors import NoDensityError, UserInputError
from genzoo.models.base import GenerativeModel
from genzoo.models.gsn_config import GSNConfig
from genzoo.nn.likelihoods import Bernoulli, Categorical, DiscretizedLogistic, FactorisedLikelihood

NO_DENSITY = (
    "defines no density: its samples come from running a Markov chain whose stationary "
    "distribution is implicit (Bengio et al. 2014), so there is no likelihood to evaluate; "
    "compare it by sample metrics (--metrics fid,kid,pr,dc) or the Parzen-window estimate "
    "(--metrics parzen: a weak estimate, not a likelihood) instead"
)

_LIKELIHOODS: dict[str, type[FactorisedLikelihood]] = {
    "bernoulli": Bernoulli,
    "logistic": DiscretizedLogistic,
    "categorical": Categorical,
}


class GSN(GenerativeModel):
    """A GSN with one layer of latent state, or a DAE chain; see the module docstring.

    Args:
        config: sizes, corruption, walkback and sampling defaults
            (:class:`genzoo.models.gsn_config.GSNConfig`).
        data: image shape (C, H, W) and kind ("binary" or "8bit").

    Example:
        >>> model = GSN(GSNConfig(hidden=64, walkback=2), DataSpec((1, 4, 4), "binary"))
        >>> x = model.sample(8, generator=torch.Generator().manual_seed(0), burn_in=50)
    """

    name = "gsn"
    density = None
    can_complete = True
    sample_options: ClassVar[tuple[str, ...]] = ("burn_in", "thin", "chains")

    def __init__(self, config: GSNConfig, data: DataSpec) -> None:
        super().__init__(config, data)
        binary = data.is_binary
        corruption = config.corruption
        if corruption == "auto":
            corruption = "salt-pepper" if binary else "gaussian"
        likelihood = config.likelihood
        if likelihood == "auto":
            likelihood = "bernoulli" if binary else "logistic"
        if binary != (likelihood == "bernoulli"):
            fits = "bernoulli" if binary else "logistic or categorical"
            raise UserInputError(
                f"--model.likelihood {likelihood} does not fit {data.kind} data: use {fits} "
                "(or auto)"
            )
        if corruption == "salt-pepper" and config.noise > 1:
            raise UserInputError(
                f"--model.noise is a probability for salt-pepper corruption: in (0, 1], got "
                f"{config.noise}"
            )
        self.corruption = corruption
        self.likelihood = _LIKELIHOODS[likelihood]()
        self.num_dims = data.num_dims
        k = self.likelihood.num_params
        self.encoder = nn.Linear(self.num_dims, config.hidden)  # W, b
        self.recurrence = (
            nn.Linear(config.hidden, config.hidden, bias=False) if config.recurrent else None
        )  # U
        self.decoder = nn.Linear(config.hidden, self.num_dims * k)

    # -- one step of the chain ------------------------------------------------------------

    def corrupt(self, images: Tensor, generator: Generator | None = None) -> Tensor:
        """x~ ~ C(x~ | x): data-space images (N, C, H, W) -> corrupted inputs on the [-1, 1]
        scale, (N, D) in the model's dtype."""
        x = images.reshape(len(images), -1)  # (N, D)
        mv = self.data.max_value
        noise = float(self.config.noise)
        if self.corruption == "salt-pepper":
            u = torch.rand(x.shape, generator=generator, device=x.device)  # (N, D)
            salt = torch.randint(0, mv + 1, x.shape, generator=generator, device=x.device)
            x = torch.where(u < noise, salt, x.long())
            return signed_scale(x, mv, self.dtype)
        eps = torch.randn(x.shape, generator=generator, device=x.device, dtype=self.dtype)
        return signed_scale(x, mv, self.dtype) + noise * eps

    def latent_step(
        self, x_tilde: Tensor, h_prev: Tensor | None, generator: Generator | None = None
    ) -> Tensor:
        """h = tanh(W x~ + U h_prev + b + s e) + s e' (s: the hidden noise): x~ (N, D) and
        h_prev (N, hidden) or None (no recurrent input) -> h (N, hidden)."""
        a = self.encoder(x_tilde)  # (N, hidden)
        if self.recurrence is not None and h_prev is not None:
            a = a + self.recurrence(h_prev)
        s = float(self.config.hidden_noise)
        if s > 0:
            a = a + s * torch.randn(a.shape, generator=generator, device=a.device, dtype=a.dtype)
        h = torch.tanh(a)
        if s > 0:
            h = h + s * torch.randn(h.shape, generator=generator, device=h.device, dtype=h.dtype)
        return h

    def reconstruction(self, h: Tensor) -> Tensor:
        """The parameters of P(x | h): (N, hidden) -> (N, C, K, H, W) for the likelihood."""
        c, hh, ww = self.data.image_shape
        return self.decoder(h).view(len(h), c, self.likelihood.num_params, hh, ww)

    def forward(self, x_tilde: Tensor, h_prev: Tensor | None = None) -> Tensor:
        """The network: corrupted inputs (N, D) on the [-1, 1] scale (and the previous
        latent state) -> the parameters of P(x | h), (N, C, K, H, W)."""
        return self.reconstruction(self.latent_step(x_tilde, h_prev))

    def transition(
        self, images: Tensor, h_prev: Tensor | None, generator: Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """Corrupt the visible state and update the latent state: (h, parameters of P(x | h))."""
        h = self.latent_step(self.corrupt(images, generator), h_prev, generator)
        return h, self.reconstruction(h)

    @torch.no_grad()
    def step(
        self,
        images: Tensor,
        h_prev: Tensor | None,
        generator: Generator | None = None,
        known: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """One full step of the chain: (x_t, h_{t-1}) -> (x_{t+1}, h_t), x uint8 (N, C, H, W);
        sub-pixels where ``known`` (bool, broadcastable) holds keep their value."""
        h, params = self.transition(images, h_prev, generator)
        x = self.likelihood.sample(params, generator)
        if known is not None:
            x = torch.where(known, images, x)
        return x, h

    def random_images(self, n: int, generator: Generator | None = None) -> Tensor:
        """The chain's start: n images of uniform random sub-pixels, uint8 (n, C, H, W)."""
        if n < 1:
            raise UserInputError(f"number of samples must be positive, got {n}")
        shape = (n, *self.data.image_shape)
        top = self.data.max_value + 1
        return torch.randint(0, top, shape, generator=generator, device=self.device).to(torch.uint8)

    # -- the contract -------------------------------------------------------------------------

    def loss(self, images: Tensor, labels: Tensor | None = None) -> dict[str, Tensor]:
        """The walkback loss in nats per image (module docstring): ``loss`` the mean over the
        K reconstructions, ``rec_first`` the plain denoising term (k = 1), ``rec_last`` the
        term of the last walkback step."""
        x0 = self.check_images(images)
        x, h = x0, None
        terms = []
        steps = self.config.walkback
        for k in range(steps):
            h, params = self.transition(x, h)
            nll = -self.likelihood.log_prob(x0, params).flatten(1).sum(1)  # (N,)
            terms.append(nll.mean())
            if k + 1 < steps:  # the chain walks on from a sampled reconstruction
                with torch.no_grad():
                    x = self.likelihood.sample(params.detach())
        loss = torch.stack(terms).mean()
        return {"loss": loss, "rec_first": terms[0].detach(), "rec_last": terms[-1].detach()}

    def log_prob(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        """Raises :class:`genzoo.errors.NoDensityError`: a GSN defines no likelihood."""
        raise NoDensityError(f"{self.name} {NO_DENSITY}")

    def _steps(self, burn_in: int | None, thin: int | None) -> tuple[int, int]:
        b = self.config.burn_in if burn_in is None else burn_in
        t = self.config.thin if thin is None else thin
        if isinstance(b, bool) or not isinstance(b, int) or b < 0:
            raise UserInputError(f"{flag('burn_in')} must be a whole number >= 0, got {b!r}")
        if isinstance(t, bool) or not isinstance(t, int) or t < 1:
            raise UserInputError(
                f"{flag('thin')} must be a whole number >= 1 (1 keeps every step), got {t!r}"
            )
        return b, t

    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        labels: Tensor | None = None,
        generator: Generator | None = None,
        burn_in: int | None = None,
        thin: int | None = None,
        chains: int | None = None,
    ) -> Tensor:
        """n samples of the chain, uint8 (n, C, H, W).

        ``chains`` chains (default n: one sample per chain) start at random images;
        each discards ``burn_in`` steps (default: the config's), then keeps the next step's
        image and one every ``thin`` steps after it: m = ceil(n / chains) consecutive
        samples per chain, chain-major (sample ``c * m + j`` is the j-th kept image of
        chain c; the last chain may give fewer).
        """
        self.check_labels(labels, n)
        b, t = self._steps(burn_in, thin)
        if n < 1:
            raise UserInputError(f"number of samples must be positive, got {n}")
        c = n if chains is None else chains
        if isinstance(c, bool) or not isinstance(c, int) or c < 1:
            raise UserInputError(f"{flag('chains')} must be a whole number >= 1, got {c!r}")
        c = min(c, n)
        m = math.ceil(n / c)
        total = b + 1 + (m - 1) * t
        x, h = self.random_images(c, generator), None
        kept = []
        shown = not torch.compiler.is_compiling()
        if shown:
            progress.start(total, "step")
        for s in range(1, total + 1):
            x, h = self.step(x, h, generator)
            if s > b and (s - b - 1) % t == 0:
                kept.append(x)
            if shown:
                progress.advance()
        out = torch.stack(kept, dim=1)  # (c, m, C, H, W)
        return out.reshape(c * m, *self.data.image_shape)[:n]

    @torch.no_grad()
    def clamp(
        self,
        images: Tensor,
        known: Tensor,
        *,
        generator: Generator | None = None,
        burn_in: int | None = None,
    ) -> Tensor:
        """Run one chain per image with the ``known`` sub-pixels clamped to their values
        and return its image after ``burn_in`` + 1 steps (default: the config's burn-in).

        Args:
            images: uint8 (N, C, H, W); only the known sub-pixels are read.
            known: bool, broadcastable to ``images``: the sub-pixels kept.
            generator: source of every random draw.
            burn_in: steps discarded before the one returned.
        """
        images = self.check_images(images).to(torch.uint8)
        known = torch.as_tensor(known, dtype=torch.bool, device=images.device)
        b, _ = self._steps(burn_in, None)
        x = torch.where(known, images, self.random_images(len(images), generator))
        h = None
        for _ in range(b + 1):
            x, h = self.step(x, h, generator, known)
        return x

    @torch.no_grad()
    def complete(
        self,
        images: Tensor,
        num_known_rows: int,
        *,
        labels: Tensor | None = None,
        generator: Generator | None = None,
        burn_in: int | None = None,
        thin: int | None = None,
        chains: int | None = None,
    ) -> Tensor:
        """Fill in the rows below the first ``num_known_rows`` by running the chain with the
        top rows clamped (:meth:`clamp`); one chain per image, so ``thin`` and ``chains``
        do not apply."""
        for name, value in (("thin", thin), ("chains", chains)):
            if value is not None:
                raise UserInputError(
                    f"{flag(name)} applies to sampling, not to completion (one chain per "
                    f"image, its state after --burn-in steps): drop {flag(name)}"
                )
        self.check_labels(labels, len(images))
        h = self.data.image_shape[1]
        if not 0 <= num_known_rows <= h:
            raise UserInputError(f"known rows must be in [0, {h}], got {num_known_rows}")
        rows = torch.arange(h, device=images.device) < num_known_rows  # (H,)
        known = rows.view(1, 1, h, 1).expand_as(images)
        return self.clamp(images, known, generator=generator, burn_in=burn_in)
