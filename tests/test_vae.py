"""The VAE family: the KL term, the bounds against exact likelihoods, beta, conditioning,
the latent views and the command line."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from PIL import Image

import genzoo
from genzoo.cli import main
from genzoo.errors import UserInputError
from genzoo.models.vae import (
    VAE,
    kl_standard_normal,
    normal_log_prob,
    standard_normal_log_prob,
)
from genzoo.nn.likelihoods import discretized_logistic_log_prob
from genzoo.viz import latent
from helpers import TINY, scramble

# ---------------------------------------------------------------------------------------
# Densities.


def test_analytic_kl_matches_monte_carlo_and_is_nonnegative():
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(6, 3, generator=g) * 1.5
    logvar = torch.randn(6, 3, generator=g)
    kl = kl_standard_normal(mu, logvar)  # (6,)
    # Monte Carlo: E_q[log q(z) - log p(z)] with 200k draws per row
    eps = torch.randn(200_000, 6, 3, generator=g, dtype=torch.float64)
    z = mu.double() + torch.exp(0.5 * logvar.double()) * eps
    terms = normal_log_prob(z, mu.double(), logvar.double()) - standard_normal_log_prob(z)
    mc, se = terms.mean(0), terms.std(0) / math.sqrt(terms.shape[0])
    assert ((kl.double() - mc).abs() < 4 * se + 1e-6).all(), (kl, mc, se)
    assert (kl > 0).all()
    assert kl_standard_normal(torch.zeros(2, 4), torch.zeros(2, 4)).abs().max() < 1e-7
    # the sign: the KL grows with |mu| and is positive for any variance other than 1
    assert kl_standard_normal(torch.tensor([[0.0]]), torch.tensor([[2.0]])) > 0
    assert kl_standard_normal(torch.tensor([[3.0]]), torch.zeros(1, 1)) == pytest.approx(4.5)


@pytest.mark.parametrize("log_scale", [-7.0, -4.0, -1.0, 1.0])
def test_discretized_logistic_is_a_distribution_over_256_values(log_scale):
    values = torch.arange(256)[:, None]  # (256, 1)
    loc = torch.tensor([[-1.3, -1.0, -0.2, 0.01, 0.5, 0.999, 1.7]])  # (1, 7)
    lp = discretized_logistic_log_prob(values, loc, torch.full_like(loc, log_scale))
    assert torch.isfinite(lp).all() and (lp <= 0).all()
    assert torch.allclose(lp.double().exp().sum(0), torch.ones(7, dtype=torch.float64), atol=1e-4)
    if log_scale > -4:
        return  # wide: the edge bins, which hold the tails, may be the most likely
    # a narrow logistic: the most likely value is the bin holding the location
    inside = loc.abs() <= 1
    mode = lp.argmax(0)
    expected = torch.round((loc + 1) * 127.5).clamp(0, 255).long()[0]
    assert (mode[inside[0]] == expected[inside[0]]).all()


# ---------------------------------------------------------------------------------------
# Bounds against exact likelihoods, on models small enough to integrate numerically.

GRID = torch.linspace(-9.0, 9.0, 6001, dtype=torch.float64)  # 1-D z quadrature


def exact_log_p(model: VAE, x: torch.Tensor) -> torch.Tensor:
    """log p(x) = log integral N(z; 0, 1) p(x|z) dz on a fine grid (latent_dim 1, one layer).

    The Gaussian decoder's discrete P(x|z) integrates its density over each pixel's cell
    [x/256, (x+1)/256) with the normal CDF (the quantity its bound is a bound on)."""
    z = GRID[:, None].float()  # (G, 1)
    with torch.no_grad():
        params = model.decoder_params(z)  # (G, C, K, H, W)
        rows = []
        for xi in x:
            if model.decoder_kind == "gaussian":
                loc = params[:, :, 0].double()
                std = params[:, :, 1].clamp(min=-7.0).exp().double()
                normal = torch.distributions.Normal(loc, std)
                xd = xi.double()
                cell = normal.cdf((xd + 1) / 256) - normal.cdf(xd / 256)
                rows.append(cell.clamp_min(1e-300).log().flatten(1).sum(1))
            else:
                target = xi.expand(len(z), *xi.shape).long()
                rows.append(model._decoder_log_prob(target, params).double())
        log_lik = torch.stack(rows)  # (N, G)
    log_prior = -0.5 * (math.log(2 * math.pi) + GRID**2)
    dz = float(GRID[1] - GRID[0])
    return torch.logsumexp(log_lik + log_prior, dim=1) + math.log(dz)


def fit_encoder(model: VAE, x: torch.Tensor, steps: int = 150) -> VAE:
    """A few Adam steps on the ELBO for the encoder only (the decoder, so p(x), stays)."""
    params = [p for n, p in model.named_parameters() if n.startswith("encoder")]
    opt = torch.optim.Adam(params, lr=1e-2)
    for _ in range(steps):
        opt.zero_grad()
        (-model.bounds(x, k=1)["elbo"].mean()).backward()
        opt.step()
    return model


def tiny_model(kind: str, shape: tuple, **config) -> VAE:
    torch.manual_seed(0)
    model = genzoo.create_model(
        "vae", image_shape=shape, kind=kind, latent_dim=1, hidden=16, hidden_layers=1, **config
    )
    return scramble(model, scale=2.0, seed=1)


def all_binary_images() -> torch.Tensor:
    bits = list(itertools.product([0, 1], repeat=4))
    return torch.tensor(bits, dtype=torch.uint8).view(16, 1, 2, 2)


def repeated_iwae(model: VAE, x: torch.Tensor, k: int, reps: int, seed: int) -> torch.Tensor:
    """(reps, N) independent IWAE-k estimates."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        return torch.stack([model.bounds(x, k=k, generator=g)["iwae"] for _ in range(reps)])


