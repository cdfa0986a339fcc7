"""The model contract, checked on every registered model (in the spirit of scikit-learn's
``parametrize_with_checks``): a new family joins by adding a tiny config to helpers.TINY."""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import math

import pytest
import torch
from torch.utils.data import Dataset

import genzoo
from genzoo.config import TrainConfig, from_dict, to_dict
from genzoo.errors import NoDensityError, UserInputError
from genzoo.registry import MODELS, get_entry
from genzoo.train.checkpoint import export_model
from helpers import SHAPES, TINY, scramble

CASES = [
    (name, shape, kind)
    for name, entry in MODELS.items()
    for kind in entry.data_kinds
    for shape in ([(2,)] if kind == "points" else SHAPES.get(name, [(1, 6, 6), (3, 4, 4)]))
]


def build(name, shape, kind):
    torch.manual_seed(0)
    return genzoo.create_model(name, image_shape=shape, kind=kind, **TINY[name])


def data_batch(shape, kind, n=4):
    if kind == "points":
        return torch.randn(n, *shape)
    top = 256 if kind == "8bit" else 2
    return torch.randint(0, top, (n, *shape), dtype=torch.uint8)


def test_every_registered_model_has_a_tiny_config():
    assert set(MODELS) == set(TINY)


@pytest.mark.parametrize("name,shape,kind", CASES)
def test_loss_is_a_finite_scalar_with_gradients(name, shape, kind):
    model = build(name, shape, kind)
    out = model.loss(data_batch(shape, kind))
    assert out["loss"].ndim == 0 and torch.isfinite(out["loss"])
    out["loss"].backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


@pytest.mark.parametrize("name,shape,kind", CASES)
def test_sample_is_data_space(name, shape, kind):
    model = build(name, shape, kind).eval()
    x = model.sample(3, generator=torch.Generator().manual_seed(0))
    assert tuple(x.shape) == (3, *shape)
    if kind != "points":
        assert x.dtype == torch.uint8 and int(x.max()) <= (255 if kind == "8bit" else 1)


@pytest.mark.parametrize("name,shape,kind", CASES)
def test_log_prob_is_per_example_nats_or_says_there_is_none(name, shape, kind):
    model = build(name, shape, kind)
    x = data_batch(shape, kind)
    try:
        lp = model.log_prob(x)
    except NoDensityError as e:
        assert "likelihood" in str(e)
        return
    assert lp.shape == (4,) and torch.isfinite(lp).all() and (lp <= 0).all()


@pytest.mark.parametrize("name,shape,kind", CASES)
def test_export_then_load_is_identical(name, shape, kind, tmp_path):
    model = build(name, shape, kind).eval()
    export_model(model, tmp_path / "m")
    loaded = genzoo.load(tmp_path / "m")
    assert type(loaded) is type(model) and loaded.config == model.config
    for (k, a), b in zip(model.state_dict().items(), loaded.state_dict().values(), strict=True):
        assert torch.equal(a, b), k
    x = data_batch(shape, kind)
    with contextlib.suppress(NoDensityError):
        assert torch.equal(model.log_prob(x), loaded.log_prob(x))


@pytest.mark.parametrize("name,shape,kind", [c for c in CASES if c[2] != "points"])
def test_bad_images_are_refused_with_the_expected_shape(name, shape, kind):
    model = build(name, shape, kind)
    wrong = data_batch((shape[0], shape[1] + 1, shape[2]), kind)
    with pytest.raises(UserInputError, match="expects"):
        model.loss(wrong)
    with pytest.raises(UserInputError, match="uint8"):
        model.loss(data_batch(shape, kind).float() / 255)
    too_big = data_batch(shape, kind).to(torch.int64) + 256
    with pytest.raises(UserInputError, match=r"\[0, "):
        model.loss(too_big)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_config_round_trips_and_unknown_names_are_refused(name):
    entry = get_entry(name)
    config = entry.config_class(**TINY[name])
    assert from_dict(entry.config_class, to_dict(config)) == config
    with pytest.raises(UserInputError, match="unknown setting"):
        from_dict(entry.config_class, {"no_such_field": 1})
    with pytest.raises(UserInputError, match="choose one of"):
        get_entry(name + "-nope")


# -- declared capabilities against behaviour -----------------------------------------------
#
# Each model class declares what it offers (genzoo.models.base.GenerativeModel: density,
# has_latent, has_encoder, can_complete, sample_options, the config's conditional); the
# checks below hold every registered family to its declaration.

