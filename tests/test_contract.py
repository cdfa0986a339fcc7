"""The model contract, checked on every registered model (in the spirit of scikit-learn's
``parametrize_with_checks``): a new family joins by adding a tiny config to helpers.TINY."""

from __future__ import annotations

import contextlib

import pytest
import torch

import genzoo
from genzoo.config import from_dict, to_dict
from genzoo.errors import NoDensityError, UserInputError
from genzoo.registry import MODELS, get_entry
from genzoo.train.checkpoint import export_model
from helpers import TINY

CASES = [
    (name, shape, kind)
    for name, entry in MODELS.items()
    for kind in entry.data_kinds
    for shape in ([(2,)] if kind == "points" else [(1, 6, 6), (3, 4, 4)])
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