def test_elbo_below_iwae_below_exact_log_p_and_iwae_rises_to_it():
    """Burda et al. 2016, theorem 1: ELBO = IWAE_1 <= IWAE_k <= IWAE_m <= log p for k <= m,
    and IWAE_k -> log p(x); checked against log p(x) by quadrature on all 16 binary 2x2
    images of a 1-D latent model."""
    model = tiny_model("binary", (1, 2, 2))
    x = all_binary_images()
    log_p = exact_log_p(model, x)
    assert float(log_p.exp().sum()) == pytest.approx(1.0, abs=1e-4)  # p sums to one
    fit_encoder(model, x)
    log_p = exact_log_p(model, x)  # the decoder is unchanged; recompute anyway
    means, ses = [], []
    for k in (1, 10, 100, 1000):
        est = repeated_iwae(model, x, k, reps=30, seed=k).double()  # (30, 16)
        gap = (est - log_p).mean(1)  # (30,) mean over images of IWAE_k - log p
        means.append(float(gap.mean()))
        ses.append(float(gap.std() / math.sqrt(len(gap))))
    for a, b, sa, sb in zip(means, means[1:], ses, ses[1:], strict=False):
        assert a < b + 2 * (sa + sb), means  # rises with k (on average)
    assert means[0] < means[-1] - 0.02, means  # and really rises over this range
    assert all(m < 3 * s + 1e-3 for m, s in zip(means, ses, strict=True)), means  # <= log p
    with torch.no_grad():
        b = model.bounds(x, k=5000, generator=torch.Generator().manual_seed(0))
    assert (b["elbo"] <= b["iwae"] + 1e-5).all()  # per draw: mean <= log-mean-exp
    assert float((b["iwae"].double() - log_p).mean()) == pytest.approx(0.0, abs=0.01)
    assert float((b["elbo"].double() - log_p).mean()) < -0.02  # the ELBO has a real gap


