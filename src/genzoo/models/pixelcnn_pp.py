"""PixelCNN++ (Salimans, Karpathy, Chen, Kingma 2017, "PixelCNN++: Improving the PixelCNN
with Discretized Logistic Mixture Likelihood and Other Modifications", ICLR).

The paper's modifications, all here:
    1. A discretised logistic mixture likelihood per pixel instead of a 256-way softmax
       (section 2.1), with the exact discrete log-likelihood: value 0 takes the mass below
       its upper bin edge, value 255 the mass above its lower edge, every other value the
       mass of its bin (:class:`genzoo.nn.likelihoods.DiscretizedLogisticMixture`, stable
       however small the bin mass).
    2. Conditioning on whole pixels (section 2.2): the network output at (i, j) ignores
       every channel of pixel (i, j); within a pixel the mixture's means depend linearly on
       the earlier channels, mu_G = m_G + a * x_R, mu_B = m_B + b * x_R + c * x_G, with
       a, b, c per mixture component from the network (tanh-squashed, as in the code).
    3. Down-sampling (stride-2 shifted convolutions) and up-sampling (stride-2 shifted
       transposed convolutions) over three resolutions (section 2.3).
    4. Shortcut connections from each down-sampling layer to its up-sampling mirror
       (section 2.4), concatenated into the gated resnet blocks' skip input.
    5. Dropout inside every gated resnet block (section 2.6).
    Two streams (section 2.5 and the code): ``u`` reads the rows above (down-shifted 2x3
    convolutions), ``ul`` the rows above and the current row to the left (down-right-shifted
    2x2 convolutions); blocks use concat_elu and a sigmoid gate; the output is a 1x1
    convolution of elu(ul).

Deviations:
    - Sizes default to a small network (32 filters, 2 blocks per resolution, 5 mixture
      components) that trains on a CPU; the paper used 160 filters, 5 blocks, 10 components.
    - No weight normalisation or data-dependent initialisation (plain convolutions).
    - log-scales are clamped to [-7, 7] (the paper: >= -7) so that every bin mass stays
      representable.
    - Images whose height or width is not a multiple of 4 are padded at the bottom and right
      inside the network (later pixels, so causality holds) and the output cropped back.
    - Sampling draws each sub-pixel from its exact discrete conditional (the component
      posterior given the earlier channels, then the 256 bin masses) through the shared raster
      sampler, rather than drawing a component and a continuous logistic and rounding; the
      two are the same distribution.
    - Class conditioning (``--model.conditional``) adds a learned per-class bias to every
      block's gate pre-activations (the paper's class-conditional CIFAR model did the same
      with a linear map of the one-hot label).
    - 8-bit data only: for binary data use the other autoregressive models.
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.config import DataSpec
from genzoo.errors import UserInputError
from genzoo.models.autoregressive import AutoregressiveModel
from genzoo.models.pixelcnn_pp_config import PixelCNNPPConfig
from genzoo.nn.causal import (
    DownRightShiftedConv2d,
    DownRightShiftedDeconv2d,
    DownShiftedConv2d,
    DownShiftedDeconv2d,
    down_shift,
    right_shift,
)
from genzoo.nn.conditioning import add_class_bias, class_bias
from genzoo.nn.likelihoods import DiscretizedLogisticMixture
from genzoo.nn.receptive_field import UNBOUNDED, ReceptiveField


def concat_elu(x: Tensor) -> Tensor:
    """elu of x and of -x, concatenated on channels: (N, C, H, W) -> (N, 2C, H, W)."""
    return F.elu(torch.cat([x, -x], dim=1))


class GatedResnet(nn.Module):
    """PixelCNN++'s gated resnet block: x + a . sigmoid(b), [a, b] = conv(dropout(celu(conv(
    celu(x)) + nin(celu(skip))))), celu = concat_elu.

    Args:
        filters: channels F of the stream.
        conv: the stream's convolution type (down-shifted or down-right-shifted).
        skip_channels: channels of the skip input (0: none).
        dropout: dropout probability.
        num_classes: if given, a learned per-class bias on the gate pre-activations.
    """

    def __init__(
        self,
        filters: int,
        conv: type[nn.Conv2d],
        skip_channels: int,
        dropout: float,
        num_classes: int | None,
    ) -> None:
        super().__init__()
        self.conv_in = conv(2 * filters, filters)
        self.skip = nn.Conv2d(2 * skip_channels, filters, 1) if skip_channels else None
        self.dropout = nn.Dropout(dropout)
        self.conv_out = conv(2 * filters, 2 * filters)
        self.class_bias = class_bias(num_classes, 2 * filters)

    def forward(
        self, x: Tensor, skip: Tensor | None = None, labels: Tensor | None = None
    ) -> Tensor:
        # x: (N, F, H, W), skip: (N, S, H, W) -> (N, F, H, W)
        y = self.conv_in(concat_elu(x))
        if self.skip is not None and skip is not None:
            y = y + self.skip(concat_elu(skip))
        y = self.conv_out(self.dropout(concat_elu(y)))  # (N, 2F, H, W)
        y = add_class_bias(y, self.class_bias, labels)
        a, b = y.chunk(2, dim=1)
        return x + a * torch.sigmoid(b)


class PixelCNNPP(AutoregressiveModel):
    """PixelCNN++; see the module docstring for the paper and the deviations.

    Args:
        config: sizes and options (:class:`genzoo.models.pixelcnn_pp_config.PixelCNNPPConfig`).
        data: image shape (C, H, W) of 8-bit images, and the number of classes.
    """

    name = "pixelcnn++"
    output_sees_current_pixel = False
    RESOLUTIONS = 3  # full, 1/2, 1/4

    def __init__(self, config: PixelCNNPPConfig, data: DataSpec) -> None:
        super().__init__(config, data)
        if data.is_binary:
            raise UserInputError(
                f"PixelCNN++ models 8-bit images (C, H, W), not {data.kind} {data.image_shape}"
            )
        c = data.image_shape[0]
        f, k = config.filters, config.num_mixtures
        ncls = self.label_classes
        p = config.dropout
        self.likelihood = DiscretizedLogisticMixture(k, c)
        # means, log-scales per channel and the linear coefficients, plus the mixture logits
        self.num_params = self.mixture_likelihood.num_params

        self.u_init = DownShiftedConv2d(c + 1, f, (2, 3))
        self.ul_init_up = DownShiftedConv2d(c + 1, f, (1, 3))
        self.ul_init_left = DownRightShiftedConv2d(c + 1, f, (2, 1))

        def blocks(n: int, u_skip: int, ul_skip: int) -> tuple[nn.ModuleList, nn.ModuleList]:
            u = nn.ModuleList(GatedResnet(f, DownShiftedConv2d, u_skip, p, ncls) for _ in range(n))
            ul = nn.ModuleList(
                GatedResnet(f, DownRightShiftedConv2d, ul_skip, p, ncls) for _ in range(n)
            )
            return u, ul

        n, r = config.num_resnet, self.RESOLUTIONS
        ups = [blocks(n, 0, f) for _ in range(r)]  # ul reads u
        downs = [blocks(n if s == 0 else n + 1, f, 2 * f) for s in range(r)]  # + shortcuts
        self.up_u = nn.ModuleList(u for u, _ in ups)
        self.up_ul = nn.ModuleList(ul for _, ul in ups)
        self.down_u = nn.ModuleList(u for u, _ in downs)
        self.down_ul = nn.ModuleList(ul for _, ul in downs)
        self.downsize_u = nn.ModuleList(
            DownShiftedConv2d(f, f, (2, 3), stride=2) for _ in range(r - 1)
        )
        self.downsize_ul = nn.ModuleList(
            DownRightShiftedConv2d(f, f, (2, 2), stride=2) for _ in range(r - 1)
        )
        self.upsize_u = nn.ModuleList(DownShiftedDeconv2d(f, f, (2, 3)) for _ in range(r - 1))
        self.upsize_ul = nn.ModuleList(DownRightShiftedDeconv2d(f, f, (2, 2)) for _ in range(r - 1))
        self.out = nn.Conv2d(f, self.num_params, 1)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """The network: (N, C, H, W) in [-1, 1] -> (N, P, H, W) mixture parameters."""
        hh, ww = x.shape[2:]
        m = 2 ** (self.RESOLUTIONS - 1)
        ph, pw = -hh % m, -ww % m
        x = torch.cat([x, torch.ones_like(x[:, :1])], dim=1)  # marks the image (vs padding)
        x = F.pad(x, (0, pw, 0, ph))  # (N, C+1, H', W'), multiples of 4; later pixels only
        u_list = [down_shift(self.u_init(x))]  # rows above
        ul_list = [down_shift(self.ul_init_up(x)) + right_shift(self.ul_init_left(x))]
        for s in range(self.RESOLUTIONS):  # the paper's "up" pass: to coarser maps
            for bu, bul in zip(self.up_u[s], self.up_ul[s], strict=True):
                u_list.append(bu(u_list[-1], labels=labels))
                ul_list.append(bul(ul_list[-1], u_list[-1], labels=labels))
            if s < self.RESOLUTIONS - 1:
                u_list.append(self.downsize_u[s](u_list[-1]))  # (N, F, H/2, W/2)
                ul_list.append(self.downsize_ul[s](ul_list[-1]))
        u, ul = u_list.pop(), ul_list.pop()
        for s in range(self.RESOLUTIONS):  # the "down" pass: back to full resolution
            for bu, bul in zip(self.down_u[s], self.down_ul[s], strict=True):
                u = bu(u, u_list.pop(), labels=labels)
                ul = bul(ul, torch.cat([u, ul_list.pop()], dim=1), labels=labels)
            if s < self.RESOLUTIONS - 1:
                u, ul = self.upsize_u[s](u), self.upsize_ul[s](ul)  # (N, F, 2H, 2W)
        out = self.out(F.elu(ul))  # (N, P, H', W')
        return out[:, :, :hh, :ww]

    @property
    def mixture_likelihood(self) -> DiscretizedLogisticMixture:
        """The output likelihood, typed as the mixture it is."""
        return cast(DiscretizedLogisticMixture, self.likelihood)

    def mixture(self, out: Tensor, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The mixture's log-weights, means and log-scales (see
        :meth:`genzoo.nn.likelihoods.DiscretizedLogisticMixture.split`)."""
        return self.mixture_likelihood.split(out, x)

    def subpixel_log_probs(self, out_ij: Tensor, x_ij: Tensor, c: int) -> Tensor:
        """log P(x_c = v | earlier channels of the pixel) for all 256 v: (N, 256) (see
        :meth:`genzoo.nn.likelihoods.DiscretizedLogisticMixture.subpixel_log_probs`)."""
        return self.mixture_likelihood.subpixel_log_probs(out_ij, x_ij, c)

    def conditional_params(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """(N, C, 3K, H, W): mixture logits, means (linear in the earlier channels of x)
        and log-scales of each channel's logistics."""
        log_w, means, log_scales = self.mixture(self.logits(x, labels), x)
        c = means.shape[1]
        log_w = log_w.unsqueeze(1).expand(-1, c, *log_w.shape[1:])
        return torch.cat([log_w, means, log_scales], dim=2)

    def receptive_field(self) -> ReceptiveField:
        # the coarse maps reach the whole image above; the window only drops the rows below
        return ReceptiveField(up=UNBOUNDED, left=UNBOUNDED, right=UNBOUNDED)
