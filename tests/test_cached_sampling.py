"""The cached sampler (Ramachandran et al. 2017): the naive sampler's images, for every
autoregressive model, and caches that hold each layer's activations for the final image."""

from __future__ import annotations

import pytest
import torch

import genzoo
from genzoo.errors import UserInputError
from genzoo.models.cached_sampling import sample_cached
from helpers import TINY, scramble


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# (id, registered name, config beyond helpers.TINY): two layers where a layer's cache feeds
# the next one's
MODELS = [
    ("pixelcnn", "pixelcnn", {"num_blocks": 2}),
    ("gated", "gated-pixelcnn", {}),
    ("pixelcnn++", "pixelcnn++", {}),
    ("row-lstm", "pixelrnn", {"cell": "row-lstm", "num_layers": 2}),
    ("diagonal-bilstm", "pixelrnn", {"cell": "diagonal-bilstm", "num_layers": 2}),
]
IDS = [m[0] for m in MODELS]


def build(name, extra, shape, kind="8bit", conditional=False, scale=1.0):
    torch.manual_seed(0)
    config = {**TINY[name], **extra}
    if conditional:
        config.update(conditional=True, num_classes=3)
    model = genzoo.create_model(name, image_shape=shape, kind=kind, **config)
    return scramble(model, scale=scale).eval()


def draw(model, n, sampler, labels=None, seed=3):
    return model.sample(
        n, labels=labels, generator=torch.Generator().manual_seed(seed), sampler=sampler
    )


CASES = [
    (mid, shape, kind, conditional)
    for mid, name, _ in MODELS
    for shape in [(1, 7, 10), (3, 6, 5)]  # sides not multiples of PixelCNN++'s factor 4
    for kind in (["8bit"] if name == "pixelcnn++" else ["8bit", "binary"])
    for conditional in (False, True)
]


@pytest.mark.parametrize("mid,shape,kind,conditional", CASES)
def test_cached_sampler_draws_the_naive_images(mid, shape, kind, conditional):
    _, name, extra = MODELS[IDS.index(mid)]
    model = build(name, extra, shape, kind, conditional)
    assert model.resolve_sampler(None) == "cached"  # the default
    labels = torch.tensor([0, 2, 1, 1, 0, 2, 2]) if conditional else None
    naive = draw(model, 7, "naive", labels)
    cached = draw(model, 7, "cached", labels)
    assert torch.equal(naive, cached)
    assert naive.float().std() > (10 if kind == "8bit" else 0.1)  # varied, not constant


@pytest.mark.parametrize("mid", IDS)
def test_batch_of_one(mid):
    _, name, extra = MODELS[IDS.index(mid)]
    model = build(name, extra, (3, 5, 6), conditional=True)
    label = torch.tensor([1])
    assert torch.equal(draw(model, 1, "naive", label, seed=5), draw(model, 1, None, label, seed=5))


@pytest.mark.parametrize("mid", IDS)
def test_completion_of_half_given_images(mid):
    _, name, extra = MODELS[IDS.index(mid)]
    model = build(name, extra, (3, 6, 7))
    given = torch.randint(
        0, 256, (3, 3, 6, 7), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    a = model.complete(given, 3, generator=torch.Generator().manual_seed(1), sampler="naive")
    b = model.complete(given, 3, generator=torch.Generator().manual_seed(1), sampler="cached")
    assert torch.equal(a, b) and torch.equal(a[:, :, :3], given[:, :, :3])
    assert not torch.equal(a[:, :, 3:], given[:, :, 3:])
    # a prefix that ends inside a row (pixels counted in raster order)
    kw = {"prefix": given, "num_known": 2 * 7 + 3}
    a = model.sample(3, generator=torch.Generator().manual_seed(2), sampler="naive", **kw)
    b = model.sample(3, generator=torch.Generator().manual_seed(2), sampler="cached", **kw)
    assert torch.equal(a, b) and torch.equal(a[:, :, 2, :3], given[:, :, 2, :3])


def forward_maps(model, images, labels, names):
    """Each named module's input (key ``name``) or output (``name:output``) in one forward
    pass of the network over ``images``."""
    modules = dict(model.named_modules())
    maps, hooks = {}, []
    for key in names:
        name, _, what = key.partition(":")

        def hook(_module, args, out, key=key, what=what):
            maps[key] = out if what == "output" else args[0]

        hooks.append(modules[name].register_forward_hook(hook))
    try:
        with torch.no_grad():
            model.subpixel_params(images, labels)
    finally:
        for h in hooks:
            h.remove()
    return maps


@pytest.mark.parametrize("mid", IDS)
def test_the_caches_hold_each_layers_activations_after_a_full_image(mid):
    """The rows each cache still holds (and the recurrent states) equal those of one
    forward pass over the finished image, layer by layer, to 1e-5."""
    _, name, extra = MODELS[IDS.index(mid)]
    shape = (3, 8, 8) if name == "pixelcnn++" else (3, 5, 6)  # every coarse position reached
    model = build(name, extra, shape, conditional=True)
    labels = torch.tensor([2, 0])
    x = torch.zeros(2, *shape, dtype=torch.long)
    net = sample_cached(model, x, labels, torch.Generator().manual_seed(0))
    cached = net.activations()
    assert len(cached) >= 3
    naive = forward_maps(model, x, labels, cached)
    for key, (r0, value) in cached.items():
        ref = naive[key][:, :, r0 : r0 + value.shape[2]]  # the rows the cache holds
        assert value.shape == ref.shape and value.shape[2] >= 1, key
        assert torch.allclose(value, ref, atol=1e-5, rtol=1e-5), (
            f"{key}: {(value - ref).abs().max()}"
        )


@pytest.mark.parametrize("mid", IDS)
def test_cached_outputs_equal_the_forward_pass_at_every_pixel(mid):
    """The parameters the draws read, pixel by pixel in raster order, against one forward
    pass over the finished image (to 1e-5): the heads and output layers included."""
    _, name, extra = MODELS[IDS.index(mid)]
    shape = (3, 5, 6)
    model = build(name, extra, shape, conditional=True)
    labels = torch.tensor([1, 2])
    images = torch.randint(0, 256, (2, *shape), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        ref = model.subpixel_params(images, labels)  # (N, C, K, H, W) or (N, P, H, W)
        net = model.cached_network(model.preprocess(images), labels)
        for i in range(shape[1]):
            for j in range(shape[2]):
                out = net.params_at(i, j)
                assert torch.allclose(out, ref[..., i, j], atol=1e-5, rtol=1e-5), (i, j)
            net.end_row(i)


def test_given_pixels_fill_the_caches_without_draws():
    _, name, extra = MODELS[0]
    model = build(name, extra, (1, 4, 5))
    images = torch.randint(0, 256, (2, 1, 4, 5), generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(0)
    state = g.get_state()
    net = sample_cached(model, images.clone(), None, g, start=4 * 5)
    assert torch.equal(g.get_state(), state)  # nothing drawn
    naive = forward_maps(model, images, None, net.activations())
    for key, (r0, value) in net.activations().items():
        ref = naive[key][:, :, r0 : r0 + value.shape[2]]
        assert torch.allclose(value, ref, atol=1e-5), key


def test_unknown_sampler_is_a_user_error():
    _, name, extra = MODELS[3]
    model = build(name, extra, (1, 4, 4))
    assert model.supports_cached_sampling
    with pytest.raises(UserInputError, match="sampler"):
        model.sample(1, sampler="fast")
    with pytest.raises(UserInputError, match=r"retired.*cached.*naive"):  # issue #21
        model.sample(1, sampler="window")