@pytest.mark.parametrize("decoder", ["logistic", "categorical", "gaussian"])
def test_8bit_decoders_bound_the_exact_discrete_likelihood(decoder):
    """Discretised logistic, 256-way categorical and the dequantised Gaussian: every
    bound is below log P(x) of the discrete data, and IWAE_k rises towards it."""
    model = tiny_model("8bit", (1, 1, 2), decoder=decoder)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        x = model.sample(12, generator=g)  # likely images of this model
    fit_encoder(model, x, steps=100)
    log_p = exact_log_p(model, x)
    assert torch.isfinite(log_p).all() and (log_p < 0).all()
    gaps = {}
    for k in (1, 1000):
        est = repeated_iwae(model, x, k, reps=20, seed=k).double()
        gap = (est - log_p).mean(1)  # (reps,)
        gaps[k] = (float(gap.mean()), float(gap.std() / math.sqrt(len(gap))))
    (m1, s1), (mk, sk) = gaps[1], gaps[1000]
    assert m1 < 3 * s1 and mk < 3 * sk, gaps  # below log P(x)
    assert m1 < mk - 2 * (s1 + sk), gaps  # and rising with k


def test_two_stochastic_layers_bound_the_exact_likelihood():
    """x <- z1 <- z2 with 1-D z1 and z2: log p(x) by 2-D quadrature."""
    model = tiny_model("binary", (1, 2, 2), stochastic_layers=2, lower_latent_dim=1)
    scramble(model.prior1, scale=0.5, seed=2)  # p(z1|z2) wide enough for the grid
    x = all_binary_images()
    z1 = torch.linspace(-9.0, 9.0, 1201, dtype=torch.float64)
    z2 = torch.linspace(-7.0, 7.0, 401, dtype=torch.float64)
    with torch.no_grad():
        params = model.decoder_params(z1[:, None].float())
        log_lik = torch.stack(
            [model._decoder_log_prob(xi.expand(len(z1), 1, 2, 2).long(), params) for xi in x]
        ).double()  # (16, G1)
        pm, plv = model._p1(z2[:, None].float(), None)  # (G2, 1) each
        log_p1 = normal_log_prob(z1[None, :, None], pm.double()[:, None], plv.double()[:, None])
    log_p2 = -0.5 * (math.log(2 * math.pi) + z2**2)  # (G2,)
    joint = log_lik[:, None, :] + log_p1[None] + log_p2[None, :, None]  # (16, G2, G1)
    dz = float(z1[1] - z1[0]) * float(z2[1] - z2[0])
    log_p = torch.logsumexp(joint.flatten(1), dim=1) + math.log(dz)
    assert float(log_p.exp().sum()) == pytest.approx(1.0, abs=1e-3)
    fit_encoder(model, x)
    e1 = repeated_iwae(model, x, 1, reps=30, seed=1).double()
    e2 = repeated_iwae(model, x, 300, reps=30, seed=2).double()
    g1, g2 = (e1 - log_p).mean(1), (e2 - log_p).mean(1)
    s1, s2 = g1.std() / math.sqrt(30), g2.std() / math.sqrt(30)
    assert g1.mean() < 3 * s1 and g2.mean() < 3 * s2
    assert g1.mean() < g2.mean() - 2 * (s1 + s2)


def test_chunked_bounds_equal_the_direct_log_mean_exp(monkeypatch):
    """The k samples are drawn in chunks of at most max_rows decoder rows; the streamed
    logsumexp and mean equal the direct ones over the same log-weights."""
    model = genzoo.create_model("vae", image_shape=(1, 2, 2), kind="binary", **TINY["vae"])
    x = all_binary_images()[:5]
    k = 103
    log_w = torch.randn(k, 5, generator=torch.Generator().manual_seed(0)) * 30 - 10
    seen: list[int] = []

    def fake_terms(images, labels, s, generator=None):
        start = sum(seen)
        seen.append(s)
        return {"rec": log_w[start : start + s], "log_pz_qz": torch.zeros(s, 5)}

    model.max_rows = 5 * 7  # 7 samples of 5 images per chunk
    monkeypatch.setattr(model, "sample_terms", fake_terms)
    b = model.bounds(x, k=k)
    assert sum(seen) == k and max(seen) == 7 and len(seen) == math.ceil(k / 7)
    assert torch.allclose(b["iwae"], torch.logsumexp(log_w, 0) - math.log(k), atol=1e-5)
    assert torch.allclose(b["elbo"], log_w.mean(0), atol=1e-5)


# ---------------------------------------------------------------------------------------
# Objectives.


