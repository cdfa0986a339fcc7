"""The one name registry: model name -> (config class, model class, declarations).

The command line, checkpoints, the report and the test suite all read this table. Config
classes and declarations (views, sample and estimator options: :mod:`genzoo.declare`) come
from the torch-free ``genzoo/models/<family>_config.py`` modules; model classes are named as
``"module:Class"`` strings and imported only when a model is built, so that listing models
or printing ``--help`` does not import torch.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from genzoo.config import DataSpec, from_dict
from genzoo.declare import Declarations, Option, View
from genzoo.errors import ConfigError, UserInputError, did_you_mean
from genzoo.models import (
    autoregressive_config,
    boltzmann_config,
    flows_config,
    fvbn_config,
    gan_config,
    gsn_config,
    progan_config,
    vae_config,
)
from genzoo.models.boltzmann_config import DBMConfig, RBMConfig
from genzoo.models.flows_config import GlowConfig, NICEConfig, RealNVPConfig
from genzoo.models.fvsbn_config import FVSBNConfig
from genzoo.models.gan_config import GANConfig
from genzoo.models.gated_pixelcnn_config import GatedPixelCNNConfig
from genzoo.models.gsn_config import GSNConfig
from genzoo.models.made_config import MADEConfig
from genzoo.models.nade_config import NADEConfig
from genzoo.models.pixelcnn_config import PixelCNNConfig
from genzoo.models.pixelcnn_pp_config import PixelCNNPPConfig
from genzoo.models.pixelrnn_config import PixelRNNConfig
from genzoo.models.progan_config import ProGANConfig
from genzoo.models.shared_views import SHARED_VIEWS
from genzoo.models.vae_config import VAEConfig

if TYPE_CHECKING:
    from genzoo.models.base import GenerativeModel


@dataclass(frozen=True)
class ModelEntry:
    """One registered model family.

    Attributes:
        name: the name users type (``genzoo train NAME``).
        config_class: its frozen config dataclass (``genzoo.models.<family>_config``).
        target: ``"module:Class"`` of the model, imported lazily.
        summary: one line for listings.
        data_kinds: the data kinds the model accepts.
        data: the dataset ``genzoo train NAME`` uses when --data is not given.
        train_defaults: the family's defaults of the loop's settings where the generic
            ones (Adam's learning rate, gradient clipping) do not suit it.
        declares: what the upper floors show of it: its own views, its sample and
            estimator options (beside its config; :class:`genzoo.declare.Declarations`).
    """

    name: str
    config_class: type
    target: str
    summary: str
    data_kinds: tuple[str, ...]
    data: str = "fashion-mnist"
    train_defaults: tuple[tuple[str, Any], ...] = ()
    declares: Declarations = dataclasses.field(default_factory=Declarations)

    def model_class(self) -> type[GenerativeModel]:
        module, _, cls = self.target.partition(":")
        return getattr(importlib.import_module(module), cls)


MODELS: dict[str, ModelEntry] = {
    entry.name: entry
    for entry in [
        ModelEntry(
            "pixelcnn",
            PixelCNNConfig,
            "genzoo.models.pixelcnn:PixelCNN",
            "PixelCNN, masked convolutions (van den Oord et al. 2016)",
            ("8bit", "binary"),
            declares=autoregressive_config.DECLARES,
        ),
        ModelEntry(
            "vae",
            VAEConfig,
            "genzoo.models.vae:VAE",
            "VAE, IWAE, beta-VAE, conditional VAE; ELBO and IWAE-k bounds (Kingma & Welling 2014)",
            ("8bit", "binary"),
            declares=vae_config.DECLARES,
        ),
        ModelEntry(
            "pixelrnn",
            PixelRNNConfig,
            "genzoo.models.pixelrnn:PixelRNN",
            "PixelRNN, Row LSTM or Diagonal BiLSTM (van den Oord et al. 2016)",
            ("8bit", "binary"),
            declares=autoregressive_config.DECLARES,
        ),
        ModelEntry(
            "gated-pixelcnn",
            GatedPixelCNNConfig,
            "genzoo.models.gated_pixelcnn:GatedPixelCNN",
            "Gated PixelCNN, no blind spot, class-conditional (van den Oord et al. 2016)",
            ("8bit", "binary"),
            declares=autoregressive_config.DECLARES,
        ),
        ModelEntry(
            "pixelcnn++",
            PixelCNNPPConfig,
            "genzoo.models.pixelcnn_pp:PixelCNNPP",
            "PixelCNN++, discretised logistic mixture (Salimans et al. 2017)",
            ("8bit",),
            declares=autoregressive_config.DECLARES,
        ),
        ModelEntry(
            "gan",
            GANConfig,
            "genzoo.models.gan:GAN",
            "GAN: minimax, NS, WGAN(-GP), LSGAN, hinge; DCGAN nets (Goodfellow et al. 2014)",
            ("8bit", "binary", "points"),
            declares=gan_config.DECLARES,
        ),
        ModelEntry(
            "progan",
            ProGANConfig,
            "genzoo.models.progan:ProGAN",
            "Progressive GAN: grown 4x4 to full size, fade-in, WGAN-GP (Karras et al. 2018)",
            ("8bit", "binary"),
            declares=progan_config.DECLARES,
            # WGAN-GP is not clipped in the paper; the model keeps its own EMA of G
            train_defaults=(("grad_clip", 0.0),),
        ),
        ModelEntry(
            "rbm",
            RBMConfig,
            "genzoo.models.boltzmann:RBM",
            "RBM, CD-k or persistent CD; exact or AIS log Z (Salakhutdinov & Murray 2008)",
            ("binary",),
            declares=boltzmann_config.DECLARES,
            data="binarized-fashion-mnist",
            # SGD with momentum at the papers' rate; clipping would shrink every CD step
            train_defaults=(("lr", 0.05), ("grad_clip", 0.0), ("batch_size", 100)),
        ),
        ModelEntry(
            "dbm",
            DBMConfig,
            "genzoo.models.boltzmann:DBM",
            "Deep Boltzmann Machine, 2-3 layers; AIS log Z (Salakhutdinov & Hinton 2009)",
            ("binary",),
            declares=boltzmann_config.DECLARES,
            data="binarized-fashion-mnist",
            train_defaults=(("lr", 0.001), ("grad_clip", 0.0), ("batch_size", 100)),
        ),
        ModelEntry(
            "made",
            MADEConfig,
            "genzoo.models.made:MADE",
            "MADE, masked MLP, connectivity-agnostic, mask ensembles (Germain et al. 2015)",
            ("binary", "8bit"),
            declares=fvbn_config.DECLARES,
            data="binarized-fashion-mnist",
        ),
        ModelEntry(
            "nade",
            NADEConfig,
            "genzoo.models.nade:NADE",
            "NADE, O(DH) exact NLL, order-agnostic ensembles (Larochelle & Murray 2011)",
            ("binary", "8bit"),
            declares=fvbn_config.DECLARES,
            data="binarized-fashion-mnist",
        ),
        ModelEntry(
            "fvsbn",
            FVSBNConfig,
            "genzoo.models.fvsbn:FVSBN",
            "FVSBN, a logistic regression per pixel on the earlier ones (Frey 1998)",
            ("binary",),
            declares=fvbn_config.DECLARES,
            data="binarized-fashion-mnist",
        ),
        ModelEntry(
            "gsn",
            GSNConfig,
            "genzoo.models.gsn:GSN",
            "GSN, Markov chain with latent state, walkback; the DAE chain (Bengio et al. 2014)",
            ("binary", "8bit"),
            declares=gsn_config.DECLARES,
            data="binarized-fashion-mnist",
        ),
        ModelEntry(
            "nice",
            NICEConfig,
            "genzoo.models.flows:NICE",
            "NICE, additive coupling flow; dequantised bound, exact encoder (Dinh et al. 2015)",
            ("8bit",),
            declares=flows_config.DECLARES,
        ),
        ModelEntry(
            "realnvp",
            RealNVPConfig,
            "genzoo.models.flows:RealNVP",
            "RealNVP, affine coupling flow, multi-scale (Dinh, Sohl-Dickstein & Bengio 2017)",
            ("8bit",),
            declares=flows_config.DECLARES,
        ),
        ModelEntry(
            "glow",
            GlowConfig,
            "genzoo.models.flows:Glow",
            "Glow, actnorm + LU 1x1 conv + coupling flow, temperature (Kingma & Dhariwal 2018)",
            ("8bit",),
            declares=flows_config.DECLARES,
        ),
    ]
}


def get_entry(name: str) -> ModelEntry:
    """The registry entry for ``name``, or a UserInputError listing the known names."""
    try:
        return MODELS[name]
    except KeyError:
        raise UserInputError(
            f"unknown model {name!r}{did_you_mean(name, MODELS)}; choose one of: "
            f"{', '.join(sorted(MODELS))}"
        ) from None


# -- the declarations of every family, as the upper floors read them ---------------------


def views() -> dict[str, View]:
    """Every view by name: the shared ones (:mod:`genzoo.models.shared_views`), then each
    family's own, in registry order (a view families share is listed once)."""
    found = {v.name: v for v in SHARED_VIEWS}
    for entry in MODELS.values():
        for view in entry.declares.views:
            if found.setdefault(view.name, view) is not view:
                raise ConfigError("views", f"two families declare different views {view.name!r}")
    return found


def view_models(view: View) -> list[str]:
    """The families whose own declarations list ``view`` (empty for a shared view)."""
    return [e.name for e in MODELS.values() if view in e.declares.views]


def check_view(view: View, model: Any) -> None:
    """Refuse, in one line, a family's view on a model of another family.

    (A shared view checks what it needs when drawn, and says what to use instead.)
    """
    families = view_models(view)
    if families and model.name not in families:
        raise UserInputError(
            f"'{view.name}' is a view of {' and '.join(families)} models; {model.name} is not "
            "one of them: use 'genzoo sample' for its samples instead"
        )


def views_of(model: Any) -> list[View]:
    """The views that apply to ``model``: the shared ones whose capabilities it declares,
    then its family's own."""
    own = MODELS[model.name].declares.views if model.name in MODELS else ()
    return [v for v in SHARED_VIEWS if v.fits(model)] + list(own)


def _options(kind: str) -> dict[str, Option]:
    found: dict[str, Option] = {}
    for entry in MODELS.values():
        for option in getattr(entry.declares, kind):
            if found.setdefault(option.name, option) != option:
                raise ConfigError(option.name, f"is declared twice, differently ({kind})")
    return found


def sample_options() -> dict[str, Option]:
    """Every family's sample options by name (each declared once, however many take it)."""
    return _options("sample_options")


def estimator_options() -> dict[str, Option]:
    """Every family's estimator options by name: what ``genzoo eval`` passes to every
    model's ``nll_terms`` (each model reads its own)."""
    return _options("estimator_options")


def create_model(
    name: str,
    *,
    image_shape: tuple[int, ...] = (1, 28, 28),
    kind: str = "8bit",
    num_classes: int | None = None,
    config: Any = None,
    **overrides: Any,
) -> GenerativeModel:
    """Build a fresh model by name.

    Args:
        name: a registered model name, e.g. ``"pixelcnn"``.
        image_shape: (C, H, W) of the data.
        kind: ``"8bit"`` or ``"binary"`` (or ``"points"`` for toy 2-D models).
        num_classes: number of classes, for conditional models.
        config: a config instance; if None, built from the defaults and ``overrides``.
        **overrides: config fields, e.g. ``hidden_channels=32``.

    Example:
        >>> model = create_model("pixelcnn", image_shape=(1, 28, 28), hidden_channels=32)
    """
    entry = get_entry(name)
    if config is None:
        try:
            config = from_dict(entry.config_class, overrides, where=f"model {name!r}")
        except ConfigError as e:  # name the keyword as the command line spells it, too
            flag = "--model." + e.field.replace("_", "-")
            raise ConfigError(e.field, f"{e.message} ({flag})") from None
    elif overrides:
        raise UserInputError("pass either config= or field overrides to create_model, not both")
    if not isinstance(config, entry.config_class):
        raise UserInputError(
            f"model {name!r} takes a {entry.config_class.__name__}, got {type(config).__name__}"
        )
    data = DataSpec(image_shape=tuple(image_shape), kind=kind, num_classes=num_classes)  # type: ignore[arg-type]
    if data.kind not in entry.data_kinds:
        hint = ""
        if entry.data_kinds == ("binary",):
            hint = (
                "; train it on a binarised dataset, e.g. --data binarized-fashion-mnist "
                "('genzoo data list' shows them all)"
            )
        raise UserInputError(
            f"model {name!r} takes {' or '.join(entry.data_kinds)} data, not {data.kind!r}{hint}"
        )
    return entry.model_class()(config, data)
