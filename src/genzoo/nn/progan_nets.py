"""Networks of the progressive GAN (Karras, Aila, Laine, Lehtinen 2018, ICLR), level by level.

Plain networks that know nothing of the schedule or the game: each ``forward`` takes the
active ``level`` (0 is 4x4, level l is 4 * 2^l pixels a side) and the fade coefficient
``alpha`` explicitly. :mod:`genzoo.models.progan` decides both from the images shown.

Layers (paper, section 4 and table 2):

- Equalised learning rate (section 4.1): weights drawn N(0, 1) and multiplied at run time
  by the He constant ``gain / sqrt(fan_in)``, gain sqrt(2) (:class:`EqualConv2d`,
  :class:`EqualLinear`); biases start at 0.
- Pixelwise feature vector normalisation in G (section 4.2): every feature vector divided
  by its root mean square over channels (:func:`pixel_norm`, epsilon 1e-8).
- Minibatch standard deviation in D (section 3): the standard deviation of every feature
  over a group of samples, averaged into one number per group and appended as one
  constant feature map (:func:`minibatch_stddev`).
- G: z -> pixel norm -> dense to 4x4 -> 3x3 conv; each further level: nearest-neighbour
  up-sampling x2 and two 3x3 convs, every conv followed by leaky ReLU (0.2) and pixel
  norm; toRGB per level is a 1x1 conv with a linear output.
- D mirrors it: fromRGB per level (1x1 conv, leaky ReLU); each level above 4x4: two 3x3
  convs and 2x2 average pooling; at 4x4: minibatch stddev, 3x3 conv, dense 4x4 -> C,
  linear to one score.

Fade-in (section 2, figure 2): at level l with alpha in [0, 1]

    G(z) = (1 - alpha) up(toRGB_{l-1}(h_{l-1})) + alpha toRGB_l(block_l(h_{l-1}))
    D(x) = D_{<l}((1 - alpha) fromRGB_{l-1}(pool(x)) + alpha pool(block_l(fromRGB_l(x))))

A branch whose weight is 0 is not computed at all, so its parameters get no gradient
(None), which Adam skips (no moment-driven drift of unused layers).

Deviations from the paper:
    - toRGB and D's output layer use gain 1 (linear layers), as does the official code;
      every other layer uses sqrt(2).
    - Minibatch stddev groups are consecutive samples (sample i in group i // G); the
      official code takes strided ones. Equal in distribution (batches are shuffled).
    - Every level's layers exist from construction (the full-resolution networks); only
      the active ones run. This deviates from the paper's growing in memory, not in maths.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

HE_GAIN = math.sqrt(2.0)
"""Gain of the He constant for layers followed by (leaky) ReLU."""


def pixel_norm(x: Tensor, eps: float = 1e-8) -> Tensor:
    """Divide each feature vector by its RMS over channels (dim 1): (N, C, ...) -> same."""
    return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + eps)


def minibatch_stddev(x: Tensor, group_size: int, eps: float = 1e-8) -> Tensor:
    """Append one feature map holding the mean standard deviation of the sample's group.

    For a group of G consecutive samples, the (population) standard deviation of every
    feature at every position over the group is averaged over features and positions into
    one number, which is broadcast to an extra (H, W) map of each member.

    Args:
        x: features (N, C, H, W).
        group_size: G; the largest divisor of N not above it is used.
        eps: added to the variance before the square root.

    Returns:
        (N, C + 1, H, W).
    """
    n, _, h, w = x.shape
    g = group_divisor(n, group_size)
    y = x.reshape(n // g, g, *x.shape[1:])  # (N/G, G, C, H, W)
    std = (y.var(dim=1, unbiased=False) + eps).sqrt()  # (N/G, C, H, W)
    mean_std = std.mean(dim=(1, 2, 3))  # (N/G,)
    maps = mean_std.repeat_interleave(g)[:, None, None, None].expand(n, 1, h, w)  # (N, 1, H, W)
    return torch.cat([x, maps.to(x.dtype)], dim=1)


def group_divisor(n: int, group_size: int) -> int:
    """The largest divisor of n not above group_size (at least 1)."""
    g = max(1, min(group_size, n))
    while n % g:
        g -= 1
    return g


class EqualConv2d(nn.Module):
    """A conv whose weight is stored N(0, 1) and scaled by gain / sqrt(fan_in) when used.

    Args:
        in_channels: input maps.
        out_channels: output maps.
        kernel_size: square kernel side; padding keeps the size ("same").
        gain: sqrt(2) before leaky ReLU, 1 for linear outputs.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, gain: float = HE_GAIN
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.scale = gain / math.sqrt(in_channels * kernel_size * kernel_size)
        self.padding = kernel_size // 2

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class EqualLinear(nn.Module):
    """A linear layer with the weight stored N(0, 1), scaled by gain / sqrt(fan_in)."""

    def __init__(self, in_features: int, out_features: int, gain: float = HE_GAIN) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features))
        self.scale = gain / math.sqrt(in_features)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)


