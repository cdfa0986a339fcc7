"""Masked convolutions for autoregressive image models.

PixelCNN (van den Oord et al. 2016, section 3.4) orders the sub-pixels of an image in
raster order, and within a pixel as R -> G -> B. A convolution is made causal by zeroing
the kernel weights that would read a later position:

- every kernel row below the centre, and the centre row right of the centre;
- at the centre itself, channel masks: the feature maps are split into as many groups as
  the image has colour channels; output group g may read input groups < g (mask "A", the
  first layer, which must not see the sub-pixel it predicts) or <= g (mask "B", later
  layers, whose inputs at the centre already exclude it).

The mask is a buffer and the layer calls ``F.conv2d(x, weight * mask)`` (the pattern of
karpathy/pytorch-made), so the masked weights get zero gradient and stay exactly zero in
effect whatever the optimiser does. A hand-written layer: torch has no masked convolution.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.errors import UserInputError


def channel_groups(num_channels: int, num_groups: int) -> Tensor:
    """Colour group of each of ``num_channels`` feature maps: contiguous blocks, (num_channels,)."""
    return torch.arange(num_channels) * num_groups // num_channels


def check_color_groups(in_channels: int, out_channels: int, color_channels: int) -> None:
    """Each colour owns a block of feature maps, so both counts must be >= color_channels."""
    for name, ch in (("in_channels", in_channels), ("out_channels", out_channels)):
        if ch < color_channels:
            raise UserInputError(
                f"{name}={ch} must be at least the {color_channels} colour channels"
            )


def causal_mask(
    in_channels: int, out_channels: int, kernel_size: int, mask_type: str, color_channels: int
) -> Tensor:
    """The 0/1 mask of a causal convolution kernel, shape (out, in, k, k).

    Args:
        in_channels: input feature maps (divisible into ``color_channels`` groups).
        out_channels: output feature maps.
        kernel_size: odd kernel size k.
        mask_type: "A" (excludes the current sub-pixel) or "B" (includes it).
        color_channels: 1 for grey images, 3 for RGB.
    """
    if mask_type not in ("A", "B"):
        raise UserInputError(f"mask_type must be 'A' or 'B', got {mask_type!r}")
    if kernel_size % 2 != 1:
        raise UserInputError(f"kernel_size must be odd, got {kernel_size}")
    k, c = kernel_size, kernel_size // 2
    mask = torch.zeros(out_channels, in_channels, k, k)
    mask[:, :, :c, :] = 1  # rows above the centre
    mask[:, :, c, :c] = 1  # the centre row, left of the centre
    g_out = channel_groups(out_channels, color_channels)[:, None]  # (out, 1)
    g_in = channel_groups(in_channels, color_channels)[None, :]  # (1, in)
    centre = g_in < g_out if mask_type == "A" else g_in <= g_out  # (out, in)
    mask[:, :, c, c] = centre.float()
    return mask


class MaskedConv2d(nn.Conv2d):
    """A 'same'-padded convolution whose kernel cannot see later sub-pixels.

    Args:
        in_channels: input feature maps.
        out_channels: output feature maps.
        kernel_size: odd kernel size k.
        mask_type: "A" for the first layer, "B" after it.
        color_channels: colour channels of the image (1 or 3); each colour owns a
            contiguous block of the feature maps, so both counts must be at least this.
        centre_row_only: a 1 x k kernel: only the centre row of the k x k mask (see
            :class:`genzoo.nn.causal.MaskedRowConv2d`).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        mask_type: str,
        color_channels: int = 1,
        *,
        centre_row_only: bool = False,
    ) -> None:
        check_color_groups(in_channels, out_channels, color_channels)
        k = kernel_size
        rows = 1 if centre_row_only else k
        super().__init__(in_channels, out_channels, (rows, k), padding=(rows // 2, k // 2))
        self.mask_type = mask_type
        mask = causal_mask(in_channels, out_channels, k, mask_type, color_channels)
        if centre_row_only:
            mask = mask[:, :, k // 2 : k // 2 + 1, :]  # (out, in, 1, k)
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        # x: (N, in, H, W) -> (N, out, H, W)
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class MaskedOutputHead(nn.Sequential):
    """The output layers of PixelCNN, PixelRNN and the Gated PixelCNN (van den Oord et al.
    2016, "Pixel Recurrent Neural Networks", section 3.5): ReLU, 1x1 conv mask B, ReLU,
    1x1 conv mask B, then the per-sub-pixel parameters.

    The last layer has C x K maps, channel-major (all of R's K parameters first), so that
    its mask-B channel groups give sub-pixel c exactly K maps; they are returned as
    (N, C, K, H, W), the layout of :mod:`genzoo.nn.likelihoods`. A ``Sequential`` (its
    layers are ``head.1`` and ``head.3``), so checkpoints keep their keys.

    Args:
        in_channels: channels of the network's last feature map.
        hidden_channels: channels of the first 1x1 layer (the paper: 1024 on CIFAR-10).
        color_channels: colour channels C of the image.
        params_per_subpixel: K, the likelihood's parameters per sub-pixel.
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        color_channels: int,
        params_per_subpixel: int,
    ) -> None:
        c = color_channels
        super().__init__(
            nn.ReLU(),
            MaskedConv2d(in_channels, hidden_channels, 1, "B", c),
            nn.ReLU(),
            MaskedConv2d(hidden_channels, c * params_per_subpixel, 1, "B", c),
        )
        self.color_channels = c
        self.params_per_subpixel = params_per_subpixel

    def forward(self, x: Tensor) -> Tensor:
        # x: (N, in, H, W) -> (N, C*K, H, W) -> (N, C, K, H, W)
        out = super().forward(x)
        n, _, h, w = out.shape
        return out.view(n, self.color_channels, self.params_per_subpixel, h, w)
