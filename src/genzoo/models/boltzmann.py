"""Boltzmann machines: the restricted (RBM) and the deep (DBM) one, on binary images.

Both are energy-based models p(x) = exp(-E(x)) / Z over binary layers: the visible layer v
(the image, C*H*W units) and one (RBM) or 2-3 (DBM) hidden layers. The mathematics they
share (block Gibbs sweeps, mean field, AIS, enumeration) is in
:mod:`genzoo.models.boltzmann_core`; this module adds the parameters, training and the
model contract.

RBM (Smolensky 1986; Hinton 2002): E(v, h) = -v^T W h - b^T v - c^T h, and with centring
(Montavon and Mueller 2012) E = -(v - mu)^T W (h - lambda) - b^T v - c^T h, whose
effective biases are b - W lambda and c - W^T mu plus the constant mu^T W lambda (kept, so
that the free energy and log Z are those of the centred energy). Free energy
F(v) = -b'^T v - const - sum_j softplus(c'_j + (v^T W)_j) and log p(v) = -F(v) - log Z.
Training: contrastive divergence CD-k (Hinton 2002), or persistent CD (Tieleman 2008) whose
``num_chains`` chains are a buffer (saved in the checkpoint: resume is exact). Each update
minimises the surrogate mean F(v_data) - mean F(v_neg) with v_neg detached, whose gradient
is the CD / PCD estimate of -d log-likelihood; SGD with momentum and L2 weight decay on the
weights (Hinton 2010, "A practical guide to training RBMs").

DBM (Salakhutdinov and Hinton 2009, "Deep Boltzmann Machines", AISTATS): energy
-sum_k b_k^T h_k - sum_j h_j^T W_j h_{j+1} with h_0 = v. Training in the one loop:

1. greedy pre-training, ``pretrain_steps`` loop steps per layer: RBM k on the layer below
   (the data, or samples of the pre-trained layers below), with the paper's doubled
   weights: the bottom RBM has p(h1 | v) = sigmoid(2 W^T v + b1) (two tied copies of v),
   the top one p(h_{K-1} | h_K) = sigmoid(2 W h_K + b) (two copies of the top layer), and a
   middle one (3 hidden layers) doubles both directions (Salakhutdinov and Hinton 2012, "An
   efficient learning procedure for deep Boltzmann machines"). Its updates are the CD-k
   rule applied with these doubled conditionals. Then the weights are used as they are:
   in the DBM each middle layer hears both neighbours, which the doubling stood in for.
2. joint training for the remaining steps: the data term under the mean-field posterior
   (``mean_field_steps`` fixed-point updates, initialised by the doubled bottom-up pass),
   the model term under ``num_chains`` persistent Gibbs chains (a buffer) advanced by
   ``chain_steps`` sweeps per update (stochastic approximation, Younes 1989 / Tieleman 2008);
   surrogate mean E(v, mu) - mean E(chains). Optionally centred (``centering``, Montavon
   and Mueller 2012): E = -sum b_k^T h_k - sum (h_j - o_j)^T W_j (h_{j+1} - o_{j+1}) with
   offsets o set from the first joint batch (data mean, mean-field means), then moving
   averages, the biases shifted at every move so that the distribution is unchanged.

Sampling (both): chains from random starts (every unit Bernoulli(1/2)), ``gibbs_steps``
block Gibbs sweeps (odd layers, then even layers), and the visible units of the last sweep:
binary images, not the probabilities.

Likelihood (declared ``density = "estimate"``): log Z is enumerated when the layers of one
parity hold at most 20 units (the RBM's smaller layer; the DBM's odd layers), else
estimated by AIS from a base-rate model whose visible biases are the logits of the mean
training image (accumulated over every training batch into the ``visible_sum`` /
``visible_count`` buffers, with one pseudo-count of each value; see ``base_rate_logits``).
log Z is computed on first use and kept in buffers together with a digest of the weights
it belongs to, so it travels with the checkpoint and is recomputed when the weights change.
The RBM's log p is -F(v) - log Z; the DBM's is the mean-field lower bound on log p*(v)
minus log Z. With AIS both tend to be optimistic: see :mod:`genzoo.models.boltzmann_core`.

Deviations from the papers:
    - One momentum value (Hinton's guide starts at 0.5); the DBM's joint learning rate
      decays linearly to 0 (``lr_decay``), the RBM's is constant.
    - ``--train.weight-decay`` (AdamW's) is not used: the configs' ``weight_decay`` is SGD's
      L2 penalty on the weights only. The loop's gradient clipping (``--train.grad-clip``)
      still applies and would shrink the CD steps: the recipes set it to 0.
    - Pre-training updates the top bias of each RBM (and the visible bias in the bottom
      one); the lower bias of RBM k >= 2 is the one RBM k-1 learnt, used but not updated.
    - The visible bias starts at the logits of the first training batch's mean (Hinton's
      guide: of the data mean).
    - DBM centring (``centering``) starts at joint training, with the offsets set from
      the first joint batch; pre-training is not centred. No sparsity targets.
"""

