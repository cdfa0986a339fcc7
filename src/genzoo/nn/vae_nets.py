"""Encoder and decoder networks of the variational autoencoder (:mod:`genzoo.models.vae`).

Two architectures, each a plain network that knows nothing of the distributions built on
its outputs:

- ``mlp``: fully connected tanh layers, as in Kingma & Welling (2014, appendix C) and the
  IWAE paper (Burda et al. 2016, section 5: two layers of 200 units).
- ``conv``: two stride-2 3x3 ReLU convolutions (h and 2h channels) down to about H/4 x W/4,
  mirrored in the decoder by nearest-neighbour upsampling to the exact encoder sizes
  followed by 3x3 convolutions (any H and W work, odd ones included).
"""

from __future__ import annotations

from torch import Tensor, nn


def _down(size: int) -> int:
    """Output size of a 3x3 stride-2 convolution with padding 1: ceil(size / 2)."""
    return (size + 1) // 2


class MLP(nn.Module):
    """``layers`` tanh layers of ``hidden`` units, then a linear map to ``out_features``.

    Args:
        in_features: input width.
        hidden: units of each hidden layer.
        layers: number of hidden layers (0 gives one linear map).
        out_features: output width.
    """

    def __init__(self, in_features: int, hidden: int, layers: int, out_features: int) -> None:
        super().__init__()
        mods: list[nn.Module] = []
        width = in_features
        for _ in range(layers):
            mods += [nn.Linear(width, hidden), nn.Tanh()]
            width = hidden
        mods.append(nn.Linear(width, out_features))
        self.net = nn.Sequential(*mods)

    def forward(self, x: Tensor) -> Tensor:
        # x: (N, in_features) -> (N, out_features)
        return self.net(x)


class Encoder(nn.Module):
    """Images (N, C, H, W) as floats -> features (N, ``out_features``).

    Args:
        architecture: "mlp" or "conv".
        image_shape: (C, H, W).
        hidden: MLP units, or the conv nets' base channels h.
        layers: MLP hidden layers (ignored by the conv net, which has two).
    """

    def __init__(
        self, architecture: str, image_shape: tuple[int, ...], hidden: int, layers: int
    ) -> None:
        super().__init__()
        c, h, w = image_shape
        if architecture == "mlp":
            mods: list[nn.Module] = [nn.Flatten()]
            width = c * h * w
            for _ in range(layers):
                mods += [nn.Linear(width, hidden), nn.Tanh()]
                width = hidden
            self.out_features = width
        else:
            mods = [
                nn.Conv2d(c, hidden, 3, stride=2, padding=1),
                nn.ReLU(),
                nn.Conv2d(hidden, 2 * hidden, 3, stride=2, padding=1),
                nn.ReLU(),
                nn.Flatten(),
            ]
            self.out_features = 2 * hidden * _down(_down(h)) * _down(_down(w))
        self.net = nn.Sequential(*mods)

    def forward(self, x: Tensor) -> Tensor:
        # x: (N, C, H, W) -> (N, out_features)
        return self.net(x)


class Decoder(nn.Module):
    """Latent codes (N, ``in_features``) -> distribution parameters (N, C * K, H, W).

    Args:
        architecture: "mlp" or "conv".
        in_features: width of the decoder input (latent units, plus classes if conditional).
        image_shape: (C, H, W).
        params_per_value: K, the parameters per sub-pixel (1 Bernoulli logit, 2 for a
            location and a log-scale, 256 categorical logits).
        hidden: MLP units, or the conv nets' base channels h.
        layers: MLP hidden layers (ignored by the conv net).
    """

    def __init__(
        self,
        architecture: str,
        in_features: int,
        image_shape: tuple[int, ...],
        params_per_value: int,
        hidden: int,
        layers: int,
    ) -> None:
        super().__init__()
        c, h, w = image_shape
        out_c = c * params_per_value
        if architecture == "mlp":
            mods: list[nn.Module] = []
            width = in_features
            for _ in range(layers):
                mods += [nn.Linear(width, hidden), nn.Tanh()]
                width = hidden
            mods += [nn.Linear(width, out_c * h * w), nn.Unflatten(1, (out_c, h, w))]
        else:
            h2, w2 = _down(h), _down(w)
            h4, w4 = _down(h2), _down(w2)
            mods = [
                nn.Linear(in_features, 2 * hidden * h4 * w4),
                nn.ReLU(),
                nn.Unflatten(1, (2 * hidden, h4, w4)),
                nn.Upsample(size=(h2, w2), mode="nearest"),
                nn.Conv2d(2 * hidden, hidden, 3, padding=1),
                nn.ReLU(),
                nn.Upsample(size=(h, w), mode="nearest"),
                nn.Conv2d(hidden, hidden, 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(hidden, out_c, 3, padding=1),
            ]
        self.net = nn.Sequential(*mods)

    def forward(self, z: Tensor) -> Tensor:
        # z: (N, in_features) -> (N, C * K, H, W)
        return self.net(z)