ONE_CASE = [  # one small case per (family, kind): 3 colour channels where images
    (name, (2,) if kind == "points" else (3, 4, 4), kind)
    for name, entry in MODELS.items()
    for kind in entry.data_kinds
]


def family(name):
    return get_entry(name).model_class()


@pytest.mark.parametrize("name,shape,kind", ONE_CASE)
def test_density_none_iff_log_prob_raises_no_density_error(name, shape, kind):
    model = build(name, shape, kind)
    x = data_batch(shape, kind)
    if family(name).density is None:
        with pytest.raises(NoDensityError):
            model.log_prob(x)
        with pytest.raises(NoDensityError):
            model.nll_terms(x)
        assert not model.log_prob_is_bound
    else:
        assert family(name).density in ("exact", "bound", "estimate")
        assert torch.isfinite(model.log_prob(x)).all()
        assert model.log_prob_is_bound == (family(name).density != "exact")


def all_images(shape, num_values):
    """Every image of ``shape`` with sub-pixels in 0..num_values-1, (V^D, *shape) uint8."""
    d = math.prod(shape)
    grid = torch.cartesian_prod(*[torch.arange(num_values)] * d) if d > 1 else None
    if grid is None:
        grid = torch.arange(num_values)[:, None]
    return grid.view(-1, *shape).to(torch.uint8)


@pytest.mark.parametrize(
    "name", [n for n in sorted(MODELS) if get_entry(n).model_class().density == "exact"]
)
def test_exact_densities_sum_to_one_over_all_images(name):
    """exp(log_prob) over every image of a tiny case sums to 1: binary 1x2x2 (16 images)
    where the family takes binary data, else 8-bit 1x1x2 (65536 images)."""
    kinds = get_entry(name).data_kinds
    shape, kind, v = ((1, 2, 2), "binary", 2) if "binary" in kinds else ((1, 1, 2), "8bit", 256)
    model = scramble(build(name, shape, kind), scale=1.0).eval()
    images = all_images(shape, v)
    with torch.no_grad():
        lp = torch.cat([model.log_prob(chunk) for chunk in images.split(8192)]).double()
    assert torch.logsumexp(lp, 0).exp().item() == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("name,shape,kind", ONE_CASE)
def test_latent_and_encoder_declarations(name, shape, kind):
    model = build(name, shape, kind).eval()
    cls = family(name)
    assert cls.has_latent or not cls.has_encoder  # an encoder implies a latent space
    if cls.has_latent:
        z = model.latents(3, generator=torch.Generator().manual_seed(0))
        assert z.shape == (3, model.latent_dim)
        x = model.decode(z)
        assert tuple(x.shape) == (3, *shape)
        if kind != "points":
            assert x.dtype == torch.uint8 and int(x.max()) <= (255 if kind == "8bit" else 1)
    else:
        with pytest.raises(UserInputError):
            model.latents(3)
    if cls.has_encoder:
        codes = model.encode(data_batch(shape, kind))
        assert codes.shape == (4, model.latent_dim) and torch.isfinite(codes).all()
    elif hasattr(model, "encode"):
        with pytest.raises(UserInputError):
            model.encode(data_batch(shape, kind))


@pytest.mark.parametrize("name,shape,kind", [c for c in ONE_CASE if c[2] != "points"])
def test_completion_keeps_the_given_rows(name, shape, kind):
    model = build(name, shape, kind).eval()
    if not family(name).can_complete:
        assert not hasattr(model, "complete")
        return
    given = data_batch(shape, kind, n=2)
    out = model.complete(given, 2, generator=torch.Generator().manual_seed(0))
    assert out.shape == given.shape and out.dtype == torch.uint8
    assert torch.equal(out[:, :, :2], given[:, :, :2])


@pytest.mark.parametrize("name,shape,kind", ONE_CASE)
def test_every_declared_sample_option_is_taken(name, shape, kind):
    model = build(name, shape, kind).eval()
    cls = family(name)
    methods = [model.sample] + ([model.complete] if cls.can_complete else [])
    for option in cls.sample_options:
        for method in methods:
            param = inspect.signature(method).parameters.get(option)
            assert param is not None and param.kind is inspect.Parameter.KEYWORD_ONLY, option
        # the default value is a valid value
        default = inspect.signature(model.sample).parameters[option].default
        x = model.sample(2, generator=torch.Generator().manual_seed(0), **{option: default})
        assert tuple(x.shape) == (2, *shape)


@pytest.mark.parametrize("name,shape,kind", ONE_CASE)
def test_seeded_sampling_is_deterministic(name, shape, kind):
    model = build(name, shape, kind).eval()
    a = model.sample(3, generator=torch.Generator().manual_seed(7))
    b = model.sample(3, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b)


