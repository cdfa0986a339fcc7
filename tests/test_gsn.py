"""Generative stochastic networks and the DAE chain: the chain's stationary distribution
(from its transition matrix on a 1x2x2 binary space) against long-run samples, Bengio et
al. (2013)'s consistency result on a hand-set exact reconstruction, the walkback loss
against its definition, gradients through the latent state, seeded chains, clamped
completions, resume, and bad input."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from scipy.stats import chi2
from torch.utils.data import Dataset

import genzoo
from genzoo.config import TrainConfig, signed_scale
from genzoo.errors import ConfigError, NoDensityError, UserInputError
from genzoo.models.gsn_config import GSNConfig
from genzoo.train.loop import fit
from genzoo.viz.gsn import markov_chain
from helpers import scramble

SHAPE = (1, 2, 2)
D = 4
STATES = torch.cartesian_prod(*[torch.arange(2)] * D).view(-1, *SHAPE).to(torch.uint8)  # (16,..)


def dae(p: float = 0.5, hidden: int = 8, walkback: int = 1, **kw) -> Any:
    """A DAE chain (no latent recurrence, no hidden noise) with large random weights."""
    torch.manual_seed(0)
    model = genzoo.create_model(
        "gsn", image_shape=SHAPE, kind="binary", hidden=hidden, recurrent=False,
        walkback=walkback, noise=p, hidden_noise=0.0, **kw,
    )  # fmt: skip
    return scramble(model, scale=4.0).double().eval()


def state_index(images: torch.Tensor) -> torch.Tensor:
    """Binary 1x2x2 images -> their index 0..15 in STATES (bits, most significant first)."""
    bits = images.reshape(len(images), D).long()
    return (bits * (2 ** torch.arange(D - 1, -1, -1))).sum(1)


def corruption_matrix(p: float) -> torch.Tensor:
    """C[x, x~] of salt-and-pepper noise: each bit replaced by a fair coin with probability
    p, so it is kept with probability 1 - p / 2."""
    same = (STATES.view(16, 1, D) == STATES.view(1, 16, D)).double()  # (16, 16, D)
    return (same * (1 - p / 2) + (1 - same) * (p / 2)).prod(-1)


def reconstruction_matrix(model) -> torch.Tensor:
    """P[x~, x'] = P(x' | x~) of the model's reconstruction, every pair enumerated."""
    with torch.no_grad():
        params = model(signed_scale(STATES.view(16, D), 1, torch.float64))  # (16,1,1,2,2)
        pairs = params.repeat_interleave(16, 0)  # row x~ * 16 + x'
        lp = model.likelihood.log_prob(STATES.repeat(16, 1, 1, 1), pairs).flatten(1).sum(1)
    return lp.view(16, 16).exp()


def stationary(t: torch.Tensor) -> torch.Tensor:
    """The stationary distribution pi = pi T of a positive transition matrix."""
    assert torch.allclose(t.sum(1), torch.ones(len(t), dtype=t.dtype))
    return torch.full((len(t),), 1.0 / len(t), dtype=t.dtype) @ torch.linalg.matrix_power(t, 4096)


def chi_square_p(samples: torch.Tensor, probs: torch.Tensor) -> float:
    counts = torch.bincount(state_index(samples), minlength=len(probs)).double()
    expected = probs * len(samples)
    return float(chi2.sf(((counts - expected) ** 2 / expected).sum().item(), len(probs) - 1))


# -- the chain -----------------------------------------------------------------------------


def test_long_run_samples_follow_the_stationary_distribution_of_the_transition_matrix():
    """T = C P over the 16 images; independent chains after burn-in and the thinned long
    run of a few chains both match pi = pi T, and not the uniform start."""
    p = 0.5
    model = dae(p)
    pi = stationary(corruption_matrix(p) @ reconstruction_matrix(model))
    assert (pi - 1 / 16).abs().max() > 0.02  # far from the uniform start
    g = torch.Generator().manual_seed(1)
    independent = model.sample(8000, generator=g, burn_in=20)
    assert chi_square_p(independent, pi) > 1e-3
    assert chi_square_p(independent, torch.full((16,), 1 / 16, dtype=pi.dtype)) < 1e-6
    long_run = model.sample(8000, generator=g, burn_in=20, chains=16, thin=3)
    assert chi_square_p(long_run, pi) > 1e-3


