"""Generator and discriminator networks of the GAN (:mod:`genzoo.models.gan`).

Plain networks that know nothing of the game played with them:

- DCGAN (Radford, Metz, Chintala 2016, section 3 and figure 1): G projects z to a small
  feature map, then doubles the resolution with 4x4 stride-2 transposed convolutions,
  batch norm and ReLU, ending in tanh; D mirrors it with 4x4 stride-2 convolutions and
  leaky ReLU (slope 0.2), no pooling, no batch norm on its first layer. Weights start
  from N(0, 0.02) (batch-norm scales from N(1, 0.02)).
- MLP (Goodfellow et al. 2014; the toy nets of Gulrajani et al. 2017): fully connected
  ReLU layers in G, leaky-ReLU layers in D.

Resolutions: the number of stride-2 stages is how often both H and W halve to an integer
of at least 3, at most 4 (:func:`dcgan_stages`): 64 -> 4 stages from 4x4 (DCGAN's
LSUN/CelebA net), 32 -> 3 from 4x4, 28 -> 2 from 7x7 (the usual MNIST net), 8 -> 1 from
4x4; a size that does not halve (odd, or below 6) gets no stage: z is projected to the
full resolution and a 3x3 convolution makes the image.

Deviations from the DCGAN paper:
    - D ends in a linear layer on the flattened features (the paper's "flattened and fed
      into a single sigmoid output"), returning the logit; the sigmoid lives in the loss.
    - D's normalisation is a choice: batch (the paper), layer (per-sample, for penalties
      on input gradients: WGAN-GP, R1) or none (with spectral normalisation).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

Norm = Literal["batch", "layer", "none"]


def dcgan_stages(height: int, width: int, max_stages: int = 4) -> int:
    """Stride-2 stages for an H x W image: halvings that leave both sides integers >= 3."""
    k = 0
    while k < max_stages and height % 2 == 0 and width % 2 == 0 and min(height, width) >= 6:
        height, width, k = height // 2, width // 2, k + 1
    return k


def _norm2d(kind: Norm, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)  # normalises over (C, H, W) of each sample
    return nn.Identity()


def dcgan_init_(module: nn.Module) -> None:
    """DCGAN's initialisation: conv and linear weights ~ N(0, 0.02), biases 0, batch-norm
    scales ~ N(1, 0.02) (Radford et al. 2016, section 4)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class DCGANGenerator(nn.Module):
    """z (N, in_features) -> images (N, C, H, W) in [-1, 1].

    Args:
        in_features: units of G's input (z, plus the one-hot label when conditional).
        image_shape: (C, H, W).
        width: channels of the last hidden map; each earlier stage has twice as many.
    """

    def __init__(self, in_features: int, image_shape: tuple[int, ...], width: int) -> None:
        super().__init__()
        c, h, w = image_shape
        k = dcgan_stages(h, w)
        h0, w0 = h >> k, w >> k
        ch = width * 2 ** max(k - 1, 0)
        layers: list[nn.Module] = [
            nn.Linear(in_features, ch * h0 * w0, bias=False),
            nn.Unflatten(1, (ch, h0, w0)),  # (N, ch, h0, w0)
            nn.BatchNorm2d(ch),
            nn.ReLU(),
        ]
        for _ in range(k - 1):  # (N, ch, h, w) -> (N, ch / 2, 2h, 2w)
            layers += [
                nn.ConvTranspose2d(ch, ch // 2, 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(ch // 2),
                nn.ReLU(),
            ]
            ch //= 2
        if k >= 1:
            layers.append(nn.ConvTranspose2d(ch, c, 4, stride=2, padding=1))  # (N, C, H, W)
        else:
            layers.append(nn.Conv2d(ch, c, 3, padding=1))
        layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)
        dcgan_init_(self)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class DCGANFeatures(nn.Module):
    """D's convolutional body: images (N, C [+ classes], H, W) -> features (N, out_features).

    Args:
        in_channels: channels of D's input (the image's, plus one map per class for
            concatenation conditioning).
        image_shape: (C, H, W) of the images.
        width: channels of the first convolution; each later stage doubles them.
        norm: normalisation after every convolution but the first.
    """

    def __init__(
        self, in_channels: int, image_shape: tuple[int, ...], width: int, norm: Norm
    ) -> None:
        super().__init__()
        _, h, w = image_shape
        k = dcgan_stages(h, w)
        if k == 0:
            layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 3, padding=1)]
        else:
            layers = [nn.Conv2d(in_channels, width, 4, stride=2, padding=1)]
        layers.append(nn.LeakyReLU(0.2))
        ch = width
        for _ in range(k - 1):  # (N, ch, h, w) -> (N, 2 ch, h / 2, w / 2)
            layers += [
                nn.Conv2d(ch, 2 * ch, 4, stride=2, padding=1, bias=norm == "none"),
                _norm2d(norm, 2 * ch),
                nn.LeakyReLU(0.2),
            ]
            ch *= 2
        layers.append(nn.Flatten())
        self.net = nn.Sequential(*layers)
        self.out_features = ch * (h >> k) * (w >> k)
        dcgan_init_(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class MLPGenerator(nn.Module):
    """z (N, in_features) -> (N, *out_shape): ReLU layers, then linear (points) or tanh.

    Args:
        in_features: units of G's input.
        out_shape: shape of one example, (2,) or (C, H, W).
        width: units of each hidden layer.
        layers: number of hidden layers.
        tanh: end in tanh (images in [-1, 1]) rather than a linear output (points).
    """

    def __init__(
        self, in_features: int, out_shape: tuple[int, ...], width: int, layers: int, tanh: bool
    ) -> None:
        super().__init__()
        out = 1
        for s in out_shape:
            out *= s
        mods: list[nn.Module] = []
        units = in_features
        for _ in range(layers):
            mods += [nn.Linear(units, width), nn.ReLU()]
            units = width
        mods += [nn.Linear(units, out), nn.Unflatten(1, tuple(out_shape))]
        if tanh:
            mods.append(nn.Tanh())
        self.net = nn.Sequential(*mods)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class MLPFeatures(nn.Module):
    """D's fully connected body: (N, ...) flattened -> (N, width) leaky-ReLU features."""

    def __init__(self, in_features: int, width: int, layers: int) -> None:
        super().__init__()
        mods: list[nn.Module] = [nn.Flatten()]
        units = in_features
        for _ in range(max(layers, 1)):
            mods += [nn.Linear(units, width), nn.LeakyReLU(0.2)]
            units = width
        self.net = nn.Sequential(*mods)
        self.out_features = units

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class Discriminator(nn.Module):
    """A body of features plus a linear head: inputs (N, ...) -> logits (N,).

    Conditioning on labels y (N,):

    - ``"projection"`` (Miyato and Koyama 2018, eq. 3): logit = w . phi(x) + b +
      embed(y) . phi(x), the class embedding projected onto the features.
    - ``"concat"`` (Mirza and Osindero 2014): the one-hot label is concatenated to the
      input: as constant maps for images (N, C + K, H, W), as units for vectors.

    Args:
        body: maps the (possibly concatenated) input to features; has ``out_features``.
        num_classes: K for a conditional D, else 0.
        conditioning: "projection" or "concat" (ignored when num_classes is 0).
    """

    def __init__(self, body: nn.Module, num_classes: int, conditioning: str) -> None:
        super().__init__()
        self.body = body
        self.num_classes = num_classes
        self.conditioning = conditioning
        features = int(body.out_features)  # type: ignore[arg-type]
        self.head = nn.Linear(features, 1)
        if num_classes and conditioning == "projection":
            self.embed = nn.Embedding(num_classes, features)
            nn.init.normal_(self.embed.weight, 0.0, 0.02)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        concat = self.num_classes and self.conditioning == "concat"
        if concat:
            onehot = nn.functional.one_hot(labels, self.num_classes).to(x.dtype)  # (N, K)
            if x.ndim == 4:
                maps = onehot[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])
                x = torch.cat([x, maps], dim=1)  # (N, C + K, H, W)
            else:
                x = torch.cat([x.flatten(1), onehot], dim=1)  # (N, D + K)
        phi = self.body(x)  # (N, F)
        out = self.head(phi).squeeze(1)  # (N,)
        if self.num_classes and not concat:
            out = out + (self.embed(labels) * phi).sum(1)
        return out


def add_spectral_norm_(module: nn.Module) -> nn.Module:
    """Spectral normalisation (Miyato et al. 2018) on every conv, linear and embedding
    layer of ``module`` (one power iteration per training forward pass)."""
    for m in list(module.modules()):
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
            spectral_norm(m)
    return module
