"""RBM and DBM: partition functions, Gibbs sampling, CD/PCD, mean-field bounds, resume.

Every check runs on machines small enough to enumerate (6 visible units, hidden layers of
3-5 units), where log Z and log p are known exactly, so each test fails for a wrong
implementation rather than for a slightly different one.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch.utils.data import Dataset

import genzoo
from genzoo.config import DataSpec, TrainConfig, from_dict, to_dict
from genzoo.errors import ConfigError, UserInputError
from genzoo.models import boltzmann_core as core
from genzoo.models.base import StepContext
from genzoo.models.boltzmann import DBM, RBM
from genzoo.models.boltzmann_config import DBMConfig, RBMConfig
from genzoo.train.checkpoint import export_model
from genzoo.train.loop import fit
from genzoo.viz.boltzmann import filters, gibbs_chain
from helpers import scramble

SHAPE = (1, 2, 3)  # 6 visible units: 64 visible states


def rbm(shape=SHAPE, scale=2.0, seed=0, **kw):
    torch.manual_seed(seed)
    model = genzoo.create_model("rbm", image_shape=shape, kind="binary", **kw)
    return scramble(model, scale=scale, seed=seed) if scale else model


def dbm(hidden=(4, 3), shape=SHAPE, scale=2.0, seed=0, **kw):
    torch.manual_seed(seed)
    model = genzoo.create_model("dbm", image_shape=shape, kind="binary", hidden=hidden, **kw)
    return scramble(model, scale=scale, seed=seed) if scale else model


def all_images(shape=SHAPE) -> torch.Tensor:
    """Every binary image of the shape, (2^D, C, H, W) uint8."""
    n = math.prod(shape)
    return core.all_binary_vectors(n).to(torch.uint8).view(-1, *shape)


def brute_force_log_z(model) -> float:
    """log sum over every joint state of exp(-E), straight from the energy."""
    weights, biases, const = model.stack()
    sizes = [b.numel() for b in biases]
    states = list(core.all_binary_vectors(sum(sizes)).double().split(sizes, 1))
    W = [w.detach().double() for w in weights]
    b = [x.detach().double() for x in biases]
    return float(torch.logsumexp(core.neg_energy(states, W, b), 0) + float(const.detach()))


def centre(model, seed=1):
    """Random offsets in (0, 1): a centred RBM whose constant term is far from 0."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        model.visible_offset.copy_(torch.rand(model.visible_offset.shape, generator=g))
        model.hidden_offset.copy_(torch.rand(model.hidden_offset.shape, generator=g))
    return model


# -- exact log Z and log p -----------------------------------------------------------------------


def test_free_energy_equals_log_sum_over_hidden_states_of_the_centred_energy():
    model = centre(rbm(hidden=4, centering=True))
    W, b, c = model.weight.double(), model.visible_bias.double(), model.hidden_bias.double()
    mu, lam = model.visible_offset.double(), model.hidden_offset.double()
    v = all_images().view(64, -1).double()  # (64, 6)
    h = core.all_binary_vectors(4).double()  # (16, 4)
    # -E(v, h) = (v - mu)^T W (h - lambda) + b^T v + c^T h, for every pair: (64, 16)
    neg_e = (v - mu) @ W @ (h - lam).T + (v @ b)[:, None] + (h @ c)[None, :]
    expected = torch.logsumexp(neg_e, 1)
    got = -model.free_energy(v.float()).double()
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-4)


@pytest.mark.parametrize("hidden", [4, 30])  # enumerates the hidden layer, then the visible one
def test_exact_probabilities_of_all_visible_vectors_sum_to_one(hidden):
    model = centre(rbm(hidden=hidden, centering=True))
    est = model.log_partition()
    assert est.exact and est.runs == 0
    if hidden == 4:  # small enough to sum over every joint state
        assert est.log_z == pytest.approx(brute_force_log_z(model), abs=1e-6)
    log_p = model.log_prob(all_images()).double()
    assert float(torch.logsumexp(log_p, 0)) == pytest.approx(0.0, abs=1e-5)
    assert (log_p < 0).all()


def random_offsets(model, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(s, generator=g) for s in model.layer_sizes]


