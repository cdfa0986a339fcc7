"""The progressive GAN (Karras et al. 2018): fade-in, stabilisers, schedule, exact resume."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import genzoo
import test_contract as contract
from genzoo.config import TrainConfig
from genzoo.data.datasets import ImageDataset
from genzoo.data.resize import resize_dataset, resize_images
from genzoo.errors import ConfigError, UserInputError
from genzoo.models.base import StepContext
from genzoo.models.progan import schedule
from genzoo.models.progan_config import ProGANConfig
from genzoo.nn.progan_nets import EqualConv2d, EqualLinear, minibatch_stddev, pixel_norm
from genzoo.train.checkpoint import load_checkpoint
from genzoo.train.loop import fit
from genzoo.viz.growth import growth, growth_rows, save_growth
from helpers import TINY

FADE, STABLE, BATCH = 12, 8, 4  # images per phase in the tiny runs: 2 steps stable, 3 fading


def make(side: int = 8, channels: int = 1, **kw) -> genzoo.models.progan.ProGAN:
    torch.manual_seed(0)
    cfg = TINY["progan"] | {"fade_images": FADE, "stable_images": STABLE} | kw
    return genzoo.create_model("progan", image_shape=(channels, side, side), **cfg)


def at(model, images_shown: int):
    model.images_shown.fill_(images_shown)
    return model.stage()


def real_batch(n: int = BATCH, side: int = 8, channels: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    return torch.randint(0, 256, (n, channels, side, side), generator=g, dtype=torch.uint8)


# -- the schedule -------------------------------------------------------------------------


def test_schedule_grows_fades_linearly_then_stays_at_the_last_level():
    s = [schedule(i, 3, 10, 20) for i in (0, 19, 20, 25, 29, 30, 49, 50, 55, 60, 10_000)]
    assert [(x.level, x.phase) for x in s] == [
        (0, "stable"), (0, "stable"), (1, "fade"), (1, "fade"), (1, "fade"), (1, "stable"),
        (1, "stable"), (2, "fade"), (2, "fade"), (2, "stable"), (2, "stable"),
    ]  # fmt: skip
    assert [x.alpha for x in s] == [1, 1, 0.0, 0.5, 0.9, 1, 1, 0.0, 0.5, 1, 1]
    assert [x.resolution for x in s[::5]] == [4, 8, 16]
    assert schedule(10**9, 1, 10, 20).level == 0  # a 4x4 model never grows


# -- fade-in ------------------------------------------------------------------------------


def test_generator_fade_endpoints_are_the_previous_level_up_sampled_and_the_new_torgb():
    g = make(16).generator
    z = torch.randn(3, 4)
    h1 = g.blocks[1](g.blocks[0](z))  # (3, C, 8, 8)
    old = F.interpolate(g.to_rgb[1](h1), scale_factor=2, mode="nearest")  # (3, 1, 16, 16)
    new = g.to_rgb[2](g.blocks[2](h1))
    assert torch.equal(g(z, 2, 0.0), old)
    assert torch.equal(g(z, 1, 1.0), g.to_rgb[1](h1))  # the previous level's own output
    assert torch.equal(g(z, 2, 1.0), new)
    torch.testing.assert_close(g(z, 2, 0.25), 0.75 * old + 0.25 * new)


def test_discriminator_fade_endpoints_are_the_down_sampled_old_path_and_the_new_fromrgb():
    d = make(16).discriminator
    x = torch.randn(4, 1, 16, 16)
    pooled = F.avg_pool2d(x, 2)  # (4, 1, 8, 8)
    old = F.leaky_relu(d.from_rgb[1](pooled), 0.2)
    new = d.blocks[2](F.leaky_relu(d.from_rgb[2](x), 0.2))
    assert torch.equal(d.input_features(x, 2, 0.0), old)
    assert torch.equal(d.input_features(x, 2, 1.0), new)
    torch.testing.assert_close(d.input_features(x, 2, 0.25), 0.75 * old + 0.25 * new)
    assert torch.equal(d(x, 2, 0.0), d(pooled, 1, 1.0))  # alpha 0: the previous level's D


def test_real_images_are_down_sampled_to_the_level_and_blended_by_the_same_alpha():
    model = make(16)
    x = model.to_model_space(real_batch(side=16))  # (4, 1, 16, 16)
    x8, x4 = F.avg_pool2d(x, 2), F.avg_pool2d(x, 4)
    assert torch.equal(model.real_at(x, at(model, 0)), x4)
    assert torch.equal(model.real_at(x, at(model, STABLE + FADE)), x8)  # level 1, stable
    fading = at(model, STABLE + FADE // 4)  # level 1, alpha 1/4
    up = F.interpolate(F.avg_pool2d(x8, 2), scale_factor=2, mode="nearest")  # level 0's view
    torch.testing.assert_close(model.real_at(x, fading), 0.75 * up + 0.25 * x8)
    assert torch.equal(model.real_at(x, at(model, STABLE)), up)  # alpha 0


# -- the stabilisers -----------------------------------------------------------------------


def test_minibatch_stddev_adds_one_map_holding_the_groups_mean_std():
    x = torch.randn(6, 3, 4, 4) * torch.arange(1.0, 7.0)[:, None, None, None]
    y = minibatch_stddev(x, group_size=2)
    assert y.shape == (6, 4, 4, 4) and torch.equal(y[:, :3], x)
    for i in range(6):
        group = x[2 * (i // 2) : 2 * (i // 2) + 2]  # (2, 3, 4, 4)
        expected = group.std(dim=0, unbiased=False).mean()
        torch.testing.assert_close(y[i, 3], torch.full((4, 4), float(expected)))
    assert not torch.allclose(y[0, 3], y[2, 3])  # groups differ
    assert minibatch_stddev(x, group_size=4).shape == (6, 4, 4, 4)  # 4 does not divide 6


def test_pixel_norm_gives_unit_rms_over_channels_at_every_pixel():
    x = torch.randn(2, 5, 3, 3) * torch.rand(2, 1, 3, 3) * 100
    rms = pixel_norm(x).square().mean(dim=1).sqrt()  # (2, 3, 3)
    torch.testing.assert_close(rms, torch.ones(2, 3, 3))


def test_equalised_lr_stores_unit_normal_weights_scaled_at_run_time_by_he():
    torch.manual_seed(0)
    conv = EqualConv2d(64, 128, 3).requires_grad_(False)
    assert abs(float(conv.weight.std()) - 1.0) < 0.02 and abs(float(conv.weight.mean())) < 0.02
    assert conv.scale == pytest.approx(math.sqrt(2 / (64 * 9)))
    x = torch.randn(1, 64, 5, 5)
    expected = F.conv2d(x, conv.weight * math.sqrt(2 / (64 * 9)), conv.bias, padding=1)
    torch.testing.assert_close(conv(x), expected)
    assert EqualLinear(200, 3).scale == pytest.approx(math.sqrt(2 / 200))
    for m in make(16).modules():  # every layer of the model: gain / sqrt(fan_in)
        if isinstance(m, EqualConv2d | EqualLinear):
            fan_in = m.weight[0].numel()
            assert m.scale * math.sqrt(fan_in) in (pytest.approx(math.sqrt(2)), pytest.approx(1))


def test_gradient_penalty_mixes_real_and_fake_by_one_coefficient_per_sample_not_alpha():
    model = make(8, mbstd_group_size=1)
    st = at(model, STABLE + 3)  # level 1, alpha 0.25
    seen = []
    critic = model.critic

    def recording(x, stage):
        seen.append((x.detach().clone(), stage.alpha))
        return critic(x, stage)

    model.critic = recording
    model.discriminator_loss(real_batch(8))
    (real, a0), (fake, a1), (mixed, a2) = seen  # D on real, fake, then the interpolates
    assert a0 == a1 == a2 == st.alpha == 0.25
    eps = (mixed - fake) / (real - fake)  # (8, 1, 8, 8): the coefficient at every pixel
    per_sample = eps.flatten(1)
    torch.testing.assert_close(per_sample, per_sample[:, :1].expand_as(per_sample))
    coef = per_sample[:, 0]
    assert ((coef >= 0) & (coef <= 1)).all() and coef.std() > 0.1
    assert not torch.isclose(coef, torch.tensor(st.alpha), atol=1e-3).any()


# -- growing, optimizers and resume --------------------------------------------------------


def _steps(model, opts, images, start, stop):
    def optimize(name, loss):
        assert torch.isfinite(loss)
        opts[name].zero_grad(set_to_none=True)
        loss.backward()
        opts[name].step()

    for s in range(start, stop):
        model.training_step(images, None, StepContext(model, opts, s, optimize))


def _params(module):
    return {k: v.detach().clone() for k, v in module.named_parameters()}


def test_growing_changes_the_active_parameters_and_the_optimizers_keep_working():
    model = make(8)
    opts = model.configure_optimizers(TrainConfig(lr=1e-2, progress=False))
    images, init = real_batch(), _params(model)
    level1 = ("generator.blocks.1.", "generator.to_rgb.1.", "discriminator.from_rgb.1.",
              "discriminator.blocks.1.")  # fmt: skip
    level0_io = ("generator.to_rgb.0.", "discriminator.from_rgb.0.")

    def moved(prefixes, before):
        now = _params(model)
        return {k: not torch.equal(now[k], before[k]) for k in now if k.startswith(prefixes)}

    _steps(model, opts, images, 0, 2)  # 4x4, stable
    assert model.stage().level == 1 and model.stage().alpha == 0.0
    assert not any(moved(level1, init).values())  # inactive: no gradient, no Adam step
    assert all(p.grad is None for k, p in model.named_parameters() if k.startswith(level1))
    assert all(moved(level0_io, init).values())
    _steps(model, opts, images, 2, 5)  # the fade (alpha 0, 1/3, 2/3)
    assert model.stage().phase == "stable" and model.stage().level == 1
    assert all(moved(level1, init).values())  # every new layer trains now
    before = _params(model)
    _steps(model, opts, images, 5, 7)  # stable at 8x8: the 4x4 toRGB / fromRGB rest
    assert not any(moved(level0_io, before).values())
    assert all(moved(("generator.blocks.0.", "discriminator.head."), before).values())
    g_state = opts["generator"].state
    assert all(p in g_state for p in model.generator.to_rgb[1].parameters())
    ema, raw = model.generator_ema.blocks[1].conv1.weight, model.generator.blocks[1].conv1.weight
    assert not torch.equal(ema, raw) and not ema.requires_grad  # a lagging, frozen average


def test_adams_moments_start_afresh_when_a_fade_starts_and_when_it_ends():
    """As the official code (reset_opt_for_new_lod, on a change of floor or ceiling of the
    level of detail): steps 0-1 stable at 4x4, step 2 is the first of the fade to 8x8
    (reset), steps 3-4 fade on, step 5 is the first stable one at 8x8 (reset), 6 goes on."""
    model = make(8)
    opts = model.configure_optimizers(TrainConfig(lr=1e-2, progress=False))
    images = real_batch()
    p = next(model.discriminator.head.parameters())  # trained at every level

    def adam_steps() -> int:
        return int(opts["discriminator"].state[p]["step"])

    _steps(model, opts, images, 0, 2)
    assert adam_steps() == 2
    _steps(model, opts, images, 2, 3)
    assert adam_steps() == 1  # forgotten at the new level, then one step
    _steps(model, opts, images, 3, 5)
    assert adam_steps() == 3 and model.stage().phase == "stable"
    _steps(model, opts, images, 5, 6)
    assert adam_steps() == 1  # forgotten again as the fade ends
    _steps(model, opts, images, 6, 7)
    assert adam_steps() == 2 and model.stage().level == 1


@pytest.mark.parametrize("reuse", [True, False])
def test_g_step_reuses_the_d_steps_samples_only_when_asked(reuse):
    model = make(8, reuse_fakes=reuse, gp_weight=0.0)
    at(model, STABLE + 3)  # level 1, fading in
    opts = model.configure_optimizers(TrainConfig(lr=1e-2, progress=False))
    seen, g_forwards = [], []
    critic = model.critic

    def recording(x, stage):
        seen.append(x.detach().clone())
        return critic(x, stage)

    model.critic = recording
    model.generator.register_forward_hook(lambda *_: g_forwards.append(1))
    _steps(model, opts, real_batch(), 0, 1)
    _real, d_fake, g_fake = seen  # D on real and on fake, then G's step through D
    assert torch.equal(d_fake, g_fake) == reuse
    assert len(g_forwards) == (1 if reuse else 2)


def test_the_models_own_ema_of_g_follows_each_g_step_and_is_what_sample_uses():
    model = make(8, g_ema_decay=0.75)
    opts = model.configure_optimizers(TrainConfig(lr=1e-2, progress=False))
    before = _params(model.generator)
    _steps(model, opts, real_batch(), 0, 1)
    after = _params(model.generator)
    for k, e in model.generator_ema.named_parameters():
        torch.testing.assert_close(e, 0.75 * before[k] + 0.25 * after[k])
    z = model.latents(2, generator=torch.Generator().manual_seed(0))
    ema_out = model.to_data_space(model.generator_ema(z, 0))
    assert torch.equal(model.decode(z), ema_out.repeat_interleave(2, 2).repeat_interleave(2, 3))
    assert not torch.equal(model.generate(z, ema=False), model.generate(z))


def _train_cfg(**kw) -> TrainConfig:
    base = dict(steps=6, batch_size=BATCH, lr=1e-2, grad_clip=0.0, log_every=1, sample_every=0,
                checkpoint_every=3, progress=False, accelerator="cpu")  # fmt: skip
    return TrainConfig(**(base | kw))


def _dataset() -> ImageDataset:
    g = torch.Generator().manual_seed(2)
    return ImageDataset(torch.randint(0, 256, (16, 1, 8, 8), generator=g, dtype=torch.uint8))


def test_resume_in_the_middle_of_a_fade_equals_an_uninterrupted_run(tmp_path):
    whole = fit(make(), _dataset(), tmp_path / "whole", _train_cfg())
    first = fit(make(), _dataset(), tmp_path / "parts", _train_cfg(steps=3))
    mid = first.stage()
    assert (mid.level, mid.phase) == (1, "fade") and 0 < mid.alpha < 1  # stopped mid-fade
    parts = fit(make(), _dataset(), tmp_path / "parts", _train_cfg(), resume=True)
    assert parts.stage() == whole.stage() and whole.stage().level == 1
    for (k, a), b in zip(whole.state_dict().items(), parts.state_dict().values(), strict=True):
        assert torch.equal(a, b), k
    opt_whole = load_checkpoint(tmp_path / "whole" / "checkpoint.pt")["optimizers"]
    opt_parts = load_checkpoint(tmp_path / "parts" / "checkpoint.pt")["optimizers"]
    for name in opt_whole:
        for i, s in opt_whole[name]["state"].items():
            for key in s:
                assert torch.equal(s[key], opt_parts[name]["state"][i][key]), (name, i, key)
    loaded = genzoo.load(tmp_path / "parts")  # the export samples at the run's stage
    assert loaded.stage() == whole.stage()


def test_the_loops_whole_model_ema_is_refused_with_the_reason():
    with pytest.raises(UserInputError, match=r"--train\.ema-decay 0"):
        make().configure_optimizers(TrainConfig(ema_decay=0.99))


# -- sizes, sampling, views ------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(1, 6, 6), (1, 28, 28), (3, 8, 16), (1, 2, 2), (1, 2048, 2048)])
def test_unsupported_sizes_are_refused_naming_image_size(shape):
    with pytest.raises(UserInputError, match="--image-size"):
        genzoo.create_model("progan", image_shape=shape, **TINY["progan"])


@pytest.mark.parametrize("shape,kind", [((1, 8, 8), "8bit"), ((3, 4, 4), "binary"),
                                        ((3, 4, 4), "8bit"), ((1, 8, 8), "binary")])  # fmt: skip
def test_contract_checks_at_supported_shapes(shape, kind, tmp_path):
    """test_contract's suite at power-of-two shapes (its (1, 6, 6) is refused, above)."""
    contract.test_loss_is_a_finite_scalar_with_gradients("progan", shape, kind)
    contract.test_sample_is_data_space("progan", shape, kind)
    contract.test_log_prob_is_per_example_nats_or_says_there_is_none("progan", shape, kind)
    contract.test_export_then_load_is_identical("progan", shape, kind, tmp_path)
    contract.test_bad_images_are_refused_with_the_expected_shape("progan", shape, kind)


