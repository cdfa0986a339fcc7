"""Masks: each output sub-pixel depends only on the sub-pixels before it (raster, R->G->B)."""

from __future__ import annotations

import itertools

import pytest
import torch

import genzoo
from genzoo.nn.masked import MaskedConv2d, causal_mask
from helpers import TINY, scramble

AUTOREGRESSIVE = ["pixelcnn"]


def dependency_map(model, c: int, h: int, w: int, kind: str) -> dict:
    """For every output (i, j, ch): the boolean map of inputs with non-zero gradient."""
    deps = {}
    for i, j, ch in itertools.product(range(h), range(w), range(c)):
        x = torch.randn(8, c, h, w, requires_grad=True)  # several inputs: ReLUs may be off for one
        logits = model.logits(x)
        out = logits[:, ch, :, i, j] if kind == "8bit" else logits[:, ch, i, j]
        (grad,) = torch.autograd.grad(out.sum(), x)
        deps[(i, j, ch)] = (grad != 0).any(0)  # (C, H, W)
    return deps


@pytest.mark.parametrize("name", AUTOREGRESSIVE)
@pytest.mark.parametrize("c,kind", [(1, "8bit"), (3, "8bit"), (1, "binary"), (3, "binary")])
def test_outputs_see_only_earlier_subpixels(name, c, kind):
    h = w = 5
    torch.manual_seed(0)
    model = scramble(genzoo.create_model(name, image_shape=(c, h, w), kind=kind, **TINY[name]))
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
