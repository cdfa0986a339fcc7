"""PixelCNN++ (Salimans, Karpathy, Chen, Kingma 2017, "PixelCNN++: Improving the PixelCNN
with Discretized Logistic Mixture Likelihood and Other Modifications", ICLR).

The paper's modifications, all here:
    1. A discretised logistic mixture likelihood per pixel instead of a 256-way softmax
       (section 2.1), with the exact discrete log-likelihood: value 0 takes the mass below
       its upper bin edge, value 255 the mass above its lower edge, every other value the
       mass of its bin, computed as log(sigmoid(a) - sigmoid(b)) =
       logsigmoid(a) + logsigmoid(-b) + log(1 - exp(b - a)), which stays finite and exact
       however small the bin mass (no density fall-back needed, unlike the authors' code).
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

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.config import DataSpec, PixelCNNPPConfig
from genzoo.errors import UserInputError
from genzoo.models.autoregressive import AutoregressiveModel
from genzoo.nn.causal import (
    DownRightShiftedConv2d,
    DownRightShiftedDeconv2d,
    DownShiftedConv2d,
    DownShiftedDeconv2d,
    down_shift,
    right_shift,
)
from genzoo.sampling.cached import UNBOUNDED, ReceptiveField

LOG_SCALE_MIN, LOG_SCALE_MAX = -7.0, 7.0
HALF_BIN = 1.0 / 255.0  # data in [-1, 1]: 256 bins of width 2/255


def concat_elu(x: Tensor) -> Tensor:
    """elu of x and of -x, concatenated on channels: (N, C, H, W) -> (N, 2C, H, W)."""
    return F.elu(torch.cat([x, -x], dim=1))


def log1mexp(d: Tensor) -> Tensor:
    """log(1 - exp(-d)) for d > 0, accurate for small and large d (Maechler 2012)."""
    return torch.where(d < math.log(2.0), torch.log(-torch.expm1(-d)), torch.log1p(-torch.exp(-d)))


def discretized_logistic_log_prob(values: Tensor, mean: Tensor, log_scale: Tensor) -> Tensor:
    """log P(value) of a logistic(mean, exp(log_scale)) discretised to 256 bins on [-1, 1].

    Args:
        values: integer values 0..255 (any shape broadcastable with ``mean``).
        mean: logistic means on the [-1, 1] scale.
        log_scale: log of the logistic scales.

    Returns:
        log-probabilities, broadcast shape. Exact: the 256 values' probabilities sum to 1.
    """
    x = values.to(mean.dtype) * (2.0 / 255.0) - 1.0
    inv_s = torch.exp(-log_scale)
    upper = inv_s * (x - mean + HALF_BIN)  # standardised upper bin edge
    lower = inv_s * (x - mean - HALF_BIN)  # standardised lower bin edge
    # log(sigmoid(upper) - sigmoid(lower)) without cancellation; the edges' distance
    # upper - lower = 2 inv_s / 255 is taken exactly, not as a difference that rounds to 0
    # far out in the tails
    interior = F.logsigmoid(upper) + F.logsigmoid(-lower) + log1mexp(2.0 * HALF_BIN * inv_s)
    first = F.logsigmoid(upper)  # value 0: P(X < x + 1/255)
    last = F.logsigmoid(-lower)  # value 255: P(X > x - 1/255)
    return torch.where(values == 0, first, torch.where(values == 255, last, interior))


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
        self.class_bias = nn.Embedding(num_classes, 2 * filters) if num_classes else None

    def forward(
        self, x: Tensor, skip: Tensor | None = None, labels: Tensor | None = None
    ) -> Tensor:
        # x: (N, F, H, W), skip: (N, S, H, W) -> (N, F, H, W)
        y = self.conv_in(concat_elu(x))
        if self.skip is not None and skip is not None:
            y = y + self.skip(concat_elu(skip))
        y = self.conv_out(self.dropout(concat_elu(y)))  # (N, 2F, H, W)
        if self.class_bias is not None and labels is not None:
            y = y + self.class_bias(labels)[:, :, None, None]
        a, b = y.chunk(2, dim=1)
        return x + a * torch.sigmoid(b)


class PixelCNNPP(AutoregressiveModel):
    """PixelCNN++; see the module docstring for the paper and the deviations.

    Args:
        config: sizes and options (:class:`genzoo.config.PixelCNNPPConfig`).
        data: image shape (C, H, W) of 8-bit images, and the number of classes.
    """

    name = "pixelcnn++"
    output_sees_current_pixel = False
    RESOLUTIONS = 3  # full, 1/2, 1/4

    def __init__(self, config: PixelCNNPPConfig, data: DataSpec) -> None:
        super().__init__(config, data)
        if len(data.image_shape) != 3 or data.kind != "8bit":
            raise UserInputError(
                f"PixelCNN++ models 8-bit images (C, H, W), not {data.kind} {data.image_shape}"
            )
        if min(config.filters, config.num_resnet, config.num_mixtures) <= 0:
            raise UserInputError("filters, num_resnet and num_mixtures must be > 0")
        if not 0.0 <= config.dropout < 1.0:
            raise UserInputError(f"dropout must be in [0, 1), got {config.dropout}")
        c = data.image_shape[0]
        f, k = config.filters, config.num_mixtures
        ncls = data.num_classes if config.conditional else None
        p = config.dropout
        self.num_coeffs = c * (c - 1) // 2
        # means, log-scales per channel and the linear coefficients, plus the mixture logits
        self.num_params = k * (1 + 2 * c + self.num_coeffs)

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

    def logits(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """Mixture parameters (N, P, H, W) (see :meth:`mixture`)."""
        return self(x, labels)

    # -- the discretised logistic mixture ---------------------------------------------

    def mixture(self, out: Tensor, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Mixture log-weights and per-channel logistic parameters, means made linear in the
        earlier channels of ``x``.

        Args:
            out: network output (N, P, ...) (any trailing spatial shape).
            x: the pixels' channel values on the [-1, 1] scale, (N, C, ...).

        Returns:
            log_weights (N, K, ...), means (N, C, K, ...), log_scales (N, C, K, ...).
        """
        n, c, k = out.shape[0], self.data.image_shape[0], self.config.num_mixtures
        rest = out.shape[2:]
        logit = out[:, :k]
        means = out[:, k : k + c * k].reshape(n, c, k, *rest)
        log_scales = out[:, k + c * k : k + 2 * c * k].reshape(n, c, k, *rest)
        log_scales = log_scales.clamp(LOG_SCALE_MIN, LOG_SCALE_MAX)
        coeffs = torch.tanh(out[:, k + 2 * c * k :]).reshape(n, self.num_coeffs, k, *rest)
        adjusted = [means[:, 0]]
        idx = 0
        for ch in range(1, c):  # mu_ch = m_ch + sum_{c' < ch} coeff * x_{c'}
            mu = means[:, ch]
            for prev in range(ch):
                mu = mu + coeffs[:, idx] * x[:, prev : prev + 1]
                idx += 1
            adjusted.append(mu)
        return F.log_softmax(logit, dim=1), torch.stack(adjusted, dim=1), log_scales

    def log_prob_from_output(self, out: Tensor, images: Tensor) -> Tensor:
        """Exact log p(x) per image: sum over pixels of log sum_k pi_k prod_c P_k(x_c | x_<c)."""
        values = images.long()  # (N, C, H, W)
        log_w, means, log_scales = self.mixture(out, self.preprocess(images))
        lp = discretized_logistic_log_prob(values.unsqueeze(2), means, log_scales)  # (N,C,K,H,W)
        per_pixel = torch.logsumexp(log_w + lp.sum(1), dim=1)  # (N, H, W)
        return per_pixel.flatten(1).sum(1)

    def subpixel_log_probs(self, out_ij: Tensor, x_ij: Tensor, c: int) -> Tensor:
        """log P(x_c = v | earlier channels of the pixel) for all 256 v: (N, 256).

        Args:
            out_ij: network output at one pixel, (N, P).
            x_ij: that pixel's values (long, (N, C)); channels < c are used.
            c: the channel.
        """
        xf = x_ij.to(out_ij.dtype) * (2.0 / 255.0) - 1.0  # (N, C)
        log_w, means, log_scales = self.mixture(out_ij, xf)  # (N, K), (N, C, K), (N, C, K)
        for prev in range(c):  # component posterior given the channels drawn so far
            log_w = log_w + discretized_logistic_log_prob(
                x_ij[:, prev : prev + 1], means[:, prev], log_scales[:, prev]
            )
        values = torch.arange(256, device=out_ij.device)  # (256,)
        lp = discretized_logistic_log_prob(
            values, means[:, c, :, None], log_scales[:, c, :, None]
        )  # (N, K, 256)
        return (
            torch.logsumexp(log_w[:, :, None] + lp, dim=1) - torch.logsumexp(log_w, dim=1)[:, None]
        )

    def draw_subpixel(
        self,
        out: Tensor,
        x: Tensor,
        i: int,
        j: int,
        c: int,
        generator: torch.Generator | None,
    ) -> Tensor:
        logp = self.subpixel_log_probs(out[:, :, i, j], x[:, :, i, j], c)  # (N, 256)
        return torch.multinomial(logp.exp(), 1, generator=generator).squeeze(1)

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