def test_samples_below_the_last_level_are_up_sampled_to_the_data_size():
    model = make(8).eval()
    x = model.sample(2, generator=torch.Generator().manual_seed(0))  # level 0: 4x4 output
    assert x.shape == (2, 1, 8, 8) and x.dtype == torch.uint8
    assert torch.equal(x, x[:, :, ::2, ::2].repeat_interleave(2, 2).repeat_interleave(2, 3))
    z = model.latents(2, generator=torch.Generator().manual_seed(0))
    assert torch.equal(model.decode(z), x)  # sample is decode of the same codes, EMA G


def test_model_follows_its_dtype():
    model = make(8).double()
    at(model, STABLE + 3)  # mid-fade
    out = model.loss(real_batch())
    assert out["loss"].dtype == torch.float64 and torch.isfinite(out["loss"])
    assert model.sample(2).dtype == torch.uint8
    assert model.generate(model.latents(2), level=0).dtype == torch.float64


def test_growth_view_gives_every_level_trained_so_far(tmp_path):
    model = make(16, channels=3)
    z = model.latents(3, generator=torch.Generator().manual_seed(0))
    assert [tuple(x.shape) for x in growth(model, z)] == [(3, 3, 4, 4)]
    at(model, 10**6)  # past every fade
    levels = growth(model, z)
    assert [tuple(x.shape) for x in levels] == [(3, 3, 4, 4), (3, 3, 8, 8), (3, 3, 16, 16)]
    assert all(x.dtype == torch.uint8 for x in levels)
    assert torch.equal(levels[-1], model.decode(z))  # the last level is the sample
    assert growth_rows(levels).shape == (9, 3, 16, 16)
    save_growth(model, z, tmp_path / "growth.png")
    assert (tmp_path / "growth.png").stat().st_size > 0
    with pytest.raises(UserInputError, match="progressive"):
        growth(genzoo.create_model("gan", image_shape=(1, 8, 8), **TINY["gan"]), z)