from __future__ import annotations

import hashlib
import itertools
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from genzoo import progress
from genzoo.config import DataSpec, TrainConfig
from genzoo.errors import UserInputError
from genzoo.models import boltzmann_core as core
from genzoo.models.base import GenerativeModel, StepContext
from genzoo.models.boltzmann_config import DBM_TERMS, RBM_TERMS, DBMConfig, RBMConfig
from genzoo.models.boltzmann_core import LogZEstimate

DEFAULT_AIS_RUNS = 100
DEFAULT_AIS_BETAS = 14500
_RECORD = ("valid", "log_z", "std", "low", "high", "runs", "betas", "exact")


def _binary_datasets() -> str:
    from genzoo.data.registry import list_datasets

    return ", ".join(d.name for d in list_datasets() if d.kind == "binary")


class BoltzmannMachine(GenerativeModel):
    """What RBMs and DBMs share: binary-data checks, the base-rate buffers, the cached log
    Z, Gibbs sampling and the likelihood plumbing. Subclasses define :meth:`stack`.

    Args:
        config: :class:`RBMConfig` or :class:`DBMConfig`.
        data: binary images (C, H, W); anything else is refused with one line.
    """

    density = "estimate"
    has_latent = False
    has_encoder = False
    can_complete = False
    sample_options: ClassVar[tuple[str, ...]] = ("gibbs_steps",)

    def __init__(self, config: Any, data: DataSpec) -> None:
        if data.kind != "binary":
            raise UserInputError(
                f"{type(self).__name__} models binary images only, not {data.kind!r} data; "
                f"train it on a binarised dataset: {_binary_datasets()}"
            )
        super().__init__(config, data)
        n_v = data.num_dims
        self.num_visible = n_v
        self.register_buffer("visible_sum", torch.zeros(n_v, dtype=torch.float64))
        self.register_buffer("visible_count", torch.zeros((), dtype=torch.float64))
        self.register_buffer("log_z_record", torch.zeros(len(_RECORD), dtype=torch.float64))
        self.register_buffer("log_z_digest", torch.zeros(20, dtype=torch.uint8))

    # -- what a subclass defines -------------------------------------------------------------

    def stack(self) -> tuple[list[Tensor], list[Tensor], Tensor]:
        """The effective (uncentred) stack: weights [W_0, ...], biases [b_0, ..., b_K] and
        the energy's constant term, so that -E(x) = sum b^T x + sum x_j^T W_j x_{j+1} +
        const (see :mod:`genzoo.models.boltzmann_core`)."""
        raise NotImplementedError

    @property
    def layer_sizes(self) -> list[int]:
        """Units per layer, visible first."""
        _, biases, _ = self.stack()
        return [b.numel() for b in biases]

    def _distribution_tensors(self) -> list[Tensor]:
        """Every tensor the distribution depends on (for the log Z digest)."""
        return list(self.parameters())

    # -- data space ----------------------------------------------------------------------------

    def to_visible(self, images: Tensor) -> Tensor:
        """Checked binary images (N, C, H, W) -> visible states (N, D) in the model's dtype."""
        images = self.check_images(images)
        return images.reshape(images.shape[0], -1).to(self.device, self.dtype)

    def to_images(self, visible: Tensor) -> Tensor:
        """Visible states (N, D) in {0, 1} -> uint8 images (N, C, H, W)."""
        return visible.round().clamp(0, 1).to(torch.uint8).view(-1, *self.data.image_shape)

    # -- the base-rate model of AIS ------------------------------------------------------------

    def base_rate_logits(self) -> Tensor:
        """Visible biases a of AIS's base-rate model, (D,), float64: the logits of
        (sum of training images + 1) / (images + 2), the mean training image with one
        pseudo-count of each value (Salakhutdinov and Murray 2008 fit these biases to the
        data by maximum likelihood; the pseudo-count keeps them finite); zeros (a uniform
        base) before any training image was seen."""
        p = (self.visible_sum + 1.0) / (self.visible_count + 2.0)  # (D,)
        return torch.log(p) - torch.log1p(-p)

    @torch.no_grad()
    def set_base_rate(self, images: Tensor) -> None:
        """Fit the base-rate model to ``images`` (e.g. the whole training set), replacing
        what training accumulated."""
        v = self.to_visible(images)
        self.visible_sum.copy_(v.double().sum(0))
        self.visible_count.fill_(float(v.shape[0]))

    @torch.no_grad()
    def _observe(self, v: Tensor, step: int) -> None:
        """Training hook: accumulate the base rate; at the first step of a fresh run, set
        the visible biases to the logits of the batch mean (Hinton's guide, section 8.1)."""
        if step == 0 and float(self.visible_count) == 0:
            p = (v.double().mean(0) * v.shape[0] + 1.0) / (v.shape[0] + 2.0)
            self._visible_bias_param().copy_(torch.log(p) - torch.log1p(-p))
        self.visible_sum += v.double().sum(0)
        self.visible_count += v.shape[0]

    def _visible_bias_param(self) -> Tensor:
        raise NotImplementedError

    # -- log Z ---------------------------------------------------------------------------------

    def weights_digest(self) -> bytes:
        """SHA-1 of every tensor the distribution depends on (parameters and offsets)."""
        h = hashlib.sha1()
        for t in self._distribution_tensors():
            t = t.detach().cpu().contiguous()
            h.update(str((t.dtype, tuple(t.shape))).encode())
            h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
        return h.digest()

    def enumerable(self) -> bool:
        """Whether log Z is computed exactly (one parity holds <= 20 units)."""
        return core.enumerable_parity(self.layer_sizes) is not None

    @torch.no_grad()
    def log_partition(
        self,
        *,
        generator: torch.Generator | None = None,
        runs: int = DEFAULT_AIS_RUNS,
        betas: int = DEFAULT_AIS_BETAS,
    ) -> LogZEstimate:
        """log Z of the current weights: exact when enumerable, else by AIS.

        Computed on first use and kept (in the ``log_z_record`` / ``log_z_digest``
        buffers, so it is saved with the weights) until the weights change or another
        AIS setting is asked for. ``generator`` drives the AIS draws (default: a fresh
        generator seeded 0, so repeated evaluations agree); a kept figure is returned
        whatever generator is passed.
        """
        digest = self.weights_digest()
        exact_parity = core.enumerable_parity(self.layer_sizes)
        rec = dict(zip(_RECORD, self.log_z_record.tolist(), strict=True))
        if (
            rec["valid"]
            and bytes(self.log_z_digest.tolist()) == digest
            and (exact_parity is not None or (int(rec["runs"]), int(rec["betas"])) == (runs, betas))
        ):
            return LogZEstimate(
                rec["log_z"], rec["std"], rec["low"], rec["high"], int(rec["runs"]),
                int(rec["betas"]), bool(rec["exact"]),
            )  # fmt: skip
        weights, biases, const = self.stack()
        c = float(const)
        if exact_parity is not None:
            log_z = core.exact_log_z(weights, biases, exact_parity) + c
            est = LogZEstimate(log_z, 0.0, log_z, log_z, 0, 0, exact=True)
        else:
            if generator is None:
                generator = torch.Generator(self.device).manual_seed(0)
            raw = core.ais_log_z(
                weights, biases, self.base_rate_logits().to(self.device),
                runs=runs, betas=betas, generator=generator,
            )  # fmt: skip
            est = LogZEstimate(
                raw.log_z + c, raw.std, raw.low + c, raw.high + c, runs, betas, exact=False
            )
        values = [1.0, est.log_z, est.std, est.low, est.high, est.runs, est.betas, est.exact]
        self.log_z_record.copy_(torch.tensor(values, dtype=torch.float64))
        self.log_z_digest.copy_(torch.tensor(list(digest), dtype=torch.uint8))
        return est

    term: ClassVar[str] = "nll"
    """Prefix of the ``nll_terms`` keys: ``{term}_exact`` (log Z enumerated) or
    ``{term}_ais`` (log Z by AIS); "nll_bound" for the DBM's mean-field bound."""

    def unnormalised(self, images: Tensor, **options: Any) -> Tensor:
        """log p*(v) (or a lower bound on it), the unnormalised log-probability, (N,)."""
        raise NotImplementedError

    def log_prob(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        """:meth:`unnormalised` minus log Z, nats, (N,): exact when log Z is enumerated (a
        lower bound for the DBM), else with log Z by AIS (100 runs x 14,500 betas,
        generator seeded 0): an estimate that tends to be too high (AIS tends to
        underestimate log Z, see :mod:`genzoo.models.boltzmann_core`)."""
        log_z = self.log_partition().log_z
        return (self.unnormalised(images) - log_z).to(self.dtype)

    def nll_terms(
        self,
        images: Tensor,
        labels: Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
        **options: Any,
    ) -> dict[str, Tensor]:
        """``{term}_exact`` or ``{term}_ais``: log Z minus :meth:`unnormalised`, nats per
        example (see :attr:`term`). The AIS figure is an estimate that tends to be too low.

        Options:
            ais_runs: AIS runs (default 100).
            ais_betas: intermediate distributions per run (default 14,500).
            mean_field_steps: the DBM's fixed-point updates of its bound.
            Others are ignored.
        """
        runs, betas = self._ais_options(options)
        est = self.log_partition(generator=generator, runs=runs, betas=betas)
        nll = est.log_z - self.unnormalised(images, **options)
        return {f"{self.term}_{'exact' if est.exact else 'ais'}": nll.to(self.dtype)}

    def likelihood_details(self, **options: Any) -> dict[str, Any]:
        """The log partition function the NLL figures rest on (kept with the weights, so
        this costs nothing after :meth:`nll_terms` with the same options)."""
        runs, betas = self._ais_options(options)
        est = self.log_partition(runs=runs, betas=betas)
        return {
            "log_z": est.log_z, "log_z_std": est.std, "log_z_low": est.low,
            "log_z_high": est.high, "log_z_exact": est.exact, "ais_runs": est.runs,
            "ais_betas": est.betas, "summary": est.describe(),
        }  # fmt: skip

    @staticmethod
    def _ais_options(options: dict[str, Any]) -> tuple[int, int]:
        runs = int(options.get("ais_runs") or DEFAULT_AIS_RUNS)
        betas = int(options.get("ais_betas") or DEFAULT_AIS_BETAS)
        if runs < 1 or betas < 1:
            raise UserInputError(
                f"--ais-runs and --ais-betas must be positive, got {runs}, {betas}"
            )
        return runs, betas

    # -- Gibbs sampling ------------------------------------------------------------------------

    def init_state(self, n: int, generator: torch.Generator | None = None) -> list[Tensor]:
        """n chains from random starts: every unit of every layer Bernoulli(1/2)."""
        if n <= 0:
            raise UserInputError(f"number of samples must be positive, got {n}")
        return [
            core.bernoulli(torch.full((n, s), 0.5, device=self.device, dtype=self.dtype), generator)
            for s in self.layer_sizes
        ]

    @torch.no_grad()
    def gibbs_sweep(
        self, states: list[Tensor], generator: torch.Generator | None = None
    ) -> list[Tensor]:
        """One block Gibbs sweep (odd layers given even, then even given odd)."""
        weights, biases, _ = self.stack()
        return core.gibbs_sweep(states, weights, biases, generator)

    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        labels: Tensor | None = None,
        generator: torch.Generator | None = None,
        gibbs_steps: int | None = None,
    ) -> Tensor:
        """n images from ``gibbs_steps`` (default: the config's) block Gibbs sweeps of
        chains started at random, uint8 (n, C, H, W) in {0, 1}. The chains are
        approximate samples: how close depends on the mixing of the chain."""
        steps = self.config.gibbs_steps if gibbs_steps is None else int(gibbs_steps)
        if steps < 1:
            raise UserInputError(f"--gibbs-steps must be positive, got {steps}")
        self.check_labels(labels, n)
        weights, biases, _ = self.stack()
        states = self.init_state(n, generator)
        shown = not torch.compiler.is_compiling()  # progress is plain Python: not traced
        if shown:
            progress.start(steps, "sweep")
        for _ in range(steps):
            states = core.gibbs_sweep(states, weights, biases, generator)
            if shown:
                progress.advance()
        return self.to_images(states[0])

    # -- training helpers ----------------------------------------------------------------------

    def _sgd(self, weights: list[Tensor], biases: list[Tensor], lr: float) -> torch.optim.SGD:
        """SGD with momentum; L2 weight decay on the weights only."""
        cfg = self.config
        groups = [
            {"params": weights, "weight_decay": cfg.weight_decay},
            {"params": biases, "weight_decay": 0.0},
        ]
        return torch.optim.SGD(groups, lr=lr, momentum=cfg.momentum)


