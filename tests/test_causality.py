"""Masks: each output sub-pixel depends only on the sub-pixels before it (raster, R->G->B)."""

from __future__ import annotations

import itertools

import pytest
import torch

import genzoo
from genzoo.nn.masked import MaskedConv2d, causal_mask
from genzoo.registry import MODELS
from helpers import TINY, scramble


@pytest.fixture(autouse=True)
def _one_thread():
    """One torch thread per test worker: on a shared, oversubscribed machine two OpenMP
    threads made these small networks many times slower (spin-waiting on each other)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# (registered name, config overrides beyond helpers.TINY)
AUTOREGRESSIVE = [
    ("pixelcnn", {}),
    ("pixelrnn", {"cell": "row-lstm"}),
    ("pixelrnn", {"cell": "diagonal-bilstm"}),
    ("gated-pixelcnn", {}),
    ("pixelcnn++", {}),
]


def dependency_map(model, c: int, h: int, w: int, kind: str) -> dict:
    """For every output (i, j, ch): the boolean map of inputs with non-zero gradient.

    The output of sub-pixel (i, j, ch) is what its conditional reads,
    ``model.conditional_params(x)[:, ch, :, i, j]``, projected on fixed random weights (so
    no gradient cancels); one vectorised Jacobian gives every output's gradients at once.
    """
    x = torch.randn(8, c, h, w)  # several inputs: ReLUs may be off for one
    p = model.conditional_params(x).shape[2]
    weights = torch.randn(p, generator=torch.Generator().manual_seed(0))[:, None, None]

    def outputs(x):  # (8, C, H, W) -> (C, H, W), summed over the examples
        return (model.conditional_params(x) * weights).sum(2).sum(0)

    jac = torch.autograd.functional.jacobian(outputs, x, vectorize=True)  # (C,H,W, 8,C,H,W)
    deps = {}
    for i, j, ch in itertools.product(range(h), range(w), range(c)):
        deps[(i, j, ch)] = (jac[ch, i, j] != 0).any(0)  # (C, H, W)
    return deps


@pytest.mark.parametrize(
    "name,extra",
    AUTOREGRESSIVE,
    ids=[n + "-" * bool(e) + e.get("cell", "") for n, e in AUTOREGRESSIVE],
)
@pytest.mark.parametrize("c,kind", [(1, "8bit"), (3, "8bit"), (1, "binary"), (3, "binary")])
def test_outputs_see_only_earlier_subpixels(name, extra, c, kind):
    if kind not in MODELS[name].data_kinds:
        pytest.skip(f"{name} does not model {kind} data")
    h = w = 5
    torch.manual_seed(0)
    config = {**TINY[name], **extra}
    model = genzoo.create_model(name, image_shape=(c, h, w), kind=kind, **config)
    # large weights, but not so large that tanh, sigmoid or elu saturate to a zero gradient
    model = scramble(model, scale=3.0 if name == "pixelcnn" else 1.0)
    deps = dependency_map(model, c, h, w, kind)
    for (i, j, ch), dep in deps.items():
        for ii, jj, cc in itertools.product(range(h), range(w), range(c)):
            later = (ii, jj) > (i, j) or ((ii, jj) == (i, j) and cc >= ch)
            if later:
                assert not dep[cc, ii, jj], f"output {(i, j, ch)} sees input {(ii, jj, cc)}"
        if (i, j, ch) != (0, 0, 0):
            assert dep.any(), f"output {(i, j, ch)} sees nothing before it"
    # within a pixel, green sees red and blue sees red and green (the channel masks)
    if c == 3:
        assert deps[(2, 2, 1)][0, 2, 2] and deps[(2, 2, 2)][1, 2, 2]


def test_mask_a_excludes_and_mask_b_includes_the_centre():
    a = causal_mask(3, 3, 3, "A", 3)[:, :, 1, 1]
    b = causal_mask(3, 3, 3, "B", 3)[:, :, 1, 1]
    assert torch.equal(a, torch.tensor([[0, 0, 0], [1, 0, 0], [1, 1, 0]]).float())
    assert torch.equal(b, torch.tensor([[1, 0, 0], [1, 1, 0], [1, 1, 1]]).float())
    full = causal_mask(1, 1, 5, "B", 1)[0, 0]
    assert full[:2].all() and full[2, :3].all() and not full[2, 3:].any() and not full[3:].any()


def test_masked_weights_stay_inert_after_training_steps():
    conv = MaskedConv2d(1, 4, 3, "A")
    opt = torch.optim.SGD(conv.parameters(), lr=1.0)
    for _ in range(3):
        opt.zero_grad()
        conv(torch.randn(2, 1, 6, 6)).pow(2).sum().backward()
        assert (conv.weight.grad * (1 - conv.mask)).abs().sum() == 0
        opt.step()
    x = torch.zeros(1, 1, 6, 6, requires_grad=True)
    conv(x)[0, :, 3, 3].sum().backward()
    assert x.grad[0, 0, 3, 3] == 0 and x.grad[0, 0, 3, 4] == 0 and x.grad[0, 0, 4, 3] == 0