def test_resize_makes_any_dataset_a_power_of_two():
    images = torch.full((3, 1, 28, 28), 77, dtype=torch.uint8)
    assert torch.equal(resize_images(images, 32), torch.full((3, 1, 32, 32), 77, dtype=torch.uint8))
    ds = ImageDataset(torch.randint(0, 2, (5, 1, 28, 28), dtype=torch.uint8), kind="binary",
                      binarize="fixed")  # fmt: skip
    small = resize_dataset(ds, 16)
    assert small.image_shape == (1, 16, 16) and int(small.images.max()) <= 1
    assert small.kind == "binary" and small.binarize == "fixed"


def test_config_is_checked_with_the_field_named():
    with pytest.raises(ConfigError, match="fade_images: must be a positive integer"):
        ProGANConfig(fade_images=0)
    with pytest.raises(ConfigError, match="betas"):
        ProGANConfig(betas=(0.0, 1.0))
    assert [ProGANConfig().channels(r) for r in (4, 32, 64, 1024)] == [512, 512, 256, 16]


def test_cli_trains_on_resized_data_and_draws_the_growth(tmp_path):
    from PIL import Image

    from genzoo.cli import main
    from genzoo.data import load_dataset

    assert load_dataset("digits", "test", image_size=16).image_shape == (1, 16, 16)
    run = tmp_path / "pg"
    model = ["--model.latent-dim", "4", "--model.channel-base", "32", "--model.max-channels", "4"]
    model += ["--model.fade-images", "16", "--model.stable-images", "16"]
    model += ["--model.mbstd-group-size", "2"]
    loop = ["--train.steps", "6", "--train.batch-size", "8", "--train.sample-every", "0"]
    loop += ["--train.no-progress", "--train.grad-clip", "0"]
    argv = ["train", "progan", "--data", "digits", "--image-size", "16", *model, *loop]
    assert main([*argv, "--out", str(run)]) == 0
    assert main(["viz", "growth", str(run), "-n", "3", "--out", str(tmp_path / "g.png")]) == 0
    trained = genzoo.load(run)
    levels = trained.stage().level + 1  # 4x4 .. the level reached, one row each
    width, height = Image.open(tmp_path / "g.png").size
    assert levels >= 2 and height / width == pytest.approx(levels / 3, rel=0.1)
    # the growth view is refused, in one line, for a model that does not grow
    from genzoo.train.checkpoint import export_model

    gan = genzoo.create_model("gan", image_shape=(1, 8, 8), **TINY["gan"])
    export_model(gan, tmp_path / "gan")
    assert main(["viz", "growth", str(tmp_path / "gan"), "--out", str(tmp_path / "x.png")]) == 2
