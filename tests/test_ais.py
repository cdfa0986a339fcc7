"""Annealed importance sampling against numerical integration on a 2-D latent space."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

import genzoo
from genzoo.errors import UserInputError
from genzoo.estimators.ais import ais_log_prob, sigmoid_schedule
from helpers import TINY, scramble


def exact_log_prob(vae, images: torch.Tensor, half_width: float = 7.0, points: int = 281):
    """log p(x) = log sum_z N(z; 0, I) p(x|z) dz on a dense 2-D grid (the integrand is
    smooth and negligible beyond 7 standard deviations)."""
    axis = torch.linspace(-half_width, half_width, points, dtype=torch.float64)
    dz = float(axis[1] - axis[0])
    z = torch.cartesian_prod(axis, axis)  # (G, 2)
    log_prior = -0.5 * z.square().sum(1) - math.log(2 * math.pi)  # (G,)
    out = []
    with torch.no_grad():
        for x in images:
            target = x[None].expand(len(z), -1, -1, -1)
            ll = vae._decoder_log_prob(target, vae.decoder_params(z.float())).double()
            out.append(torch.logsumexp(log_prior + ll, 0) + 2 * math.log(dz))
    return torch.stack(out)


@pytest.fixture(scope="module")
def vae():
    torch.manual_seed(0)
    model = genzoo.create_model("vae", image_shape=(1, 2, 2), kind="binary", **TINY["vae"])
    return scramble(model, scale=2.0, seed=1).eval()


def test_ais_matches_numerical_integration_and_beats_the_elbo(vae):
    images = torch.tensor(list(itertools.product([0, 1], repeat=4)), dtype=torch.uint8)
    images = images.view(16, 1, 2, 2)
    exact = exact_log_prob(vae, images)
    assert torch.logsumexp(exact, 0).exp().item() == pytest.approx(1.0, abs=1e-4)  # the grid
    g = torch.Generator().manual_seed(0)
    ais = vae.ais_log_prob(images, steps=300, chains=128, generator=g).double()
    # unbiased in p(x); the spread shrinks as 1/sqrt(chains) (0.07 with 16 chains here)
    assert (ais - exact).abs().max().item() < 0.04
    assert abs((ais - exact).mean().item()) < 0.01
    elbo = vae.bounds(images, k=1, generator=torch.Generator().manual_seed(0))["elbo"].double()
    assert (exact - elbo).mean() > 5 * (exact - ais).abs().mean()  # far tighter than the ELBO


def test_ais_with_one_step_is_importance_sampling_from_the_prior():
    """T = 1: the weight is p(x|z) with z ~ N(0, I), an unbiased estimate of p(x)."""
    g = torch.Generator().manual_seed(0)
    # a 1-D Gaussian "decoder": p(x|z) = N(x; z, 1), so p(x) = N(x; 0, 2)
    x = torch.tensor([0.3, -1.2])

    def log_likelihood(z):  # (chains * 2, 1) -> (chains * 2,)
        xr = x.repeat(len(z) // 2)
        return -0.5 * (xr - z[:, 0]).square() - 0.5 * math.log(2 * math.pi)

    est = ais_log_prob(log_likelihood, 2, 1, chains=20000, steps=1, generator=g)
    true = -0.25 * x.square() - 0.5 * math.log(4 * math.pi)
    torch.testing.assert_close(est, true, atol=0.02, rtol=0)
    many = ais_log_prob(log_likelihood, 2, 1, chains=64, steps=300, generator=g)
    torch.testing.assert_close(many, true, atol=0.02, rtol=0)


def test_schedule_and_bad_input(vae):
    b = sigmoid_schedule(10)
    assert b[0] == 0 and b[-1] == 1 and (b.diff() > 0).all()
    with pytest.raises(UserInputError):
        sigmoid_schedule(0)
    with pytest.raises(UserInputError):
        ais_log_prob(lambda z: z.sum(1), 1, 2, chains=0)
    two = genzoo.create_model(
        "vae", image_shape=(1, 2, 2), kind="binary", stochastic_layers=2, **TINY["vae"]
    )
    with pytest.raises(UserInputError, match="one stochastic layer"):
        two.ais_log_prob(torch.zeros(1, 1, 2, 2, dtype=torch.uint8), steps=2)


def test_nll_terms_offer_ais_on_request(vae):
    x = torch.zeros(3, 1, 2, 2, dtype=torch.uint8)
    assert set(vae.nll_terms(x, iwae_k=4)) == {"nll_elbo", "nll_iwae4"}
    terms = vae.nll_terms(x, iwae_k=4, ais_steps=20, ais_chains=4)
    assert terms["nll_ais20"].shape == (3,) and torch.isfinite(terms["nll_ais20"]).all()


def test_cli_eval_reports_an_ais_figure_for_a_vae(tmp_path, capsys):
    from genzoo.cli import main

    run = tmp_path / "vae"
    argv = ["train", "vae", "--data", "digits", "--model.latent-dim", "2", "--model.hidden", "16",
            "--train.steps", "3", "--train.no-progress", "--train.sample-every", "0",
            "--out", str(run)]  # fmt: skip
    assert main(argv) == 0
    args = [
        "eval",
        str(run),
        "--n",
        "8",
        "--iwae-k",
        "50",
        "--ais-steps",
        "30",
        "--ais-chains",
        "8",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "nll_ais30" in out
    import json

    stored = json.loads((run / "eval" / "test.json").read_text())
    assert stored["likelihood_settings"]["ais_steps"] == 30
    # the AIS figure is an upper bound on the NLL in expectation, close to IWAE-50's here
    ais, iwae = stored["nll_ais30"]["nats_per_image"], stored["nll_iwae50"]["nats_per_image"]
    assert abs(ais - iwae) < 0.05 * abs(iwae)
    assert main(["eval", str(run), "--ais-steps", "-1"]) == 2
