"""PixelCNN as a density: normalised, sampler consistent with log_prob, completion, labels."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

import genzoo
from genzoo.errors import UserInputError
from helpers import TINY, scramble


def all_images(c: int, h: int, w: int, values: int) -> torch.Tensor:
    """Every image of the given shape with sub-pixel values in range(values), (V^D, C, H, W)."""
    grid = list(itertools.product(range(values), repeat=c * h * w))
    return torch.tensor(grid, dtype=torch.uint8).view(-1, c, h, w)


@pytest.mark.parametrize(
    "shape,kind", [((1, 2, 2), "binary"), ((3, 1, 2), "binary"), ((1, 1, 2), "8bit")]
)
def test_probabilities_of_all_images_sum_to_one(shape, kind):
    torch.manual_seed(0)
    model = scramble(
        genzoo.create_model("pixelcnn", image_shape=shape, kind=kind, **TINY["pixelcnn"])
    )
    images = all_images(*shape, 2 if kind == "binary" else 256)
    with torch.no_grad():
        logp = model.log_prob(images).double()
    assert math.isclose(float(torch.logsumexp(logp, 0).exp()), 1.0, rel_tol=1e-5)
    assert logp.std() > 0.1  # scrambled weights: far from uniform, so the check means something


def test_sample_frequencies_match_log_prob():
    torch.manual_seed(0)
    model = scramble(
        genzoo.create_model("pixelcnn", image_shape=(1, 2, 2), kind="binary", **TINY["pixelcnn"])
    )
    images = all_images(1, 2, 2, 2)
    p = model.log_prob(images).exp().detach()  # (16,)
    n = 20000
    draws = model.sample(n, generator=torch.Generator().manual_seed(1))
    code = (draws.view(n, 4).long() * torch.tensor([8, 4, 2, 1])).sum(1)
    freq = torch.bincount(code, minlength=16).double() / n
    # each frequency within 5 standard errors of its probability
    se = (p.double() * (1 - p.double()) / n).sqrt()
    assert ((freq - p.double()).abs() <= 5 * se + 1e-3).all(), (freq, p)


def test_sampling_is_reproducible_and_in_range():
    torch.manual_seed(0)
    model = genzoo.create_model("pixelcnn", image_shape=(3, 4, 4), **TINY["pixelcnn"])
    a = model.sample(3, generator=torch.Generator().manual_seed(5))
    b = model.sample(3, generator=torch.Generator().manual_seed(5))
    c = model.sample(3, generator=torch.Generator().manual_seed(6))
    assert a.dtype == torch.uint8 and a.shape == (3, 3, 4, 4)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_completion_keeps_the_given_rows_and_fills_the_rest():
    torch.manual_seed(0)
    model = genzoo.create_model("pixelcnn", image_shape=(1, 6, 6), **TINY["pixelcnn"])
    given = torch.randint(0, 256, (4, 1, 6, 6), dtype=torch.uint8)
    out = model.complete(given, 3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out[:, :, :3], given[:, :, :3])
    assert not torch.equal(out[:, :, 3:], given[:, :, 3:])


def test_conditional_model_uses_its_labels():
    torch.manual_seed(0)
    model = scramble(
        genzoo.create_model(
            "pixelcnn", image_shape=(1, 4, 4), num_classes=3, conditional=True, **TINY["pixelcnn"]
        )
    )
    x = torch.randint(0, 256, (2, 1, 4, 4), dtype=torch.uint8)
    lp0 = model.log_prob(x, torch.tensor([0, 0]))
    lp1 = model.log_prob(x, torch.tensor([1, 1]))
    assert not torch.allclose(lp0, lp1)
    with pytest.raises(UserInputError, match="labels"):
        model.log_prob(x)
    with pytest.raises(UserInputError, match="labels"):
        model.sample(2, labels=torch.tensor([0, 7]))


def test_conditional_needs_labelled_data():
    with pytest.raises(UserInputError, match="labelled"):
        genzoo.create_model("pixelcnn", conditional=True, **TINY["pixelcnn"])


def test_learns_a_simple_distribution():
    """A few hundred steps on 4x4 binary images from two patterns: NLL falls towards log 2."""
    torch.manual_seed(0)
    model = genzoo.create_model(
        "pixelcnn",
        image_shape=(1, 4, 4),
        kind="binary",
        hidden_channels=16,
        num_blocks=2,
        output_channels=32,
    )
    patterns = torch.tensor([[1, 0] * 8, [0, 1] * 8], dtype=torch.uint8).view(2, 1, 4, 4)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(300):
        batch = patterns[torch.randint(0, 2, (32,))]
        opt.zero_grad()
        model.loss(batch)["loss"].backward()
        opt.step()
    nll = -model.log_prob(patterns).mean().item()
    assert nll < math.log(2) + 0.15  # the entropy of the data is log 2 nats
    samples = model.sample(50, generator=torch.Generator().manual_seed(0))
    hits = (samples.view(50, 1, 1, 4, 4) == patterns.view(1, 2, 1, 4, 4)).flatten(2).all(2).any(1)
    assert hits.float().mean() > 0.9
