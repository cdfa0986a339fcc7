"""The normalising flows (NICE, RealNVP, Glow): every layer and every model inverts and has
the log-determinant of its autograd Jacobian (float64); the density integrates to 1; the
dequantised bound lies below the discrete log-likelihood it bounds; actnorm initialises
once and survives a reload; the encoder is exact; temperature; bad input in one line."""

from __future__ import annotations

import math

import pytest
import torch

import genzoo
from genzoo.cli import main
from genzoo.errors import ConfigError, NonFiniteLossError, UserInputError
from genzoo.models import flow_layers as fl
from genzoo.models.flows import Flow
from helpers import scramble


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def randomise(module: torch.nn.Module, scale: float = 0.5, seed: int = 0) -> torch.nn.Module:
    """Random weights of moderate size (zero-initialised nets would make layers trivial)."""
    return scramble(module, scale=scale, seed=seed)


def jacobian_logdet(fn, x: torch.Tensor) -> torch.Tensor:
    """log|det| of the Jacobian of fn (batch -> (N, D)) per example, by autograd."""
    n = x.shape[0]
    jac = torch.autograd.functional.jacobian(lambda t: fn(t).reshape(n, -1), x)  # (N, D, N, ...)
    jac = jac.reshape(n, -1, n, x[0].numel())
    blocks = torch.stack([jac[i, :, i] for i in range(n)])  # (N, D, D)
    return torch.linalg.slogdet(blocks)[1]


C, H, W = 4, 2, 2
SHAPE = (C, H, W)
CLASSES = 3


def one_hot(n=3):
    return torch.nn.functional.one_hot(torch.arange(n) % CLASSES, CLASSES).double()


def conv_coupling(mask_fn, parity, affine, scale="tanh"):
    net = fl.ConvNet(C, 5, outputs=2 if affine else 1)
    return fl.Coupling(mask_fn(*SHAPE, parity), net, affine=affine, scale=scale)


def initialised_actnorm(size=None):
    layer = fl.ActNorm(C, size).train()
    layer(torch.randn(5, *SHAPE) * 3 + 1)  # the data-dependent initialisation
    return layer


LAYERS = {
    "preprocess-centre": lambda: fl.Preprocess(0.0),
    "preprocess-logit": lambda: fl.Preprocess(0.05),
    "actnorm": initialised_actnorm,
    "invconv1x1": lambda: fl.InvConv1x1(C),
    "coupling-additive-checkerboard": lambda: conv_coupling(fl.checkerboard_mask, 0, False),
    "coupling-affine-checkerboard": lambda: conv_coupling(fl.checkerboard_mask, 1, True),
    "coupling-affine-channel": lambda: conv_coupling(fl.channel_mask, 1, True),
    "coupling-glow-channel": lambda: conv_coupling(fl.channel_mask, 0, True, "sigmoid"),
    "coupling-nice-mlp-additive": lambda: fl.Coupling(
        fl.alternate_mask(*SHAPE, 1), fl.MLPNet(SHAPE, 7, 2, outputs=1), affine=False
    ),
    "squeeze": fl.Squeeze,
    "prior": lambda: fl.Prior(C),
    "prior-conditional": lambda: fl.Prior(C, CLASSES),
    "actnorm-per-pixel": lambda: initialised_actnorm((H, W)),
    "diagonal-scale": lambda: fl.DiagonalScale(SHAPE),
    "split": lambda: fl.Split(C, learned=False),
    "split-learned": lambda: fl.Split(C, learned=True),
    "split-conditional": lambda: fl.Split(C, learned=True, classes=CLASSES),
}


def layer_input(name, dtype=torch.float64):
    torch.manual_seed(5)
    x = torch.rand(3, *SHAPE, dtype=dtype) if name.startswith("preprocess") else None
    return x if x is not None else torch.randn(3, *SHAPE, dtype=dtype)