def test_centred_dbm_log_z_is_that_of_the_centred_energy():
    model = dbm((4, 3), centering=True)
    with torch.no_grad():
        for o, new in zip(model.offsets(), random_offsets(model), strict=True):
            o.copy_(new)
    sizes = model.layer_sizes
    x = list(core.all_binary_vectors(sum(sizes)).double().split(sizes, 1))
    W = [w.detach().double() for w in model.weights]
    b = [p.detach().double() for p in model.biases]
    o = [p.double() for p in model.offsets()]
    # -E = sum_k b_k^T x_k + sum_j (x_j - o_j)^T W_j (x_{j+1} - o_{j+1}), every joint state
    neg_e = sum(xk @ bk for xk, bk in zip(x, b, strict=True))
    for j in range(2):
        neg_e = neg_e + (((x[j] - o[j]) @ W[j]) * (x[j + 1] - o[j + 1])).sum(1)
    expected = float(torch.logsumexp(neg_e, 0))
    assert model.log_partition().log_z == pytest.approx(expected, abs=1e-5)  # float32 weights


@pytest.mark.parametrize("name", ["rbm", "dbm"])
def test_moving_the_centring_offsets_leaves_the_distribution_unchanged(name):
    model = rbm(hidden=4, centering=True) if name == "rbm" else dbm((4, 3), centering=True)
    x = all_images()
    exact = model.log_prob if name == "rbm" else model.exact_log_prob  # exact at this size
    before, log_p = exact(x).double(), model.log_prob(x).double()
    offsets = random_offsets(model)
    model.move_offsets(offsets if name == "dbm" else offsets[:2])
    torch.testing.assert_close(exact(x).double(), before, rtol=0, atol=1e-4)
    torch.testing.assert_close(model.log_prob(x).double(), log_p, rtol=0, atol=1e-4)
    stored = [model.visible_offset, model.hidden_offset] if name == "rbm" else model.offsets()
    assert all(torch.equal(a, b) for a, b in zip(stored, offsets, strict=False))


def test_dbm_joint_gradient_equals_its_centred_definition_on_fixed_states():
    model = dbm((4, 3), scale=1.0, centering=True)
    model.move_offsets(random_offsets(model))
    g = torch.Generator().manual_seed(5)
    data = [torch.rand(8, s, generator=g) for s in model.layer_sizes]  # mean-field means
    chains = [torch.randint(0, 2, (8, s), generator=g).float() for s in model.layer_sizes]
    model.joint_loss(data, chains).backward()
    o = model.offsets()

    def stat(x, j):  # <(h_j - o_j)(h_{j+1} - o_{j+1})^T>
        return (x[j] - o[j]).T @ (x[j + 1] - o[j + 1]) / 8

    for j in range(2):
        torch.testing.assert_close(model.weights[j].grad, -(stat(data, j) - stat(chains, j)))
    for k in range(3):
        torch.testing.assert_close(model.biases[k].grad, -(data[k].mean(0) - chains[k].mean(0)))


@pytest.mark.parametrize("hidden", [(4, 3), (3, 2, 4)])
def test_dbm_exact_log_z_and_log_p_agree_with_the_energy(hidden):
    model = dbm(hidden)
    weights, biases, _ = model.stack()
    brute = brute_force_log_z(model)
    for parity in (0, 1):  # enumerating either parity gives the same log Z
        assert core.exact_log_z(weights, biases, parity) == pytest.approx(brute, abs=1e-9)
    log_p = model.exact_log_prob(all_images())
    assert float(torch.logsumexp(log_p, 0)) == pytest.approx(0.0, abs=1e-9)


# -- AIS -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [lambda: rbm(hidden=4), lambda: dbm((4, 3)), lambda: dbm((3, 2, 4))],
    ids=["rbm", "dbm2", "dbm3"],
)
def test_ais_log_z_equals_enumeration_within_its_spread(make):
    model = make()
    weights, biases, _ = model.stack()
    exact = core.exact_log_z(weights, biases, 1)
    base = torch.linspace(-1.0, 1.0, 6)  # any base rate gives a consistent estimate
    est = core.ais_log_z(
        weights, biases, base, runs=100, betas=1000, generator=torch.Generator().manual_seed(0)
    )
    assert not est.exact and est.runs == 100 and est.betas == 1000
    assert 0 < est.std < 0.1
    assert abs(est.log_z - exact) < 4 * est.std + 0.01
    assert est.low < est.log_z < est.high


def test_beta_schedule_follows_salakhutdinov_and_murray():
    betas = core.beta_schedule(14500)
    assert betas.shape == (14501,) and betas[0] == 0 and betas[-1] == 1
    assert betas[500] == 0.5 and betas[4500] == pytest.approx(0.9)
    assert (betas.diff() > 0).all()
    assert betas[:501].diff().std() < 1e-12 and betas[4500:].diff().std() < 1e-12
    small = core.beta_schedule(10)
    assert small.shape == (11,) and (small.diff() > 0).all()


