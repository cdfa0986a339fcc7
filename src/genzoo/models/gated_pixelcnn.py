"""Gated PixelCNN (van den Oord, Kalchbrenner, Vinyals, Espeholt, Graves, Kavukcuoglu 2016,
"Conditional Image Generation with PixelCNN Decoders", NeurIPS, section 2 and figure 2).

Two stacks remove the blind spot of the plain PixelCNN:

- the vertical stack reads the rows above (a (k//2+1) x k convolution over rows i-k//2 .. i,
  whose output is shifted down one row wherever it feeds the horizontal stack, so it only
  ever brings rows above);
- the horizontal stack reads the current row left of the pixel (a 1 x (k//2+1) convolution,
  mask A in the first layer, mask B after, with the R -> G -> B channel masks at the centre)
  plus a 1x1 convolution of the shifted vertical stack.

Each layer gates both stacks, y = tanh(W_f * x + V_f h) . sigmoid(W_g * x + V_g h), with h a
learned per-class bias (``--model.conditional true``, eq. 4 with a one-hot h), and adds a 1x1
residual in the horizontal stack from the second layer on. Output: ReLU, 1x1 (mask B), ReLU,
1x1 (mask B) -> 256-way softmax (or Bernoulli), as in PixelCNN.

Deviations:
    - Sizes default to a small network (h=64, 8 layers; first layer 7x7, then 3x3) that
      trains on a CPU; the paper used 15 layers of 384 maps (CIFAR-10) and 20 layers on
      ImageNet.
    - The horizontal stack's 1 x (k//2+1) convolution is stored as a 1 x k kernel whose right
      half is masked (one masked layer type for the whole family).
    - No skip connections from every layer to the output (the paper's ImageNet models);
      the output reads the last horizontal stack.
    - Sampling defaults to per-layer caches (Ramachandran et al. 2017,
      :class:`GatedPixelCNNCache`): the vertical stack a row at a time, the horizontal
      stack one position per layer per sub-pixel.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.config import DataSpec
from genzoo.models.autoregressive import AutoregressiveModel
from genzoo.models.gated_pixelcnn_config import GatedPixelCNNConfig
from genzoo.nn.cached import CachedConv, PointwiseConv, class_biases, plus_bias, same_pad
from genzoo.nn.causal import MaskedRowConv2d, down_shift, grouped_gates
from genzoo.nn.conditioning import add_class_bias, class_bias
from genzoo.nn.masked import MaskedConv2d, MaskedOutputHead

FIRST_KERNEL = 7
KERNEL = 3


def gate(pre: Tensor, groups: int) -> Tensor:
    """tanh(a) * sigmoid(b) of (N, 2h, H, W) group-major pre-activations -> (N, h, H, W)."""
    a, b = grouped_gates(pre, 2, groups)
    return torch.tanh(a) * torch.sigmoid(b)


class GatedLayer(nn.Module):
    """One layer of both stacks (figure 2): (v, h) -> (v', h').

    Args:
        in_channels: channels of both stacks' input (C in the first layer, else ``hidden``).
        hidden: channels of both stacks.
        kernel_size: k; the vertical kernel is (k//2+1) x k, the horizontal one 1 x (k//2+1).
        color_channels: colour channels of the image, for the horizontal stack's masks.
        first: the first layer (mask A, no residual).
        num_classes: if given, a learned per-class bias on both stacks' gates.
    """

    def __init__(
        self,
        in_channels: int,
        hidden: int,
        kernel_size: int,
        color_channels: int,
        first: bool,
        num_classes: int | None,
    ) -> None:
        super().__init__()
        k = kernel_size
        self.k, self.groups, self.first = k, color_channels, first
        self.v_conv = nn.Conv2d(in_channels, 2 * hidden, (k // 2 + 1, k))
        self.v_to_h = nn.Conv2d(2 * hidden, 2 * hidden, 1)
        mask = "A" if first else "B"
        self.h_conv = MaskedRowConv2d(in_channels, 2 * hidden, k, mask, color_channels)
        self.h_out = MaskedConv2d(hidden, hidden, 1, "B", color_channels)
        self.v_bias = class_bias(num_classes, 2 * hidden)
        self.h_bias = class_bias(num_classes, 2 * hidden)

    def forward(self, v: Tensor, h: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor]:
        k = self.k
        v_pre = self.v_conv(F.pad(v, (k // 2, k // 2, k // 2, 0)))  # (N, 2h, H, W): rows <= i
        h_pre = self.h_conv(h) + self.v_to_h(down_shift(v_pre))  # rows above + row i left
        v_pre = add_class_bias(v_pre, self.v_bias, labels)
        h_pre = add_class_bias(h_pre, self.h_bias, labels)
        v_out = gate(v_pre, 1)  # (N, h, H, W); the vertical stack needs no colour groups
        h_out = self.h_out(gate(h_pre, self.groups))  # (N, h, H, W)
        return v_out, h_out if self.first else h + h_out


class GatedPixelCNN(AutoregressiveModel):
    """Gated PixelCNN with exact likelihood; see the module docstring for paper and deviations.

    Args:
        config: sizes and options
            (:class:`genzoo.models.gated_pixelcnn_config.GatedPixelCNNConfig`).
        data: image shape (C, H, W), kind ("8bit" or "binary") and number of classes.
    """

    name = "gated-pixelcnn"

    def __init__(self, config: GatedPixelCNNConfig, data: DataSpec) -> None:
        super().__init__(config, data)
        c = data.image_shape[0]
        h = config.hidden_channels
        self.check_divides_colours("hidden_channels", h)
        num_classes = self.label_classes
        self.layers = nn.ModuleList(
            GatedLayer(
                c if n == 0 else h, h, FIRST_KERNEL if n == 0 else KERNEL, c, n == 0, num_classes
            )
            for n in range(config.num_layers)
        )
        self.head = MaskedOutputHead(h, config.output_channels, c, self.params_per_subpixel)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """The network: (N, C, H, W) in [-1, 1] -> (N, C, K, H, W) sub-pixel parameters."""
        v, h = x, x
        for layer in self.layers:
            v, h = layer(v, h, labels)
        return self.head(h)

    def cached_network(self, x: Tensor, labels: Tensor | None = None) -> GatedPixelCNNCache:
        return GatedPixelCNNCache(self, x, labels)


class GatedPixelCNNCache:
    """The Gated PixelCNN's per-layer caches (Ramachandran et al. 2017; see
    :mod:`genzoo.models.cached_sampling`).

    The vertical stack at row i reads input rows <= i (any column in reach), and the
    horizontal stack reads it only through the one-row down-shift, so the vertical stack is
    computed a whole row at a time when row i completes (one convolution per layer), along
    with its 1x1 link into the horizontal stack for row i + 1. The horizontal stack is
    computed one position per layer per sub-pixel from the cache of each layer's input row.

    Args:
        model: the network (its weights are read once, at construction).
        x: signed network input (N, C, H, W) of the images drawn so far.
        labels: class labels (N,) of a conditional model, else None.
    """

    def __init__(self, model: GatedPixelCNN, x: Tensor, labels: Tensor | None) -> None:
        n, _, hh, ww = x.shape
        hidden = x.new_zeros(n, model.config.hidden_channels, hh, ww)
        self.layers = list(model.layers)
        self.v_conv: list[CachedConv] = []
        self.h_conv: list[CachedConv] = []
        for k, layer in enumerate(self.layers):
            first, r = k == 0, layer.k // 2
            like = x if first else hidden
            self.v_conv.append(CachedConv(layer.v_conv, like, (r, r, r, 0), fill=first))
            self.h_conv.append(CachedConv(layer.h_conv, like, same_pad(layer.h_conv), fill=first))
        self.v_to_h = [PointwiseConv(layer.v_to_h) for layer in self.layers]
        self.h_out = [PointwiseConv(layer.h_out) for layer in self.layers]
        self.v_bias = class_biases([layer.v_bias for layer in self.layers], labels)
        self.h_bias = class_biases([layer.h_bias for layer in self.layers], labels)
        # the link for row 0: the 1x1 conv of the down-shift's zero row
        zero_row = x.new_zeros(n, 2 * model.config.hidden_channels, ww)  # (N, 2h, W)
        self.link = [v_to_h.rows(zero_row) for v_to_h in self.v_to_h]  # (N, 2h, W) each
        self.head = [PointwiseConv(model.head[1]), PointwiseConv(model.head[3])]
        self.shape = (model.head.color_channels, model.head.params_per_subpixel)

    def write_input(self, i: int, j: int, pixel: Tensor) -> None:
        self.v_conv[0].write(i, j, pixel)
        self.h_conv[0].write(i, j, pixel)

    def params_at(self, i: int, j: int) -> Tensor:
        h = None
        for k, layer in enumerate(self.layers):
            if h is not None:
                self.h_conv[k].write(i, j, h)
            pre = self.h_conv[k].at(i, j) + self.link[k][:, :, j]  # (N, 2h)
            pre = plus_bias(pre, self.h_bias[k])
            out = self.h_out[k](gate(pre, layer.groups))  # (N, h)
            h = out if h is None else h + out
        out = self.head[1](F.relu(self.head[0](F.relu(h))))  # (N, C*K)
        return out.view(out.shape[0], *self.shape)  # (N, C, K)

    def end_row(self, i: int) -> None:
        for k in range(len(self.layers)):
            pre = self.v_conv[k].row(i)  # (N, 2h, W), before the class bias
            self.link[k] = self.v_to_h[k].rows(pre)  # the horizontal stack's row i + 1
            if k + 1 < len(self.layers):
                v = gate(plus_bias(pre, self.v_bias[k]), 1)  # (N, h, W)
                self.v_conv[k + 1].write_row(i, v)

    def activations(self) -> dict[str, tuple[int, Tensor]]:
        # the vertical convolution's module input is the padded map (the layer pads it)
        maps = {f"layers.{k}.v_conv": c.held_padded() for k, c in enumerate(self.v_conv)}
        maps.update({f"layers.{k}.h_conv": c.held_input() for k, c in enumerate(self.h_conv)})
        return maps
