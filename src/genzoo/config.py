"""Typed, frozen configuration dataclasses: one place for every setting genzoo reads.

This module imports nothing heavy (no torch), so the command line can build its options
from these classes and answer ``--help`` at once. The command line is generated from the
fields and their docstrings by `tyro`; recipe files (TOML) give defaults that dotted
command-line options override (``--model.hidden-channels 64``, ``--train.lr 3e-4``).

Each model family adds its config class here and one line in :mod:`genzoo.registry`.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from genzoo.errors import ConfigError, UserInputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

DataKind = Literal["8bit", "binary", "points"]


@dataclass(frozen=True)
class DataSpec:
    """What a model needs to know about its data; filled in from the dataset at train time.

    Attributes:
        image_shape: (C, H, W) for images, (2,) for 2-D points.
        kind: "8bit" (values 0..255), "binary" (values 0/1) or "points" (float vectors).
        num_classes: number of classes for conditional models, else None.
    """

    image_shape: tuple[int, ...] = (1, 28, 28)
    kind: DataKind = "8bit"
    num_classes: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("8bit", "binary", "points"):
            raise UserInputError(
                f"unknown data kind {self.kind!r}; use '8bit', 'binary' or 'points'"
            )
        if not self.image_shape or any(int(s) <= 0 for s in self.image_shape):
            raise UserInputError(f"image_shape must be positive sizes, got {self.image_shape}")
        object.__setattr__(self, "image_shape", tuple(int(s) for s in self.image_shape))

    @property
    def num_dims(self) -> int:
        """Number of scalar dimensions D of one example (C*H*W for images)."""
        out = 1
        for s in self.image_shape:
            out *= s
        return out


@dataclass(frozen=True)
class PixelCNNConfig:
    """PixelCNN (van den Oord, Kalchbrenner, Kavukcuoglu 2016, "Pixel Recurrent Neural
    Networks", section 3.5 and figure 5): a 7x7 mask-A convolution, residual blocks of
    1x1 / 3x3 mask-B / 1x1 convolutions, two 1x1 mask-B output layers, and a 256-way
    softmax (8-bit data) or a Bernoulli (binary data) per sub-pixel."""

    hidden_channels: int = 64
    """Channels h inside a residual block; the residual stream has 2h (paper: h=128 on CIFAR)."""
    num_blocks: int = 7
    """Number of residual blocks (paper: 15 on CIFAR-10, 7 layers for MNIST)."""
    output_channels: int = 128
    """Channels of the two 1x1 output layers (paper: 1024 on CIFAR-10)."""
    conditional: bool = False
    """Condition on the class label (a learned per-class bias in every block)."""


@dataclass(frozen=True)
class VAEConfig:
    """Variational autoencoder (Kingma & Welling 2014) with the IWAE bound (Burda, Grosse,
    Salakhutdinov 2016), beta-VAE (Higgins et al. 2017) and a class-conditional variant
    (Sohn et al. 2015): Gaussian encoder q(z|x), standard normal prior, decoder p(x|z)."""

    latent_dim: int = 32
    """Units of the latent z (the top layer with two stochastic layers; IWAE paper: 50)."""
    architecture: Literal["mlp", "conv"] = "mlp"
    """Encoder/decoder networks: mlp (tanh layers, as in the IWAE paper) or conv
    (stride-2 ReLU convolutions, mirrored by upsampling ones)."""
    hidden: int = 200
    """Units of each MLP hidden layer (IWAE paper: 200), or base channels of the conv nets."""
    hidden_layers: int = 2
    """Deterministic hidden layers of each MLP (IWAE paper: 2); the conv nets have 2."""
    decoder: Literal["auto", "bernoulli", "logistic", "categorical", "gaussian"] = "auto"
    """p(x|z): bernoulli (binary data); for 8-bit data logistic (discretised logistic),
    categorical (256-way softmax) or gaussian (on uniformly dequantised data: a bound on the
    discrete likelihood); auto picks bernoulli or logistic."""
    objective: Literal["elbo", "iwae"] = "elbo"
    """Training objective: elbo (the VAE; with --model.k > 1 the mean of k ELBO estimates)
    or iwae (the k-sample importance-weighted bound)."""
    k: int = 1
    """Samples of z per example in training (IWAE paper: 1, 5 or 50)."""
    beta: float = 1.0
    """Weight of the KL term (beta-VAE; 1 is the VAE). Only with --model.objective elbo."""
    stochastic_layers: int = 1
    """1, or 2 for x <- z1 <- z2 as in the IWAE paper's second architecture."""
    lower_latent_dim: int = 100
    """Units of the lower stochastic layer z1 when stochastic_layers is 2 (IWAE paper: 100)."""
    conditional: bool = False
    """Condition encoder and decoder on the class label (conditional VAE); the prior stays
    N(0, I)."""


@dataclass(frozen=True)
class PixelRNNConfig:
    """PixelRNN (van den Oord, Kalchbrenner, Kavukcuoglu 2016, "Pixel Recurrent Neural
    Networks", sections 3.1-3.4): a 7x7 mask-A convolution, recurrent layers (Row LSTM or
    Diagonal BiLSTM) with residual connections, two 1x1 mask-B output layers, and a 256-way
    softmax (8-bit data) or a Bernoulli (binary data) per sub-pixel."""

    cell: Literal["row-lstm", "diagonal-bilstm"] = "row-lstm"
    """Recurrent layer: row-lstm (1x3 state-to-state over the previous row, a triangular
    receptive field) or diagonal-bilstm (skewed 2x1 state-to-state, both directions: the
    whole context)."""
    hidden_channels: int = 32
    """LSTM state channels h; the residual stream has 2h (paper: 128); divisible by the
    colour channels."""
    num_layers: int = 4
    """Recurrent layers (paper: 12 on CIFAR-10, 7 on MNIST)."""
    output_channels: int = 128
    """Channels of the two 1x1 output layers (paper: 1024 on CIFAR-10)."""
    conditional: bool = False
    """Condition on the class label (a learned per-class bias on every layer's gates)."""


@dataclass(frozen=True)
class GatedPixelCNNConfig:
    """Gated PixelCNN (van den Oord et al. 2016, "Conditional Image Generation with PixelCNN
    Decoders"): vertical and horizontal stacks (no blind spot), gated tanh x sigmoid units,
    a class-conditional bias, and a 256-way softmax or a Bernoulli per sub-pixel."""

    hidden_channels: int = 64
    """Channels of both stacks (paper: 384 on CIFAR-10); divisible by the colour channels."""
    num_layers: int = 8
    """Gated layers: the first 7x7, the rest 3x3 (paper: 15 on CIFAR-10)."""
    output_channels: int = 128
    """Channels of the two 1x1 output layers."""
    conditional: bool = False
    """Condition on the class label (a learned per-class bias in both stacks' gates)."""


@dataclass(frozen=True)
class PixelCNNPPConfig:
    """PixelCNN++ (Salimans et al. 2017): a discretised logistic mixture per pixel with
    linear R -> G -> B dependence, down/up-sampling with shortcut connections, gated resnet
    blocks with dropout, down- and down-right-shifted convolutions. 8-bit data only."""

    filters: int = 32
    """Channels of both streams (paper: 160 on CIFAR-10)."""
    num_resnet: int = 2
    """Gated resnet blocks per resolution (paper: 5); 3 resolutions."""
    num_mixtures: int = 5
    """Logistic components of each pixel's mixture (paper: 10)."""
    dropout: float = 0.5
    """Dropout probability inside every block (paper: 0.5 on CIFAR-10)."""
    conditional: bool = False
    """Condition on the class label (a learned per-class bias in every block's gate)."""


@dataclass(frozen=True)
class GANConfig:
    """Generative adversarial network (Goodfellow et al. 2014): a generator G(z), z ~ N(0, I),
    against a discriminator D, each with its own Adam optimizer, D updated every step and G
    every n_critic-th step. DCGAN networks (Radford, Metz, Chintala 2016) for images, MLPs for
    2-D toy data; the losses are those of genzoo.losses.gan."""

    loss: Literal["minimax", "non-saturating", "wgan", "wgan-gp", "lsgan", "hinge"] = (
        "non-saturating"
    )
    """minimax (the saturating game of Goodfellow et al.), non-saturating (G maximises
    log D(G(z))), wgan (weight clipping, Arjovsky et al. 2017), wgan-gp (gradient penalty,
    Gulrajani et al. 2017), lsgan (least squares, Mao et al. 2017) or hinge."""
    n_critic: int = 1
    """D (critic) updates per G update: G steps on every n_critic-th training step, so
    --train.steps counts D updates (WGAN and WGAN-GP papers: 5)."""
    latent_dim: int = 100
    """Units of z ~ N(0, I) (DCGAN: 100)."""
    architecture: Literal["auto", "dcgan", "mlp"] = "auto"
    """Networks: dcgan (strided convolutions, batch norm in G) or mlp (fully connected);
    auto picks mlp for 2-D points and dcgan for images."""
    width: int = 64
    """DCGAN: channels of G's last and D's first convolution, doubled at each other
    resolution (DCGAN's 64x64 net: 128). MLP: units of each hidden layer."""
    hidden_layers: int = 3
    """Hidden layers of each MLP (Gulrajani et al.'s toy nets: 3); unused by dcgan."""
    conditional: bool = False
    """Condition G and D on the class label (Mirza and Osindero 2014): a one-hot label
    concatenated to z in G; in D see conditioning."""
    conditioning: Literal["projection", "concat"] = "projection"
    """How a conditional D reads the label: projection (an inner product of a class
    embedding with D's features, Miyato and Koyama 2018) or concat (one-hot label maps
    concatenated to D's input, Mirza and Osindero 2014)."""
    spectral_norm: bool = False
    """Spectral normalisation of every D layer (Miyato et al. 2018)."""
    r1: float = 0.0
    """Weight gamma of the R1 penalty gamma/2 E||grad_x D(x)||^2 on real data (Mescheder
    et al. 2018; 0 disables; their image experiments: 10)."""
    gp_weight: float = 10.0
    """lambda of WGAN-GP's gradient penalty (paper: 10)."""
    clip_value: float = 0.01
    """c of WGAN's weight clipping to [-c, c] (paper: 0.01); used by loss wgan only."""
    d_norm: Literal["auto", "batch", "layer", "none"] = "auto"
    """Normalisation between D's convolutions: batch (DCGAN), layer (over C, H, W; what
    WGAN-GP uses, since a penalty per sample needs a critic without batch coupling) or
    none; auto: none with spectral_norm or mlp, layer with wgan-gp or r1, else batch."""
    lr_g: float | None = None
    """Adam learning rate of G (None: --train.lr; DCGAN: 2e-4)."""
    lr_d: float | None = None
    """Adam learning rate of D (None: --train.lr; DCGAN: 2e-4)."""
    betas: tuple[float, float] = (0.5, 0.999)
    """Adam's (beta1, beta2) for both players (DCGAN: 0.5, 0.999; WGAN-GP: 0.0, 0.9)."""


@dataclass(frozen=True)
class TrainConfig:
    """The training loop's settings (the loop is the same for every model family)."""

    steps: int = 2000
    """Number of optimizer steps in total (on --resume, training continues up to this)."""
    batch_size: int = 64
    """Images per step, summed over all devices."""
    lr: float = 1e-3
    """Adam learning rate."""
    weight_decay: float = 0.0
    """Decoupled weight decay (AdamW)."""
    grad_clip: float = 1.0
    """Clip the global gradient norm to this (0 disables)."""
    ema_decay: float = 0.0
    """Keep an exponential moving average of the weights with this decay (0 disables);
    sampling and evaluation of the run then use the average."""
    seed: int = 0
    """Seed for weights, data order and every random draw of the run."""
    log_every: int = 50
    """Write scalars to TensorBoard and CSV every this many steps."""
    sample_every: int = 1000
    """Save a sample grid every this many steps (0 disables)."""
    num_samples: int = 16
    """Images in the periodic sample grid (2-D points: a scatter of at least 1000 samples
    over the data density)."""
    checkpoint_every: int = 500
    """Write a checkpoint (atomically) every this many steps, and always at the end."""
    max_minutes: float = 0.0
    """Stop after this much wall-clock time, with a checkpoint (0: no limit); for fixed
    time budgets. --resume then continues towards --train.steps."""
    accelerator: str = "auto"
    """Lightning Fabric accelerator: auto, cpu, cuda, mps."""
    devices: str = "1"
    """Lightning Fabric devices: a count ("2"), a list ("0,1") or "auto"."""
    strategy: str = "auto"
    """Lightning Fabric strategy: auto, ddp, fsdp, ..."""
    precision: str = "32-true"
    """Lightning Fabric precision: 32-true, bf16-mixed, 16-mixed, ..."""
    num_workers: int = 0
    """DataLoader worker processes (0 loads in the main process; data is in memory)."""
    progress: bool = True
    """Show a progress bar."""

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "log_every", "checkpoint_every"):
            if getattr(self, name) <= 0:
                raise ConfigError(name, f"must be positive, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ConfigError("lr", f"must be positive, got {self.lr}")
        if self.max_minutes < 0:
            raise ConfigError("max_minutes", "must be >= 0 (0: no limit)")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ConfigError("ema_decay", f"must be in [0, 1), got {self.ema_decay}")


# ---------------------------------------------------------------------------------------
# Serialisation: configs <-> plain JSON-able dicts, with strict checking of unknown keys.

T = TypeVar("T")


def to_dict(config: Any) -> dict[str, Any]:
    """A config dataclass as a JSON-able dict (tuples become lists, paths strings)."""
    return json.loads(json.dumps(dataclasses.asdict(config), default=str))


def from_dict(cls: type[T], data: dict[str, Any], *, where: str = "config") -> T:
    """Build ``cls`` from a dict, rejecting unknown keys with a clear error.

    Args:
        cls: a config dataclass.
        data: field values; missing fields take their defaults.
        where: names the source in error messages (a file, a checkpoint).
    """
    if not isinstance(data, dict):
        raise UserInputError(f"{where}: expected a table of settings, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise UserInputError(
            f"{where}: unknown setting(s) {', '.join(unknown)} for {cls.__name__}; "
            f"known: {', '.join(fields)}"
        )
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in data.items():
        hint = hints[key]
        if _is_tuple_hint(hint) and isinstance(value, list):
            value = tuple(value)
        kwargs[key] = value
    return cls(**kwargs)


def _is_tuple_hint(hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin is tuple:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_is_tuple_hint(a) for a in typing.get_args(hint))
    return False


def load_recipe(path: Path) -> dict[str, Any]:
    """Read a recipe file (TOML) into a dict of sections.

    A recipe holds top-level keys of a command (e.g. ``data = "fashion-mnist"``) and the
    tables ``[model]`` and ``[train]``; see ``configs/`` for examples.
    """
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"recipe {path} not found; pass an existing .toml file to --config")
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise UserInputError(f"recipe {path} is not valid TOML ({e}); fix the file") from e