class RBM(BoltzmannMachine):
    """Restricted Boltzmann machine with binary units; see the module docstring.

    Args:
        config: :class:`genzoo.models.boltzmann_config.RBMConfig`.
        data: binary images (C, H, W).

    Example:
        >>> model = genzoo.create_model("rbm", image_shape=(1, 28, 28), kind="binary",
        ...                             hidden=500, persistent=True)
        >>> est = model.log_partition(runs=100, betas=14500)   # LogZEstimate
        >>> x = model.sample(16, generator=torch.Generator().manual_seed(0), gibbs_steps=1000)
    """

    name = "rbm"
    likelihood_terms = RBM_TERMS
    forward_methods: ClassVar[tuple[str, ...]] = ("loss", "cd_terms")

    def __init__(self, config: RBMConfig, data: DataSpec) -> None:
        super().__init__(config, data)
        n_v, n_h = self.num_visible, config.hidden
        self.weight = nn.Parameter(torch.randn(n_v, n_h) * config.init_std)  # (D, H)
        self.visible_bias = nn.Parameter(torch.zeros(n_v))  # (D,)
        self.hidden_bias = nn.Parameter(torch.zeros(n_h))  # (H,)
        offset = 0.5 if config.centering else 0.0
        self.register_buffer("visible_offset", torch.full((n_v,), offset))  # mu, (D,)
        self.register_buffer("hidden_offset", torch.full((n_h,), offset))  # lambda, (H,)
        rows = config.num_chains if config.persistent else 0
        self.register_buffer("chains", torch.bernoulli(torch.full((rows, n_v), 0.5)))  # (M, D)

    def _visible_bias_param(self) -> Tensor:
        return self.visible_bias

    def _distribution_tensors(self) -> list[Tensor]:
        return [*self.parameters(), self.visible_offset, self.hidden_offset]

    def stack(self) -> tuple[list[Tensor], list[Tensor], Tensor]:
        """[W], [b - W lambda, c - W^T mu] and mu^T W lambda (see the module docstring)."""
        W, mu, lam = self.weight, self.visible_offset, self.hidden_offset
        b = self.visible_bias - W @ lam  # (D,)
        c = self.hidden_bias - W.T @ mu  # (H,)
        return [W], [b, c], mu @ W @ lam

    def free_energy(self, visible: Tensor) -> Tensor:
        """F(v) = -log sum_h exp(-E(v, h)), (N,), for visible states (N, D) (floats)."""
        (W,), (b, c), const = self.stack()
        return -(visible @ b) - const - nn.functional.softplus(visible @ W + c).sum(-1)

    def forward(self, visible: Tensor) -> Tensor:
        """The free energy F(v) of visible states (N, D), (N,)."""
        return self.free_energy(visible)

    def hidden_probs(self, visible: Tensor) -> Tensor:
        """p(h_j = 1 | v), (N, H)."""
        (W,), (_, c), _ = self.stack()
        return torch.sigmoid(visible @ W + c)

    def visible_probs(self, hidden: Tensor) -> Tensor:
        """p(v_i = 1 | h), (N, D)."""
        (W,), (b, _), _ = self.stack()
        return torch.sigmoid(hidden @ W.T + b)

    @torch.no_grad()
    def negatives(
        self, start: Tensor, steps: int, generator: torch.Generator | None = None
    ) -> Tensor:
        """The visible states after ``steps`` Gibbs steps v -> h -> v from ``start``, (N, D)."""
        weights, biases, _ = self.stack()
        states: list[Tensor] = [start, start.new_zeros(start.shape[0], self.config.hidden)]
        shown = not torch.compiler.is_compiling()  # progress is plain Python: not traced
        if shown:
            progress.start(steps, "sweep")
        for _ in range(steps):
            states = core.gibbs_sweep(states, weights, biases, generator)
            if shown:
                progress.advance()
        return states[0]

    def cd_loss(self, data: Tensor, negatives: Tensor) -> Tensor:
        """mean F(data) - mean F(negatives): its gradient is the CD/PCD estimate of the
        negative log-likelihood's gradient, e.g. dL/dW = -(<v p(h|v)^T>_data -
        <v p(h|v)^T>_neg) (with centring: <(v - mu)(p(h|v) - lambda)^T>)."""
        return self.free_energy(data).mean() - self.free_energy(negatives.detach()).mean()

    def cd_terms(self, images: Tensor, labels: Tensor | None = None) -> dict[str, Tensor]:
        """The CD-k (or PCD-k from the persistent chains) surrogate on a batch.

        Returns:
            ``loss`` (minimised: mean F(data) - mean F(negatives)), ``negatives`` (N or
            num_chains, D: the new chain states) and, detached, ``free_energy`` (mean F over
            the data; it falls as training fits the data, up to log Z) and ``flipped`` (the
            fraction of visible units the k Gibbs steps changed; CD only, a cheap stand-in
            for the reconstruction error).
        """
        v = self.to_visible(images)  # (N, D)
        start = self.chains.to(v.dtype) if self.config.persistent else v
        neg = self.negatives(start, self.config.cd_k)  # (N or M, D)
        f_data = self.free_energy(v).mean()
        loss = f_data - self.free_energy(neg).mean()
        out = {"loss": loss, "negatives": neg, "free_energy": f_data.detach()}
        if not self.config.persistent:
            out["flipped"] = (neg != v).to(v.dtype).mean()
        return out

    def loss(self, images: Tensor, labels: Tensor | None = None) -> dict[str, Tensor]:
        """:meth:`cd_terms` without advancing the persistent chains."""
        out = self.cd_terms(images, labels)
        out.pop("negatives")
        return out

    def configure_optimizers(self, train: TrainConfig) -> dict[str, torch.optim.Optimizer]:
        """One SGD ("model") with the config's momentum, L2 decay on W, lr from the config
        or else ``--train.lr``."""
        lr = self.config.lr or train.lr
        return {"model": self._sgd([self.weight], [self.visible_bias, self.hidden_bias], lr)}

    def training_step(self, images: Tensor, labels: Tensor | None, ctx: StepContext) -> dict:
        """One CD/PCD update; then the chains persist (PCD) and the offsets move (centring)."""
        v = self.to_visible(images)
        self._observe(v, ctx.step)
        out = ctx.model.cd_terms(images)
        neg = out.pop("negatives")
        ctx.optimize("model", out["loss"])
        with torch.no_grad():
            if self.config.persistent:
                self.chains.copy_(neg)
            if self.config.centering:
                self._move_offsets(v)
        return out

    @torch.no_grad()
    def _move_offsets(self, v: Tensor) -> None:
        """mu, lambda <- moving averages of the data means and hidden posterior means
        (Montavon and Mueller 2012), through :meth:`move_offsets`."""
        nu = self.config.centering_rate
        mu, lam = self.visible_offset, self.hidden_offset
        new_mu = (1 - nu) * mu + nu * v.mean(0)
        new_lam = (1 - nu) * lam + nu * self.hidden_probs(v).mean(0)
        self.move_offsets([new_mu, new_lam])

    @torch.no_grad()
    def move_offsets(self, new: list[Tensor]) -> None:
        """Set the offsets [mu, lambda] to ``new``, shifting the biases so that the
        distribution is unchanged: b += W (lambda' - lambda), c += W^T (mu' - mu)."""
        new_mu, new_lam = (x.to(self.visible_offset.dtype) for x in new)
        W = self.weight
        self.visible_bias += W @ (new_lam - self.hidden_offset)
        self.hidden_bias += W.T @ (new_mu - self.visible_offset)
        self.visible_offset.copy_(new_mu)
        self.hidden_offset.copy_(new_lam)

    # -- likelihood ----------------------------------------------------------------------------

    @torch.no_grad()
    def unnormalised_log_prob(self, images: Tensor) -> Tensor:
        """-F(v) in float64, (N,)."""
        v = self.to_visible(images).double()
        (W,), (b, c), const = self.stack()
        W, b, c, const = W.double(), b.double(), c.double(), const.double()
        return v @ b + const + nn.functional.softplus(v @ W + c).sum(-1)

    def unnormalised(self, images: Tensor, **options: Any) -> Tensor:
        """-F(v), nats, (N,): log p(v) + log Z exactly."""
        return self.unnormalised_log_prob(images)


