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
    - Sampling defaults to per-layer caches (Ramachandran et al. 2017, their cache_every /
      run_every scheme; :class:`PixelCNNPPCache`): the ``u`` stream a row at a time, the
      ``ul`` stream one position per layer per pixel, a coarser map's position computed
      when the pixel that completes it is reached.
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
from genzoo.nn.cached import CachedConv, PointwiseConv, class_biases, plus_bias
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

    def cached_network(self, x: Tensor, labels: Tensor | None = None) -> PixelCNNPPCache:
        return PixelCNNPPCache(self, x, labels)


class _BlockCache:
    """The caches of one gated resnet block: its two convolutions' inputs (concat_elu of the
    stream, concat_elu of the inner activation), at one resolution."""

    def __init__(self, block: GatedResnet, like: Tensor, labels: Tensor | None) -> None:
        pad = block.conv_in.pad  # type: ignore[attr-defined]
        celu = torch.cat([like, like], dim=1)  # (N, 2F, H, W) zeros
        self.conv_in = CachedConv(block.conv_in, celu, pad)
        self.conv_out = CachedConv(block.conv_out, celu, pad)
        self.skip = PointwiseConv(block.skip) if block.skip is not None else None
        (self.bias,) = class_biases([block.class_bias], labels)

    def row(self, i: int, x: Tensor, skip: Tensor | None) -> Tensor:
        # x: (N, F, W), skip: the skip input (N, S, W) or None -> (N, F, W)
        self.conv_in.write_row(i, concat_elu(x))
        y = self.conv_in.row(i)  # (N, F, W)
        if self.skip is not None and skip is not None:
            y = y + self.skip.rows(concat_elu(skip))
        self.conv_out.write_row(i, concat_elu(y))  # dropout is off while sampling
        a, b = plus_bias(self.conv_out.row(i), self.bias).chunk(2, dim=1)
        return x + a * torch.sigmoid(b)

    def at(self, i: int, j: int, x: Tensor, skip: Tensor | None) -> Tensor:
        # x: (N, F), skip: (N, S) or None -> (N, F)
        self.conv_in.write(i, j, concat_elu(x))
        y = self.conv_in.at(i, j)  # (N, F)
        if self.skip is not None and skip is not None:
            y = y + self.skip(concat_elu(skip))
        self.conv_out.write(i, j, concat_elu(y))
        a, b = plus_bias(self.conv_out.at(i, j), self.bias).chunk(2, dim=1)
        return x + a * torch.sigmoid(b)