def layer_case(name):
    torch.manual_seed(0)
    layer = LAYERS[name]()
    if not name.startswith("actnorm"):  # its initialised values are the case
        randomise(layer)
    layer = layer.double().eval()
    cond = one_hot() if name.endswith("conditional") else None
    return layer, cond


def split_out(layer, x, cond):
    if isinstance(layer, fl.Split):
        kept, eps, ld = layer(x, cond)
        return torch.cat([kept.flatten(1), eps.flatten(1)], 1), ld
    y, ld = layer(x, cond)
    return y, ld


def split_back(layer, y, cond, shape):
    if isinstance(layer, fl.Split):
        half = layer.half * shape[1] * shape[2]
        kept = y[:, :half].reshape(-1, layer.half, *shape[1:])
        eps = y[:, half:].reshape(-1, shape[0] - layer.half, *shape[1:])
        return layer.inverse(kept, eps, cond)
    return layer.inverse(y, cond)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_every_layer_inverts_and_its_logdet_is_the_autograd_jacobians(name):
    layer, cond = layer_case(name)
    x = layer_input(name)
    y, ld = split_out(layer, x, cond)
    assert ld.shape == (3,) and torch.isfinite(ld).all()
    back = split_back(layer, y, cond, SHAPE)
    assert back.shape == x.shape and torch.allclose(back, x, rtol=0, atol=1e-10)
    expected = jacobian_logdet(lambda t: split_out(layer, t, cond)[0], x)
    assert torch.allclose(ld, expected, rtol=0, atol=1e-8), (ld, expected)
    if name not in ("squeeze", "preprocess-centre", "split") and "additive" not in name:
        assert ld.abs().max() > 1e-3  # the case is not trivially volume preserving
    if name not in ("squeeze", "split"):  # (a split without a prior only rearranges)
        assert not torch.allclose(y.reshape(x.shape), x)  # nor the identity


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_every_layer_inverts_in_float32_to_1e5(name):
    layer, cond = layer_case(name)
    layer = layer.float()
    x = layer_input(name, torch.float32)
    y, _ = split_out(layer, x, None if cond is None else cond.float())
    back = split_back(layer, y, None if cond is None else cond.float(), SHAPE)
    assert torch.allclose(back, x, rtol=0, atol=1e-5)


def test_masks_partition_what_they_should():
    board = fl.checkerboard_mask(2, 4, 4, 0)
    assert board.sum() == 16 and torch.equal(
        board + fl.checkerboard_mask(2, 4, 4, 1), 1 + 0 * board
    )
    assert board[0, 0, 0, 0] == 1 and board[0, 0, 0, 1] == 0 and board[0, 0, 1, 0] == 0
    chan = fl.channel_mask(4, 2, 2, 0)
    assert chan[0, :2].eq(1).all() and chan[0, 2:].eq(0).all()
    alt = fl.alternate_mask(1, 2, 2, 0).flatten()
    assert alt.tolist() == [1, 0, 1, 0]


def test_coupling_output_at_the_kept_positions_is_the_input():
    torch.manual_seed(0)
    layer = randomise(conv_coupling(fl.checkerboard_mask, 0, True)).double()
    x = torch.randn(2, *SHAPE, dtype=torch.float64)
    y, _ = layer(x)
    kept = layer.mask.bool().expand_as(x)
    assert torch.equal(y[kept], x[kept]) and not torch.allclose(y[~kept], x[~kept])


# -- whole models ---------------------------------------------------------------------------

MODELS = {
    "nice": ("nice", (1, 2, 3), {"couplings": 3, "hidden": 6, "hidden_layers": 2}),
    "realnvp": ("realnvp", (1, 4, 4), {"scales": 2, "couplings": 2, "hidden": 4}),
    "realnvp-centre": ("realnvp", (2, 2, 2), {"scales": 2, "hidden": 3, "logit_alpha": 0.0}),
    "glow": ("glow", (1, 4, 4), {"levels": 2, "steps": 2, "hidden": 4}),
    "glow-additive": ("glow", (2, 2, 2), {"levels": 1, "steps": 2, "hidden": 4,
                                           "coupling": "additive"}),
}  # fmt: skip