def _lrelu(x: Tensor) -> Tensor:
    return F.leaky_relu(x, 0.2)


def upsample(x: Tensor, factor: int = 2) -> Tensor:
    """Nearest-neighbour up-sampling: (N, C, H, W) -> (N, C, fH, fW)."""
    return x if factor == 1 else F.interpolate(x, scale_factor=factor, mode="nearest")


def downsample(x: Tensor, factor: int = 2) -> Tensor:
    """Average pooling: (N, C, H, W) -> (N, C, H/f, W/f)."""
    return x if factor == 1 else F.avg_pool2d(x, factor)


class GeneratorBlock(nn.Module):
    """One level of G: [up x2] -> 3x3 conv -> 3x3 conv, each with leaky ReLU + pixel norm.
    Level 0 instead maps the latent to 4x4 with a dense layer, then one 3x3 conv."""

    def __init__(self, in_channels: int, out_channels: int, first: bool) -> None:
        super().__init__()
        self.first = first
        self.out_channels = out_channels
        if first:
            self.dense = EqualLinear(in_channels, out_channels * 16)
        else:
            self.conv0 = EqualConv2d(in_channels, out_channels, 3)
        self.conv1 = EqualConv2d(out_channels, out_channels, 3)

    def forward(self, h: Tensor) -> Tensor:
        if self.first:  # h: latent (N, L)
            x = self.dense(pixel_norm(h)).view(h.shape[0], self.out_channels, 4, 4)  # (N, C, 4, 4)
        else:  # h: (N, C_in, r, r) -> (N, C_out, 2r, 2r)
            x = self.conv0(upsample(h))
        x = pixel_norm(_lrelu(x))
        return pixel_norm(_lrelu(self.conv1(x)))


class ProGenerator(nn.Module):
    """G of every level: z (N, L) -> images (N, C, r_l, r_l) in [-1, 1] (linear output).

    Args:
        latent_dim: L.
        channels: feature maps per level, level 0 (4x4) first.
        image_channels: C (1 grey, 3 colour).
    """

    def __init__(self, latent_dim: int, channels: list[int], image_channels: int) -> None:
        super().__init__()
        ins = [latent_dim, *channels[:-1]]
        pairs = enumerate(zip(ins, channels, strict=True))
        self.blocks = nn.ModuleList(GeneratorBlock(i, o, first=k == 0) for k, (i, o) in pairs)
        self.to_rgb = nn.ModuleList(EqualConv2d(c, image_channels, 1, gain=1.0) for c in channels)

    @property
    def num_levels(self) -> int:
        return len(self.blocks)

    def forward(self, z: Tensor, level: int, alpha: float = 1.0) -> Tensor:
        """z (N, L) -> (N, C, 4 * 2^level, 4 * 2^level), the new level faded in by alpha."""
        h = z
        for k in range(level):
            h = self.blocks[k](h)  # (N, C_k, 4 * 2^k, ...)
        if level > 0 and alpha <= 0.0:
            return upsample(self.to_rgb[level - 1](h))
        new = self.to_rgb[level](self.blocks[level](h))  # (N, C, r_l, r_l)
        if level == 0 or alpha >= 1.0:
            return new
        old = upsample(self.to_rgb[level - 1](h))  # (N, C, r_l, r_l)
        return torch.lerp(old, new, alpha)

    def every_level(self, z: Tensor, levels: int) -> list[Tensor]:
        """toRGB of each of the first ``levels`` levels (alpha 1), one pass: a list of
        (N, C, 4 * 2^l, 4 * 2^l) for l = 0 .. levels - 1."""
        out, h = [], z
        for k in range(levels):
            h = self.blocks[k](h)
            out.append(self.to_rgb[k](h))
        return out


