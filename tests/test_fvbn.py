"""The fully visible belief nets (FVSBN, NADE, MADE): exact normalisation by enumeration,
the autoregressive property by gradients, samples that follow log_prob, NADE's O(D H)
pass against the naive one, the ensemble's likelihood, the mask cycle, bad input."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from scipy.stats import chi2

import genzoo
from genzoo.cli import main
from genzoo.errors import ConfigError, UserInputError
from genzoo.models.fvbn import FullyVisibleModel, raster_order
from genzoo.models.made_config import MADEConfig
from genzoo.models.nade import naive_conditionals
from genzoo.models.nade_config import NADEConfig
from helpers import scramble
from test_contract import all_images


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


POOL = {"made": "num_masks", "nade": "num_orderings", "fvsbn": "num_orderings"}
SIZE = {"made": {"hidden": (7, 5)}, "nade": {"hidden": 5}, "fvsbn": {}}

# (family, ordering, pool, ensemble): every ordering; pools and ensembles where they apply
VARIANTS = [
    (name, ordering, pool, ens)
    for name in ("made", "nade", "fvsbn")
    for ordering in ("raster", "random", "agnostic")
    for pool, ens in ([(1, 1), (3, 3)] if name == "made" or ordering == "agnostic" else [(1, 1)])
]
IDS = [f"{n}-{o}-{p}x{e}" for n, o, p, e in VARIANTS]


def build(name, ordering, pool, ens, shape, kind, num_classes=None, seed=0, scale=1.0):
    torch.manual_seed(seed)
    config = {**SIZE[name], "ordering": ordering, POOL[name]: pool, "ensemble": ens}
    if num_classes:
        config["conditional"] = True
    model = genzoo.create_model(
        name, image_shape=shape, kind=kind, num_classes=num_classes, **config
    )
    return scramble(model, scale=scale, seed=seed).eval()


def kinds(name):
    return [("binary", (1, 2, 3), 2)] + ([("8bit", (1, 1, 2), 256)] if name != "fvsbn" else [])


# -- exact normalisation -----------------------------------------------------------------


@pytest.mark.parametrize("name,ordering,pool,ens", VARIANTS, ids=IDS)
def test_every_mask_and_the_ensemble_sum_to_one_over_all_images(name, ordering, pool, ens):
    """Binary 1x2x3 (64 images) and 8-bit 1x1x2 (65536 images): sum_x p(x) = 1 under each
    mask of the pool, under the ensemble, and per class for the conditional variant
    (binary; the per-class bias is the same code for 8-bit data)."""
    for kind, shape, v in kinds(name):
        images = all_images(shape, v)
        for classes in (None, 2) if kind == "binary" else (None,):  # 8-bit: 65536 images
            model = build(name, ordering, pool, ens, shape, kind, classes)
            labels_of = [None] if classes is None else [0, 1]
            for label in labels_of:
                lab = None if label is None else torch.full((len(images),), label)
                with torch.no_grad():
                    for k in range(pool):
                        lp = model.log_prob_under(images, k, lab).double()
                        total = torch.logsumexp(lp, 0).exp().item()
                        assert total == pytest.approx(1.0, abs=1e-4), (kind, k, label)
                    lp = model.log_prob(images, lab).double()
                assert torch.logsumexp(lp, 0).exp().item() == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("name", ["made", "nade", "fvsbn"])
def test_ensemble_is_the_log_of_the_mean_probability_not_a_mean_of_logits(name):
    model = build(name, "agnostic", 3, 3, (1, 2, 3), "binary", scale=3.0)
    images = all_images((1, 2, 3), 2)
    with torch.no_grad():
        per_mask = torch.stack([model.log_prob_under(images, k) for k in range(3)]).double()
        ens = model.log_prob(images).double()
    assert "mean probability" in model.likelihood_details()["summary"]  # stored with eval
    expected = per_mask.exp().mean(0).log()
    assert torch.allclose(ens, expected, atol=1e-5)
    assert not torch.allclose(ens, per_mask.mean(0), atol=1e-3)  # the masks do differ
    # a mean of the masks' logits is no density over orderings that differ: it does not
    # sum to one (what the ensemble above must not be)
    x = model.signed(images)
    mean_logits = torch.stack([model.conditionals(x, k) for k in range(3)]).mean(0)
    lp = model.likelihood.log_prob(images, model.as_image_params(mean_logits)).flatten(1).sum(1)
    assert abs(torch.logsumexp(lp.double(), 0).exp().item() - 1.0) > 1e-3


# -- the autoregressive property ---------------------------------------------------------


@pytest.mark.parametrize("name,ordering,pool,ens", VARIANTS, ids=IDS)
@pytest.mark.parametrize("kind,c", [("binary", 1), ("8bit", 1), ("binary", 3)])
def test_conditionals_see_only_earlier_dimensions_in_their_ordering(
    name, ordering, pool, ens, kind, c
):
    """By gradients: entry d of conditionals(x, k) never depends on x_j for j at or after d
    in mask k's ordering, for every mask of the pool (random inputs, large weights)."""
    if name == "fvsbn" and kind == "8bit":
        pytest.skip("FVSBN is binary only")
    shape = (c, 3, 3)
    model = build(name, ordering, pool, ens, shape, kind, num_classes=2, scale=2.0)
    labels = torch.tensor([0, 1, 1, 0, 1, 0])
    d = math.prod(shape)
    for k in range(pool):
        x = torch.randn(6, d)
        p = model.conditionals(x, k, labels).shape[2]
        w = torch.randn(p, generator=torch.Generator().manual_seed(1))

        def outputs(x, k=k, w=w):
            return (model.conditionals(x, k, labels) * w).sum(2).sum(0)  # (D,)

        jac = torch.autograd.functional.jacobian(outputs, x)  # (D, 6, D)
        deps = (jac != 0).any(1)  # (D out, D in)
        rank = model.rank(k)
        later = rank[None, :] >= rank[:, None]  # input j at or after output d
        assert not (deps & later).any(), f"mask {k}: an output sees a later input"
        assert deps.any(), f"mask {k}: no output sees any input"
        if name != "made":  # NADE and FVSBN connect every earlier input
            assert torch.equal(deps, ~later)