def build(name, dtype=torch.float64, conditional=False, scale=0.5, seed=0):
    family, shape, config = MODELS[name]
    torch.manual_seed(seed)
    extra = {"conditional": True, "num_classes": CLASSES} if conditional else {}
    model = genzoo.create_model(family, image_shape=shape, **config, **extra)
    model.train()
    model.loss(torch.randint(0, 256, (8, *shape), dtype=torch.uint8), _labels(8, conditional))
    return randomise(model, scale=scale, seed=seed).to(dtype).eval()


def _labels(n, conditional):
    return torch.arange(n) % CLASSES if conditional else None


MODEL_CASES = [(n, False) for n in MODELS] + [("glow", True)]


@pytest.mark.parametrize("name,conditional", MODEL_CASES)
def test_every_model_inverts_and_its_logdet_is_the_autograd_jacobians(name, conditional):
    model = build(name, conditional=conditional)
    shape = model.data.image_shape
    torch.manual_seed(1)
    y = torch.rand(3, *shape, dtype=torch.float64) * 0.9 + 0.05
    cond = model._cond(_labels(3, conditional), 3)
    z, ld = model.flow(y, cond)
    assert z.shape == (3, model.latent_dim)
    assert torch.allclose(model.inverse(z, cond), y, rtol=0, atol=1e-10)
    expected = jacobian_logdet(lambda t: model.flow(t, cond)[0], y)
    assert torch.allclose(ld, expected, rtol=0, atol=1e-7), (ld, expected)
    model32 = model.float()
    z32, _ = model32.flow(y.float(), None if cond is None else cond.float())
    assert torch.allclose(model32.inverse(z32, None if cond is None else cond.float()),
                          y.float(), rtol=0, atol=1e-5)  # fmt: skip


@pytest.mark.parametrize("name,conditional", MODEL_CASES)
def test_the_encoder_is_exact_and_decode_inverts_it(name, conditional):
    model = build(name, dtype=torch.float32, conditional=conditional)
    x = torch.randint(0, 256, (6, *model.data.image_shape), dtype=torch.uint8)
    x[0] = 0
    x[1] = 255
    labels = _labels(6, conditional)
    z = model.encode(x, labels)
    assert z.shape == (6, model.latent_dim)
    assert torch.equal(model.decode(z, labels), x)


# -- the density -----------------------------------------------------------------------------


class TinyGlowLayers(Flow):
    """Every Glow layer (actnorm, LU 1x1 conv, sigmoid coupling, learned split and
    conditional top prior) on 2 channels of 1x1 pixels: a 2-D density to integrate."""

    name = "tiny-glow-layers"

    def build(self, shape):
        shape = self.add(fl.Preprocess(0.0), shape)
        for _ in range(2):
            shape = self.add(fl.ActNorm(2), shape)
            shape = self.add(fl.InvConv1x1(2), shape)
            net = fl.ConvNet(2, 4, outputs=2)
            shape = self.add(fl.Coupling(fl.channel_mask(*shape, 0), net, affine=True,
                                         scale="sigmoid"), shape)  # fmt: skip
        shape = self.add(fl.Split(2, learned=True, classes=self.label_classes), shape)
        shape = self.add(fl.Prior(1, self.label_classes), shape)
        self.finish(shape)


