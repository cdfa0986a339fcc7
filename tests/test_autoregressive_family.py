"""PixelRNN, Gated PixelCNN, PixelCNN++ and the sampler option.

Causality of every network is checked by gradients in test_causality.py; here: the blind
spot (absent from the Gated PixelCNN, present in the plain PixelCNN), skew/unskew, the
discretised logistic mixture's normalisation and its sub-pixel conditionals, and the
``--sampler`` option (the cached sampler's images against the naive sampler's are in
test_cached_sampling.py).
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

import genzoo
from genzoo.cli import main
from genzoo.errors import UserInputError
from genzoo.nn.likelihoods import discretized_logistic_log_prob
from genzoo.nn.recurrent import skew, unskew
from genzoo.train.checkpoint import export_model
from helpers import TINY, scramble


@pytest.fixture(autouse=True)
def _one_thread():
    """One torch thread per test worker: on a shared, oversubscribed machine two OpenMP
    threads made these small convolutions ~100x slower (spin-waiting on each other)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def build(name, shape, seed=0, scale=1.0, **overrides):
    torch.manual_seed(seed)
    model = genzoo.create_model(name, image_shape=shape, **{**TINY[name], **overrides})
    return scramble(model, scale=scale, seed=seed).eval()


def reached(model, shape, i, j, ch=0):
    """Boolean (C, H, W) map of the input sub-pixels that reach output (i, j, ch)."""
    x = torch.randn(8, *shape, requires_grad=True)
    out = model.conditional_params(x)[:, ch, :, i, j]
    (grad,) = torch.autograd.grad(out.sum(), x)
    return (grad != 0).any(0)


# -- the blind spot ---------------------------------------------------------------------


def test_gated_pixelcnn_sees_every_earlier_pixel_and_pixelcnn_has_a_blind_spot():
    shape, (i, j) = (1, 6, 11), (5, 5)  # three layers each; the output in the bottom row
    earlier = torch.zeros(1, 6, 11, dtype=torch.bool)
    earlier[:, :i] = True
    earlier[:, i, :j] = True
    gated = build("gated-pixelcnn", shape, num_layers=3)
    dep = reached(gated, shape, i, j)
    assert torch.equal(dep, earlier), "Gated PixelCNN misses earlier pixels: a blind spot"
    plain = build("pixelcnn", shape, scale=3.0, num_blocks=2)
    dep = reached(plain, shape, i, j)
    assert not (dep & ~earlier).any()  # causal
    missed = earlier & ~dep
    # the blind spot: pixels up and to the right that the stacked masks never reach,
    # although they lie inside the receptive field's bounding box (5 rows, +-5 columns)
    assert missed[0, i - 1, j + 4] and missed[0, i - 1, j + 5] and missed[0, i - 2, j + 5]
    assert dep[0, i - 1, j + 3] and dep[0, i - 2, j + 4] and dep[0, i - 3, j + 5]
    assert int(missed.sum()) == 3


# -- Diagonal BiLSTM ------------------------------------------------------------------------


def test_one_diagonal_bilstm_layer_sees_the_whole_context_and_row_lstm_a_triangle():
    """Diagonal BiLSTM: the left-to-right state at (i, j) plus the right-to-left state of
    (i-1, j) reach every earlier pixel however far (section 3.2), but one: the last pixel of
    the row above, which no position before (i, j) holds (every position's inputs exclude
    its own pixel, and the 7x7 mask-A layer reaches it only from (i, W-4) on). Row LSTM:
    a triangle, one column narrower per row upwards."""
    shape, (i, j) = (1, 6, 13), (5, 6)  # wider and taller than the 7x7 input layer's reach
    earlier = torch.zeros(1, 6, 13, dtype=torch.bool)
    earlier[:, :i] = True
    earlier[:, i, :j] = True
    bilstm = build("pixelrnn", shape, cell="diagonal-bilstm", num_layers=1)
    dep = reached(bilstm, shape, i, j)
    assert not (dep & ~earlier).any()
    assert (earlier & ~dep).nonzero().tolist() == [[0, i - 1, 12]]
    row = build("pixelrnn", shape, cell="row-lstm", num_layers=1)
    dep = reached(row, shape, i, j)
    assert not (dep & ~earlier).any()
    # the right side slopes out by one column per row upwards (the 1x3 state-to-state)
    for up in (1, 2, 3):
        assert dep[0, i - up, j + 2 + up] and not dep[0, i - up, j + 3 + up]
    assert not dep[0, i, j - 5] and not dep[0, i - 1, j - 6]  # and so does the left side


@pytest.mark.parametrize("h,w", [(1, 1), (4, 4), (3, 7), (6, 2)])
def test_skew_then_unskew_is_the_identity(h, w):
    x = torch.randn(2, 3, h, w)
    s = skew(x)
    assert s.shape == (2, 3, h, w + h - 1)
    for i in range(h):  # row i moved right by i, zeros around it
        assert torch.equal(s[:, :, i, i : i + w], x[:, :, i])
        assert not s[:, :, i, :i].any() and not s[:, :, i, i + w :].any()
    assert torch.equal(unskew(s, w), x)


# -- PixelCNN++'s discretised logistic mixture --------------------------------------------