def test_raster_order_is_rows_then_columns_then_channels():
    order = raster_order((3, 2, 2)).tolist()
    # dimension index = c * 4 + i * 2 + j; raster: (0,0,R), (0,0,G), (0,0,B), (0,1,R), ...
    assert order[:4] == [0, 4, 8, 1]
    assert sorted(order) == list(range(12))


def test_made_masks_of_a_pool_differ_and_hold_their_connectivity():
    model = build("made", "raster", 3, 1, (1, 4, 4), "binary")
    first = [m.clone() for m in model.masks(0, model.layers[0].weight)]
    second = model.masks(1, model.layers[0].weight)
    assert any(not torch.equal(a, b) for a, b in zip(first, second, strict=True))
    again = model.masks(0, model.layers[0].weight)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))


# -- NADE's O(D H) pass ------------------------------------------------------------------


@pytest.mark.parametrize("ordering,pool", [("raster", 1), ("random", 1), ("agnostic", 3)])
@pytest.mark.parametrize("kind", ["binary", "8bit"])
def test_nade_running_sum_equals_the_naive_per_pixel_computation(ordering, pool, kind):
    model = build("nade", ordering, pool, 1, (2, 3, 3), kind, num_classes=3, scale=2.0).double()
    x = model.signed(torch.randint(0, 2 if kind == "binary" else 256, (5, 18)))
    labels = torch.tensor([0, 1, 2, 2, 1])
    for k, block in itertools.product(range(pool), (1, 2, 4, 8)):  # blocks of the sum
        model.cache_floats = block * len(x) * model.config.hidden
        assert model.block_size(len(x)) == block
        fast = model.conditionals(x, k, labels)
        slow = naive_conditionals(model, x, k, labels)
        assert fast.shape == (5, 18, model.num_params)
        assert torch.allclose(fast, slow, atol=1e-10)


def test_nade_incremental_sampler_draws_the_reference_samplers_images():
    model = build("nade", "agnostic", 2, 2, (1, 3, 3), "binary", num_classes=2, scale=2.0).double()
    labels = torch.tensor([0, 1, 1, 0, 1, 0])
    for k in range(2):
        known = torch.zeros(9, dtype=torch.bool)
        known[[0, 4]] = True
        start = torch.randint(0, 2, (6, 9), generator=torch.Generator().manual_seed(5))
        fast, slow = start.clone(), start.clone()
        model.draw_in_order(fast, k, known, labels, torch.Generator().manual_seed(3))
        FullyVisibleModel.draw_in_order(
            model, slow, k, known, labels, torch.Generator().manual_seed(3)
        )
        assert torch.equal(fast, slow)
        assert torch.equal(fast[:, [0, 4]], start[:, [0, 4]])