def tiny_2d(name):
    from genzoo.config import DataSpec
    from genzoo.models.flows_config import GlowConfig

    torch.manual_seed(3)
    if name == "glow-layers":
        data = DataSpec(image_shape=(2, 1, 1), kind="8bit", num_classes=CLASSES)
        model = TinyGlowLayers(GlowConfig(conditional=True), data)
        model.train().log_density(torch.rand(16, 2, 1, 1), one_hot(16).float())
    else:
        family, config = {
            "nice": ("nice", {"couplings": 3, "hidden": 8, "hidden_layers": 2}),
            "realnvp": ("realnvp", {"scales": 1, "couplings": 2, "hidden": 4,
                                    "logit_alpha": 0.0}),
        }[name]  # fmt: skip
        model = genzoo.create_model(family, image_shape=(1, 1, 2), **config)
        model.train().loss(torch.randint(0, 256, (16, 1, 1, 2), dtype=torch.uint8))
    return randomise(model, scale=0.8, seed=3).double().eval()


@pytest.mark.parametrize("name", ["nice", "realnvp", "glow-layers"])
def test_the_continuous_density_integrates_to_one(name):
    """Riemann sum of exp(log p(y)) over a box holding all but a negligible tail."""
    model = tiny_2d(name)
    shape = model.data.image_shape
    n, lo, hi = 801, -40.0, 40.0
    axis = torch.linspace(lo, hi, n, dtype=torch.float64)
    a, b = torch.meshgrid(axis, axis, indexing="ij")
    y = torch.stack([a.flatten(), b.flatten()], 1).view(-1, *shape)
    cond = one_hot(len(y))[:, [1, 0, 2]] if model.conditional else None  # class 1
    with torch.no_grad():
        density = model.log_density(y, cond).exp()
    cell = ((hi - lo) / (n - 1)) ** 2
    assert density.sum().item() * cell == pytest.approx(1.0, abs=1e-3)
    assert density.max() * cell < 0.01  # the grid resolves the density


@pytest.mark.parametrize("name", ["nice", "realnvp"])
def test_the_dequantised_bound_is_below_the_discrete_log_likelihood(name):
    """log P(x) = log of the integral of p over x's cell (quadrature); nll_terms' k = 1
    bound lies below it (in expectation: checked on the mean of many draws, with room for
    their noise), its importance-weighted version rises towards it with k."""
    model = tiny_2d(name)
    x = torch.tensor([[0, 0], [255, 255], [128, 3], [40, 200]], dtype=torch.uint8)
    x = x.view(4, 1, 1, 2)
    m = 64
    u = (torch.arange(m, dtype=torch.float64) + 0.5) / m
    ua, ub = torch.meshgrid(u, u, indexing="ij")
    cells = torch.stack([ua.flatten(), ub.flatten()], 1)  # (m^2, 2) offsets in the cell
    log_p = []
    for image in x.view(4, 2).double():
        y = ((image + cells) / 256).view(-1, 1, 1, 2)
        with torch.no_grad():
            lp = model.log_density(y)
        log_p.append(torch.logsumexp(lp, 0) - math.log(m * m) - 2 * math.log(256))
    log_p = torch.stack(log_p)  # (4,) the discrete log-likelihood
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        draws = torch.stack([-model.nll_terms(x, generator=g)["nll_deq1"] for _ in range(200)])
        tight = -model.nll_terms(x, generator=g, dequant_k=2000)["nll_deq2000"]
    bound, stderr = draws.mean(0), draws.std(0) / math.sqrt(len(draws))
    assert (bound <= log_p + 3 * stderr + 1e-9).all(), (bound, log_p)
    assert (tight >= bound - 3 * stderr).all()
    assert torch.allclose(tight, log_p, atol=0.02), (tight, log_p)
    assert torch.allclose(model.log_prob(x), model.log_prob(x))  # a fixed draw


def test_log_prob_is_a_bound_declared_in_bits_comparable_units():
    model = genzoo.create_model("glow", image_shape=(1, 4, 4), levels=1, steps=1, hidden=4)
    assert model.density == "bound" and model.log_prob_is_bound
    assert [t.kind for t in model.likelihood_terms] == ["bound"]
    x = torch.randint(0, 256, (5, 1, 4, 4), dtype=torch.uint8)
    out = model.train().loss(x)
    assert out["bpd"] == pytest.approx(out["nll_nats"].item() / (16 * math.log(2)))