def test_an_exact_reconstruction_makes_the_data_distribution_stationary():
    """Bengio et al. (2013), Theorem 1: if P(x | x~) is the true posterior of the data
    under the corruption, the chain's stationary distribution is the data distribution.
    Hand-set: data with independent bits x_i ~ Bernoulli(q_i); then P(x | x~) factorises,
    logit P(x_i = 1 | x~) = logit q_i +- log((1 - p/2) / (p/2)), one tanh unit per bit."""
    p = 0.6
    q = torch.tensor([0.15, 0.5, 0.7, 0.9], dtype=torch.float64)
    model = dae(p, hidden=D)
    gain = math.tanh(2.0)
    with torch.no_grad():
        model.encoder.weight.copy_(2.0 * torch.eye(D))  # h_i = tanh(2 x~_i), x~_i in {-1, 1}
        model.encoder.bias.zero_()
        model.decoder.weight.copy_(torch.eye(D) * math.log((1 - p / 2) / (p / 2)) / gain)
        model.decoder.bias.copy_(torch.log(q / (1 - q)))
    data = (q ** STATES.view(16, D) * (1 - q) ** (1 - STATES.view(16, D))).prod(1)
    pi = stationary(corruption_matrix(p) @ reconstruction_matrix(model))
    assert torch.allclose(pi, data, atol=1e-10)
    x = model.sample(8000, generator=torch.Generator().manual_seed(2), burn_in=10)
    assert chi_square_p(x, data) > 1e-3


def test_walkback_loss_equals_its_definition():
    """E[loss] = (1/K) sum_k sum_x~ [C (P C)^(k-1)](x_0, x~) (-log P(x_0 | x~)) for the DAE
    chain, over every start x_0; the Monte Carlo loss agrees within its spread, and the
    figure without the walk (every term at k = 1) is far from it."""
    p, k = 0.5, 3
    model = dae(p, walkback=k)
    c, rec = corruption_matrix(p), reconstruction_matrix(model)
    score = -rec.log().T  # score[x_0, x~] = -log P(x_0 | x~)
    reach, terms = c.clone(), []
    for _ in range(k):
        terms.append((reach * score).sum(1).mean())  # mean over the 16 starts x_0
        reach = reach @ rec @ c  # the law of the next corrupted state
    exact, plain = sum(terms) / k, terms[0]
    torch.manual_seed(3)
    batch = STATES.repeat(250, 1, 1, 1)  # 4000 images, every start 250 times
    with torch.no_grad():
        runs = [model.loss(batch) for _ in range(20)]
    losses = torch.stack([r["loss"] for r in runs])
    firsts = torch.stack([r["rec_first"] for r in runs])
    se = losses.std() / math.sqrt(len(losses))
    assert abs(losses.mean() - exact) < 4 * se
    assert abs(firsts.mean() - plain) < 4 * firsts.std() / math.sqrt(len(firsts))
    assert abs(exact - plain) > 20 * se  # the walk matters on this model


def test_walkback_gradients_reach_the_latent_recurrence_through_the_chain():
    """With h_0 = 0 the recurrence U is read from the second walkback step on: no
    gradient at K = 1; at K = 3 U gets one, and so does each latent state it reads
    (back-propagation through the chain: h is not detached)."""
    for walkback, reached in ((1, False), (3, True)):
        torch.manual_seed(0)
        model = genzoo.create_model(
            "gsn", image_shape=SHAPE, kind="binary", hidden=5, walkback=walkback
        )
        grads: list[torch.Tensor] = []

        def keep(module, inputs, grads=grads):
            assert inputs[0].requires_grad  # the state U reads carries its graph
            inputs[0].register_hook(grads.append)

        model.recurrence.register_forward_pre_hook(keep)
        model.loss(STATES)["loss"].backward()
        grad = model.recurrence.weight.grad
        assert (grad is not None and grad.abs().sum() > 0) == reached
        assert len(grads) == walkback - 1 and all(g.abs().sum() > 0 for g in grads)


# -- seeds, completion, views --------------------------------------------------------------


def gsn(kind="binary", shape=(1, 4, 4), **kw):
    torch.manual_seed(0)
    base = {"hidden": 12, "walkback": 2, "hidden_noise": 0.5, "burn_in": 3}
    return genzoo.create_model("gsn", image_shape=shape, kind=kind, **(base | kw)).eval()


