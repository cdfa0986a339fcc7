"""The GAN: losses against their formulas, the minimax theorem, WGAN-GP and R1 against
finite differences, player isolation, mode coverage on 8 gaussians, the command line."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from PIL import Image
from torch import nn

import genzoo
from genzoo.cli import main
from genzoo.config import TrainConfig
from genzoo.errors import NoDensityError, NonFiniteLossError, UserInputError
from genzoo.losses import gan as losses
from genzoo.models.base import StepContext
from genzoo.nn.gan_nets import dcgan_stages
from genzoo.train.loop import fit
from genzoo.viz import prior

REAL = torch.tensor([2.0, -1.0, 0.5, 0.0, 3.0], dtype=torch.float64)
FAKE = torch.tensor([-2.5, 1.5, 0.2, -0.3], dtype=torch.float64)


def _gan(shape=(1, 8, 8), kind="8bit", num_classes=None, **config):
    torch.manual_seed(0)
    config = {"latent_dim": 4, "width": 4, "hidden_layers": 1, **config}
    return genzoo.create_model(
        "gan", image_shape=shape, kind=kind, num_classes=num_classes, **config
    )


# -- losses --------------------------------------------------------------------------------


def test_each_loss_equals_its_formula_on_fixed_logits():
    r, f = REAL, FAKE
    d_real, d_fake = torch.sigmoid(r), torch.sigmoid(f)
    minimax_d = -(torch.log(d_real).mean() + torch.log(1 - d_fake).mean())
    expected = {  # name: (D loss, G loss), written from the papers' formulas
        "minimax": (minimax_d, torch.log(1 - d_fake).mean()),
        "non-saturating": (minimax_d, -torch.log(d_fake).mean()),
        "wgan": (f.mean() - r.mean(), -f.mean()),
        "wgan-gp": (f.mean() - r.mean(), -f.mean()),
        "lsgan": (0.5 * ((r - 1) ** 2).mean() + 0.5 * (f**2).mean(), 0.5 * ((f - 1) ** 2).mean()),
        "hinge": (
            torch.clamp(1 - r, min=0).mean() + torch.clamp(1 + f, min=0).mean(),
            -f.mean(),
        ),
    }
    assert set(expected) == set(losses.LOSSES)
    for name, (d_loss, g_loss) in expected.items():
        torch.testing.assert_close(losses.discriminator_loss(name, r, f), d_loss, msg=name)
        torch.testing.assert_close(losses.generator_loss(name, f), g_loss, msg=name)
    big = torch.tensor([80.0], dtype=torch.float64)  # softplus keeps the logs finite
    assert torch.isfinite(losses.discriminator_loss("minimax", -big, big))
    with pytest.raises(UserInputError, match="choose one of"):
        losses.discriminator_loss("wasserstein", r, f)


def test_minimax_value_at_the_optimal_d_is_minus_log4_plus_2_jsd():
    # Discrete p_data and p_g on 4 atoms; expectations as means over repeated atoms.
    data_counts, g_counts = [1, 4, 3, 2], [1, 1, 1, 1]  # p_data = c / 10, p_g = 1/4
    p_data = torch.tensor(data_counts, dtype=torch.float64) / sum(data_counts)
    p_g = torch.tensor(g_counts, dtype=torch.float64) / sum(g_counts)
    # D*(x) = p_data / (p_data + p_g), i.e. logit log p_data - log p_g
    atom_logits = p_data.log() - p_g.log()
    real = atom_logits.repeat_interleave(torch.tensor(data_counts))
    fake = atom_logits.repeat_interleave(torch.tensor(g_counts))
    value = -losses.discriminator_loss("minimax", real, fake)  # V(D*, G)
    m = 0.5 * (p_data + p_g)
    jsd = 0.5 * (p_data * (p_data / m).log()).sum() + 0.5 * (p_g * (p_g / m).log()).sum()
    torch.testing.assert_close(value, -math.log(4.0) + 2 * jsd)
    # D* maximises V: any other D scores lower
    for delta in (torch.full((4,), 0.3), torch.tensor([0.5, -0.2, 0.1, -0.4])):
        worse = -losses.discriminator_loss(
            "minimax",
            (atom_logits + delta).repeat_interleave(torch.tensor(data_counts)),
            (atom_logits + delta).repeat_interleave(torch.tensor(g_counts)),
        )
        assert worse < value
    # p_g = p_data: V = -log 4 (JSD 0), D* = 1/2 everywhere
    half = torch.zeros(7, dtype=torch.float64)
    torch.testing.assert_close(
        -losses.discriminator_loss("minimax", half, half),
        torch.tensor(-math.log(4.0), dtype=torch.float64),
    )


def _critic():
    torch.manual_seed(1)
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 16), nn.Tanh(), nn.Linear(16, 1)).double()


def _fd_grad_norms(f, x, h=1e-6):
    """Central finite-difference gradient norms of a scalar f per sample: (N, ...) -> (N,)."""
    norms = []
    for i in range(x.shape[0]):
        xi = x[i : i + 1].detach().clone()
        g = torch.zeros(xi.numel(), dtype=x.dtype)
        flat = xi.view(-1)
        for k in range(flat.numel()):
            up, down = xi.clone(), xi.clone()
            up.view(-1)[k] += h
            down.view(-1)[k] -= h
            g[k] = (f(up).sum() - f(down).sum()) / (2 * h)
        norms.append(g.norm())
    return torch.stack(norms)


def test_wgan_gp_draws_one_coefficient_per_sample_and_matches_finite_differences():
    critic = _critic()
    real = torch.randn(5, 3, 2, 2, dtype=torch.float64)
    fake = torch.randn(5, 3, 2, 2, dtype=torch.float64)
    seen = []

    def recording(x):
        seen.append(x.detach().clone())
        return critic(x).squeeze(1)

    penalty = losses.gradient_penalty(
        recording, real, fake, generator=torch.Generator().manual_seed(7)
    )
    x_hat = seen[0]
    eps = (x_hat - fake) / (real - fake)  # (5, 3, 2, 2): the coefficient of every entry
    per_sample = eps.flatten(1)
    assert torch.allclose(per_sample, per_sample[:, :1].expand_as(per_sample))  # one per sample
    assert per_sample[:, 0].unique().numel() == 5  # and a different one for each sample
    drawn = torch.rand(
        (5, 1, 1, 1), generator=torch.Generator().manual_seed(7), dtype=torch.float64
    )
    torch.testing.assert_close(per_sample[:, 0], drawn.view(-1))
    norms = _fd_grad_norms(lambda v: critic(v), x_hat)
    torch.testing.assert_close(penalty, ((norms - 1) ** 2).mean(), rtol=1e-6, atol=1e-8)
    penalty.backward()  # create_graph: the penalty trains the critic
    assert all(float(critic[k].weight.grad.abs().sum()) > 0 for k in (1, 3))


def test_r1_penalty_matches_finite_differences():
    critic = _critic()
    real = torch.randn(4, 3, 2, 2, dtype=torch.float64).requires_grad_(True)
    r1 = losses.r1_penalty(critic(real).squeeze(1), real)
    norms = _fd_grad_norms(lambda v: critic(v), real)
    torch.testing.assert_close(r1, (norms**2).mean(), rtol=1e-6, atol=1e-8)


def test_wgan_gp_critic_scores_each_sample_alone():
    # A per-sample penalty needs a critic without batch coupling (no batch norm).
    model = _gan(loss="wgan-gp").train()
    assert model.d_norm == "layer"
    x = torch.randn(4, 1, 8, 8, requires_grad=True)
    model.critic(x)[0].backward()
    assert x.grad[1:].abs().sum() == 0 and x.grad[0].abs().sum() > 0


def test_weight_clipping_and_spectral_norm():
    model = _gan(loss="wgan", clip_value=0.01)
    losses.clip_weights_(model.discriminator, 0.01)
    assert all(p.abs().max() <= 0.01 for p in model.discriminator.parameters())
    sn = _gan(spectral_norm=True, width=8).train()
    assert sn.d_norm == "none"
    for _ in range(30):  # power iterations run on training forward passes
        sn.critic(torch.randn(2, 1, 8, 8))
    conv = sn.discriminator.body.net[0]
    sigma = torch.linalg.matrix_norm(conv.weight.detach().flatten(1), ord=2)
    assert abs(float(sigma) - 1.0) < 0.05


# -- the players are isolated --------------------------------------------------------------


def _params(module):
    return {k: v.detach().clone() for k, v in module.named_parameters()}


@pytest.mark.parametrize("loss", ["non-saturating", "wgan", "wgan-gp", "hinge"])
def test_a_g_step_leaves_d_unchanged_and_a_d_step_leaves_g_unchanged(loss):
    model = _gan(loss=loss, r1=1.0 if loss == "hinge" else 0.0).train()
    optimizers = model.configure_optimizers(TrainConfig(lr=1e-2))
    players = {"discriminator": model.discriminator, "generator": model.generator}
    calls = []

    def optimize(name, value):  # the loop's optimize, checking isolation around each step
        before = {k: _params(m) for k, m in players.items()}
        other = next(k for k in players if k != name)
        other_grads = [
            None if p.grad is None else p.grad.clone() for p in players[other].parameters()
        ]
        optimizers[name].zero_grad(set_to_none=True)
        value.backward()
        optimizers[name].step()
        after = {k: _params(m) for k, m in players.items()}
        for k, v in before[other].items():
            assert torch.equal(v, after[other][k]), f"{name} step changed {other}.{k}"
        assert any(not torch.equal(v, after[name][k]) for k, v in before[name].items())
        for p, g in zip(players[other].parameters(), other_grads, strict=True):
            same = (p.grad is None and g is None) or torch.equal(p.grad, g)
            assert same, f"{name} step computed gradients of {other}"
        calls.append(name)

    images = torch.randint(0, 256, (6, 1, 8, 8), dtype=torch.uint8)
    for step in range(2):
        ctx = StepContext(model=model, optimizers=optimizers, step=step, optimize=optimize)
        logs = model.training_step(images, None, ctx)
    assert calls == ["discriminator", "generator"] * 2
    assert {"d_loss", "g_loss", "d_acc_real", "d_acc_fake"} <= set(logs)


@pytest.mark.parametrize("reuse", [True, False])
def test_g_step_reuses_the_d_steps_samples_as_dcgans_reference_code(reuse):
    model = _gan(reuse_fakes=reuse).train()
    ref = copy.deepcopy(model)
    train = TrainConfig(lr=1e-2)
    opts, ref_opts = model.configure_optimizers(train), ref.configure_optimizers(train)
    g_forwards = []
    model.generator.register_forward_hook(lambda *_: g_forwards.append(1))

    def optimize(name, value):
        opts[name].zero_grad(set_to_none=True)
        value.backward()
        opts[name].step()

    images = torch.randint(0, 256, (6, 1, 8, 8), dtype=torch.uint8)
    torch.manual_seed(1)
    model.training_step(images, None, StepContext(model, opts, 0, optimize))

    # pytorch/examples' DCGAN step by hand: G's step reuses fake, with D just updated
    torch.manual_seed(1)
    fake = ref(torch.randn(6, 4))  # (6, 1, 8, 8), with its graph into G
    x = ref.to_model_space(images)
    d_loss = losses.discriminator_loss("non-saturating", ref.critic(x), ref.critic(fake.detach()))
    ref_opts["discriminator"].zero_grad(set_to_none=True)
    d_loss.backward()
    ref_opts["discriminator"].step()
    g_loss = losses.generator_loss("non-saturating", ref.critic(fake))
    ref_opts["generator"].zero_grad(set_to_none=True)
    g_loss.backward()
    ref_opts["generator"].step()

    def same(a, b):
        return all(torch.allclose(p, q, atol=1e-6) for p, q in zip(a, b, strict=True))

    assert same(model.discriminator.parameters(), ref.discriminator.parameters())
    assert same(model.generator.parameters(), ref.generator.parameters()) == reuse
    assert len(g_forwards) == (1 if reuse else 2)
    with pytest.raises(ValueError, match="graph into G"):
        model.generator_loss(6, fakes=fake.detach())


def test_ddp_on_two_cpu_processes_draws_fresh_samples_for_g_and_trains(tmp_path):
    """With reuse_fakes on, a 2-process DDP run would free G's kept graph in D's backward
    (DDP joins a forward's outputs into one backward node); G's step draws fresh samples."""
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "genzoo.cli", "train", "gan", "--data", "digits",
           "--model.width", "8", "--model.latent-dim", "8", "--train.steps", "4",
           "--train.batch-size", "16", "--train.no-progress", "--train.accelerator", "cpu",
           "--train.sample-every", "0", "--train.devices", "2", "--train.strategy",
           "ddp_find_unused_parameters_true", "--out", str(tmp_path / "r")]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "r" / "model" / "model.safetensors").is_file()


def test_n_critic_through_the_loop_updates_g_every_nth_step(tmp_path):
    ds = genzoo.data.load_dataset("toy2d:8gaussians", "train[:256]")
    model = _gan(shape=(2,), kind="points", num_classes=8, n_critic=3)
    g0, d0 = _params(model.generator), _params(model.discriminator)
    cfg = TrainConfig(steps=2, batch_size=32, progress=False, sample_every=0, log_every=1)
    fit(model, ds, tmp_path / "a", cfg)
    assert all(torch.equal(v, _params(model.generator)[k]) for k, v in g0.items())
    assert any(not torch.equal(v, _params(model.discriminator)[k]) for k, v in d0.items())
    fit(model, ds, tmp_path / "a", TrainConfig(**{**cfg.__dict__, "steps": 3}), resume=True)
    assert any(not torch.equal(v, _params(model.generator)[k]) for k, v in g0.items())
    rows = (tmp_path / "a" / "logs" / "metrics.csv").read_text()
    assert "3,g_loss," in rows and "2,g_loss," not in rows
    assert "grad_norm/generator" in rows and "grad_norm/discriminator" in rows


def test_nan_losses_stop_training_with_a_clear_error(tmp_path):
    ds = genzoo.data.load_dataset("toy2d:8gaussians", "train[:256]")
    model = _gan(shape=(2,), kind="points")
    with torch.no_grad():
        model.discriminator.head.bias.fill_(float("nan"))
    cfg = TrainConfig(steps=2, batch_size=32, progress=False, sample_every=0)
    with pytest.raises(NonFiniteLossError, match="loss became nan"):
        fit(model, ds, tmp_path / "nan", cfg)


# -- networks, sampling, the contract ------------------------------------------------------


@pytest.mark.parametrize("size,stages", [(28, 2), (32, 3), (64, 4), (8, 1), (6, 1), (5, 0)])
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_networks_for_28_32_64_pixels_grey_and_colour(size, stages, channels):
    assert dcgan_stages(size, size) == stages
    model = _gan(shape=(channels, size, size), latent_dim=8, width=4).eval()
    x = model.sample(2, generator=torch.Generator().manual_seed(0))
    assert x.shape == (2, channels, size, size) and x.dtype == torch.uint8
    assert model.critic(model.to_model_space(x)).shape == (2,)


def test_binary_data_and_points_are_sampled_in_data_space():
    binary = _gan(kind="binary").eval()
    x = binary.sample(5)
    assert x.dtype == torch.uint8 and set(x.unique().tolist()) <= {0, 1}
    points = _gan(shape=(2,), kind="points").eval()
    assert points.architecture == "mlp"
    y = points.sample(5)
    assert y.dtype == torch.float32 and y.shape == (5, 2)


def test_log_prob_says_a_gan_defines_no_density():
    model = _gan()
    with pytest.raises(NoDensityError, match=r"defines no density.*sample-based metrics"):
        model.log_prob(torch.zeros(2, 1, 8, 8, dtype=torch.uint8))
    with pytest.raises(UserInputError, match="no encoder"):
        model.encode(torch.zeros(2, 1, 8, 8, dtype=torch.uint8))


def test_latents_are_prefix_stable_and_truncation_bounds_them():
    model = _gan(latent_dim=16)
    z5 = model.latents(5, generator=torch.Generator().manual_seed(3))
    z300 = model.latents(300, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(z5, z300[:5], rtol=0, atol=0)
    zt = model.latents(400, generator=torch.Generator().manual_seed(3), truncation=0.5)
    assert zt.abs().max() <= 0.5
    assert float(zt.std()) < float(z300.std())
    with pytest.raises(UserInputError, match="truncation"):
        model.latents(3, truncation=0.0)


def test_conditional_gan_samples_need_labels_and_config_errors_are_one_line():
    model = _gan(num_classes=10, conditional=True, conditioning="concat").eval()
    assert model.sample(4, labels=torch.tensor([0, 1, 2, 3])).shape == (4, 1, 8, 8)
    with pytest.raises(UserInputError, match="class-conditional"):
        model.sample(4)
    with pytest.raises(UserInputError, match="labelled data"):
        _gan(conditional=True)
    with pytest.raises(UserInputError, match="dcgan networks take images"):
        _gan(shape=(2,), kind="points", architecture="dcgan")
    with pytest.raises(UserInputError, match="n-critic"):
        _gan(n_critic=0)


def test_arithmetic_decodes_the_mean_codes_of_seeded_samples():
    model = _gan(latent_dim=6).eval()
    grid, cols = prior.arithmetic(model, [1, 5, 9], [2, 7], [4, 8], seed=3)
    assert cols == 4 and grid.shape == (16, 1, 8, 8) and grid.dtype == torch.uint8
    z = prior.latent_codes(model, 10, seed=3)
    result = z[[1, 5, 9]].mean(0) - z[[2, 7]].mean(0) + z[[4, 8]].mean(0)
    assert torch.equal(grid[-1], model.decode(result[None])[0])
    # sample i of a seeded draw is index i of the views
    samples = model.sample(10, generator=torch.Generator().manual_seed(3))
    assert torch.equal(grid[0], samples[1]) and torch.equal(grid[4], samples[2])


# -- toy 2-D: mode coverage ----------------------------------------------------------------


def _mode_stats(samples, centers, labels=None):
    dist, nearest = torch.cdist(samples, centers).min(1)
    near = dist < 0.25  # 5 standard deviations of a component
    counts = torch.bincount(nearest[near], minlength=len(centers))
    covered = int((counts >= 0.2 * len(samples) / len(centers)).sum())
    agree = None if labels is None else float((nearest == labels).float().mean())
    return covered, float(near.float().mean()), agree


def _train_toy(tmp_path, steps, **config):
    torch.set_num_threads(1)  # tiny matrices: threads only contend on a shared machine
    ds = genzoo.data.load_dataset("toy2d:8gaussians", "train")
    model = _gan(
        shape=(2,), kind="points", num_classes=8, latent_dim=8, width=64, hidden_layers=3, **config
    )
    cfg = TrainConfig(
        steps=steps, batch_size=256, lr=1e-3, progress=False, sample_every=steps,
        log_every=100, checkpoint_every=10**6,
    )  # fmt: skip
    fit(model, ds, tmp_path / "toy", cfg)
    assert Image.open(tmp_path / "toy" / "samples" / f"step_{steps:07d}.png").format == "PNG"
    return genzoo.load(tmp_path / "toy"), ds.distribution.centers.float()


def test_toy_8_gaussians_short_run_covers_the_modes(tmp_path):
    model, centers = _train_toy(tmp_path, 1500, r1=0.1)
    samples = model.sample(2000, generator=torch.Generator().manual_seed(1))
    covered, near, _ = _mode_stats(samples, centers)
    assert covered >= 7 and near > 0.5, (covered, near)


def test_conditional_gan_puts_each_label_at_its_own_mode(tmp_path):
    model, centers = _train_toy(tmp_path, 600, r1=0.1, conditional=True)
    labels = torch.arange(800) % 8
    samples = model.sample(800, labels=labels, generator=torch.Generator().manual_seed(1))
    covered, near, agree = _mode_stats(samples, centers, labels)
    assert covered == 8 and agree > 0.9 and near > 0.5, (covered, near, agree)


# -- the command line ----------------------------------------------------------------------

TINY_ARGS = [
    "--model.latent-dim", "2", "--model.width", "4",
    "--train.steps", "4", "--train.batch-size", "16", "--train.sample-every", "4",
    "--train.num-samples", "4", "--train.log-every", "2", "--train.checkpoint-every", "4",
    "--train.no-progress", "--train.accelerator", "cpu",
]  # fmt: skip


@pytest.fixture(scope="module")
def gan_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gan") / "run"
    argv = ["train", "gan", "--data", "digits", "--model.loss", "hinge", *TINY_ARGS]
    assert main([*argv, "--out", str(out)]) == 0
    return out


def _png(path):
    with Image.open(path) as im:
        im.verify()
        return im.size


def test_cli_eval_says_there_is_no_likelihood_and_exits_2(gan_run, capsys):
    assert main(["eval", str(gan_run), "--split", "test"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "defines no density" in err and "FID" in err


def test_cli_sample_and_views_write_valid_pngs(gan_run, tmp_path, capsys):
    run = str(gan_run)
    assert (gan_run / "samples" / "step_0000004.png").is_file()
    s = tmp_path / "s.png"
    assert main(["sample", run, "-n", "6", "--truncation", "0.7", "--out", str(s)]) == 0
    _png(s)
    i = tmp_path / "i.png"
    assert main(["viz", "interpolate", run, "--steps", "5", "--scale", "1", "--out", str(i)]) == 0
    assert _png(i) == (5 * 10 + 2, 2 * 10 + 2)  # linear and spherical rows
    a = tmp_path / "a.png"
    argv = ["viz", "arithmetic", run, "--a", "1,5,9", "--b", "2,7", "--c", "4,8", "--seed", "2"]
    assert main([*argv, "--scale", "1", "--out", str(a)]) == 0
    assert _png(a) == (4 * 10 + 2, 4 * 10 + 2)
    m = tmp_path / "m.png"
    assert main(["viz", "manifold", run, "-n", "3", "--out", str(m)]) == 0
    _png(m)
    capsys.readouterr()
    assert main(["viz", "reconstruct", run, "--out", str(tmp_path / "r.png")]) == 2
    assert "no encoder" in capsys.readouterr().err
    assert main(["sample", run, "--sampler", "naive", "--out", str(tmp_path / "x.png")]) == 2
    assert "does not apply" in capsys.readouterr().err


def test_cli_toy_run_writes_scatters_and_refuses_eval(tmp_path, capsys):
    torch.set_num_threads(1)
    out = tmp_path / "toy"
    argv = ["train", "gan", "--data", "toy2d:8gaussians", *TINY_ARGS, "--out", str(out)]
    assert main(argv) == 0
    _png(out / "samples" / "step_0000004.png")
    assert main(["sample", str(out), "-n", "200", "--out", str(tmp_path / "t.png")]) == 0
    _png(tmp_path / "t.png")
    capsys.readouterr()
    assert main(["eval", str(out)]) == 2
    assert "defines no density" in capsys.readouterr().err
    assert main(["viz", "arithmetic", str(out), "--out", str(tmp_path / "a.png")]) == 2