def test_log_z_is_kept_with_its_weights_and_recomputed_when_they_change(tmp_path):
    model = rbm(shape=(1, 6, 6), hidden=25, scale=1.0)  # 36 x 25 units: AIS
    first = model.log_partition(runs=5, betas=30, generator=torch.Generator().manual_seed(1))
    assert not first.exact
    again = model.log_partition(runs=5, betas=30, generator=torch.Generator().manual_seed(2))
    assert again == first  # kept, not recomputed with the other generator
    export_model(model, tmp_path / "m")
    loaded = genzoo.load(tmp_path / "m")
    assert loaded.log_partition(runs=5, betas=30) == first  # travels with the weights
    other = model.log_partition(runs=6, betas=30)  # another setting: a new estimate
    assert other.runs == 6
    with torch.no_grad():
        model.weight.add_(0.5)
    changed = model.log_partition(runs=6, betas=30)
    assert changed.log_z != other.log_z


def test_nll_terms_name_their_estimator_and_use_only_the_generator():
    small, large = rbm(hidden=4), rbm(shape=(1, 6, 6), hidden=25, scale=1.0)
    x = torch.randint(0, 2, (3, *SHAPE), dtype=torch.uint8)
    exact = small.nll_terms(x, iwae_k=7, unused=None)  # options it does not use are ignored
    torch.testing.assert_close(exact["nll_exact"], -small.log_prob(x))
    xl = torch.randint(0, 2, (3, 1, 6, 6), dtype=torch.uint8)
    state = torch.get_rng_state()
    gen = torch.Generator().manual_seed(3)
    terms = large.nll_terms(xl, generator=gen, ais_runs=4, ais_betas=20)
    assert torch.equal(torch.get_rng_state(), state)
    assert set(terms) == {"nll_ais"} and terms["nll_ais"].shape == (3,)
    big_dbm = dbm((25, 5), shape=(1, 6, 6), scale=1.0)
    assert set(big_dbm.nll_terms(xl, ais_runs=4, ais_betas=20)) == {"nll_bound_ais"}
    assert set(dbm().nll_terms(x)) == {"nll_bound_exact"}


# -- Gibbs sampling ------------------------------------------------------------------------------


def chi_square_critical(dof: int, z: float = 3.09) -> float:
    """Wilson-Hilferty approximation of the chi-square quantile (z = 3.09: 0.999)."""
    return dof * (1 - 2 / (9 * dof) + z * math.sqrt(2 / (9 * dof))) ** 3


def test_gibbs_chains_reach_the_exact_distribution():
    model = centre(rbm(hidden=4, scale=1.5, centering=True))
    n = 20000
    state = torch.get_rng_state()
    x = model.sample(n, generator=torch.Generator().manual_seed(0), gibbs_steps=30)
    assert torch.equal(torch.get_rng_state(), state)  # only the generator was used
    index = (x.view(n, -1).long() * (2 ** torch.arange(6))).sum(1)  # state numbers
    # all_images() enumerates with the first unit as the highest bit: reorder to match
    states = all_images().view(64, -1).long()
    order = (states * (2 ** torch.arange(6))).sum(1)
    p = torch.zeros(64, dtype=torch.float64)
    p[order] = model.log_prob(all_images()).double().exp()
    counts = torch.bincount(index, minlength=64).double()
    expected = n * p
    big = expected >= 5
    obs = torch.cat([counts[big], counts[~big].sum()[None]])
    exp = torch.cat([expected[big], expected[~big].sum()[None]])
    chi2 = float(((obs - exp) ** 2 / exp).sum())
    assert chi2 < chi_square_critical(len(obs) - 1)
    # the same check rejects a sampler that leaves out the hidden biases
    with torch.no_grad():
        model.hidden_bias.zero_()
    wrong = model.sample(n, generator=torch.Generator().manual_seed(0), gibbs_steps=30)
    idx = (wrong.view(n, -1).long() * (2 ** torch.arange(6))).sum(1)
    bad = torch.bincount(idx, minlength=64).double()
    bad = torch.cat([bad[big], bad[~big].sum()[None]])
    assert float(((bad - exp) ** 2 / exp).sum()) > chi_square_critical(len(obs) - 1)


