"""The models layer's shared parts: the data spec's answers, self-validating configs, the
likelihood module and the output head."""

from __future__ import annotations

import dataclasses

import pytest
import torch

import genzoo
from genzoo.config import DataSpec
from genzoo.errors import ConfigError, UserInputError
from genzoo.losses import gan as gan_losses
from genzoo.models.gan_config import LOSSES, GANConfig
from genzoo.models.gated_pixelcnn_config import GatedPixelCNNConfig
from genzoo.models.pixelcnn_config import PixelCNNConfig
from genzoo.models.pixelcnn_pp_config import PixelCNNPPConfig
from genzoo.models.pixelrnn_config import PixelRNNConfig
from genzoo.models.vae_config import VAEConfig
from genzoo.nn import likelihoods as lk
from genzoo.nn.masked import MaskedOutputHead
from genzoo.registry import MODELS

# -- DataSpec ---------------------------------------------------------------------------


def test_data_spec_answers_the_range_and_scales_once():
    eight, binary = DataSpec((1, 2, 2), "8bit"), DataSpec((1, 2, 2), "binary")
    points = DataSpec((2,), "points")
    assert (eight.max_value, eight.num_values, binary.max_value, binary.num_values) == (
        255,
        256,
        1,
        2,
    )
    assert eight.is_image and binary.is_image and binary.is_binary and not eight.is_binary
    assert points.is_points and not points.is_image
    with pytest.raises(UserInputError):
        points.max_value  # noqa: B018
    v = torch.tensor([0, 128, 255])
    assert torch.equal(eight.to_signed(v), v.float() * (2.0 / 255.0) - 1.0)
    assert eight.to_unit(v).tolist() == pytest.approx([0.0, 128 / 255, 1.0])
    assert binary.to_signed(torch.tensor([0, 1]), torch.float64).tolist() == [-1.0, 1.0]
    assert binary.to_signed(torch.tensor([0, 1]), torch.float64).dtype == torch.float64


# -- configs ------------------------------------------------------------------------------

BAD = [
    (PixelCNNConfig, {"hidden_channels": 0}, "hidden_channels"),
    (PixelCNNConfig, {"num_blocks": -1}, "num_blocks"),
    (PixelRNNConfig, {"cell": "gru"}, "cell"),
    (PixelRNNConfig, {"num_layers": 0}, "num_layers"),
    (GatedPixelCNNConfig, {"output_channels": 0}, "output_channels"),
    (PixelCNNPPConfig, {"dropout": 1.0}, "dropout"),
    (PixelCNNPPConfig, {"num_mixtures": 0}, "num_mixtures"),
    (VAEConfig, {"latent_dim": 0}, "latent_dim"),
    (VAEConfig, {"hidden_layers": -1}, "hidden_layers"),
    (VAEConfig, {"stochastic_layers": 3}, "stochastic_layers"),
    (VAEConfig, {"objective": "iwae", "beta": 2.0}, "beta"),
    (VAEConfig, {"decoder": "poisson"}, "decoder"),
    (GANConfig, {"loss": "nope"}, "loss"),
    (GANConfig, {"n_critic": 0}, "n_critic"),
    (GANConfig, {"betas": (0.5, 1.0)}, "betas"),
    (GANConfig, {"lr_g": 0.0}, "lr_g"),
    (GANConfig, {"d_norm": "group"}, "d_norm"),
]


@pytest.mark.parametrize("cls,kwargs,field", BAD, ids=lambda v: str(v)[:30])
def test_configs_validate_themselves_with_neutral_wording(cls, kwargs, field):
    with pytest.raises(ConfigError) as info:
        cls(**kwargs)
    assert info.value.field == field
    assert "--" not in info.value.message  # neutral: the command line adds the flag name


def test_every_registered_config_is_torch_free_and_valid_by_default():
    for entry in MODELS.values():
        entry.config_class()  # defaults pass their own validation
        assert entry.config_class.__module__.endswith("_config")


def test_create_model_names_the_flag_of_a_refused_setting():
    with pytest.raises(ConfigError, match=r"--model\.n-critic"):
        genzoo.create_model("gan", n_critic=0)


def test_gan_config_and_losses_name_the_same_losses():
    assert tuple(LOSSES) == tuple(gan_losses.LOSSES)
    assert dataclasses.fields(GANConfig)[0].name == "loss"


# -- likelihoods --------------------------------------------------------------------------

FACTORISED = [lk.Bernoulli(), lk.Categorical(), lk.DiscretizedLogistic()]


@pytest.mark.parametrize("likelihood", FACTORISED, ids=lambda x: type(x).__name__)
def test_factorised_likelihoods_are_distributions_and_draw_in_range(likelihood):
    g = torch.Generator().manual_seed(0)
    k = likelihood.num_params
    values = 2 if isinstance(likelihood, lk.Bernoulli) else 256
    params = torch.randn(1, 3, k, 1, 1, generator=g, dtype=torch.float64) * 2  # 3 sub-pixels
    every = torch.arange(values).view(-1, 1, 1, 1).expand(values, 3, 1, 1)
    lp = likelihood.log_prob(every, params.expand(values, -1, -1, -1, -1))  # (V, 3, 1, 1)
    assert torch.allclose(lp.exp().sum(0), torch.ones(3, 1, 1, dtype=torch.float64))
    x = likelihood.sample(params.expand(50, -1, -1, -1, -1), generator=g)
    assert x.dtype == torch.uint8 and int(x.max()) < values
    assert likelihood.point(params).shape == (1, 3, 1, 1)
    assert likelihood.draw_at(params, x[:1].long(), 0, 0, 1, g).shape == (1,)


def test_mixture_draws_and_points_are_8bit_images():
    mix = lk.DiscretizedLogisticMixture(num_mixtures=2, channels=3)
    params = torch.randn(2, mix.num_params, 2, 2, generator=torch.Generator().manual_seed(0))
    x = mix.sample(params, generator=torch.Generator().manual_seed(1))
    assert x.shape == (2, 3, 2, 2) and x.dtype == torch.uint8
    assert mix.point(params).shape == (2, 3, 2, 2)
    assert mix.log_prob(x, params).shape == (2, 2, 2)


def test_output_head_gives_per_subpixel_parameters_and_keeps_checkpoint_keys():
    head = MaskedOutputHead(6, 12, 3, 256)
    assert head(torch.randn(2, 6, 4, 5)).shape == (2, 3, 256, 4, 5)
    assert set(head.state_dict()) == {"1.weight", "1.bias", "3.weight", "3.bias"}
