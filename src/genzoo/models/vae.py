"""Variational autoencoders: VAE, IWAE, beta-VAE and the conditional VAE, with their bounds.

The model: z ~ N(0, I), x ~ p(x|z); p(x) = integral of p(z) p(x|z) dz cannot be computed,
so it is trained and evaluated through lower bounds with a Gaussian encoder q(z|x):

- ELBO (Kingma & Welling 2014, "Auto-Encoding Variational Bayes", eq. 10):
  log p(x) >= E_q[log p(x|z)] - KL(q(z|x) || p(z)), with the KL term in closed form
  (their appendix B) and z = mu + sigma * eps (the reparameterisation trick).
- IWAE-k (Burda, Grosse, Salakhutdinov 2016, "Importance Weighted Autoencoders", eq. 8):
  log p(x) >= E[log (1/k) sum_i w_i], w_i = p(x, z_i) / q(z_i|x), z_i ~ q(z|x). It rises
  with k and tends to log p(x); it is the training objective with ``objective="iwae"`` and
  the evaluation estimator of ``log_prob`` and ``nll_terms`` (computed with logsumexp, in
  chunks of samples, so memory stays bounded for k = 5000).
- beta-VAE (Higgins et al. 2017): the KL term weighted by ``beta`` (1 gives the VAE).
- Conditional VAE (Sohn, Lee, Yan 2015): encoder and decoder also read a one-hot label.
- Two stochastic layers x <- z1 <- z2 (Burda et al. 2016, section 5): q(z1|x) q(z2|z1),
  p(z2) p(z1|z2) p(x|z1).

Decoders p(x|z) (:mod:`genzoo.nn.likelihoods`), all exact likelihoods of the discrete
data or a bound on them:

- ``bernoulli`` (binary data): a Bernoulli per pixel.
- ``logistic`` (8-bit): the discretised logistic of PixelCNN++ (Salimans et al. 2017,
  eq. 2), the edge bins extended to infinity, so the 256 probabilities sum to one.
- ``categorical`` (8-bit): a 256-way softmax per sub-pixel (large output layer).
- ``gaussian`` (8-bit): a Gaussian density on uniformly dequantised data y = (x + u) / 256.
  Since P(x) = integral over the unit cube of p(x + u) du (Theis, van den Oord, Bethge 2016,
  "A note on the evaluation of generative models", eq. 7), treating u ~ U[0, 1)^D as one
  more latent with q(u) = 1 makes every bound here a bound on the discrete log P(x); the
  change of scale adds -D log 256. Mass outside [0, 1)^D is lost, which only loosens it.

Deviations:
    - Conditioning concatenates a one-hot label to the encoder's last layer and to the
      decoder's input; the prior stays N(0, I) for every class (the "M2"-style CVAE of
      Kingma et al. 2014) rather than Sohn et al.'s learned prior network p(z|y).
    - With two stochastic layers the networks between z1 and z2 have ``hidden // 2``
      units (the paper: 100 for 200), and the ELBO's KL term is a Monte Carlo estimate
      (it has no closed form); with one layer it is analytic.
    - ``objective="elbo"`` with k > 1 averages k single-sample ELBO estimates (the "VAE,
      k samples" rows of the IWAE paper's table 1).
    - ``log_prob`` and the evaluation bounds are Monte Carlo estimates; ``log_prob`` and
      ``nll_terms`` draw from their ``generator`` (a fixed seed when None, so they are
      deterministic), never from torch's global RNG.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from genzoo.config import DataSpec
from genzoo.errors import UserInputError
from genzoo.estimators.ais import ais_log_prob
from genzoo.models.base import GenerativeModel
from genzoo.models.vae_config import TERMS, VAEConfig
from genzoo.nn.likelihoods import (
    LOG_2PI,
    Bernoulli,
    Categorical,
    DequantizedGaussian,
    DiscretizedLogistic,
    FactorisedLikelihood,
)
from genzoo.nn.vae_nets import MLP, Decoder, Encoder

DECODERS: dict[str, type[FactorisedLikelihood]] = {
    "bernoulli": Bernoulli,
    "logistic": DiscretizedLogistic,
    "categorical": Categorical,
    "gaussian": DequantizedGaussian,
}
"""p(x|z) of each ``--model.decoder`` (one parameter block of K values per sub-pixel)."""
ELEMENT_BUDGET = 2**23
"""Bounds rows x (D x parameters per value) of one decoder call when evaluating bounds."""


# ---------------------------------------------------------------------------------------
# Densities (pure functions; tested on their own).


def kl_standard_normal(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, diag exp(logvar)) || N(0, I)) in closed form (Kingma & Welling, appendix B).

    KL = 1/2 sum_j (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2) >= 0.

    Args:
        mu, logvar: (..., L).

    Returns:
        (...) nats.
    """
    return 0.5 * (mu.square() + logvar.exp() - 1.0 - logvar).sum(-1)