class DiscriminatorBlock(nn.Module):
    """One level of D above 4x4: 3x3 conv -> 3x3 conv -> 2x2 average pool, leaky ReLU."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv0 = EqualConv2d(in_channels, in_channels, 3)
        self.conv1 = EqualConv2d(in_channels, out_channels, 3)

    def forward(self, x: Tensor) -> Tensor:  # (N, C_in, r, r) -> (N, C_out, r/2, r/2)
        return downsample(_lrelu(self.conv1(_lrelu(self.conv0(x)))))


class DiscriminatorHead(nn.Module):
    """D at 4x4: minibatch stddev -> 3x3 conv -> dense 4x4 -> C -> linear score."""

    def __init__(self, channels: int, group_size: int) -> None:
        super().__init__()
        self.group_size = group_size
        self.conv = EqualConv2d(channels + 1, channels, 3)
        self.dense = EqualLinear(channels * 16, channels)
        self.out = EqualLinear(channels, 1, gain=1.0)

    def forward(self, x: Tensor) -> Tensor:  # (N, C, 4, 4) -> (N,)
        x = minibatch_stddev(x, self.group_size)  # (N, C + 1, 4, 4)
        x = _lrelu(self.conv(x))  # (N, C, 4, 4)
        x = _lrelu(self.dense(x.flatten(1)))  # (N, C)
        return self.out(x).squeeze(1)


class ProDiscriminator(nn.Module):
    """D of every level: images (N, C, r_l, r_l) -> scores (N,).

    Args:
        channels: feature maps per level, level 0 (4x4) first (the same list as G's).
        image_channels: C.
        group_size: minibatch stddev group size.
    """

    def __init__(self, channels: list[int], image_channels: int, group_size: int) -> None:
        super().__init__()
        self.from_rgb = nn.ModuleList(EqualConv2d(image_channels, c, 1) for c in channels)
        # blocks[l] takes level l's maps down to level l - 1's (blocks[0] unused: the head)
        self.blocks = nn.ModuleList(
            [nn.Identity()]
            + [DiscriminatorBlock(channels[k], channels[k - 1]) for k in range(1, len(channels))]
        )
        self.head = DiscriminatorHead(channels[0], group_size)

    def forward(self, x: Tensor, level: int, alpha: float = 1.0) -> Tensor:
        """x (N, C, 4 * 2^level, ...) -> (N,), the new level faded in by alpha."""
        h = self.input_features(x, level, alpha)
        for k in range(level - 1, 0, -1):
            h = self.blocks[k](h)  # (N, C_{k-1}, r_{k-1}, r_{k-1})
        return self.head(h)

    def input_features(self, x: Tensor, level: int, alpha: float = 1.0) -> Tensor:
        """The input path: x (N, C, r_l, r_l) -> features at level l - 1's resolution
        (N, C_{l-1}, r_l / 2, r_l / 2) for l >= 1 (fromRGB_0(x) at level 0)."""
        if level == 0:
            return _lrelu(self.from_rgb[0](x))
        if alpha <= 0.0:
            return _lrelu(self.from_rgb[level - 1](downsample(x)))
        new = self.blocks[level](_lrelu(self.from_rgb[level](x)))  # (N, C_{l-1}, r/2, r/2)
        if alpha >= 1.0:
            return new
        old = _lrelu(self.from_rgb[level - 1](downsample(x)))  # (N, C_{l-1}, r/2, r/2)
        return torch.lerp(old, new, alpha)