def test_beta_one_is_exactly_the_vae_loss_and_beta_weights_the_kl():
    """The ELBO written out with torch.distributions, on the same eps, equals the loss."""
    torch.manual_seed(0)
    vae = genzoo.create_model("vae", image_shape=(1, 4, 4), kind="binary", latent_dim=3, hidden=8)
    beta4 = genzoo.create_model(
        "vae", image_shape=(1, 4, 4), kind="binary", latent_dim=3, hidden=8, beta=4.0
    )
    beta4.load_state_dict(vae.state_dict())
    x = torch.randint(0, 2, (5, 1, 4, 4), dtype=torch.uint8)
    torch.manual_seed(1)
    out1 = vae.loss(x)
    torch.manual_seed(1)
    out4 = beta4.loss(x)
    # the reference, from the distributions themselves
    torch.manual_seed(1)
    mu, logvar = vae(x.float())
    std = torch.exp(0.5 * logvar)
    z = mu + std * torch.randn(mu.shape)
    logits = vae.decoder_params(z)[:, :, 0]
    rec = torch.distributions.Bernoulli(logits=logits).log_prob(x.float()).flatten(1).sum(1)
    q, p = torch.distributions.Normal(mu, std), torch.distributions.Normal(0.0, 1.0)
    kl = torch.distributions.kl_divergence(q, p).sum(1)
    d = 16
    assert torch.allclose(out1["loss"], -(rec - kl).mean() / d, rtol=1e-6, atol=1e-7)
    assert torch.allclose(out1["elbo_nats"], (rec - kl).mean(), rtol=1e-6)
    assert torch.allclose(out4["loss"], (-rec + 4.0 * kl).mean() / d, rtol=1e-6, atol=1e-7)
    assert out4["loss"] > out1["loss"]  # KL > 0, weighted 4x


def test_iwae_objective_is_the_k_sample_bound():
    torch.manual_seed(0)
    model = genzoo.create_model(
        "vae", image_shape=(1, 4, 4), kind="binary", objective="iwae", k=7, **TINY["vae"]
    )
    x = torch.randint(0, 2, (3, 1, 4, 4), dtype=torch.uint8)
    out = model.loss(x, None)
    out["loss"].backward()
    g = torch.Generator().manual_seed(5)
    direct = model.bounds(x, k=7, generator=torch.Generator().manual_seed(5))["iwae"]
    terms = model.sample_terms(x, None, 7, g)
    log_w = terms["rec"] + terms["log_pz_qz"]
    assert torch.allclose(direct, torch.logsumexp(log_w, 0) - math.log(7), atol=1e-5)
    assert "iwae7_nats" in out and torch.isfinite(out["loss"])
    with pytest.raises(UserInputError, match="objective elbo"):
        genzoo.create_model("vae", kind="binary", objective="iwae", beta=2.0)


@pytest.mark.parametrize(
    "architecture,decoder,shape,extra",
    [
        ("conv", "logistic", (1, 7, 5), {}),
        ("conv", "categorical", (3, 6, 6), {}),
        ("mlp", "gaussian", (3, 4, 4), {}),
        ("conv", "gaussian", (1, 8, 8), {"stochastic_layers": 2, "lower_latent_dim": 5}),
        ("conv", "logistic", (1, 6, 6), {"conditional": True, "stochastic_layers": 2}),
        ("mlp", "categorical", (1, 4, 4), {"conditional": True, "objective": "iwae", "k": 3}),
    ],
)
def test_architectures_and_decoders_train_sample_and_round_trip(
    architecture, decoder, shape, extra
):
    torch.manual_seed(0)
    model = genzoo.create_model(
        "vae",
        image_shape=shape,
        kind="8bit",
        num_classes=3,
        architecture=architecture,
        decoder=decoder,
        latent_dim=3,
        hidden=4,
        **extra,
    )
    x = torch.randint(0, 256, (4, *shape), dtype=torch.uint8)
    y = torch.tensor([0, 1, 2, 0]) if extra.get("conditional") else None
    out = model.loss(x, y)
    out["loss"].backward()
    assert torch.isfinite(out["loss"]) and out.get("kl_nats", 0.0) >= 0
    assert all(p.grad is not None for p in model.parameters())  # every network is used
    s = model.sample(3, labels=y[:3] if y is not None else None, generator=torch.Generator())
    assert s.shape == (3, *shape) and s.dtype == torch.uint8
    z = model.encode(x, y)
    assert z.shape == (4, 3)
    recon = model.decode(z, y)
    assert recon.shape == x.shape and recon.dtype == torch.uint8
    lp = model.log_prob(x, y, k=3)
    assert lp.shape == (4,) and torch.isfinite(lp).all()
    assert torch.equal(lp, model.log_prob(x, y, k=3))  # deterministic by default