CONDITIONAL = [
    c
    for c in ONE_CASE
    if "conditional" in {f.name for f in dataclasses.fields(get_entry(c[0]).config_class)}
]


@pytest.mark.parametrize("name,shape,kind", CONDITIONAL)
def test_conditional_variant_trains_scores_and_samples_with_labels(name, shape, kind):
    torch.manual_seed(0)
    model = genzoo.create_model(
        name, image_shape=shape, kind=kind, num_classes=3, conditional=True, **TINY[name]
    )
    assert model.conditional
    x, labels = data_batch(shape, kind), torch.tensor([0, 1, 2, 1])
    out = model.loss(x, labels)
    assert torch.isfinite(out["loss"])
    out["loss"].backward()
    if family(name).density is not None:
        assert model.log_prob(x, labels).shape == (4,)
    model.eval()
    g = torch.Generator().manual_seed(0)
    assert tuple(model.sample(2, labels=torch.tensor([2, 0]), generator=g).shape) == (2, *shape)
    with pytest.raises(UserInputError, match="label"):
        model.sample(2)


@pytest.mark.parametrize("name,shape,kind", [c for c in ONE_CASE if c[2] != "points"])
def test_nll_terms_draw_from_their_generator_only(name, shape, kind):
    model = build(name, shape, kind).eval()
    if family(name).density is None:
        return
    x = data_batch(shape, kind)
    state = torch.get_rng_state()
    with torch.no_grad():
        a = model.nll_terms(x, generator=torch.Generator().manual_seed(3), iwae_k=3)
        b = model.nll_terms(x, generator=torch.Generator().manual_seed(3), iwae_k=3)
    assert torch.equal(torch.get_rng_state(), state)  # the global RNG is untouched
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# -- D4: every family follows its parameters' dtype -----------------------------------------


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16], ids=str)
@pytest.mark.parametrize("name,shape,kind", ONE_CASE)
def test_loss_log_prob_and_sample_follow_the_parameters_dtype(name, shape, kind, dtype):
    model = build(name, shape, kind).to(dtype)
    assert model.dtype == dtype
    x = data_batch(shape, kind)
    out = model.loss(x)
    assert torch.isfinite(out["loss"]) and out["loss"].dtype == dtype
    out["loss"].backward()
    with contextlib.suppress(NoDensityError):
        lp = model.log_prob(x)
        assert lp.shape == (4,) and torch.isfinite(lp).all()
    s = model.eval().sample(2, generator=torch.Generator().manual_seed(0))
    assert tuple(s.shape) == (2, *shape)
    if family(name).has_latent:
        assert model.decode(model.latents(2)).shape[0] == 2


# -- training: two steps straight equal one step, then a resumed step -----------------------


class InMemory(Dataset):
    """A tiny in-memory dataset of (example, label) pairs."""

    def __init__(self, shape, kind, n=8):
        torch.manual_seed(1)
        self.x = data_batch(shape, kind, n)
        self.y = torch.arange(n) % 2

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


FIT_CASES = [(name, (2,) if k == "points" else (1, 4, 4), k) for name, _, k in ONE_CASE]
FIT_CASES = [c for c in FIT_CASES if c[2] == get_entry(c[0]).data_kinds[0]]


FIT = {
    "batch_size": 4, "log_every": 1, "sample_every": 0, "checkpoint_every": 1,
    "progress": False, "accelerator": "cpu",
}  # fmt: skip


@pytest.mark.parametrize("name,shape,kind", FIT_CASES)
def test_two_steps_equal_one_step_and_a_resumed_step(name, shape, kind, tmp_path):
    from genzoo.train.loop import fit

    cfg = FIT
    data = InMemory(shape, kind)
    whole = fit(build(name, shape, kind), data, tmp_path / "whole", TrainConfig(steps=2, **cfg))
    fit(build(name, shape, kind), data, tmp_path / "parts", TrainConfig(steps=1, **cfg))
    parts = fit(
        build(name, shape, kind), data, tmp_path / "parts", TrainConfig(steps=2, **cfg), resume=True
    )
    fresh = build(name, shape, kind).state_dict()
    moved = False
    for (k, a), b in zip(whole.state_dict().items(), parts.state_dict().values(), strict=True):
        assert torch.equal(a, b), k
        moved = moved or not torch.equal(a, fresh[k])
    assert moved  # the steps did train