@pytest.mark.parametrize("hidden", [(4, 3), (3, 2, 4)])
def test_dbm_gibbs_chains_reach_the_exact_visible_distribution(hidden):
    model = dbm(hidden, scale=1.5)
    n = 20000
    x = model.sample(n, generator=torch.Generator().manual_seed(0), gibbs_steps=40)
    weights = 2 ** torch.arange(5, -1, -1)  # all_images() numbers states with unit 0 highest
    counts = torch.bincount((x.view(n, -1).long() * weights).sum(1), minlength=64).double()
    expected = n * model.exact_log_prob(all_images()).exp()
    big = expected >= 5
    obs = torch.cat([counts[big], counts[~big].sum()[None]])
    exp = torch.cat([expected[big], expected[~big].sum()[None]])
    assert float(((obs - exp) ** 2 / exp).sum()) < chi_square_critical(len(obs) - 1)


def test_dbm_block_updates_use_only_neighbouring_layers():
    model = dbm((4, 3, 5))
    sizes = model.layer_sizes
    for k in range(4):
        states = [torch.rand(2, s, requires_grad=True) for s in sizes]
        model.conditional_logits(states, k).sum().backward()
        for j, s in enumerate(states):
            touched = s.grad is not None and bool(s.grad.abs().sum() > 0)
            assert touched == (abs(j - k) == 1), (k, j)
    # perturbing the visible layer: in a sweep's odd half, layer 1 (its neighbour) sees it
    # and layer 3 (three layers away) does not
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    start = [torch.zeros(500, s) for s in sizes]
    changed = [s.clone() for s in start]
    changed[0] = torch.ones(500, sizes[0])
    weights, biases, _ = model.stack()
    a = core.gibbs_sweep(start, weights, biases, g())
    b = core.gibbs_sweep(changed, weights, biases, g())
    assert torch.equal(a[3], b[3]) and not torch.equal(a[1], b[1])


# -- training: CD, PCD, DBM phases, resume --------------------------------------------------------


@pytest.mark.parametrize("centering", [False, True])
def test_cd_gradient_equals_its_definition_on_fixed_samples(centering):
    model = rbm(hidden=4, scale=1.0, centering=centering)
    if centering:
        centre(model)
    g = torch.Generator().manual_seed(5)
    vd = torch.randint(0, 2, (8, 6), generator=g).float()
    vn = torch.randint(0, 2, (8, 6), generator=g).float()
    model.cd_loss(vd, vn).backward()
    W, c = model.weight.detach(), model.hidden_bias.detach()
    mu, lam = model.visible_offset, model.hidden_offset
    hd = torch.sigmoid(c + (vd - mu) @ W)  # p(h = 1 | v) of the centred model
    hn = torch.sigmoid(c + (vn - mu) @ W)
    dW = -((vd - mu).T @ (hd - lam) - (vn - mu).T @ (hn - lam)) / 8
    torch.testing.assert_close(model.weight.grad, dW)
    torch.testing.assert_close(model.visible_bias.grad, -(vd.mean(0) - vn.mean(0)))
    torch.testing.assert_close(model.hidden_bias.grad, -(hd.mean(0) - hn.mean(0)))


def fake_ctx(model, step=1, learn=False):
    opts = model.configure_optimizers(TrainConfig(lr=0.01))

    def optimize(name, loss):
        opts[name].zero_grad()
        loss.backward()
        if learn:
            opts[name].step()

    return StepContext(model=model, optimizers=opts, step=step, optimize=optimize)


def test_pcd_chains_persist_across_steps_and_cd_restarts_at_the_data():
    data = torch.zeros(4, *SHAPE, dtype=torch.uint8)

    def sticky(persistent):  # all-zeros and all-ones are (near) fixed points of Gibbs
        model = rbm(hidden=4, scale=0, persistent=persistent, num_chains=4)
        with torch.no_grad():
            model.weight.fill_(10.0)
            model.hidden_bias.fill_(-35.0)
            model.visible_bias.fill_(-20.0)
            model.chains.fill_(1.0)
        return model

    pcd, cd = sticky(True), sticky(False)
    for step in range(1, 4):
        out = pcd.training_step(data, None, fake_ctx(pcd, step))
        assert torch.equal(pcd.chains, torch.ones(4, 6))  # continued, not reset to the data
    assert float(out["loss"].detach()) < -10  # negatives from the chains: F(0) - F(1) = -20
    assert (
        float(cd.training_step(data, None, fake_ctx(cd, 1))["loss"].detach()) == 0.0
    )  # CD: from data
    # with zero weights every sweep is fresh noise: the stored chains move at every step
    noisy = rbm(hidden=4, scale=0, persistent=True, num_chains=50)
    for step in range(1, 3):
        before = noisy.chains.clone()
        noisy.training_step(data, None, fake_ctx(noisy, step))
        assert not torch.equal(before, noisy.chains)