# -- actnorm ---------------------------------------------------------------------------------


@pytest.mark.parametrize("per_pixel", [False, True])
def test_actnorm_output_on_its_first_batch_has_zero_mean_and_unit_variance(per_pixel):
    torch.manual_seed(0)
    x = torch.randn(16, 3, 2, 2) * torch.tensor([0.1, 2.0, 5.0]).view(1, 3, 1, 1) + 3
    x[:, 0, 0, 0] = x[:, 0, 0, 0] * 10 - 7  # one sub-pixel apart from its channel
    layer = fl.ActNorm(3, (2, 2) if per_pixel else None).train()
    y, _ = layer(x)
    over = (0,) if per_pixel else (0, 2, 3)  # the statistics are per sub-pixel or per channel
    assert torch.allclose(y.mean(over), torch.zeros(()), atol=1e-5)
    assert torch.allclose(y.std(over, unbiased=False), torch.ones(()), atol=1e-4)


def test_actnorm_initialises_once_from_the_first_training_batch_and_survives_a_reload():
    torch.manual_seed(0)
    make = lambda: genzoo.create_model("glow", image_shape=(1, 4, 4), levels=1, steps=2, hidden=4)  # noqa: E731
    model = make().train()
    norms = [m for m in model.modules() if isinstance(m, fl.ActNorm)]
    assert all(not bool(m.initialized) for m in norms)
    model.eval().log_prob(torch.randint(0, 256, (4, 1, 4, 4), dtype=torch.uint8))
    assert all(not bool(m.initialized) for m in norms)  # evaluation does not initialise
    first = torch.randint(0, 256, (16, 1, 4, 4), dtype=torch.uint8)
    model.train().loss(first)
    assert all(bool(m.initialized) for m in norms)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    model.loss(first * 0 + 7)  # another batch: no second initialisation
    reloaded = make().train()
    reloaded.load_state_dict(state)
    reloaded.loss(torch.randint(0, 256, (16, 1, 4, 4), dtype=torch.uint8))
    for (k, a), b in zip(model.state_dict().items(), reloaded.state_dict().values(), strict=True):
        assert torch.equal(a, b) and torch.equal(a, state[k]), k


# -- sampling --------------------------------------------------------------------------------


def test_temperature_zero_decodes_the_mode_and_the_grid_view_draws():
    from genzoo.models.flows import temperature_view
    from genzoo.models.flows_config import TemperatureOptions

    model = build("glow", dtype=torch.float32)
    a = model.sample(3, temperature=0.0, generator=torch.Generator().manual_seed(1))
    b = model.sample(3, temperature=0.0, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and torch.equal(a[0], a[1])
    assert torch.equal(a, model.decode(torch.zeros(3, model.latent_dim)))
    c = model.sample(3, temperature=1.0, generator=torch.Generator().manual_seed(1))
    assert not torch.equal(a, c)
    grid, cols = temperature_view(model, None, TemperatureOptions("0,1", n=3), 1)
    assert cols == 3 and torch.equal(grid[:3], a) and torch.equal(grid[3:], c)
    with pytest.raises(UserInputError, match="temperature"):
        model.sample(2, temperature=-1.0)
    with pytest.raises(UserInputError, match="--temperatures"):
        temperature_view(model, None, TemperatureOptions("hot"), 0)


def test_conditional_glow_density_depends_on_the_label():
    model = build("glow", conditional=True, dtype=torch.float32)
    x = torch.randint(0, 256, (3, 1, 4, 4), dtype=torch.uint8)
    lp0 = model.log_prob(x, torch.zeros(3, dtype=torch.long))
    lp1 = model.log_prob(x, torch.ones(3, dtype=torch.long))
    assert not torch.allclose(lp0, lp1)
    with pytest.raises(UserInputError, match="label"):
        model.log_prob(x)


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "family,options,says",
    [
        ("glow", {"levels": 3}, "--model.levels 2 or fewer"),
        ("realnvp", {"scales": 4}, "--model.scales 3 or fewer"),
        ("glow", {"logit_alpha": 0.5}, "logit_alpha"),
        ("glow", {"coupling": "spline"}, "coupling"),
        ("nice", {"couplings": 0}, "couplings"),
    ],
)
def test_bad_configurations_are_refused_in_one_line(family, options, says):
    with pytest.raises(UserInputError) as e:
        genzoo.create_model(family, image_shape=(1, 28, 28), **options)
    assert says in str(e.value) and "\n" not in str(e.value)
    if "levels" in options or "scales" in options:
        assert "--image-size 32" in str(e.value)