class PixelCNNPPCache:
    """PixelCNN++'s per-layer caches (Ramachandran et al. 2017, whose cache_every /
    run_every scheme this follows; see :mod:`genzoo.models.cached_sampling`).

    Three resolutions (level 0: full, 1: half, 2: quarter). The ``u`` stream at row r of
    any level reads image rows above r's full-resolution rows only, so it is computed a row
    at a time: at "row time" r (image rows < r complete) every level whose rows start at r
    (r divisible by 2^level) computes its row r >> level, up pass then down pass. The
    ``ul`` stream is computed one position per layer per pixel; level l's position (I, J)
    when the sampler reaches pixel (2^l I, 2^l J), the first pixel that completes its
    inputs (the stride-2 down-right-shifted convolution reads full rows 2I-1..2I and
    columns 2J-1..2J; the transposed convolutions' output (r, c) reads (r // 2, c // 2)).
    The network's right and bottom padding (sides not multiples of 4) is in the caches:
    zeros, as in the forward pass.

    Args:
        model: the network (its weights are read once, at construction).
        x: signed network input (N, C, H, W) of the images drawn so far.
        labels: class labels (N,) of a conditional model, else None.
    """

    def __init__(self, model: PixelCNNPP, x: Tensor, labels: Tensor | None) -> None:
        levels = model.RESOLUTIONS
        n, _, hh, ww = x.shape
        m = 2 ** (levels - 1)
        self.h, self.w = hh, ww
        xin = torch.cat([x, torch.ones_like(x[:, :1])], dim=1)
        xin = F.pad(xin, (0, -ww % m, 0, -hh % m))  # (N, C+1, H', W')
        hp, wp = xin.shape[2:]
        f = model.config.filters
        maps = [x.new_zeros(n, f, hp >> lv, wp >> lv) for lv in range(levels)]
        self.u_init = CachedConv(model.u_init, xin, model.u_init.pad, fill=True)
        self.ul_up = CachedConv(model.ul_init_up, xin, model.ul_init_up.pad, fill=True)
        self.ul_left = CachedConv(model.ul_init_left, xin, model.ul_init_left.pad, fill=True)
        self.levels, self.maps = levels, maps

        # the up pass: entries of u_list / ul_list in order, each (level, block or None)
        self.entries: list[tuple[int, tuple[_BlockCache, _BlockCache] | None]] = [(0, None)]
        self.down_u: list[CachedConv] = []
        self.down_ul: list[CachedConv] = []
        for lv in range(levels):
            for bu, bul in zip(model.up_u[lv], model.up_ul[lv], strict=True):
                blocks = (_BlockCache(bu, maps[lv], labels), _BlockCache(bul, maps[lv], labels))
                self.entries.append((lv, blocks))
            if lv < levels - 1:
                du, dul = model.downsize_u[lv], model.downsize_ul[lv]
                self.down_u.append(CachedConv(du, maps[lv], du.pad, stride=2))
                self.down_ul.append(CachedConv(dul, maps[lv], dul.pad, stride=2))
                self.entries.append((lv + 1, None))
        self.u = [torch.zeros_like(maps[lv]) for lv, _ in self.entries]  # up-pass u maps
        self.ul = [torch.zeros_like(maps[lv]) for lv, _ in self.entries]  # up-pass ul maps

        # the down pass, coarsest level first: (level, blocks, the entry each block pops)
        pops = list(range(len(self.entries) - 1))
        self.down: list[tuple[int, list[tuple[_BlockCache, _BlockCache]], list[int]]] = []
        for s in range(levels):
            lv = levels - 1 - s
            blocks = [
                (_BlockCache(bu, maps[lv], labels), _BlockCache(bul, maps[lv], labels))
                for bu, bul in zip(model.down_u[s], model.down_ul[s], strict=True)
            ]
            self.down.append((lv, blocks, [pops.pop() for _ in blocks]))
        # the down pass's input at each level (the up-sampled coarser output), and outputs
        self.down_in_u = [torch.zeros_like(mp) for mp in maps]
        self.down_out_u = [[torch.zeros_like(maps[lv]) for _ in b] for lv, b, _ in self.down]
        self.down_out_ul = [torch.zeros_like(mp) for mp in maps]  # each level's last ul
        self.upsize_u = list(model.upsize_u)
        self.upsize_ul = [(d.weight, d.bias) for d in model.upsize_ul]  # (in, out, 2, 2)
        self.out = PointwiseConv(model.out)
        self.ul_from_above = x.new_zeros(n, f, wp)  # down-shifted ul_init_up, row 0: zeros
        self.zero = x.new_zeros(n, f)
        self.u_rows(0)

    # -- the u stream, a row at a time ---------------------------------------------------

    def u_rows(self, r: int) -> None:
        """Every level's u rows that start at full-resolution row r (rows < r drawn)."""
        active = [r % (1 << lv) == 0 for lv in range(self.levels)]
        zero_row = self.u[0][:, :, 0]
        for e, (lv, blocks) in enumerate(self.entries):
            if not active[lv]:
                continue
            i = r >> lv
            if e == 0:  # down_shift(u_init(x)): u_init's row r - 1
                row = self.u_init.row(r - 1) if r > 0 else torch.zeros_like(zero_row)
            elif blocks is None:  # stride-2 down-sampling of the finer level
                row = self.down_u[lv - 1].row(i)
            else:
                row = blocks[0].row(i, self.u[e - 1][:, :, i], None)
            self.u[e][:, :, i] = row
            last_of_level = e + 1 == len(self.entries) or self.entries[e + 1][0] != lv
            if last_of_level and lv + 1 < self.levels:
                self.down_u[lv].write_row(i, row)
        for k, (lv, blocks, pops) in enumerate(self.down):
            if not active[lv]:
                continue
            i = r >> lv
            row = self.u[-1][:, :, i] if k == 0 else self.down_in_u[lv][:, :, i]
            for b, ((bu, _), e) in enumerate(zip(blocks, pops, strict=True)):
                row = bu.row(i, row, self.u[e][:, :, i])
                self.down_out_u[k][b][:, :, i] = row
            if lv > 0:  # up-sample: rows 2i and 2i + 1 of the finer level read row i only
                up = self.upsize_u[k](row[:, :, None])  # (N, F, 2, 2W)
                self.down_in_u[lv - 1][:, :, 2 * i : 2 * i + 2] = up

    # -- the ul stream, a position at a time -----------------------------------------------

    def ul_at(self, i: int, j: int) -> Tensor:
        """Every level's ul positions that the pixel (i, j) completes; the full-resolution
        output there (N, P)."""
        active = [i % (1 << lv) == 0 and j % (1 << lv) == 0 for lv in range(self.levels)]
        for e, (lv, blocks) in enumerate(self.entries):
            if not active[lv]:
                continue
            y, x_ = i >> lv, j >> lv
            if e == 0:  # down_shift(ul_init_up(x)) + right_shift(ul_init_left(x))
                left = self.ul_left.at(i, j - 1) if j > 0 else self.zero
                v = self.ul_from_above[:, :, j] + left
            elif blocks is None:
                v = self.down_ul[lv - 1].at(y, x_)
            else:
                v = blocks[1].at(y, x_, self.ul[e - 1][:, :, y, x_], self.u[e][:, :, y, x_])
            self.ul[e][:, :, y, x_] = v
            last_of_level = e + 1 == len(self.entries) or self.entries[e + 1][0] != lv
            if last_of_level and lv + 1 < self.levels:
                self.down_ul[lv].write(y, x_, v)
        v = self.zero
        for k, (lv, blocks, pops) in enumerate(self.down):
            if not active[lv]:
                continue
            y, x_ = i >> lv, j >> lv
            if k == 0:
                v = self.ul[-1][:, :, y, x_]
            else:  # the coarser level's output, up-sampled: (y, x) reads (y // 2, x // 2)
                weight, bias = self.upsize_ul[k - 1]
                coarse = self.down_out_ul[lv + 1][:, :, y // 2, x_ // 2]  # (N, F)
                v = F.linear(coarse, weight[:, :, y % 2, x_ % 2].t(), bias)
            for b, ((_, bul), e) in enumerate(zip(blocks, pops, strict=True)):
                u = self.down_out_u[k][b][:, :, y, x_]
                v = bul.at(y, x_, v, torch.cat([u, self.ul[e][:, :, y, x_]], dim=1))
            self.down_out_ul[lv][:, :, y, x_] = v
        return self.out(F.elu(v))  # (N, P)

    # -- the protocol ------------------------------------------------------------------------

    def write_input(self, i: int, j: int, pixel: Tensor) -> None:
        value = torch.cat([pixel, torch.ones_like(pixel[:, :1])], dim=1)  # (N, C+1)
        for cache in (self.u_init, self.ul_up, self.ul_left):
            cache.write(i, j, value)

    def params_at(self, i: int, j: int) -> Tensor:
        return self.ul_at(i, j)

    def end_row(self, i: int) -> None:
        self.ul_from_above = self.ul_up.row(i)  # (N, F, W'): down-shifted into row i + 1
        if i + 1 < self.h:
            self.u_rows(i + 1)

    def activations(self) -> dict[str, tuple[int, Tensor]]:
        maps = {"u_init": self.u_init.held_input()}
        for e, (lv, blocks) in enumerate(self.entries):
            if blocks is not None:
                k = sum(1 for lv2, b in self.entries[:e] if lv2 == lv and b is not None)
                for name, cache in zip(("up_u", "up_ul"), blocks, strict=True):
                    maps[f"{name}.{lv}.{k}.conv_in"] = cache.conv_in.held_input()
                    maps[f"{name}.{lv}.{k}.conv_out"] = cache.conv_out.held_input()
        for lv in range(self.levels - 1):
            maps[f"downsize_u.{lv}"] = self.down_u[lv].held_input()
            maps[f"downsize_ul.{lv}"] = self.down_ul[lv].held_input()
        for s, (_, blocks, _) in enumerate(self.down):
            for k, (bu, bul) in enumerate(blocks):
                for name, cache in (("down_u", bu), ("down_ul", bul)):
                    maps[f"{name}.{s}.{k}.conv_in"] = cache.conv_in.held_input()
                    maps[f"{name}.{s}.{k}.conv_out"] = cache.conv_out.held_input()
        return maps