def test_dbm_phases_train_one_rbm_at_a_time_then_everything():
    model = dbm((4, 3, 2), scale=1.0, pretrain_steps=2)
    assert [model.phase(s) for s in range(8)] == [1, 1, 2, 2, 3, 3, None, None]
    data = torch.randint(0, 2, (5, *SHAPE), dtype=torch.uint8)
    everything = {n for n, _ in model.named_parameters()}
    expected = {1: {"weights.0", "biases.0", "biases.1"}, 2: {"weights.1", "biases.2"},
                3: {"weights.2", "biases.3"}, None: everything}  # fmt: skip
    for step in (0, 2, 4, 6):
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        chains = [c.clone() for c in model.chains()]
        model.training_step(data, None, fake_ctx(model, step=step + 1, learn=True))
        moved = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
        assert moved == expected[model.phase(step)], step
        pairs = zip(chains, model.chains(), strict=True)
        chains_moved = any(not torch.equal(a, b) for a, b in pairs)
        assert chains_moved == (model.phase(step) is None)


@pytest.mark.parametrize("decay", [True, False])
def test_dbm_joint_lr_decays_linearly_to_zero_over_the_joint_steps_only_when_asked(decay):
    model = dbm((4, 3), pretrain_steps=2, lr=0.3, pretrain_lr=0.5, lr_decay=decay)
    opts = model.configure_optimizers(TrainConfig(lr=0.01, steps=10))  # joint: steps 4..9
    seen = []

    def optimize(name, loss):
        seen.append((name, opts[name].param_groups[0]["lr"]))

    data = torch.randint(0, 2, (5, *SHAPE), dtype=torch.uint8)
    for step in range(10):
        model.training_step(data, None, StepContext(model, opts, step, optimize))
    assert [lr for name, lr in seen if name.startswith("pretrain")] == [0.5] * 4
    joint = [lr for name, lr in seen if name == "joint"]
    want = [0.3 * (1 - k / 6) for k in range(6)] if decay else [0.3] * 6
    assert joint == pytest.approx(want)


def test_dbm_says_when_the_steps_end_before_joint_training():
    model = dbm((4, 3), pretrain_steps=5)
    (line,) = model.plan_notes(TrainConfig(steps=10))
    assert "ends before joint training" in line and "step 10" in line
    assert model.plan_notes(TrainConfig(steps=11)) == []
    assert (
        genzoo.create_model("rbm", image_shape=SHAPE, kind="binary").plan_notes(
            TrainConfig(steps=1)
        )
        == []
    )


class TinyBinary(Dataset):
    """40 fixed binary 4x4 images."""

    def __init__(self) -> None:
        g = torch.Generator().manual_seed(0)
        self.x = (torch.rand(40, 1, 4, 4, generator=g) < 0.4).to(torch.uint8)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        return self.x[i], torch.tensor(-1)


def train_cfg(**kw) -> TrainConfig:
    base = dict(steps=6, batch_size=8, lr=0.1, grad_clip=0.0, log_every=1, sample_every=0,
                checkpoint_every=3, progress=False, accelerator="cpu")  # fmt: skip
    return TrainConfig(**(base | kw))


@pytest.mark.parametrize(
    "name,kw,split",
    [
        ("rbm", {"hidden": 5, "persistent": True, "num_chains": 6, "centering": True}, 3),
        ("dbm", {"hidden": (5, 3), "pretrain_steps": 2, "num_chains": 6}, 5),
        ("dbm", {"hidden": (5, 3), "pretrain_steps": 2, "centering": True}, 5),
        ("dbm", {"hidden": (5, 3), "pretrain_steps": 2, "lr_decay": True}, 5),
    ],
)
def test_resumed_run_equals_uninterrupted_run(tmp_path, name, kw, split):
    def make():
        torch.manual_seed(0)
        return genzoo.create_model(name, image_shape=(1, 4, 4), kind="binary", **kw)

    initial = make().state_dict()
    whole = fit(make(), TinyBinary(), tmp_path / "whole", train_cfg(steps=7))
    fit(make(), TinyBinary(), tmp_path / "parts", train_cfg(steps=split))
    parts = fit(make(), TinyBinary(), tmp_path / "parts", train_cfg(steps=7), resume=True)
    for (k, a), b in zip(whole.state_dict().items(), parts.state_dict().values(), strict=True):
        assert torch.equal(a, b), k
    chain = "chains" if name == "rbm" else "chain0"
    assert not torch.equal(initial[chain], whole.state_dict()[chain])  # the chains moved
    assert float(whole.visible_count) == 7 * 8  # the base rate saw every training image


