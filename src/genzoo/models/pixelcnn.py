"""PixelCNN (van den Oord, Kalchbrenner, Kavukcuoglu 2016, "Pixel Recurrent Neural
Networks", ICML, section 3.5, figure 5 and table 4).

Architecture (as in the paper):
    7x7 conv, mask A, 2h maps
    residual blocks: ReLU, 1x1 conv 2h->h, ReLU, 3x3 conv h->h (mask B), ReLU, 1x1 conv h->2h
    ReLU, 1x1 conv (mask B), ReLU, 1x1 conv (mask B) -> 256-way softmax (or Bernoulli)

Deviations:
    - Sizes default to a small network (h=64, 7 blocks, 128 output maps) that trains on
      a CPU; the paper's CIFAR-10 model used h=128, 15 blocks and 1024 output maps.
    - Class conditioning adds a learned per-class bias inside every residual block, the
      simplest form of the conditional PixelCNN (van den Oord et al. 2016b, eq. 4).
    - Sampling defaults to per-layer caches (Ramachandran et al. 2017,
      :class:`PixelCNNCache`): one new position of every layer per sub-pixel.
    - The plain PixelCNN has a blind spot (pixels to the upper right of its receptive
      field); the Gated PixelCNN, which removes it, is a separate model.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.config import DataSpec
from genzoo.models.autoregressive import AutoregressiveModel
from genzoo.models.pixelcnn_config import PixelCNNConfig
from genzoo.nn.cached import CachedConv, PointwiseConv, class_biases, plus_bias, same_pad
from genzoo.nn.conditioning import add_class_bias, class_bias
from genzoo.nn.masked import MaskedConv2d, MaskedOutputHead


class ResidualBlock(nn.Module):
    """The PixelCNN residual block (figure 5): 2h -> h -> h (3x3 masked) -> 2h, plus skip.

    Args:
        h: channels inside the block (the residual stream has 2h).
        color_channels: colour channels of the image, for the channel masks.
        num_classes: if given, add a learned per-class bias after the 3x3 convolution.
    """

    def __init__(self, h: int, color_channels: int, num_classes: int | None) -> None:
        super().__init__()
        self.reduce = MaskedConv2d(2 * h, h, 1, "B", color_channels)
        self.conv = MaskedConv2d(h, h, 3, "B", color_channels)
        self.expand = MaskedConv2d(h, 2 * h, 1, "B", color_channels)
        self.class_bias = class_bias(num_classes, h)
        self.act = nn.ReLU()

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        # x: (N, 2h, H, W) -> (N, 2h, H, W)
        y = self.conv(self.act(self.reduce(self.act(x))))  # (N, h, H, W)
        y = add_class_bias(y, self.class_bias, labels)
        return x + self.expand(self.act(y))


class PixelCNN(AutoregressiveModel):
    """PixelCNN with exact likelihood; see the module docstring for the paper and deviations.

    Args:
        config: sizes and options (:class:`genzoo.models.pixelcnn_config.PixelCNNConfig`).
        data: image shape (C, H, W), kind ("8bit" or "binary") and number of classes.
    """

    name = "pixelcnn"

    def __init__(self, config: PixelCNNConfig, data: DataSpec) -> None:
        super().__init__(config, data)
        c = data.image_shape[0]
        h = config.hidden_channels
        num_classes = self.label_classes
        self.input_conv = MaskedConv2d(c, 2 * h, 7, "A", c)
        self.blocks = nn.ModuleList(
            ResidualBlock(h, c, num_classes) for _ in range(config.num_blocks)
        )
        self.head = MaskedOutputHead(2 * h, config.output_channels, c, self.params_per_subpixel)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """The network: (N, C, H, W) in [-1, 1] -> (N, C, K, H, W) sub-pixel parameters."""
        y = self.input_conv(x)  # (N, 2h, H, W)
        for block in self.blocks:
            y = block(y, labels)
        return self.head(y)

    def cached_network(self, x: Tensor, labels: Tensor | None = None) -> PixelCNNCache:
        return PixelCNNCache(self, x, labels)


class PixelCNNCache:
    """PixelCNN's per-layer caches (Ramachandran et al. 2017; see
    :mod:`genzoo.models.cached_sampling`): the image for the 7x7 mask-A layer, and each
    block's 3x3 input; the 1x1 layers need no cache (they read the position itself).

    Args:
        model: the network (its weights are read once, at construction).
        x: signed network input (N, C, H, W) of the images drawn so far.
        labels: class labels (N,) of a conditional model, else None.
    """

    def __init__(self, model: PixelCNN, x: Tensor, labels: Tensor | None) -> None:
        n, _, hh, ww = x.shape
        h = model.config.hidden_channels
        self.input = CachedConv(model.input_conv, x, same_pad(model.input_conv), fill=True)
        hidden = x.new_zeros(n, h, hh, ww)
        self.reduce = [PointwiseConv(b.reduce) for b in model.blocks]
        self.conv = [CachedConv(b.conv, hidden, same_pad(b.conv)) for b in model.blocks]
        self.expand = [PointwiseConv(b.expand) for b in model.blocks]
        self.bias = class_biases([b.class_bias for b in model.blocks], labels)
        self.head = [PointwiseConv(model.head[1]), PointwiseConv(model.head[3])]
        self.shape = (model.head.color_channels, model.head.params_per_subpixel)

    def write_input(self, i: int, j: int, pixel: Tensor) -> None:
        self.input.write(i, j, pixel)

    def params_at(self, i: int, j: int) -> Tensor:
        y = self.input.at(i, j)  # (N, 2h)
        for reduce, conv, expand, bias in zip(
            self.reduce, self.conv, self.expand, self.bias, strict=True
        ):
            conv.write(i, j, F.relu(reduce(F.relu(y))))  # (N, h)
            z = plus_bias(conv.at(i, j), bias)  # (N, h)
            y = y + expand(F.relu(z))  # (N, 2h)
        out = self.head[1](F.relu(self.head[0](F.relu(y))))  # (N, C*K)
        return out.view(out.shape[0], *self.shape)  # (N, C, K)

    def end_row(self, i: int) -> None:
        pass

    def activations(self) -> dict[str, tuple[int, Tensor]]:
        maps = {"input_conv": self.input.held_input()}
        maps.update({f"blocks.{k}.conv": c.held_input() for k, c in enumerate(self.conv)})
        return maps