def test_decoder_must_fit_the_data_kind():
    with pytest.raises(UserInputError, match="does not fit binary"):
        genzoo.create_model("vae", kind="binary", decoder="logistic")
    with pytest.raises(UserInputError, match="does not fit 8bit"):
        genzoo.create_model("vae", kind="8bit", decoder="bernoulli")
    with pytest.raises(UserInputError, match="labelled data"):
        genzoo.create_model("vae", kind="binary", conditional=True)


def test_nll_terms_name_their_estimators_and_pixelcnn_ignores_iwae_k():
    torch.manual_seed(0)
    model = genzoo.create_model("vae", image_shape=(1, 4, 4), kind="binary", **TINY["vae"])
    x = torch.randint(0, 2, (3, 1, 4, 4), dtype=torch.uint8)
    terms = model.nll_terms(x, None, iwae_k=7)
    assert set(terms) == {"nll_elbo", "nll_iwae7"}
    assert (terms["nll_iwae7"] <= terms["nll_elbo"] + 1e-5).all()
    pcnn = genzoo.create_model("pixelcnn", image_shape=(1, 4, 4), kind="binary", **TINY["pixelcnn"])
    assert set(pcnn.nll_terms(x, None, iwae_k=7)) == {"nll"}


# ---------------------------------------------------------------------------------------
# The conditional VAE follows its labels.


def quadrant_data(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Binary 4x4 images; class c in 0..3 lights quadrant c (5% of pixels flipped)."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 4, (n,), generator=g)
    images = torch.zeros(n, 1, 4, 4, dtype=torch.uint8)
    for c in range(4):
        r, q = divmod(c, 2)
        images[labels == c, :, 2 * r : 2 * r + 2, 2 * q : 2 * q + 2] = 1
    flips = torch.rand(images.shape, generator=g) < 0.05
    return images ^ flips.to(torch.uint8), labels


def classify_quadrant(images: torch.Tensor) -> torch.Tensor:
    """The brightest 2x2 quadrant of each image: (N, 1, 4, 4) -> (N,)."""
    quads = images.float().view(-1, 2, 2, 2, 2).sum((2, 4))  # (N, row half, col half)
    return quads.flatten(1).argmax(1)


def test_conditional_vae_samples_follow_their_labels(tmp_path):
    from genzoo.config import TrainConfig
    from genzoo.data.datasets import ImageDataset
    from genzoo.train.loop import fit

    images, labels = quadrant_data(512, seed=0)
    assert (classify_quadrant(images) == labels).float().mean() > 0.95  # the classifier works
    data = ImageDataset(
        images, labels, name="quadrants", kind="binary", num_classes=4, binarize="fixed"
    )
    torch.manual_seed(0)
    model = genzoo.create_model(
        "vae", image_shape=(1, 4, 4), kind="binary", num_classes=4, conditional=True,
        latent_dim=2, hidden=32, hidden_layers=1,
    )  # fmt: skip
    cfg = TrainConfig(
        steps=300, batch_size=64, lr=1e-2, sample_every=0, progress=False,
        accelerator="cpu", log_every=100, checkpoint_every=10**6,
    )  # fmt: skip
    fit(model, data, tmp_path / "run", cfg)
    model.eval()
    want = torch.arange(4).repeat_interleave(50)
    x = model.sample(200, labels=want, generator=torch.Generator().manual_seed(0))
    accuracy = (classify_quadrant(x) == want).float().mean()
    assert accuracy > 0.9, accuracy
    with pytest.raises(UserInputError, match="class-conditional"):
        model.sample(4)


# ---------------------------------------------------------------------------------------
# The latent interface and the views.


def test_latent_interface_and_views():
    torch.manual_seed(0)
    vae = genzoo.create_model("vae", image_shape=(1, 4, 4), kind="8bit", **TINY["vae"]).eval()
    pcnn = genzoo.create_model("pixelcnn", image_shape=(1, 4, 4), **TINY["pixelcnn"])
    assert vae.has_latent and vae.has_encoder and not pcnn.has_latent
    with pytest.raises(UserInputError, match="genzoo sample"):
        latent.manifold(pcnn)
    assert latent.manifold(vae, n=5).shape == (25, 1, 4, 4)
    codes = latent.manifold_codes(5)
    assert torch.allclose(codes[12], torch.zeros(2), atol=1e-6)  # the centre is z = 0
    assert codes[0, 0] < 0 < codes[0, 1]  # top-left: z0 low, z1 high
    assert float(codes[4, 0]) == pytest.approx(1.6449, abs=1e-3)  # ndtri(0.95)
    wide = genzoo.create_model("vae", image_shape=(1, 4, 4), latent_dim=3, hidden=4)
    with pytest.raises(UserInputError, match="latent-dim 2"):
        latent.manifold(wide)
    za, zb = torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 0.0])
    path = latent.interpolate_codes(za, zb, 5, "spherical")
    assert torch.allclose(path.norm(dim=1), torch.ones(5), atol=1e-6)  # on the great circle
    assert torch.allclose(path[0], za) and torch.allclose(path[-1], zb, atol=1e-6)
    lin = latent.interpolate_codes(za, zb, 5, "linear")
    assert torch.allclose(lin[2], (za + zb) / 2)
    x = torch.randint(0, 256, (2, 1, 4, 4), dtype=torch.uint8)
    ends = latent.interpolate(vae, x, steps=4)
    assert torch.equal(ends[[0, -1]], latent.reconstruct(vae, x))
    points, axes = latent.project_2d(torch.randn(50, 5))
    assert points.shape == (50, 2) and "principal" in axes