def test_binary_data_is_refused_in_one_line():
    for family in ("nice", "realnvp", "glow"):
        with pytest.raises(UserInputError, match="8bit") as e:
            genzoo.create_model(family, image_shape=(1, 28, 28), kind="binary")
        assert "\n" not in str(e.value)


def test_a_nan_in_the_log_determinant_is_one_line_naming_the_fix():
    model = build("realnvp", dtype=torch.float32)
    with torch.no_grad():
        next(m for m in model.modules() if isinstance(m, fl.ActNorm)).log_scale[0, 0] = math.nan
    x = torch.randint(0, 256, (2, 1, 4, 4), dtype=torch.uint8)
    for call in (lambda: model.log_prob(x), lambda: model.nll_terms(x), lambda: model.encode(x)):
        with pytest.raises(NonFiniteLossError, match=r"--train\.lr") as e:
            call()
        assert "\n" not in str(e.value)


def test_the_command_line_trains_evaluates_and_refuses_in_one_line(tmp_path, capsys):
    out = tmp_path / "run"
    args = [
        "--data", "digits", "--model.levels", "2", "--model.steps", "2", "--model.hidden", "8",
        "--train.steps", "3", "--train.batch-size", "16", "--train.sample-every", "0",
        "--train.log-every", "1", "--train.no-progress", "--train.accelerator", "cpu",
    ]  # fmt: skip
    assert main(["train", "glow", *args, "--out", str(out)]) == 0
    assert main(["eval", str(out), "--n", "20", "--dequant-k", "2"]) == 0
    text = capsys.readouterr().out
    assert "nll_deq2" in text and "bits/dim" in text
    picture = tmp_path / "t.png"
    assert main(["viz", "temperature", str(out), "--n", "3", "--out", str(picture)]) == 0
    assert picture.is_file()
    bad = tmp_path / "bad"
    levels4 = [a if a != "2" else "4" for a in args[:4]] + args[4:]  # --model.levels 4
    assert main(["train", "glow", *levels4, "--out", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "--model.levels" in err and len(err.splitlines()) == 1, err
    assert not bad.exists()
    assert main(["train", "glow", "--data", "binarized-fashion-mnist", "--out", str(bad)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not bad.exists()
    with pytest.raises(ConfigError):
        genzoo.create_model("realnvp", logit_alpha=-0.1)


def test_a_nan_log_determinant_in_training_stops_the_loop_with_one_line(tmp_path):
    """The loop reads every step's loss: a NaN log-determinant stops it with one line
    naming --train.lr and --train.grad-clip, before anything non-finite is saved."""
    from genzoo.config import TrainConfig
    from genzoo.train.loop import fit
    from test_contract import FIT, InMemory

    model = build("glow", dtype=torch.float32).train()
    with torch.no_grad():
        next(m for m in model.modules() if isinstance(m, fl.InvConv1x1)).log_s[0] = math.nan
    with pytest.raises(NonFiniteLossError, match=r"--train\.lr") as e:
        fit(model, InMemory((1, 4, 4), "8bit"), tmp_path / "run", TrainConfig(steps=2, **FIT))
    assert "\n" not in str(e.value) and "grad-clip" in str(e.value)
    from genzoo.runs import Run

    assert not Run(tmp_path / "run").checkpoint_path.exists()