@pytest.mark.parametrize("name,shape,kind", FIT_CASES)
def test_fit_under_bf16_true_precision(name, shape, kind, tmp_path):
    """D4: Fabric's bf16-true casts the model to bfloat16; every family trains in it."""
    from genzoo.train.loop import fit

    train = TrainConfig(steps=2, precision="bf16-true", **FIT)
    model = fit(build(name, shape, kind), InMemory(shape, kind), tmp_path / "run", train)
    assert model.dtype == torch.bfloat16
    assert tuple(model.eval().sample(2, generator=torch.Generator().manual_seed(0)).shape) == (
        2,
        *shape,
    )


# -- declarations for the upper floors (genzoo.declare) against behaviour -------------------


class FakeSplit:
    """A tiny labelled split with the facts views read (genzoo.data.GenzooDataset)."""

    name, binarize, log_prob, num_classes = "fake", "none", None, 2

    def __init__(self, shape, kind, n=8):
        torch.manual_seed(2)
        self.kind = kind
        self.images = data_batch(shape, kind, n)
        self.labels = torch.arange(n) % 2

    def examples(self, n, seed=0):
        return self.images[:n]

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i], self.labels[i]


class FakeRun:
    """What a view reads of a run: its datasets and ``pick_images``."""

    has_dataset = True

    def __init__(self, shape, kind):
        self.split = FakeSplit(shape, kind)

    def dataset(self, split):
        return self.split

    def pick_images(self, spec, option):
        from genzoo.runs import parse_indices

        picks = [i for part in spec.split(",") for i in parse_indices(part.split(":")[-1], option)]
        return self.split.images[picks], self.split.labels[picks]


def check_picture(picture, shape):
    from genzoo.viz.views import Scatter

    if isinstance(picture, Scatter):
        assert picture.codes.ndim == 2 and len(picture.png()) > 0
        return
    images, columns = picture
    assert images.dtype == torch.uint8 and images.ndim == 4 and images.shape[1] == shape[0]
    assert len(images) > 0 and columns >= 1


@pytest.mark.parametrize("name,shape,kind", [c for c in ONE_CASE if c[2] != "points"])
def test_every_declared_view_draws_and_others_are_refused_in_one_line(name, shape, kind):
    """Each view that applies draws with its default options and with the options of each
    report figure it declares (a shared view may refuse its defaults, in one line naming
    what to use instead); a view that does not apply is refused in one line."""
    from genzoo.registry import check_view, views, views_of

    model = build(name, shape, kind).eval()
    run = FakeRun(shape, kind)
    own = get_entry(name).declares.views
    applies = views_of(model)
    assert set(own) <= set(applies)
    for view in applies:
        check_view(view, model)
        figures = [f.options_for(model) for f in view.report if f.applies(model, True)]
        for i, options in enumerate([{}, *figures]):
            try:
                with torch.no_grad():
                    picture = view.drawer()(model, run, view.options(**options), 0)
            except UserInputError as e:
                assert i == 0 and view not in own, f"{view.name}: {e}"
                assert "\n" not in str(e) and "genzoo" in str(e)
                continue
            check_picture(picture, shape)
    for view in views().values():
        if view in applies:
            continue
        with pytest.raises(UserInputError) as refused:
            check_view(view, model)
            view.drawer()(model, run, view.options(), 0)
        assert "\n" not in str(refused.value)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_declared_sample_options_are_the_models_and_taken_by_sample(name):
    """The options `genzoo sample` offers a family are those its model takes (each one
    checked against sample() by test_every_declared_sample_option_is_taken)."""
    declared = [o.name for o in get_entry(name).declares.sample_options]
    assert sorted(declared) == sorted(family(name).sample_options)


@pytest.mark.parametrize("name,shape,kind", [c for c in ONE_CASE if c[2] != "points"])
def test_every_likelihood_term_is_declared(name, shape, kind):
    """Each key nll_terms returns, with the declared estimator options at their smallest
    values and one above, is a declared term (label and kind filled in); an exact density
    declares only exact terms."""
    from genzoo.registry import estimator_options

    cls = family(name)
    if cls.density is None:
        return
    model = build(name, shape, kind).eval()
    x = data_batch(shape, kind)
    for step in (0, 1):
        options = {k: (o.minimum or 0) + step for k, o in estimator_options().items()}
        declared = {t.key: t for t in (t.resolve(options) for t in cls.likelihood_terms)}
        with torch.no_grad():
            keys = model.nll_terms(x, generator=torch.Generator().manual_seed(0), **options)
        assert set(keys) <= set(declared), (set(keys), set(declared))
        for key in keys:
            assert declared[key].label and declared[key].kind in ("exact", "bound", "estimate")
            assert cls.density != "exact" or declared[key].kind == "exact"