# ---------------------------------------------------------------------------------------
# The command line.

TINY_ARGS = [
    "--data", "digits", "--model.latent-dim", "2", "--model.hidden", "16",
    "--train.steps", "20", "--train.batch-size", "32", "--train.sample-every", "0",
    "--train.log-every", "10", "--train.no-progress", "--train.accelerator", "cpu",
]  # fmt: skip


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("vae-cli") / "run"
    assert main(["train", "vae", *TINY_ARGS, "--out", str(out)]) == 0
    return out


def png_size(path) -> tuple[int, int]:
    with Image.open(path) as img:
        img.verify()  # a complete, valid PNG
    with Image.open(path) as img:
        return img.size


def test_cli_views_write_valid_pngs(vae_run, tmp_path, capsys):
    run = str(vae_run)
    m, lat = tmp_path / "m.png", tmp_path / "l.png"
    i, r = tmp_path / "i.png", tmp_path / "r.png"
    assert main(["viz", "manifold", run, "-n", "5", "--scale", "1", "--out", str(m)]) == 0
    assert png_size(m) == (5 * 10 + 2, 5 * 10 + 2)  # 8x8 digits, 2 px padding
    assert main(["viz", "latents", run, "-n", "200", "--out", str(lat)]) == 0
    assert png_size(lat) == (600, 600)
    argv = ["viz", "interpolate", run, "--between", "test:3,test:17", "--steps", "6"]
    assert main([*argv, "--scale", "1", "--out", str(i)]) == 0
    assert png_size(i) == (6 * 10 + 2, 2 * 10 + 2)  # linear row, spherical row
    assert (
        main(["viz", "reconstruct", run, "--images", "test:0-3", "--scale", "1", "--out", str(r)])
        == 0
    )
    assert png_size(r) == (4 * 10 + 2, 2 * 10 + 2)  # inputs above reconstructions
    capsys.readouterr()
    assert main(["viz", "manifold", run, "--out", str(m)]) == 2  # exists: needs --force
    assert "--force" in capsys.readouterr().err
    assert main(["viz", "manifold", run, "-n", "3", "--out", str(m), "--force"]) == 0