def normal_log_prob(x: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """log N(x; mu, diag exp(logvar)) summed over the last dimension: (..., L) -> (...)."""
    return -0.5 * (LOG_2PI + logvar + (x - mu).square() * torch.exp(-logvar)).sum(-1)


def standard_normal_log_prob(z: Tensor) -> Tensor:
    """log N(z; 0, I) summed over the last dimension: (..., L) -> (...)."""
    return -0.5 * (LOG_2PI + z.square()).sum(-1)


# ---------------------------------------------------------------------------------------
# The model.


class VAE(GenerativeModel):
    """Variational autoencoder with ELBO and IWAE bounds; see the module docstring.

    The latent interface (:class:`genzoo.models.base.latent interface`): ``latent_dim``,
    ``encode`` (posterior mean) and ``decode`` (see :meth:`decode` for which image).

    Args:
        config: :class:`genzoo.models.vae_config.VAEConfig`.
        data: image shape (C, H, W), kind ("8bit" or "binary") and number of classes.

    Example:
        >>> model = genzoo.create_model("vae", image_shape=(1, 28, 28), kind="binary")
        >>> bound = model.log_prob(images, k=5000)  # IWAE-5000 lower bound, nats
    """

    name = "vae"
    likelihood_terms = TERMS
    density = "bound"
    has_latent = True
    has_encoder = True

    def __init__(self, config: VAEConfig, data: DataSpec) -> None:
        super().__init__(config, data)
        if len(data.image_shape) != 3:
            raise UserInputError(f"the VAE models images (C, H, W), not {data.image_shape}")
        self.decoder_kind = self._resolve_decoder(config.decoder, data)
        self.likelihood = DECODERS[self.decoder_kind]()
        self.latent_dim = config.latent_dim
        self.two_layers = config.stochastic_layers == 2
        self.num_cond = self.label_classes
        z_x = config.lower_latent_dim if self.two_layers else config.latent_dim
        self.z_x_dim = z_x  # units of the latent next to x (z1, or z)
        self.params_per_value = self.likelihood.num_params

        self.encoder = Encoder(
            config.architecture, data.image_shape, config.hidden, config.hidden_layers
        )
        self.encoder_head = torch.nn.Linear(self.encoder.out_features + self.num_cond, 2 * z_x)
        self.decoder = Decoder(
            config.architecture,
            z_x + self.num_cond,
            data.image_shape,
            self.params_per_value,
            config.hidden,
            config.hidden_layers,
        )
        if self.two_layers:
            h2 = max(1, config.hidden // 2)
            # q(z2 | z1) and p(z1 | z2): Gaussian MLPs
            self.encoder2 = MLP(z_x + self.num_cond, h2, 2, 2 * config.latent_dim)
            self.prior1 = MLP(config.latent_dim + self.num_cond, h2, 2, 2 * z_x)
        conv_channels = 2 * config.hidden if config.architecture == "conv" else 1
        per_row = data.num_dims * max(self.params_per_value, conv_channels)
        self.max_rows = max(1, ELEMENT_BUDGET // per_row)

    @staticmethod
    def _resolve_decoder(decoder: str, data: DataSpec) -> str:
        binary = data.is_binary
        if decoder == "auto":
            return "bernoulli" if binary else "logistic"
        allowed = ("bernoulli",) if binary else ("logistic", "categorical", "gaussian")
        if decoder not in allowed:
            raise UserInputError(
                f"--model.decoder {decoder} does not fit {data.kind} data; use "
                f"{' or '.join(allowed)} (or auto)"
            )
        return decoder

    # -- networks ----------------------------------------------------------------------

    def _onehot(self, labels: Tensor | None, n: int) -> Tensor | None:
        """(n,) labels -> (n, num_classes) floats, or None for an unconditional model."""
        if not self.num_cond:
            return None
        if labels is None:
            raise UserInputError("this VAE is class-conditional: pass labels")
        return F.one_hot(labels.long(), self.num_cond).to(self.dtype)

    @staticmethod
    def _cat(x: Tensor, onehot: Tensor | None) -> Tensor:
        return x if onehot is None else torch.cat([x, onehot], dim=1)

    def _encoder_input(self, images: Tensor) -> Tensor:
        """Data-space images (N, C, H, W) -> encoder input in [0, 1]: x / 255 (8-bit) or x
        (binary); the Gaussian decoder's encoder reads the cell midpoint (x + 1/2) / 256."""
        if isinstance(self.likelihood, DequantizedGaussian):
            return self.likelihood.midpoint(images, self.dtype)
        return self.data.to_unit(images, self.dtype)

    def forward(self, x: Tensor, onehot: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """The encoder network: input (N, C, H, W) in [0, 1] -> q(z|x)'s (mu, logvar), each
        (N, L) (L = the units of the latent next to x)."""
        h = self._cat(self.encoder(x), onehot)  # (N, F [+ classes])
        mu, logvar = self.encoder_head(h).chunk(2, dim=1)  # (N, L) each
        return mu, logvar

    def _q2(self, z1: Tensor, onehot: Tensor | None) -> tuple[Tensor, Tensor]:
        # q(z2 | z1): (N, L1) -> (N, L2) mean and log-variance
        return self.encoder2(self._cat(z1, onehot)).chunk(2, dim=1)

    def _p1(self, z2: Tensor, onehot: Tensor | None) -> tuple[Tensor, Tensor]:
        # p(z1 | z2): (N, L2) -> (N, L1) mean and log-variance
        return self.prior1(self._cat(z2, onehot)).chunk(2, dim=1)

    def decoder_params(self, z: Tensor, onehot: Tensor | None = None) -> Tensor:
        """p(x|z)'s parameters: z (N, L) -> (N, C, K, H, W), K per ``decoder_kind``
        (1 logit; location and log-scale; 256 logits)."""
        c, h, w = self.data.image_shape
        out = self.decoder(self._cat(z, onehot))  # (N, C*K, H, W)
        return out.view(out.shape[0], c, self.params_per_value, h, w)

    # -- decoder distributions (the likelihood of genzoo.nn.likelihoods) -----------------

    def _decoder_log_prob(self, target: Tensor, params: Tensor) -> Tensor:
        """log p(x|z) per example (N,): target is the long image (discrete decoders) or the
        dequantised y in [0, 1) (Gaussian, returned as a density of x + u: - D log 256)."""
        return self.likelihood.log_prob(target, params).flatten(1).sum(1)

    def _decoder_sample(self, params: Tensor, generator: torch.Generator | None) -> Tensor:
        """x ~ p(x|z): params (N, C, K, H, W) -> uint8 (N, C, H, W)."""
        return self.likelihood.sample(params, generator)

    def _decoder_image(self, params: Tensor) -> Tensor:
        """The decoder's point image: params (N, C, K, H, W) -> uint8 (N, C, H, W)."""
        return self.likelihood.point(params)

    # -- bounds ---------------------------------------------------------------------------

    def sample_terms(
        self,
        images: Tensor,
        labels: Tensor | None,
        k: int,
        generator: torch.Generator | None = None,
    ) -> dict[str, Tensor]:
        """Draw k latents per example and return the terms of the bounds.

        Args:
            images: checked data-space images (N, C, H, W).
            labels: checked labels (N,) or None.
            k: samples per example.
            generator: for eps (and the dequantisation noise u); None uses torch's global RNG.

        Returns:
            ``rec``: log p(x|z) (k, N); ``log_pz_qz``: log p(z) - log q(z|x) (k, N), summed
            over both layers (so ``rec + log_pz_qz`` is log w); ``kl``: the analytic
            KL(q(z|x) || p(z)) (k, N), one stochastic layer only.
        """
        n = images.shape[0]
        onehot = self._onehot(labels, n)
        onehot_k = None if onehot is None else onehot.repeat(k, 1)  # (kN, classes)
        if isinstance(self.likelihood, DequantizedGaussian):
            # u is one more latent with q(u) = 1: fresh noise per importance sample
            x_k = images.repeat(k, 1, 1, 1)  # (kN, C, H, W), k-major
            target = self.likelihood.dequantize(x_k, self.dtype, generator)  # y in [0, 1)
            mu, logvar = self(target, onehot_k)  # (kN, L1)
        else:
            target = images.repeat(k, 1, 1, 1)  # (kN, C, H, W)
            mu, logvar = self(self._encoder_input(images), onehot)  # (N, L1)
            mu, logvar = mu.repeat(k, 1), logvar.repeat(k, 1)  # (kN, L1)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        z1 = mu + torch.exp(0.5 * logvar) * eps  # (kN, L1), reparameterised
        log_q = normal_log_prob(z1, mu, logvar)  # (kN,)
        out: dict[str, Tensor] = {}
        if self.two_layers:
            mu2, logvar2 = self._q2(z1, onehot_k)  # (kN, L2)
            eps2 = torch.randn(mu2.shape, generator=generator, device=mu2.device, dtype=mu2.dtype)
            z2 = mu2 + torch.exp(0.5 * logvar2) * eps2
            log_q = log_q + normal_log_prob(z2, mu2, logvar2)
            pm, plv = self._p1(z2, onehot_k)  # p(z1 | z2), (kN, L1)
            log_p = normal_log_prob(z1, pm, plv) + standard_normal_log_prob(z2)
        else:
            log_p = standard_normal_log_prob(z1)
            out["kl"] = kl_standard_normal(mu, logvar).view(k, n)
        rec = self._decoder_log_prob(target, self.decoder_params(z1, onehot_k))  # (kN,)
        out["rec"] = rec.view(k, n)
        out["log_pz_qz"] = (log_p - log_q).view(k, n)
        return out

    def bounds(
        self,
        images: Tensor,
        labels: Tensor | None = None,
        *,
        k: int,
        generator: torch.Generator | None = None,
    ) -> dict[str, Tensor]:
        """ELBO and IWAE-k estimates of log p(x) from the same k samples per example.

        The samples are drawn in chunks of at most ``max_rows`` decoder rows, and the
        log-mean-exp is accumulated with ``logaddexp``, so memory does not grow with k.
        Both are lower bounds on log p(x) in expectation; on every draw the ELBO estimate
        (the mean of the log-weights) is <= the IWAE estimate (their log-mean-exp).

        Returns:
            ``{"elbo": (N,), "iwae": (N,)}`` in nats.
        """
        images = self.check_images(images)
        labels = self.check_labels(labels, images.shape[0])
        if k <= 0:
            raise UserInputError(f"the number of importance samples must be positive, got {k}")
        n = images.shape[0]
        per_chunk = max(1, self.max_rows // max(n, 1))
        lse = torch.full((n,), -math.inf, device=images.device, dtype=self.dtype)
        total = torch.zeros(n, device=images.device, dtype=torch.float64)
        done = 0
        while done < k:
            s = min(per_chunk, k - done)
            terms = self.sample_terms(images, labels, s, generator)
            log_w = terms["rec"] + terms["log_pz_qz"]  # (s, N)
            lse = torch.logaddexp(lse, torch.logsumexp(log_w, dim=0))
            total = total + log_w.double().sum(0)
            done += s
        return {"elbo": (total / k).to(lse.dtype), "iwae": lse - math.log(k)}

    # -- the contract ---------------------------------------------------------------------

    def loss(self, images: Tensor, labels: Tensor | None = None) -> dict[str, Tensor]:
        """The negative training bound in nats per dimension (what is minimised).

        ``objective="elbo"``: (-E[log p(x|z)] + beta KL) / D, KL analytic with one layer.
        ``objective="iwae"``: -IWAE_k / D. Logged: the bound in nats/image and bits/dim,
        and for the ELBO its reconstruction and KL terms.
        """
        images = self.check_images(images)
        labels = self.check_labels(labels, images.shape[0])
        cfg = self.config
        terms = self.sample_terms(images, labels, cfg.k)  # each (k, N)
        d = self.data.num_dims
        if cfg.objective == "iwae":
            log_w = terms["rec"] + terms["log_pz_qz"]  # (k, N)
            bound = torch.logsumexp(log_w, dim=0) - math.log(cfg.k)  # (N,)
            loss = -bound.mean() / d
            return {
                "loss": loss,
                f"iwae{cfg.k}_nats": bound.mean().detach(),
                "bpd": self.bits_per_dim(-bound.mean()).detach(),
            }
        rec = terms["rec"].mean(0)  # (N,)
        kl = terms["kl"].mean(0) if "kl" in terms else -terms["log_pz_qz"].mean(0)  # (N,)
        elbo = rec - kl
        loss = (-rec + cfg.beta * kl).mean() / d
        return {
            "loss": loss,
            "elbo_nats": elbo.mean().detach(),
            "rec_nats": rec.mean().detach(),
            "kl_nats": kl.mean().detach(),
            "bpd": self.bits_per_dim(-elbo.mean()).detach(),
        }

    def log_prob(
        self,
        images: Tensor,
        labels: Tensor | None = None,
        *,
        k: int = 100,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """A lower bound on log p(x) in nats per example, (N,): the IWAE-k estimate.

        Args:
            images: data-space images (N, C, H, W).
            labels: (N,) for a conditional model.
            k: importance samples (k = 1 gives a one-sample ELBO estimate).
            generator: the random draws; None uses a generator seeded with 0, so the same
                call returns the same numbers.
        """
        if generator is None:
            generator = torch.Generator(images.device).manual_seed(0)
        return self.bounds(images, labels, k=k, generator=generator)["iwae"]

    def ais_log_prob(
        self,
        images: Tensor,
        labels: Tensor | None = None,
        *,
        steps: int = 1000,
        chains: int = 16,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Annealed importance sampling estimate of log p(x), nats, (N,)
        (:func:`genzoo.estimators.ais.ais_log_prob`, Wu et al. 2017): a stochastic lower
        bound that tightens with ``steps``. One stochastic layer and discrete decoders only.
        ``generator`` draws every random number (None: torch's global RNG)."""
        if self.two_layers or isinstance(self.likelihood, DequantizedGaussian):
            raise UserInputError(
                "AIS here covers VAEs with one stochastic layer and a discrete decoder "
                "(bernoulli, logistic, categorical); use the IWAE bound for this model"
            )
        images = self.check_images(images)
        labels = self.check_labels(labels, images.shape[0])
        n = images.shape[0]
        target = images.repeat(chains, 1, 1, 1)  # (chains * N, C, H, W), chain-major
        onehot = self._onehot(labels, n)
        onehot = None if onehot is None else onehot.repeat(chains, 1)

        def log_likelihood(z: Tensor) -> Tensor:  # (chains * N, L) -> (chains * N,)
            return self._decoder_log_prob(target, self.decoder_params(z, onehot))

        return ais_log_prob(
            log_likelihood, n, self.latent_dim, chains=chains, steps=steps,
            device=images.device, dtype=self.dtype, generator=generator,
        )  # fmt: skip

    def nll_terms(
        self,
        images: Tensor,
        labels: Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
        **options: Any,
    ) -> dict[str, Tensor]:
        """``{"nll_elbo", "nll_iwae{k}"}`` and, with ``ais_steps``, ``nll_ais{T}``:
        per-example upper bounds on -log p(x) (in expectation), nats.

        Args:
            images: data-space images (N, C, H, W).
            labels: (N,) for a conditional model.
            generator: draws every random number of the estimates (never torch's global
                RNG); None uses a generator seeded with 0 on the images' device, so the
                same call returns the same figures.
            **options: ``iwae_k``: importance samples (default 1000; the IWAE paper used
                5000; both the ELBO and the IWAE figure come from the same k samples);
                ``ais_steps``: annealing steps of an AIS estimate (0 or absent: none);
                ``ais_chains``: AIS chains per example (default 16). Others are ignored.
        """
        if generator is None:
            generator = torch.Generator(images.device).manual_seed(0)
        k = int(options.get("iwae_k") or 1000)
        b = self.bounds(images, labels, k=k, generator=generator)
        out = {"nll_elbo": -b["elbo"], f"nll_iwae{k}": -b["iwae"]}
        steps = int(options.get("ais_steps") or 0)
        if steps > 0:
            chains = int(options.get("ais_chains") or 16)
            out[f"nll_ais{steps}"] = -self.ais_log_prob(
                images, labels, steps=steps, chains=chains, generator=generator
            )
        return out

    @torch.no_grad()
    def sample(
        self, n: int, *, labels: Tensor | None = None, generator: torch.Generator | None = None
    ) -> Tensor:
        """x ~ p(x): z from the prior, then a draw from p(x|z) (uint8, N x C x H x W).

        These are true samples, pixel noise included; ``decode(z)`` gives the decoder's
        point images instead.
        """
        if n <= 0:
            raise UserInputError(f"number of samples must be positive, got {n}")
        device, dtype = self.device, self.dtype
        labels = self.check_labels(labels, n)
        onehot = self._onehot(None if labels is None else labels.to(device), n)
        z = torch.randn(n, self.latent_dim, generator=generator, device=device, dtype=dtype)
        if self.two_layers:
            pm, plv = self._p1(z, onehot)
            eps = torch.randn(pm.shape, generator=generator, device=device, dtype=dtype)
            z = pm + torch.exp(0.5 * plv) * eps  # z1 ~ p(z1 | z2), (n, L1)
        return self._decoder_sample(self.decoder_params(z, onehot), generator)

    # -- the latent interface ---------------------------------------------------------------

    @torch.no_grad()
    def encode(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        """The posterior mean of the top latent: images (N, C, H, W) -> (N, latent_dim).

        With two layers: z1's posterior mean, passed through q(z2|z1)'s mean.
        """
        images = self.check_images(images)
        labels = self.check_labels(labels, images.shape[0])
        onehot = self._onehot(labels, images.shape[0])
        mu, _ = self(self._encoder_input(images), onehot)  # (N, L1)
        if self.two_layers:
            mu, _ = self._q2(mu, onehot)  # (N, L2)
        return mu

    @torch.no_grad()
    def decode(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Latent codes (N, latent_dim) -> the decoder's point images, uint8 (N, C, H, W).

        Which image: the mode for Bernoulli (pixels with p > 1/2), the location of the
        discretised logistic (its mean and median, rounded), the rounded mean of the
        256-way categorical, the Gaussian's mean (quantised). With two layers z1 is the
        mean of p(z1|z2).
        """
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise UserInputError(
                f"latent codes must have shape (N, {self.latent_dim}), got {tuple(z.shape)}"
            )
        labels = self.check_labels(labels, z.shape[0])
        onehot = self._onehot(labels, z.shape[0])
        if self.two_layers:
            z, _ = self._p1(z, onehot)
        return self._decoder_image(self.decoder_params(z.to(self.dtype), onehot))