class DBM(BoltzmannMachine):
    """Deep Boltzmann machine with 2 or 3 hidden layers; see the module docstring.

    Args:
        config: :class:`genzoo.models.boltzmann_config.DBMConfig`.
        data: binary images (C, H, W).

    Example:
        >>> model = genzoo.create_model("dbm", image_shape=(1, 28, 28), kind="binary",
        ...                             hidden=(500, 1000), pretrain_steps=2500,
        ...                             pretrain_lr=0.05, lr=0.001)
        >>> fit(model, data, "runs/dbm", TrainConfig(steps=13000, batch_size=100, grad_clip=0))
        >>> model.nll_terms(test_images, ais_runs=100, ais_betas=14500)  # {"nll_bound_ais"}
    """

    name = "dbm"
    likelihood_terms = DBM_TERMS
    forward_methods: ClassVar[tuple[str, ...]] = ("loss", "pretrain_terms", "joint_terms")

    def __init__(self, config: DBMConfig, data: DataSpec) -> None:
        super().__init__(config, data)
        sizes = [self.num_visible, *config.hidden]
        self.weights = nn.ParameterList(
            nn.Parameter(torch.randn(a, b) * config.init_std) for a, b in itertools.pairwise(sizes)
        )  # W_j: (n_j, n_{j+1})
        self.biases = nn.ParameterList(nn.Parameter(torch.zeros(n)) for n in sizes)  # b_k: (n_k,)
        for k, n in enumerate(sizes):  # centring offsets o_k, (n_k,): 0 unless centred
            self.register_buffer(f"offset{k}", torch.zeros(n))
        for k, n in enumerate(sizes):  # the persistent chains of joint training, (M, n_k)
            self.register_buffer(
                f"chain{k}", torch.bernoulli(torch.full((config.num_chains, n), 0.5))
            )
        self._joint_schedule: tuple[float, int] | None = None  # (lr, --train.steps): lr_decay

    @property
    def num_hidden_layers(self) -> int:
        return len(self.config.hidden)

    def _visible_bias_param(self) -> Tensor:
        return self.biases[0]

    def offsets(self) -> list[Tensor]:
        """The centring offsets o_k, one (n_k,) buffer per layer (zeros when not centred)."""
        return [getattr(self, f"offset{k}") for k in range(self.num_hidden_layers + 1)]

    def _distribution_tensors(self) -> list[Tensor]:
        return [*self.parameters(), *self.offsets()]

    def stack(self) -> tuple[list[Tensor], list[Tensor], Tensor]:
        """The weights, the effective biases b_k - W_{k-1}^T o_{k-1} - W_k o_{k+1} and the
        constant sum_j o_j^T W_j o_{j+1} of the centred energy (the biases and 0 when the
        offsets are 0)."""
        W, o = list(self.weights), self.offsets()
        K = len(W)
        biases = []
        for k, b in enumerate(self.biases):
            if k > 0:
                b = b - W[k - 1].T @ o[k - 1]  # (n_k,)
            if k < K:
                b = b - W[k] @ o[k + 1]
            biases.append(b)
        const = sum((o[j] @ W[j] @ o[j + 1] for j in range(K)), start=W[0].new_zeros(()))
        return W, biases, const

    def chains(self) -> list[Tensor]:
        """The persistent chains' states, one (num_chains, n_k) tensor per layer."""
        return [getattr(self, f"chain{k}") for k in range(self.num_hidden_layers + 1)]

    def conditional_logits(self, states: list[Tensor | None], k: int) -> Tensor:
        """Input to layer k given the others, (N, n_k); reads only layers k - 1 and k + 1."""
        weights, biases, _ = self.stack()
        return core.layer_input(k, states, weights, biases)

    def forward(self, visible: Tensor) -> list[Tensor]:
        """Mean-field posterior means [v, mu_1, ..., mu_K] of visible states (N, D)."""
        weights, biases, _ = self.stack()
        return core.mean_field(visible, weights, biases, self.config.mean_field_steps)

    # -- training ------------------------------------------------------------------------------

    def phase(self, step: int) -> int | None:
        """The hidden layer (1-based) being pre-trained at loop step ``step``, or None in
        joint training."""
        p = self.config.pretrain_steps
        layer = step // p + 1 if p else None
        return layer if layer is not None and layer <= self.num_hidden_layers else None

    def pretrain_terms(self, images: Tensor, layer: int) -> dict[str, Tensor]:
        """CD-k surrogate of the greedy RBM below hidden layer ``layer`` (1-based), with
        doubled conditionals (see the module docstring)."""
        K = self.num_hidden_layers
        j = layer - 1  # the RBM between layers j and j + 1
        W, b = self.weights, self.biases
        up = 2.0 if layer < K else 1.0
        down = 2.0 if j > 0 else 1.0
        with torch.no_grad():
            x = self.to_visible(images)  # (N, n_0)
            for i in range(j):  # samples of the pre-trained layers below, doubled upwards
                x = core.bernoulli(torch.sigmoid(b[i + 1] + 2.0 * (x @ W[i])), None)
            y0 = torch.sigmoid(b[j + 1] + up * (x @ W[j]))  # (N, n_{j+1})
            y, xn = y0, x
            for _ in range(self.config.pretrain_cd_k):
                h = core.bernoulli(y, None)
                xn = core.bernoulli(torch.sigmoid(b[j] + down * (h @ W[j].T)), None)
                y = torch.sigmoid(b[j + 1] + up * (xn @ W[j]))
        lower = b[j] if j == 0 else b[j].detach()

        def score(xs: Tensor, ys: Tensor) -> Tensor:  # x^T W y + b_lower^T x + b_upper^T y
            return ((xs @ W[j]) * ys).sum(-1) + xs @ lower + ys @ b[j + 1]

        loss = score(xn, y).mean() - score(x, y0).mean()
        recon = (torch.sigmoid(b[j] + down * (y0 @ W[j].T)) - x).square().mean().detach()
        return {"loss": loss, "recon_error": recon}

    def joint_terms(self, images: Tensor, labels: Tensor | None = None) -> dict[str, Any]:
        """Surrogate mean E(v, mu) - mean E(chains) of joint training, with ``chains`` (the
        advanced chain states, not yet stored) and detached ``bound`` (the mean-field
        bound on log p*(v), mean over the batch)."""
        v = self.to_visible(images)
        weights, biases, _ = self.stack()
        with torch.no_grad():
            mu = core.mean_field(v, weights, biases, self.config.mean_field_steps)
            chains = [c.to(v.dtype) for c in self.chains()]
            for _ in range(self.config.chain_steps):
                chains = core.gibbs_sweep(chains, weights, biases, None)
        loss = self.joint_loss(mu, chains)
        with torch.no_grad():
            bound = core.neg_energy(mu, weights, biases).mean() + self.stack()[2]
            bound = bound + sum(core.entropy(m) for m in mu[1:]).mean()
        return {"loss": loss, "chains": chains, "bound": bound, "means": mu}

    def joint_loss(self, data_states: list[Tensor], model_states: list[Tensor]) -> Tensor:
        """mean E(data states) - mean E(model states), both detached: its gradient is the
        stochastic-approximation estimate of -d log-likelihood, e.g. dL/dW_j =
        -(<(h_j - o_j)(h_{j+1} - o_{j+1})^T>_data - <...>_model) (o = 0 without centring)."""
        weights, biases, _ = self.stack()
        data = [s.detach() for s in data_states]
        model = [s.detach() for s in model_states]
        return (
            core.neg_energy(model, weights, biases).mean()
            - core.neg_energy(data, weights, biases).mean()
        )

    def loss(self, images: Tensor, labels: Tensor | None = None) -> dict[str, Tensor]:
        """The joint-training surrogate, leaving the persistent chains as they are."""
        out = self.joint_terms(images, labels)
        out.pop("chains")
        out.pop("means")
        return out

    def configure_optimizers(self, train: TrainConfig) -> dict[str, torch.optim.Optimizer]:
        """SGD per phase: ``pretrain1`` .. ``pretrainK`` (that RBM's weights, its top bias
        and, in the bottom one, the visible bias; lr ``pretrain_lr``) and ``joint``
        (everything; lr ``lr``, else ``--train.lr``)."""
        lr = self.config.lr or train.lr
        pre_lr = self.config.pretrain_lr or lr
        W, b = list(self.weights), list(self.biases)
        opts = {
            f"pretrain{j + 1}": self._sgd([W[j]], [b[j + 1], *([b[0]] if j == 0 else [])], pre_lr)
            for j in range(self.num_hidden_layers)
        }
        opts["joint"] = self._sgd(W, b, lr)
        self._joint_schedule = (lr, train.steps)  # lr_decay's start and end (joint_lr)
        return opts

    def plan_notes(self, train: TrainConfig) -> list[str]:
        """A line when ``train.steps`` ends before joint training starts."""
        first = self.num_hidden_layers * self.config.pretrain_steps
        if train.steps > first:
            return []
        return [
            f"note: --train.steps {train.steps} ends before joint training, which starts at "
            f"step {first} ({self.num_hidden_layers} layers x --model.pretrain-steps "
            f"{self.config.pretrain_steps}): only greedy pre-training runs; raise "
            "--train.steps (the recipe configs/dbm-binarized-fashion-mnist.toml: 13000)"
        ]

    def joint_lr(self, step: int) -> float | None:
        """The joint-training learning rate at loop step ``step`` with ``lr_decay`` (linear
        from lr at the first joint step to 0 at --train.steps), else None."""
        if not self.config.lr_decay or self._joint_schedule is None:
            return None
        lr, steps = self._joint_schedule
        first = self.num_hidden_layers * self.config.pretrain_steps
        return lr * max(0.0, 1.0 - (step - first) / max(1, steps - first))

    def training_step(self, images: Tensor, labels: Tensor | None, ctx: StepContext) -> dict:
        """A pre-training step of the current layer's RBM, or a joint step that then stores
        the advanced persistent chains. Logs ``loss``, ``layer`` (0 in joint training) and
        ``recon_error`` or ``bound``."""
        v = self.to_visible(images)
        self._observe(v, ctx.step)
        layer = self.phase(ctx.step)
        if layer is not None:
            out = ctx.model.pretrain_terms(images, layer)
            ctx.optimize(f"pretrain{layer}", out["loss"])
            return out | {"layer": torch.tensor(float(layer))}
        lr = self.joint_lr(ctx.step)
        if lr is not None:
            ctx.set_lr("joint", lr)
        out = ctx.model.joint_terms(images)
        chains, means = out.pop("chains"), out.pop("means")
        ctx.optimize("joint", out["loss"])
        with torch.no_grad():
            for stored, new in zip(self.chains(), chains, strict=True):
                stored.copy_(new)
            if self.config.centering:
                first = ctx.step == self.num_hidden_layers * self.config.pretrain_steps
                rate = 1.0 if first else self.config.centering_rate
                old = self.offsets()
                self.move_offsets(
                    [(1 - rate) * o + rate * m.mean(0) for o, m in zip(old, means, strict=True)]
                )
        return out | {"layer": torch.tensor(0.0)}

    @torch.no_grad()
    def move_offsets(self, new: list[Tensor]) -> None:
        """Set the centring offsets to ``new``, shifting the biases so that the
        distribution is unchanged: b_k += W_{k-1}^T (o'_{k-1} - o_{k-1}) + W_k (o'_{k+1} -
        o_{k+1}) (Montavon and Mueller 2012)."""
        W, old = list(self.weights), self.offsets()
        delta = [n.to(o.dtype) - o for n, o in zip(new, old, strict=True)]
        for k, b in enumerate(self.biases):
            if k > 0:
                b += W[k - 1].T @ delta[k - 1]
            if k < len(W):
                b += W[k] @ delta[k + 1]
        for o, n in zip(old, new, strict=True):
            o.copy_(n)

    # -- likelihood ----------------------------------------------------------------------------

    def _double_stack(self) -> tuple[list[Tensor], list[Tensor]]:
        weights, biases, _ = self.stack()
        return [w.detach().double() for w in weights], [b.detach().double() for b in biases]

    @torch.no_grad()
    def log_prob_bound_unnormalised(self, images: Tensor, steps: int | None = None) -> Tensor:
        """The mean-field lower bound on log p*(v) = log sum_h exp(-E(v, h)), float64, (N,)."""
        weights, biases = self._double_stack()
        v = self.to_visible(images).double()
        bound = core.mean_field_bound(v, weights, biases, steps or self.config.mean_field_steps)
        return bound + float(self.stack()[2])

    @torch.no_grad()
    def exact_log_prob(self, images: Tensor) -> Tensor:
        """log p(v) by enumeration (odd layers <= 20 units), float64, (N,); for small models."""
        weights, biases = self._double_stack()
        v = self.to_visible(images).double()
        parity = core.enumerable_parity(self.layer_sizes)
        if parity is None:
            raise UserInputError("this DBM is too large to enumerate; use log_prob (a bound)")
        log_z = core.exact_log_z(weights, biases, parity)
        return core.exact_log_marginal(v, weights, biases) - log_z

    term = "nll_bound"

    def unnormalised(self, images: Tensor, **options: Any) -> Tensor:
        """The mean-field lower bound on log p*(v) (Salakhutdinov and Hinton 2009, section
        4), nats, (N,), after ``mean_field_steps`` fixed-point updates (default: the
        config's): with exact log Z, log p(v) >= this - log Z."""
        steps = int(options.get("mean_field_steps") or self.config.mean_field_steps)
        return self.log_prob_bound_unnormalised(images, steps)