@pytest.mark.parametrize("kind,shape", [("binary", (1, 2, 3)), ("8bit", (1, 1, 2))])
def test_made_grouped_sampler_computes_each_rows_own_masks_conditionals(kind, shape):
    """The ensemble sampler's batched pass (every mask's rows in one matmul, only the
    outputs of dimension d) equals the one-mask forward pass, row by row, for every d."""
    model = build("made", "raster", 3, 3, shape, kind, num_classes=2, scale=2.0).double()
    mask_of = torch.tensor([2, 0, 2, 1, 2, 0, 0])  # unequal groups: padding is exercised
    labels = torch.tensor([0, 1, 1, 0, 1, 0, 1])
    top = 2 if kind == "binary" else 256
    x = torch.randint(0, top, (7, model.num_dims), generator=torch.Generator().manual_seed(1))
    xs = model.signed(x)
    plan = model.group_plan(mask_of, labels)
    for d in range(model.num_dims):
        got = model.grouped_conditional(xs, d, plan)  # (7, P)
        for i, k in enumerate(mask_of.tolist()):
            want = model.conditionals(xs[i : i + 1], k, labels[i : i + 1])[0, d]
            assert torch.allclose(got[i], want, atol=1e-10), (d, i, k)


# -- samples follow log_prob -------------------------------------------------------------


def chi_square_p(observed_images, log_probs, images):
    """The p-value of a chi-square test of ``observed_images`` against exp(log_probs) on
    the enumerated ``images`` (cells of small expectation merged into one)."""
    codes = {tuple(im.flatten().tolist()): i for i, im in enumerate(images)}
    counts = torch.zeros(len(images))
    for im in observed_images:
        counts[codes[tuple(im.flatten().tolist())]] += 1
    n = len(observed_images)
    expected = log_probs.double().exp() * n
    big = expected >= 5
    obs = torch.cat([counts[big], counts[~big].sum()[None]])
    exp = torch.cat([expected[big], expected[~big].sum()[None]])
    stat = ((obs - exp) ** 2 / exp.clamp(min=1e-12)).sum().item()
    return chi2.sf(stat, len(obs) - 1)


@pytest.mark.parametrize(
    "name,ordering,pool,ens",
    [("made", "raster", 1, 1), ("made", "agnostic", 3, 3), ("made", "random", 3, 3),
     ("nade", "random", 1, 1),
     ("nade", "agnostic", 3, 3), ("fvsbn", "raster", 1, 1), ("fvsbn", "agnostic", 2, 2)],
)  # fmt: skip
def test_samples_follow_log_prob(name, ordering, pool, ens):
    """Chi-square over the 16 binary 1x2x2 images (3000 draws, fixed seed): the sampler
    draws from the density log_prob scores, ensembles included."""
    shape = (1, 2, 2)
    model = build(name, ordering, pool, ens, shape, "binary", scale=3.0)
    images = all_images(shape, 2)
    with torch.no_grad():
        lp = model.log_prob(images)
    draws = model.sample(3000, generator=torch.Generator().manual_seed(0))
    assert chi_square_p(draws, lp, images) > 1e-3
    # and a density that is not the model's is refused by the same test
    assert chi_square_p(draws, torch.full((16,), -math.log(16)), images) < 1e-3


def test_completion_of_an_ensemble_draws_from_the_conditional():
    """MADE with an ensemble of 3 masks, raster ordering: given the top row, the bottom row
    follows p(bottom | top) = p(x) / p(top) (the mask drawn from its posterior)."""
    shape = (1, 2, 2)
    model = build("made", "raster", 3, 3, shape, "binary", scale=3.0)
    images = all_images(shape, 2)
    top = torch.tensor([1, 0])
    rows = (images[:, 0, 0] == top).all(1)
    with torch.no_grad():
        lp = model.log_prob(images[rows])
    lp = lp - torch.logsumexp(lp, 0)
    given = images[rows][:1].expand(3000, *shape).clone()
    filled = model.complete(given, 1, generator=torch.Generator().manual_seed(0))
    assert (filled[:, 0, 0] == top).all()
    assert chi_square_p(filled, lp, images[rows]) > 1e-3


# -- training state ----------------------------------------------------------------------


def test_training_cycles_the_pool_and_keeps_the_counter_in_the_state_dict():
    model = build("made", "agnostic", 3, 1, (1, 2, 2), "binary").train()
    x = torch.randint(0, 2, (4, 1, 2, 2), dtype=torch.uint8)
    losses = [model.loss(x)["loss"].item() for _ in range(4)]
    assert int(model.mask_step) == 4 and "mask_step" in model.state_dict()
    assert losses[0] == pytest.approx(losses[3]) and losses[0] != pytest.approx(losses[1])
    model.eval().loss(x)
    assert int(model.mask_step) == 4  # evaluation does not move the cycle


# -- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "config,field",
    [
        (lambda: MADEConfig(ordering="spiral"), "ordering"),
        (lambda: MADEConfig(num_masks=0), "num_masks"),
        (lambda: MADEConfig(ensemble=0), "ensemble"),
        (lambda: MADEConfig(num_masks=2, ensemble=3), "ensemble"),
        (lambda: MADEConfig(hidden="0"), "hidden"),
        (lambda: NADEConfig(num_orderings=4), "num_orderings"),
        (lambda: NADEConfig(hidden=0), "hidden"),
    ],
)
def test_bad_configs_are_refused_in_one_line_naming_the_option(config, field):
    with pytest.raises(ConfigError) as e:
        config()
    assert e.value.field == field and "\n" not in str(e.value)


