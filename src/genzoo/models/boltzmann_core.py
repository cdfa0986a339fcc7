"""The mathematics shared by restricted and deep Boltzmann machines.

A *stack* is a chain of binary layers x_0 (visible), x_1, ..., x_K (hidden) with weights
W_j between layers j and j+1 and biases b_k, of energy

    E(x) = - sum_k b_k^T x_k - sum_j x_j^T W_j x_{j+1},

given here as ``weights = [W_0, ..., W_{K-1}]`` (W_j of shape (n_j, n_{j+1})) and
``biases = [b_0, ..., b_K]``. An RBM is the stack with K = 1; a DBM has K = 2 or 3
(Salakhutdinov and Hinton 2009). Layer k talks only to layers k - 1 and k + 1, so given the
even layers the odd ones are independent (and vice versa): every function here works on
the two *parities*, which makes block Gibbs sampling, mean field, AIS with the odd layers
summed out, and exact enumeration one piece of code for both machines. Centred models
(Montavon and Mueller 2012) reach this form through their effective biases (see
``genzoo.models.boltzmann``); the constant that centring adds to the energy is the
caller's.

AIS (Neal 2001; Salakhutdinov and Murray 2008, "On the quantitative analysis of deep
belief networks"; Salakhutdinov and Hinton 2009 for the DBM): the state is the even layers,
the odd layers are summed out analytically, and the path is geometric between a base-rate
model p_A (visible biases a fitted to the data, every other bias and weight zero) and the
model p_B:

    log f_beta(even) = (1 - beta) a^T x_0 + beta sum_{even k} b_k^T x_k
                       + sum_{odd j} sum_units softplus(beta * (b_j + x_{j-1} W_{j-1}
                                                                 + x_{j+1} W_j^T)),

so f_0 is p_A's marginal times 2^(odd units) and f_1 is the model's. Each intermediate
distribution is left invariant by one block Gibbs sweep at that beta (odd layers given
even, then even given odd). log Z_A = sum softplus(a) + (hidden units) log 2. Everything
runs in float64 and the weights are combined with logsumexp.

Bias of the estimate (state it wherever a figure is shown): the AIS weights are unbiased
for Z / Z_A, so by Jensen's inequality E[log Z_hat] <= log Z: log Z_hat tends to
*underestimate* log Z, and by Markov's inequality P(log Z_hat > log Z + t) <= exp(-t), so
it is a stochastic lower bound. An NLL computed as F(x) + log Z_hat therefore tends to be
too *low* (optimistic: the model looks better than it is); too few betas or runs make this
worse, and a small spread over runs does not rule it out (the runs can agree on a wrong
value when the chains mix poorly).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from genzoo.errors import UserInputError

MAX_ENUMERATED_UNITS = 20
"""Exact log Z by enumeration when the enumerated layers hold at most this many units
(2^20 states), as Salakhutdinov and Murray did for their 20- and 25-hidden-unit RBMs."""

ENUMERATION_CHUNK = 4096
"""States per block of an enumeration (bounds the memory of a block to chunk x units)."""


@dataclass(frozen=True)
class LogZEstimate:
    """log Z of a Boltzmann machine: exact (enumeration) or an AIS estimate.

    Attributes:
        log_z: log Z, nats.
        std: standard error of ``log_z`` over the AIS runs (delta method,
            std(w) / (sqrt(runs) mean(w)) of the importance weights w); 0 when exact.
        low: log(Z_hat - 3 se(Z_hat)) (-inf when that is not positive), as the error bars
            of Salakhutdinov and Murray 2008; equals ``log_z`` when exact.
        high: log(Z_hat + 3 se(Z_hat)).
        runs: AIS runs (0 when exact).
        betas: intermediate distributions of each run (0 when exact).
        exact: whether ``log_z`` was enumerated.
    """

    log_z: float
    std: float
    low: float
    high: float
    runs: int
    betas: int
    exact: bool

    def describe(self) -> str:
        """One line for a report, e.g. ``log Z = 451.23 +/- 0.05 (AIS, 100 runs x 14500
        betas; tends to underestimate)``."""
        if self.exact:
            return f"log Z = {self.log_z:.4f} (exact, by enumeration)"
        return (
            f"log Z = {self.log_z:.2f} +/- {self.std:.2f} (AIS estimate, {self.runs} runs x "
            f"{self.betas} betas; [{self.low:.2f}, {self.high:.2f}] at 3 s.e.; it tends to "
            "underestimate log Z, so NLLs built on it tend to be optimistic)"
        )


# -- conditionals, sampling, energies ---------------------------------------------------------


def layer_input(
    k: int, states: list[Tensor | None], weights: list[Tensor], biases: list[Tensor]
) -> Tensor:
    """The total input b_k + x_{k-1} W_{k-1} + x_{k+1} W_k^T of layer k, (N, n_k).

    Only the neighbours k - 1 and k + 1 of layer k are read; the other entries of
    ``states`` may be None.
    """
    out = biases[k]  # (n_k,)
    if k > 0:
        out = out + states[k - 1] @ weights[k - 1]  # (N, n_{k-1}) @ (n_{k-1}, n_k)
    if k < len(weights):
        out = out + states[k + 1] @ weights[k].T  # (N, n_{k+1}) @ (n_{k+1}, n_k)
    return out


def bernoulli(p: Tensor, generator: torch.Generator | None) -> Tensor:
    """Binary draws with probabilities ``p`` (same shape and dtype), from ``generator``."""
    u = torch.rand(p.shape, generator=generator, device=p.device, dtype=p.dtype)
    return (u < p).to(p.dtype)


def gibbs_sweep(
    states: list[Tensor],
    weights: list[Tensor],
    biases: list[Tensor],
    generator: torch.Generator | None = None,
    *,
    clamp_visible: bool = False,
) -> list[Tensor]:
    """One block Gibbs sweep: every odd layer given its (even) neighbours, then every even
    layer given its (odd) neighbours. Returns new states (the input list is not changed).

    Args:
        states: [x_0, ..., x_K], each (N, n_k), values 0/1.
        weights, biases: the stack.
        generator: source of the random draws.
        clamp_visible: keep x_0 fixed (sampling the posterior of the hidden layers).
    """
    new = list(states)
    K = len(weights)
    for parity in (1, 0):
        for k in range(parity, K + 1, 2):
            if k == 0 and clamp_visible:
                continue
            p = torch.sigmoid(layer_input(k, new, weights, biases))  # (N, n_k)
            new[k] = bernoulli(p, generator)
    return new


def neg_energy(states: list[Tensor], weights: list[Tensor], biases: list[Tensor]) -> Tensor:
    """-E(x) = sum_k b_k^T x_k + sum_j x_j^T W_j x_{j+1} per example, (N,).

    Multilinear in the layers, so for factorised (mean-field) states it is the expectation
    of -E under that factorised distribution.
    """
    out = sum(s @ b for s, b in zip(states, biases, strict=True))  # (N,)
    for j, w in enumerate(weights):
        out = out + ((states[j] @ w) * states[j + 1]).sum(-1)  # (N,)
    return out


def mean_field(
    visible: Tensor,
    weights: list[Tensor],
    biases: list[Tensor],
    steps: int,
) -> list[Tensor]:
    """Fully factorised posterior q(h | v) of a DBM by fixed-point updates.

    Initialised by one bottom-up pass with doubled weights below the top layer (the
    recognition model of greedy pre-training, Salakhutdinov and Hinton 2009, section 3.1);
    then ``steps`` updates of all odd layers given the even ones, then all even hidden
    layers given the odd ones. Layers of one parity do not interact, so each half-update
    is the exact coordinate-wise maximiser of the bound: the bound never decreases.

    Returns:
        [v, mu_1, ..., mu_K]: v (N, n_0) and the means mu_k (N, n_k).
    """
    K = len(weights)
    mu: list[Tensor] = [visible]
    for k in range(1, K + 1):
        scale = 2.0 if k < K else 1.0
        mu.append(torch.sigmoid(biases[k] + scale * (mu[k - 1] @ weights[k - 1])))
    for _ in range(steps):
        for k in (*range(1, K + 1, 2), *range(2, K + 1, 2)):  # odd layers, then even hidden
            mu[k] = torch.sigmoid(layer_input(k, mu, weights, biases))
    return mu


def entropy(p: Tensor) -> Tensor:
    """Entropy of independent Bernoullis with means ``p`` (N, n) -> (N,), nats; 0 log 0 = 0."""
    return -(torch.xlogy(p, p) + torch.xlogy(1 - p, 1 - p)).sum(-1)


def mean_field_bound(
    visible: Tensor, weights: list[Tensor], biases: list[Tensor], steps: int
) -> Tensor:
    """The variational lower bound log p*(v) >= E_q[-E(v, h)] + H(q) on the unnormalised
    log marginal, with q the mean-field posterior (Salakhutdinov and Hinton 2009, eq. 7),
    (N,); subtract log Z for a bound on log p(v)."""
    mu = mean_field(visible, weights, biases, steps)
    return neg_energy(mu, weights, biases) + sum(entropy(m) for m in mu[1:])


# -- AIS -------------------------------------------------------------------------------------


def beta_schedule(steps: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """0 = beta_0 < ... < beta_T = 1 for T = ``steps`` transitions, (T + 1,).

    Salakhutdinov and Murray 2008 (section 4.1) space the betas uniformly in three
    segments: 500 in [0, 0.5], 4000 in [0.5, 0.9] and 10000 in [0.9, 1] (14,500 in all).
    Other totals keep those proportions (each segment at least one step); below 3 steps
    the schedule is uniform.
    """
    if steps < 1:
        raise UserInputError(f"AIS needs at least 1 beta step, got {steps}")
    if steps < 3:
        return torch.linspace(0.0, 1.0, steps + 1, dtype=dtype)
    n1 = max(1, round(steps * 500 / 14500))
    n2 = max(1, round(steps * 4000 / 14500))
    n3 = steps - n1 - n2
    if n3 < 1:
        n2 -= 1 - n3
        n3 = 1
    parts = [
        torch.linspace(0.0, 0.5, n1 + 1, dtype=dtype)[:-1],
        torch.linspace(0.5, 0.9, n2 + 1, dtype=dtype)[:-1],
        torch.linspace(0.9, 1.0, n3 + 1, dtype=dtype),
    ]
    return torch.cat(parts)


def _odd_inputs(
    states: list[Tensor | None], weights: list[Tensor], biases: list[Tensor]
) -> list[Tensor]:
    """Inputs of the odd layers given the even ones, [(M, n_1), (M, n_3), ...]."""
    return [layer_input(j, states, weights, biases) for j in range(1, len(weights) + 1, 2)]


def _even_linear(states: list[Tensor | None], biases: list[Tensor]) -> Tensor:
    """sum over even hidden layers k >= 2 of b_k^T x_k, (M,)."""
    out = torch.zeros(states[0].shape[0], dtype=states[0].dtype, device=states[0].device)
    for k in range(2, len(biases), 2):
        out = out + states[k] @ biases[k]
    return out


def ais_log_z(
    weights: list[Tensor],
    biases: list[Tensor],
    base_logits: Tensor,
    *,
    runs: int = 100,
    betas: int = 14500,
    generator: torch.Generator | None = None,
) -> LogZEstimate:
    """AIS estimate of log Z of a stack (odd layers summed out; see the module docstring).

    Args:
        weights, biases: the stack (any float dtype; computed in float64).
        base_logits: a, the visible biases of the base-rate model, (n_0,).
        runs: independent AIS runs M (Salakhutdinov and Murray: 100).
        betas: transitions T of each run (Salakhutdinov and Murray: 14,500).
        generator: source of every random draw (on the stack's device).

    Returns:
        log Z_hat = log Z_A + log (1/M sum_m w_m), with its spread (see
        :class:`LogZEstimate`); a stochastic lower bound on log Z in expectation.
    """
    if runs < 1:
        raise UserInputError(f"AIS needs at least 1 run, got {runs}")
    W = [w.detach().double() for w in weights]
    b = [x.detach().double() for x in biases]
    a = base_logits.detach().double().to(b[0].device)  # (n_0,)
    K = len(W)
    device = b[0].device
    schedule = beta_schedule(betas).tolist()
    hidden_units = sum(x.numel() for x in b[1:])
    log_z_base = float(F.softplus(a).sum()) + hidden_units * math.log(2.0)
    # exact draws from f_0 over the even layers: v ~ Bernoulli(sigmoid(a)), hidden ~ 1/2
    states: list[Tensor | None] = [None] * (K + 1)
    states[0] = bernoulli(torch.sigmoid(a).expand(runs, -1), generator)  # (M, n_0)
    for k in range(2, K + 1, 2):
        states[k] = bernoulli(
            torch.full((runs, b[k].numel()), 0.5, dtype=torch.float64, device=device), generator
        )
    log_w = torch.zeros(runs, dtype=torch.float64, device=device)
    delta_bias = b[0] - a  # (n_0,): d log f / d beta of the visible linear term
    for t in range(1, betas + 1):
        beta, prev = schedule[t], schedule[t - 1]
        inputs = _odd_inputs(states, W, b)  # odd-layer inputs at the current even state
        # log f_t(x) - log f_{t-1}(x) at the state x_{t-1}
        log_w += (beta - prev) * (states[0] @ delta_bias + _even_linear(states, b))
        for u in inputs:
            log_w += (F.softplus(beta * u) - F.softplus(prev * u)).sum(-1)
        if t == betas:
            break
        # one Gibbs sweep leaving f_t invariant: odd layers, then even layers
        for j, u in zip(range(1, K + 1, 2), inputs, strict=True):
            states[j] = bernoulli(torch.sigmoid(beta * u), generator)
        v_in = (1.0 - beta) * a + beta * layer_input(0, states, W, b)  # (M, n_0)
        states[0] = bernoulli(torch.sigmoid(v_in), generator)
        for k in range(2, K + 1, 2):
            states[k] = bernoulli(torch.sigmoid(beta * layer_input(k, states, W, b)), generator)
        for j in range(1, K + 1, 2):
            states[j] = None
    return _estimate(log_w, log_z_base, runs, betas)


def _estimate(log_w: Tensor, log_z_base: float, runs: int, betas: int) -> LogZEstimate:
    """log Z_A + log-mean-exp of the log-weights, with the delta-method standard error."""
    top = log_w.max()
    w = torch.exp(log_w - top)  # (M,), scaled weights in (0, 1]
    mean = w.mean()
    log_mean = float(torch.log(mean) + top)
    se = float(w.std(unbiased=True) / math.sqrt(runs)) if runs > 1 else math.inf
    rel = se / float(mean)  # se(Z_hat) / Z_hat
    log_z = log_z_base + log_mean
    low = log_z + math.log(1 - 3 * rel) if 3 * rel < 1 else -math.inf
    high = log_z + math.log1p(3 * rel) if math.isfinite(rel) else math.inf
    return LogZEstimate(log_z, rel, low, high, runs, betas, exact=False)


# -- exact enumeration ------------------------------------------------------------------------


def enumerable_parity(sizes: list[int], *, allow_even: bool = True) -> int | None:
    """The parity (1: odd layers, 0: even layers) whose layers hold at most
    :data:`MAX_ENUMERATED_UNITS` units in all, preferring the smaller; None if neither."""
    totals = {p: sum(sizes[p::2]) for p in ((1, 0) if allow_even else (1,))}
    ok = [p for p, n in totals.items() if n <= MAX_ENUMERATED_UNITS]
    return min(ok, key=lambda p: totals[p]) if ok else None


def _all_states(sizes: list[int], dtype: torch.dtype, device: torch.device) -> Tensor:
    n = sum(sizes)
    idx = torch.arange(2**n, device=device)  # (S,)
    bits = (idx[:, None] >> torch.arange(n, device=device)) & 1  # (S, n)
    return bits.to(dtype)


def exact_log_z(weights: list[Tensor], biases: list[Tensor], parity: int) -> float:
    """log Z by enumerating every state of the layers of one parity and summing the other
    parity out analytically, in float64.

    Args:
        parity: 1 to enumerate the odd layers, 0 the even ones (visible included).
    """
    W = [w.detach().double() for w in weights]
    b = [x.detach().double() for x in biases]
    K = len(W)
    enum = list(range(parity, K + 1, 2))
    sizes = [b[k].numel() for k in enum]
    if sum(sizes) > MAX_ENUMERATED_UNITS:
        raise UserInputError(
            f"{sum(sizes)} units are too many to enumerate (at most {MAX_ENUMERATED_UNITS})"
        )
    all_states = _all_states(sizes, torch.float64, b[0].device)  # (S, n)
    parts = []
    for block in all_states.split(ENUMERATION_CHUNK):
        states: list[Tensor | None] = [None] * (K + 1)
        offset = 0
        for k, n in zip(enum, sizes, strict=True):
            states[k] = block[:, offset : offset + n]
            offset += n
        lw = sum(states[k] @ b[k] for k in enum)  # (S,)
        for k in range(1 - parity, K + 1, 2):
            lw = lw + F.softplus(layer_input(k, states, W, b)).sum(-1)
        parts.append(lw)
    return float(torch.logsumexp(torch.cat(parts), 0))


def exact_log_marginal(visible: Tensor, weights: list[Tensor], biases: list[Tensor]) -> Tensor:
    """log p*(v) = log sum_h exp(-E(v, h)) by enumerating the odd layers (the even hidden
    layers are summed out analytically), float64, (N,). For tests and small models."""
    W = [w.detach().double() for w in weights]
    b = [x.detach().double() for x in biases]
    K = len(W)
    v = visible.double()  # (N, n_0)
    odd = list(range(1, K + 1, 2))
    sizes = [b[k].numel() for k in odd]
    if sum(sizes) > MAX_ENUMERATED_UNITS:
        raise UserInputError(f"{sum(sizes)} odd units are too many to enumerate")
    all_states = _all_states(sizes, torch.float64, v.device)  # (S, n)
    S, N = all_states.shape[0], v.shape[0]
    states: list[Tensor | None] = [None] * (K + 1)
    states[0] = v.repeat_interleave(S, 0)  # (N*S, n_0)
    offset = 0
    for k, n in zip(odd, sizes, strict=True):
        states[k] = all_states[:, offset : offset + n].repeat(N, 1)  # (N*S, n_k)
        offset += n
    lw = states[0] @ b[0] + sum(states[k] @ b[k] for k in odd)
    for k in range(0, K + 1, 2):
        if k == 0:
            lw = lw + ((states[0] @ W[0]) * states[1]).sum(-1)  # v^T W_0 h_1
        else:
            lw = lw + F.softplus(layer_input(k, states, W, b)).sum(-1)
    return torch.logsumexp(lw.view(N, S), 1)


def all_binary_vectors(n: int) -> Tensor:
    """Every binary vector of length n, (2^n, n) float (for tests and tiny models)."""
    return torch.tensor(list(itertools.product((0.0, 1.0), repeat=n)))