# -- the DBM bound --------------------------------------------------------------------------------


@pytest.mark.parametrize("hidden", [(4, 3), (3, 2, 4)])
def test_dbm_mean_field_bound_is_below_exact_log_p_and_tightens(hidden):
    model = dbm(hidden)
    x = all_images()
    exact = model.exact_log_prob(x)
    assert model.log_partition().exact
    bounds = [model.log_prob_bound_unnormalised(x, steps) for steps in (1, 3, 30)]
    log_z = model.log_partition().log_z
    for bound in bounds:
        assert (bound - log_z <= exact + 1e-9).all()
    assert (bounds[1] >= bounds[0] - 1e-9).all() and (bounds[2] >= bounds[1] - 1e-9).all()
    default = model.log_prob_bound_unnormalised(x) - log_z  # config's mean_field_steps
    torch.testing.assert_close(model.log_prob(x).double(), default, rtol=0, atol=1e-5)
    assert float((exact - (bounds[2] - log_z)).mean()) < 1.0  # a bound, but not a vacuous one


# -- data, configs, views --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cls,config", [(RBM, RBMConfig(hidden=3)), (DBM, DBMConfig(hidden=(3, 2)))]
)
def test_eight_bit_data_is_refused_with_one_line_naming_the_binarised_sets(cls, config):
    with pytest.raises(UserInputError) as err:
        cls(config, DataSpec(image_shape=(1, 4, 4), kind="8bit"))
    message = str(err.value)
    assert "\n" not in message and "binarized-fashion-mnist" in message and "binary" in message
    with pytest.raises(UserInputError, match="binary"):
        genzoo.create_model(cls.name, image_shape=(1, 4, 4), kind="8bit")


def test_configs_validate_and_parse_layer_sizes():
    assert DBMConfig(hidden="500,1000").hidden == (500, 1000)
    assert DBMConfig(hidden="20 30 40").hidden == (20, 30, 40)
    assert from_dict(DBMConfig, to_dict(DBMConfig(hidden=(7, 8)))) == DBMConfig(hidden=(7, 8))
    for cls, field, value in [
        (RBMConfig, "hidden", 0), (RBMConfig, "cd_k", 0), (RBMConfig, "momentum", 1.0),
        (RBMConfig, "lr", -1.0), (RBMConfig, "weight_decay", -1.0), (DBMConfig, "hidden", (5,)),
        (DBMConfig, "hidden", "5,x"), (DBMConfig, "mean_field_steps", 0),
        (DBMConfig, "pretrain_steps", -1), (DBMConfig, "num_chains", 0),
    ]:  # fmt: skip
        with pytest.raises(ConfigError) as err:
            cls(**{field: value})
        assert err.value.field == field and "must" in err.value.message


def test_filters_are_first_layer_weights_as_images():
    model = rbm(shape=(1, 2, 3), hidden=5)
    out = filters(model, n=3, order="index")
    assert out.shape == (3, 1, 2, 3) and out.dtype == torch.uint8
    w = model.weight.detach()[:, 1]
    torch.testing.assert_close(out[1].view(-1).float(), (128 + 127 * w / w.abs().max()).round())
    norms = model.weight.detach().norm(dim=0)
    first = filters(model, n=1)[0].view(-1).float()
    w0 = model.weight.detach()[:, int(norms.argmax())]
    torch.testing.assert_close(first, (128 + 127 * w0 / w0.abs().max()).round())
    assert filters(dbm((4, 3)), n=None).shape == (4, 1, 2, 3)


def test_gibbs_chain_is_frame_major_from_the_random_start():
    model = dbm((4, 3))
    x = gibbs_chain(model, n_chains=2, steps=6, every=3, generator=torch.Generator().manual_seed(0))
    assert x.shape == (3 * 2, *SHAPE) and x.dtype == torch.uint8 and int(x.max()) <= 1
    start = model.init_state(2, torch.Generator().manual_seed(0))[0]
    assert torch.equal(x[:2], model.to_images(start))
    again = model.sample(2, generator=torch.Generator().manual_seed(0), gibbs_steps=6)
    assert torch.equal(x[4:], again)  # the last frame is what sample() returns