@pytest.mark.parametrize("kind", ["binary", "8bit"])
def test_seeded_chains_reproduce_and_draw_only_from_their_generator(kind):
    model = gsn(kind)
    state = torch.get_rng_state()
    draws = [
        model.sample(6, generator=torch.Generator().manual_seed(s), chains=2, thin=2)
        for s in (5, 5, 6)
    ]
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(draws[0], draws[1]) and not torch.equal(draws[0], draws[2])
    views = [markov_chain(model, 3, 10, 2, 2, torch.Generator().manual_seed(4)) for _ in "ab"]
    assert torch.equal(*views) and views[0].shape == (3 * 5, *model.data.image_shape)


def test_thinned_samples_are_the_chains_states_at_the_kept_steps():
    """sample(chains=c, thin=t, burn_in=b) keeps steps b+1, b+1+t, ... of each chain, the
    chain-major order of the view's frames of the same seeded chains."""
    model = gsn()
    x = model.sample(6, generator=torch.Generator().manual_seed(9), chains=2, burn_in=1, thin=2)
    frames = markov_chain(model, 2, 6, 1, 0, torch.Generator().manual_seed(9))  # steps 0..6
    frames = frames.view(2, 7, *model.data.image_shape)
    assert torch.equal(x.view(2, 3, *model.data.image_shape), frames[:, [2, 4, 6]])


def test_clamped_chain_follows_the_clamped_transition_matrix():
    """Completion clamps the known pixels after every step: the long run of the free
    pixels follows the stationary law of T restricted to the known value (the top row
    clamped to (1, 0); the free bottom row takes 4 values)."""
    p = 0.5
    model = dae(p)
    t = corruption_matrix(p) @ reconstruction_matrix(model)
    free = [i for i in range(16) if STATES[i, 0, 0].tolist() == [1, 0]]  # 4 full states
    # from free state a, every image whose bottom row is b's is clamped back to b
    bottom = STATES[:, 0, 1].long() @ torch.tensor([2, 1])  # (16,) bottom-row index
    tc = torch.stack([torch.stack([t[a][bottom == j].sum() for j in range(4)]) for a in free])
    pi = stationary(tc)
    given = STATES[free[0]].expand(6000, *SHAPE).clone()
    out = model.complete(given, 1, generator=torch.Generator().manual_seed(5), burn_in=15)
    assert torch.equal(out[:, :, 0], given[:, :, 0])
    counts = torch.bincount(out[:, 0, 1].long() @ torch.tensor([2, 1]), minlength=4).double()
    stat = ((counts - 6000 * pi) ** 2 / (6000 * pi)).sum().item()
    assert chi2.sf(stat, 3) > 1e-3


def test_log_prob_says_there_is_no_density_and_what_to_use():
    with pytest.raises(NoDensityError, match=r"defines no density.*Parzen.*not a likelihood"):
        gsn().log_prob(torch.zeros(2, 1, 4, 4, dtype=torch.uint8))


# -- training --------------------------------------------------------------------------------


class Tiny(Dataset):
    def __init__(self, kind: str) -> None:
        g = torch.Generator().manual_seed(0)
        top = 2 if kind == "binary" else 256
        self.x = torch.randint(0, top, (24, 1, 4, 4), generator=g, dtype=torch.uint8)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        return self.x[i], torch.tensor(-1)


@pytest.mark.parametrize("kind", ["binary", "8bit"])
def test_resumed_run_equals_uninterrupted_run(tmp_path, kind):
    def make():
        torch.manual_seed(0)
        return genzoo.create_model(
            "gsn", image_shape=(1, 4, 4), kind=kind, hidden=8, walkback=3, hidden_noise=0.3
        )

    cfg = dict(batch_size=8, log_every=1, sample_every=0, checkpoint_every=2,
               progress=False, accelerator="cpu")  # fmt: skip
    whole = fit(make(), Tiny(kind), tmp_path / "w", TrainConfig(steps=5, **cfg))
    fit(make(), Tiny(kind), tmp_path / "p", TrainConfig(steps=2, **cfg))
    parts = fit(make(), Tiny(kind), tmp_path / "p", TrainConfig(steps=5, **cfg), resume=True)
    for (key, a), b in zip(whole.state_dict().items(), parts.state_dict().values(), strict=True):
        assert torch.equal(a, b), key


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings,field",
    [
        ({"noise": 0.0}, "noise"),
        ({"noise": -0.1}, "noise"),
        ({"walkback": 0}, "walkback"),
        ({"burn_in": -1}, "burn_in"),
        ({"thin": 0}, "thin"),
        ({"hidden_noise": -1.0}, "hidden_noise"),
        ({"corruption": "salt-pepper", "noise": 1.5}, "noise"),
        ({"likelihood": "gaussian"}, "likelihood"),
    ],
)
def test_bad_configs_are_refused_in_one_line_naming_the_field(settings, field):
    with pytest.raises(ConfigError) as e:
        GSNConfig(**settings)
    assert e.value.field == field and "\n" not in str(e.value)