def test_cli_eval_reports_elbo_and_iwae_k(vae_run, capsys):
    argv = ["eval", str(vae_run), "--n", "40", "--iwae-k", "20"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "upper bound" in out
    lines = {line.split(":")[0].strip(): line for line in out.splitlines()}
    assert "nats/image" in lines["nll_elbo"] and "bits/dim" in lines["nll_elbo"]
    assert "nats/image" in lines["nll_iwae20"]
    elbo = float(lines["nll_elbo"].split(":")[1].split()[0])
    iwae = float(lines["nll_iwae20"].split(":")[1].split()[0])
    assert iwae <= elbo


def test_cli_takes_the_iwae_objective(capsys):
    argv = ["train", "vae", "--model.objective", "iwae", "--model.k", "50", "--print-config"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert 'objective = "iwae"' in out and "k = 50" in out


def test_cli_latent_view_of_a_model_without_latents_is_one_line(tmp_path, capsys):
    from genzoo.train.checkpoint import export_model

    pcnn = genzoo.create_model("pixelcnn", image_shape=(1, 8, 8), **TINY["pixelcnn"])
    export_model(pcnn, tmp_path / "pcnn")
    assert (
        main(["viz", "reconstruct", str(tmp_path / "pcnn"), "--out", str(tmp_path / "x.png")]) == 2
    )
    err = capsys.readouterr().err.strip()
    assert err.startswith("genzoo: error:") and "genzoo sample" in err and "\n" not in err
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16], ids=str)
@pytest.mark.parametrize(
    "settings",
    [
        {"decoder": "logistic"},
        {"decoder": "categorical"},
        {"decoder": "gaussian"},
        {"decoder": "logistic", "architecture": "conv", "stochastic_layers": 2},
    ],
    ids=lambda s: "-".join(map(str, s.values())),
)
def test_every_decoder_follows_the_parameters_dtype(settings, dtype):
    torch.manual_seed(0)
    model = genzoo.create_model("vae", image_shape=(1, 4, 4), **{**TINY["vae"], **settings})
    model = model.to(dtype)
    x = torch.randint(0, 256, (3, 1, 4, 4), dtype=torch.uint8)
    out = model.loss(x)
    assert out["loss"].dtype == dtype and torch.isfinite(out["loss"])
    out["loss"].backward()
    terms = model.nll_terms(x, generator=torch.Generator().manual_seed(0), iwae_k=2)
    assert all(torch.isfinite(v).all() for v in terms.values())
    assert model.sample(2, generator=torch.Generator().manual_seed(0)).shape == (2, 1, 4, 4)
    assert model.decode(model.encode(x)).dtype == torch.uint8


def test_ais_draws_from_the_generator_of_nll_terms():
    torch.manual_seed(0)
    model = genzoo.create_model("vae", image_shape=(1, 4, 4), kind="binary", **TINY["vae"])
    x = torch.randint(0, 2, (2, 1, 4, 4), dtype=torch.uint8)
    state = torch.get_rng_state()
    runs = [
        model.nll_terms(x, generator=torch.Generator().manual_seed(1), iwae_k=2, ais_steps=3)
        for _ in range(2)
    ]
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(runs[0]["nll_ais3"], runs[1]["nll_ais3"])
    other = model.nll_terms(x, generator=torch.Generator().manual_seed(2), iwae_k=2, ais_steps=3)
    assert not torch.equal(runs[0]["nll_ais3"], other["nll_ais3"])


def test_discretized_logistic_gradient_stays_finite_for_any_log_scale():
    """A network whose log-scale drifts far up (the 8-bit GSN did, at step 965) gets a
    finite gradient: the log-scale is clamped to PixelCNN++'s [-7, 7], and the clamped
    law is the one both log_prob and the sampler use."""
    for log_scale in (7.0, 30.0, 120.0, -50.0):
        ls = torch.tensor([log_scale], requires_grad=True)
        loc = torch.tensor([0.1], requires_grad=True)
        values = torch.tensor([0, 100, 255])
        discretized_logistic_log_prob(values, loc.expand(3), ls.expand(3)).sum().backward()
        assert torch.isfinite(ls.grad).all() and torch.isfinite(loc.grad).all(), log_scale