def test_discretized_logistic_sums_to_one_over_256_values_even_in_the_tails():
    values = torch.arange(256)[:, None]  # (256, 1)
    mean = torch.tensor([-1.0, 0.0, 0.3, 1.0, -3.0, 40.0, 0.5, 0.5, 0.5])[None]
    log_scale = torch.tensor([-7.0, -2.0, 0.0, -4.0, -1.0, 1.0, 7.0, -7.0, -5.2])[None]
    for dtype in (torch.float32, torch.float64):
        lp = discretized_logistic_log_prob(values, mean.to(dtype), log_scale.to(dtype))
        assert torch.isfinite(lp).all()  # no bin mass underflows to log 0
        total = torch.logsumexp(lp.double(), 0).exp()
        tol = 1e-5 if dtype == torch.float32 else 1e-12
        assert torch.allclose(total, torch.ones_like(total), atol=tol), total
    # a bin far out in the tail: finite and equal to the float64 value
    far32 = discretized_logistic_log_prob(
        torch.tensor(128), torch.tensor(-30.0), torch.tensor(-7.0)
    )
    far64 = discretized_logistic_log_prob(
        torch.tensor(128), torch.tensor(-30.0, dtype=torch.float64), torch.tensor(-7.0).double()
    )
    assert torch.isfinite(far32) and math.isclose(float(far32), float(far64), rel_tol=1e-5)


def test_pixelcnn_pp_probabilities_of_all_images_sum_to_one():
    """All 65536 images of 1 x 2 pixels. The network output depends only on the first pixel
    (causality, checked in test_causality.py), so it is computed for its 256 values and
    repeated; the likelihood code then scores every image."""
    model = build("pixelcnn++", (1, 1, 2))
    grid = torch.tensor(list(itertools.product(range(256), repeat=2)), dtype=torch.uint8)
    images = grid.view(-1, 1, 1, 2)  # (65536, 1, 1, 2), first pixel major
    with torch.no_grad():
        first = images[::256]  # (256, 1, 1, 2): every first-pixel value, second pixel 0
        out = model.logits(model.preprocess(first)).repeat_interleave(256, dim=0)
        logp = model.log_prob_from_output(out, images).double()  # (65536,)
        spot = torch.randint(0, 65536, (64,))
        assert torch.allclose(logp[spot], model.log_prob(images[spot]).double(), atol=1e-3)
    assert math.isclose(float(torch.logsumexp(logp, 0).exp()), 1.0, rel_tol=1e-4)
    assert logp.std() > 0.5  # far from uniform, so the check means something


def test_pixelcnn_pp_subpixel_conditionals_chain_to_the_pixel_likelihood():
    """log p(r, g, b) = log p(r) + log p(g | r) + log p(b | r, g), the sampler's conditionals
    each normalised: the sampler draws from the distribution that log_prob scores."""
    model = build("pixelcnn++", (3, 2, 3))
    images = torch.randint(0, 256, (4, 3, 2, 3), dtype=torch.uint8)
    with torch.no_grad():
        out = model.logits(model.preprocess(images))
        total = torch.zeros(4, dtype=torch.float64)
        for i, j, c in itertools.product(range(2), range(3), range(3)):
            lp = model.subpixel_log_probs(out[:, :, i, j], images[:, :, i, j].long(), c)
            assert torch.allclose(lp.exp().sum(1), torch.ones(4), atol=1e-5)
            total += lp.gather(1, images[:, c, i, j].long()[:, None]).squeeze(1).double()
        assert torch.allclose(total, model.log_prob(images).double(), rtol=1e-5)


# -- samplers ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["pixelcnn", "pixelrnn"])
def test_the_retired_window_sampler_is_refused_naming_the_two_left(name):
    """Retired on 2026-12-07 (issue #21): the cached sampler beat it in every measured case."""
    model = build(name, (1, 4, 4))
    assert model.resolve_sampler(None) == "cached"
    with pytest.raises(UserInputError, match="window sampler was retired") as e:
        model.sample(1, sampler="window")
    assert "cached" in str(e.value) and "naive" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(UserInputError, match="sampler"):
        model.sample(1, sampler="fast")


def test_sampling_turns_dropout_off():
    model = build("pixelcnn++", (1, 4, 4), dropout=0.5)
    model.train()
    a = model.sample(2, generator=torch.Generator().manual_seed(0), sampler="naive")
    assert model.training  # restored
    b = model.eval().sample(2, generator=torch.Generator().manual_seed(0), sampler="naive")
    assert torch.equal(a, b)


def test_config_errors_are_user_errors():
    with pytest.raises(UserInputError, match="divisible"):
        genzoo.create_model("gated-pixelcnn", image_shape=(3, 4, 4), hidden_channels=8)
    with pytest.raises(UserInputError, match="labelled"):
        genzoo.create_model("pixelrnn", conditional=True, **TINY["pixelrnn"])
    with pytest.raises(UserInputError, match="8bit"):
        genzoo.create_model("pixelcnn++", kind="binary", **TINY["pixelcnn++"])
    with pytest.raises(UserInputError, match="cell"):
        genzoo.create_model("pixelrnn", cell="gru", **TINY["pixelrnn"])


def test_cli_sampler_option(tmp_path, capsys):
    model = build("gated-pixelcnn", (1, 6, 6), conditional=True, num_classes=3)
    export_model(model, tmp_path / "m")
    files = {}
    for sampler in ("naive", "cached"):
        files[sampler] = tmp_path / f"{sampler}.png"
        argv = ["sample", str(tmp_path / "m"), "-n", "2", "--labels", "1", "--seed", "4"]
        assert main([*argv, "--sampler", sampler, "--out", str(files[sampler])]) == 0
    assert files["naive"].read_bytes() == files["cached"].read_bytes()
    capsys.readouterr()
    for given in (["--sampler", "window"], ["--sampler=window"]):  # retired: one line, status 2
        assert main(["sample", str(tmp_path / "m"), *given, "--out", str(tmp_path / "w.png")]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "window sampler was retired" in err
        assert "--sampler cached" in err and "--sampler naive" in err
    assert not (tmp_path / "w.png").exists()
    with pytest.raises(SystemExit):  # tyro refuses the unknown choice
        main(["sample", str(tmp_path / "m"), "--sampler", "slow"])
    capsys.readouterr()