def test_bad_sampling_options_are_refused_in_one_line():
    model = gsn()
    for options, says in [
        ({"burn_in": -1}, "--burn-in"),
        ({"thin": 0}, "--thin"),
        ({"chains": 0}, "--chains"),
    ]:
        with pytest.raises(UserInputError, match=says):
            model.sample(2, **options)
    with pytest.raises(UserInputError, match="shorter than the chain"):
        markov_chain(model, 2, steps=10, every=1, burn_in=10)
    with pytest.raises(UserInputError, match="--thin applies to sampling"):
        model.complete(torch.zeros(1, 1, 4, 4, dtype=torch.uint8), 2, thin=2)
    with pytest.raises(UserInputError, match="does not fit binary"):
        genzoo.create_model("gsn", image_shape=SHAPE, kind="binary", likelihood="logistic")
    with pytest.raises(UserInputError, match="probability"):  # salt-pepper chosen by auto
        genzoo.create_model("gsn", image_shape=SHAPE, kind="binary", noise=2.0)


# -- the command line -----------------------------------------------------------------------

LOOP = ["--train.steps", "3", "--train.batch-size", "10", "--train.sample-every", "0"]
LOOP += ["--train.no-progress", "--train.log-every", "1"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from genzoo.cli import main
    from test_evaluation import _write_idx_dataset

    base = tmp_path_factory.mktemp("gsn")
    _write_idx_dataset(base / "data", seed=3)
    data = ["--data", "binarized-fashion-mnist:fixed", "--data-root", str(base / "data")]
    model = ["--model.hidden", "16", "--model.burn-in", "3"]
    assert main(["train", "gsn", *data, *model, *LOOP, "--out", str(base / "run")]) == 0
    return base / "run"


def test_cli_eval_says_no_density_and_gives_the_parzen_estimate_as_an_estimate(run, capsys):
    from genzoo.cli import main

    assert main(["eval", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "defines no density" in err and "parzen" in err
    argv = ["compare", str(run), "--metrics", "nll,parzen", "--n", "10", "--no-real-row"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "no density" in out and "Parzen est." in out and "not a likelihood" in out


def test_cli_samples_completes_and_draws_the_chains(run, tmp_path, capsys):
    from PIL import Image

    from genzoo.cli import main

    out = tmp_path / "s.png"
    argv = ["sample", str(run), "-n", "8", "--chains", "2", "--thin", "2", "--out", str(out)]
    assert main(argv) == 0 and out.is_file()
    c = tmp_path / "c.png"
    assert main(["sample", str(run), "--complete", "test:0-3", "--out", str(c)]) == 0
    m = tmp_path / "m.png"
    argv = ["viz", "mixing", str(run), "--chains", "3", "--steps", "8", "--every", "2"]
    assert main([*argv, "--scale", "1", "--out", str(m)]) == 0
    w, h = Image.open(m).size
    assert w / h == pytest.approx(5 / 3, rel=0.1)  # columns: steps 0, 2, ..., 8; rows: chains


@pytest.mark.parametrize(
    "argv,says",
    [
        (["train", "gsn", "--model.noise", "0"], "--model.noise must be > 0"),
        (["train", "gsn", "--model.noise", "-0.2"], "--model.noise must be > 0"),
        (["train", "gsn", "--model.walkback", "0"], "--model.walkback"),
        (["viz", "mixing", "RUN", "--burn-in", "100", "--steps", "100"], "shorter than the chain"),
        (["sample", "RUN", "--burn-in", "-1"], "--burn-in"),
        (["sample", "RUN", "--complete", "test:0-1", "--chains", "2"], "--chains applies"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2_and_writes_nothing(run, argv, says, tmp_path, capsys):
    from genzoo.cli import main

    out = tmp_path / "out"
    argv = [str(run) if a == "RUN" else a for a in argv]
    argv += [*LOOP] if argv[0] == "train" else []
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert says in err and len(err.splitlines()) == 1, err
    assert not out.exists()