@pytest.mark.parametrize("name", ["nade", "made"])
def test_the_logistic_output_is_normalised_autoregressive_and_small(name):
    """``likelihood = "logistic"`` (8-bit): each mask and the ensemble sum to one over all 65,536
    images of 1x1x2, each conditional sees only earlier sub-pixels (by gradients), NADE's
    running sum equals its naive pass, and the output layer holds 2 numbers per sub-pixel."""
    torch.manual_seed(0)
    config = {**SIZE[name], "ordering": "agnostic", POOL[name]: 2, "ensemble": 2}
    soft = genzoo.create_model(name, image_shape=(1, 1, 2), kind="8bit", **config)
    model = genzoo.create_model(
        name, image_shape=(1, 1, 2), kind="8bit", likelihood="logistic", num_classes=2, **config
    )
    model = scramble(model, scale=1.0).eval().double()
    assert model.num_params == 2 and soft.num_params == 256
    images = all_images((1, 1, 2), 256)
    for label in (0, 1):
        lab = torch.full((len(images),), label)
        with torch.no_grad():
            for k in range(2):
                total = torch.logsumexp(model.log_prob_under(images, k, lab), 0).exp()
                assert total.item() == pytest.approx(1.0, abs=1e-6)
            total = torch.logsumexp(model.log_prob(images, lab), 0).exp()
        assert total.item() == pytest.approx(1.0, abs=1e-6)
    big = genzoo.create_model(
        name, image_shape=(1, 3, 3), kind="8bit", likelihood="logistic", **config
    )
    big = scramble(big, scale=2.0).double()
    for k in range(2):
        x = torch.randn(4, 9, dtype=torch.double)
        jac = torch.autograd.functional.jacobian(
            lambda x, k=k: big.conditionals(x, k).sum(2).sum(0), x
        )
        deps, rank = (jac != 0).any(1), big.rank(k)
        assert not (deps & (rank[None, :] >= rank[:, None])).any() and deps.any()
        if name == "nade":
            assert torch.allclose(big.conditionals(x, k), naive_conditionals(big, x, k, None))


def test_the_logistic_output_on_binary_data_is_refused_naming_the_fix():
    with pytest.raises(UserInputError, match="8-bit data"):
        genzoo.create_model("nade", image_shape=(1, 2, 2), kind="binary", likelihood="logistic")


def test_fvsbn_refuses_8bit_data_naming_the_fix():
    with pytest.raises(UserInputError, match="binarized"):
        genzoo.create_model("fvsbn", image_shape=(1, 2, 2), kind="8bit")


@pytest.mark.parametrize(
    "args,says",
    [
        (["fvsbn", "--data", "fashion-mnist"], "binarized"),
        (["made", "--model.num-masks", "0"], "--model.num-masks"),
        (["nade", "--model.ordering", "spiral"], "--model.ordering"),
        (["made", "--model.ensemble", "0"], "--model.ensemble"),
        (["nade", "--model.likelihood", "gaussian"], "--model.likelihood"),
    ],
)
def test_the_command_line_refuses_bad_options_in_one_line_and_writes_nothing(
    args, says, tmp_path, capsys
):
    out = tmp_path / "run"
    assert main(["train", *args, "--out", str(out), "--train.steps", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert says in err and len(err.splitlines()) == 1, err
    assert not out.exists()


def test_all_images_helper_orders_like_the_flattening():
    images = all_images((1, 1, 2), 2)
    assert [tuple(im.flatten().tolist()) for im in images] == list(
        itertools.product(range(2), repeat=2)
    )


@pytest.mark.parametrize("name", ["made", "fvsbn"])
def test_a_checkpoint_carries_its_masks_and_loading_replaces_cached_ones(name):
    """The pool's orderings (and MADE's hidden degrees) are buffers: a model loads the
    masks it was saved with, even over masks it had already used (and cached)."""
    a = build(name, "agnostic", 2, 1, (1, 2, 3), "binary", seed=0)
    b = build(name, "agnostic", 2, 1, (1, 2, 3), "binary", seed=0)
    b.orders.copy_(b.orders.flip(0))  # other orderings: b's mask 0 is a's mask 1
    assert "orders" in a.state_dict() and (name != "made" or "degrees" in a.state_dict())
    images = all_images((1, 2, 3), 2)
    with torch.no_grad():
        before = a.log_prob(images)  # fills a's cache of mask 0
        a.load_state_dict(b.state_dict())
        after = a.log_prob(images)
    assert not torch.allclose(before, after)
    assert torch.equal(after, b.log_prob(images))
