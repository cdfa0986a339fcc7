"""The invertible layers of the normalising flows (NICE, RealNVP, Glow).

Every layer maps a batch ``x`` (N, C, H, W) to ``(y, log|det dy/dx|)`` with the
log-determinant per example (N,), and back with ``inverse(y) -> x``; ``cond`` is the
one-hot class (N, K) of a conditional model or None (layers that do not read it ignore
it). :class:`Split` is the one layer with two outputs (the kept half and the factored-out
code). Everything works in any floating dtype (float64 for the tests against the autograd
Jacobian, bfloat16 for training); the 1x1 convolution inverts its matrix in float32 or
float64.

- :class:`Preprocess`: y in [0, 1) -> centred y - 1/2, or logit(alpha + (1 - 2 alpha) y)
  (Dinh et al. 2017, section 4.1).
- :class:`ActNorm`: per-channel affine, initialised from the first training batch so that
  its output has zero mean and unit variance per channel (Kingma & Dhariwal 2018, 3.1), or
  per sub-pixel (NICE's input normalisation);
  the initialisation is done once and stored (the ``initialized`` buffer), so a resumed
  or loaded model never initialises again.
- :class:`InvConv1x1`: invertible 1x1 convolution, LU-decomposed W = P L (U + diag(s))
  with log|s| learned: log-det H W sum log|s| (Kingma & Dhariwal 2018, 3.2).
- :class:`Coupling`: additive (NICE) or affine (RealNVP, Glow) coupling with a binary mask
  (checkerboard, channel halves or alternate sub-pixels): the masked part is kept and
  conditions a shift and log-scale of the rest.
- :class:`Squeeze`: (C, H, W) -> (4C, H/2, W/2), a permutation (log-det 0).
- :class:`Split`: multi-scale factor-out of half the channels, whose prior is N(0, I)
  (RealNVP) or a Gaussian with mean and scale from the kept half (Glow); written as the
  whitening z -> (z - mu) / sigma so that every code of the flow is N(0, I).
- :class:`Prior`: Glow's learned (and class-conditional) top prior, as the same whitening.
- :class:`DiagonalScale`: NICE's final diagonal scaling exp(s).
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _sum_per_example(t: Tensor) -> Tensor:
    """(N, ...) -> (N,): the sum over everything but the batch."""
    return t.reshape(t.shape[0], -1).sum(1)


class Preprocess(nn.Module):
    """Dequantised data y in [0, 1) -> the flow's input space.

    Args:
        alpha: 0: y - 1/2 (log-det 0); alpha in (0, 0.5): logit(alpha + (1 - 2 alpha) y),
            whose log-det is sum log(1 - 2 alpha) - log p - log(1 - p), p = alpha + (1 -
            2 alpha) y (RealNVP's alpha 0.05 keeps p away from 0 and 1).
    """

    def __init__(self, alpha: float = 0.0) -> None:
        super().__init__()
        self.alpha = float(alpha)

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if self.alpha == 0.0:
            return x - 0.5, x.new_zeros(x.shape[0])
        p = self.alpha + (1 - 2 * self.alpha) * x  # (N, C, H, W) in (alpha, 1 - alpha)
        y = torch.log(p) - torch.log1p(-p)
        ld = math.log(1 - 2 * self.alpha) - torch.log(p) - torch.log1p(-p)
        return y, _sum_per_example(ld)

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> Tensor:
        if self.alpha == 0.0:
            return y + 0.5
        return (torch.sigmoid(y) - self.alpha) / (1 - 2 * self.alpha)


class ActNorm(nn.Module):
    """Affine y = x * exp(log s) + b per channel (or per sub-pixel), initialised from data.

    The first batch seen in training mode sets log s = -log(max(std, min_std)) and b = -mean *
    exp(log s) per channel (over batch and space; per sub-pixel: over the batch), then the
    ``initialized`` buffer is 1: the initialisation is part of the state dict, so it is
    done once per model and a resumed run or a loaded model continues with exactly the
    stored values.

    Args:
        channels: C.
        size: (H, W) for one affine per sub-pixel (NICE's input normalisation), None for
            one per channel (Glow's actnorm).
        min_std: the smallest standard deviation the initialisation divides by (per
            sub-pixel, a pixel blank in the whole first batch would otherwise be scaled by
            hundreds, and ink there later blow up the layers above).
    """

    def __init__(
        self, channels: int, size: tuple[int, int] | None = None, min_std: float = 1e-6
    ) -> None:
        super().__init__()
        self.min_std = float(min_std)
        shape = (1, channels, *size) if size is not None else (1, channels, 1, 1)
        self.per_pixel = size is not None
        self.loc = nn.Parameter(torch.zeros(shape))
        self.log_scale = nn.Parameter(torch.zeros(shape))
        # a float flag, so that weight averaging (EMA) and dtype casts carry it as it is
        self.register_buffer("initialized", torch.zeros(()))
        # its mirror in Python, read by forward (a tensor read would break a compiled graph;
        # torch.compile guards on this attribute instead), refreshed whenever a state dict
        # is loaded
        self._done = False
        self.register_load_state_dict_post_hook(ActNorm._loaded)

    @staticmethod
    def _loaded(module: nn.Module, incompatible: object) -> None:
        module._done = bool(module.initialized)

    @torch.no_grad()
    def _initialize(self, x: Tensor) -> None:
        if self.per_pixel:
            flat = x.reshape(x.shape[0], -1).T  # (C*H*W, N)
        else:
            flat = x.transpose(0, 1).reshape(x.shape[1], -1)  # (C, N*H*W)
        mean = flat.mean(1)
        std = flat.std(1, unbiased=False) if flat.shape[1] > 1 else torch.ones_like(mean)
        log_scale = -torch.log(std.clamp_min(self.min_std))
        self.log_scale.copy_(log_scale.view(self.log_scale.shape))
        # the shift after the scale: in output units, so that a step of the optimizer moves
        # the output alike whatever the scale (a sub-pixel's scale can be e^7)
        self.loc.copy_((-mean * torch.exp(log_scale)).view(self.loc.shape))
        self.initialized.fill_(1.0)
        self._done = True

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if self.training and not self._done:
            self._initialize(x)
        y = x * torch.exp(self.log_scale) + self.loc  # (N, C, H, W)
        positions = 1 if self.per_pixel else x.shape[2] * x.shape[3]
        return y, (self.log_scale.sum() * positions).expand(x.shape[0])

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> Tensor:
        return (y - self.loc) * torch.exp(-self.log_scale)


class InvConv1x1(nn.Module):
    """Invertible 1x1 convolution, LU-decomposed: W = P L (U + diag(sign * exp(log_s))).

    P (a permutation) and the signs are fixed buffers; L (unit lower triangular), U
    (strictly upper triangular) and log_s are learned, so W stays invertible whatever the
    training does and log|det W| = sum log_s costs O(C). Initialised from a random
    rotation (the QR factor of a Gaussian matrix, drawn from torch's global generator).

    Args:
        channels: C.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        q, _ = torch.linalg.qr(torch.randn(channels, channels, dtype=torch.float64))
        p, lower, upper = torch.linalg.lu(q)
        s = torch.diagonal(upper)
        self.register_buffer("perm", p.float())
        self.register_buffer("sign_s", torch.sign(s).float())
        self.register_buffer("lower_mask", torch.tril(torch.ones(channels, channels), -1))
        self.register_buffer("eye", torch.eye(channels))
        self.lower = nn.Parameter(lower.float())
        self.upper = nn.Parameter(torch.triu(upper, 1).float())
        self.log_s = nn.Parameter(torch.log(s.abs()).float())

    def weight(self) -> Tensor:
        """W (C, C) in the parameters' dtype."""
        lower = self.lower * self.lower_mask + self.eye
        upper = self.upper * self.lower_mask.T + torch.diag(self.sign_s * torch.exp(self.log_s))
        return self.perm @ lower @ upper

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        w = self.weight()
        y = F.conv2d(x, w[:, :, None, None])  # (N, C, H, W)
        ld = self.log_s.sum() * (x.shape[2] * x.shape[3])
        return y, ld.expand(x.shape[0])

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> Tensor:
        w = self.weight()
        exact = w if w.dtype in (torch.float32, torch.float64) else w.float()
        w_inv = torch.linalg.inv(exact).to(w.dtype)
        return F.conv2d(y, w_inv[:, :, None, None])


def checkerboard_mask(channels: int, height: int, width: int, parity: int) -> Tensor:
    """(1, C, H, W) mask, 1 where (h + w + parity) is even: the kept pixels."""
    h = torch.arange(height)[:, None]
    w = torch.arange(width)[None, :]
    board = ((h + w + parity) % 2 == 0).float()  # (H, W)
    return board.expand(channels, height, width)[None].clone()


def channel_mask(channels: int, height: int, width: int, parity: int) -> Tensor:
    """(1, C, H, W) mask, 1 on the first half of the channels (the second if parity)."""
    half = channels // 2
    keep = torch.zeros(channels)
    keep[half:] = 1.0
    if not parity:
        keep = 1.0 - keep
    return keep.view(1, channels, 1, 1).expand(1, channels, height, width).clone()


def alternate_mask(channels: int, height: int, width: int, parity: int) -> Tensor:
    """(1, C, H, W) mask, 1 on the sub-pixels whose raster index has the given parity
    (NICE's odd and even partition of the flattened image)."""
    index = torch.arange(channels * height * width).view(1, channels, height, width)
    return ((index + parity) % 2 == 0).float()


class ConvNet(nn.Module):
    """The coupling network of RealNVP and Glow: conv 3x3, ReLU, conv 1x1, ReLU, conv 3x3,
    the last initialised to zero so that each coupling starts as the identity (Glow).

    Args:
        channels: C in and the C (additive) or 2C (affine) out, per the ``outputs``.
        hidden: channels of the hidden layers.
        outputs: 1 (a shift) or 2 (a shift and a log-scale) per input channel.
    """

    def __init__(self, channels: int, hidden: int, outputs: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, hidden, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(hidden, hidden, 1),
            nn.ReLU(),
            nn.Conv2d(hidden, outputs * channels, 3, padding=1),
        )
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)  # (N, outputs * C, H, W)


class MLPNet(nn.Module):
    """NICE's coupling network: an MLP of ReLU layers over the flattened image, its output
    shaped back to the image (the last layer starts at zero).

    Args:
        shape: (C, H, W).
        hidden: units per hidden layer.
        layers: hidden layers.
        outputs: 1 (a shift) or 2 (a shift and a log-scale) per sub-pixel.
    """

    def __init__(self, shape: tuple[int, ...], hidden: int, layers: int, outputs: int) -> None:
        super().__init__()
        self.shape = tuple(shape)
        d = math.prod(shape)
        sizes = [d] + [hidden] * layers
        mods: list[nn.Module] = []
        for a, b in itertools.pairwise(sizes):
            mods += [nn.Linear(a, b), nn.ReLU()]
        last = nn.Linear(sizes[-1], outputs * d)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.net = nn.Sequential(*mods, last)
        self.outputs = outputs

    def forward(self, x: Tensor) -> Tensor:
        out = self.net(x.flatten(1))  # (N, outputs * D)
        c, h, w = self.shape
        return out.view(-1, self.outputs * c, h, w)


class Coupling(nn.Module):
    """Coupling layer with a binary mask m: y = m x + (1 - m) (x exp(s) + t), where
    (t, s) = net(m x). Additive (NICE): s = 0, volume preserving. Affine: s = scale *
    tanh(h) (RealNVP, a learned per-channel scale) or log sigmoid(h + 2) (Glow's code).

    Args:
        mask: (1, C, H, W) of 0 and 1 (1: kept and read by the net).
        net: maps m x (N, C, H, W) to (N, k C, H, W), k = 1 additive, 2 affine.
        affine: affine or additive.
        scale: "tanh" (RealNVP) or "sigmoid" (Glow), for affine couplings.
    """

    def __init__(self, mask: Tensor, net: nn.Module, *, affine: bool, scale: str = "tanh") -> None:
        super().__init__()
        if scale not in ("tanh", "sigmoid"):
            raise ValueError(f"scale must be tanh or sigmoid, got {scale!r}")
        self.register_buffer("mask", mask)
        self.net = net
        self.affine = affine
        self.scale_fn = scale
        channels = mask.shape[1]
        self.scale = (
            nn.Parameter(torch.ones(1, channels, 1, 1)) if affine and scale == "tanh" else None
        )

    def _shift_log_scale(self, kept: Tensor) -> tuple[Tensor, Tensor | None]:
        out = self.net(kept)  # (N, k C, H, W)
        free = 1.0 - self.mask
        if not self.affine:
            return out * free, None
        shift, raw = out.chunk(2, dim=1)  # 2 x (N, C, H, W)
        # RealNVP: a learned bound on |log s|; Glow's code: s = sigmoid(h + 2), near 1 at first
        tanh = self.scale is not None
        log_s = self.scale * torch.tanh(raw) if tanh else F.logsigmoid(raw + 2.0)
        return shift * free, log_s * free

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        shift, log_s = self._shift_log_scale(x * self.mask)
        if log_s is None:
            return x + shift, x.new_zeros(x.shape[0])
        return x * torch.exp(log_s) + shift, _sum_per_example(log_s)

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> Tensor:
        shift, log_s = self._shift_log_scale(y * self.mask)  # m y = m x
        if log_s is None:
            return y - shift
        return (y - shift) * torch.exp(-log_s)


class Squeeze(nn.Module):
    """(N, C, H, W) -> (N, 4C, H/2, W/2): each 2x2 block of pixels into channels (a
    permutation, log-det 0; RealNVP's squeeze)."""

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return F.pixel_unshuffle(x, 2), x.new_zeros(x.shape[0])

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> Tensor:
        return F.pixel_shuffle(y, 2)


def _class_maps(cond: Tensor | None, h: int, w: int) -> Tensor | None:
    """One-hot classes (N, K) -> constant maps (N, K, H, W), or None."""
    if cond is None:
        return None
    return cond[:, :, None, None].expand(-1, -1, h, w)


class Split(nn.Module):
    """Multi-scale factor-out: keep the first half of the channels, give out the second.

    The code given out is whitened, eps = (z - mu) * exp(-log sigma), with (mu, log sigma)
    zero (RealNVP: z ~ N(0, I)) or from a zero-initialised 3x3 convolution of the kept half
    and, for a conditional model, the class (Glow's learned prior), so that eps ~ N(0, I)
    and log-det -sum log sigma.

    Args:
        channels: C before the split (even).
        learned: learn the prior of the factored-out half (Glow) or not (RealNVP).
        classes: K for class-conditional priors, 0 for none.
    """

    def __init__(self, channels: int, *, learned: bool, classes: int = 0) -> None:
        super().__init__()
        half = channels // 2
        self.prior: nn.Conv2d | None = None
        if learned:
            self.prior = nn.Conv2d(half + classes, 2 * (channels - half), 3, padding=1)
            nn.init.zeros_(self.prior.weight)
            nn.init.zeros_(self.prior.bias)
        self.half = half

    def _params(self, kept: Tensor, cond: Tensor | None) -> tuple[Tensor, Tensor] | None:
        if self.prior is None:
            return None
        maps = _class_maps(cond, kept.shape[2], kept.shape[3])
        inp = kept if maps is None else torch.cat([kept, maps.to(kept.dtype)], 1)
        mu, log_sigma = self.prior(inp).chunk(2, dim=1)  # 2 x (N, C - C/2, H, W)
        return mu, log_sigma

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        kept, z = x[:, : self.half], x[:, self.half :]
        params = self._params(kept, cond)
        if params is None:
            return kept, z, x.new_zeros(x.shape[0])
        mu, log_sigma = params
        return kept, (z - mu) * torch.exp(-log_sigma), -_sum_per_example(log_sigma)

    def inverse(self, kept: Tensor, eps: Tensor, cond: Tensor | None = None) -> Tensor:
        params = self._params(kept, cond)
        z = eps if params is None else params[0] + torch.exp(params[1]) * eps
        return torch.cat([kept, z], 1)


class Prior(nn.Module):
    """Glow's learned top prior N(mu, sigma^2) per channel (``learntop``), its mean and
    scale shifted per class for a conditional model (zero-initialised), written as the
    whitening eps = (z - mu) * exp(-log sigma), log-det -H W sum log sigma.

    Args:
        channels: C.
        classes: K for a class-conditional prior, 0 for none.
    """

    def __init__(self, channels: int, classes: int = 0) -> None:
        super().__init__()
        self.top = nn.Parameter(torch.zeros(1, 2 * channels, 1, 1))
        self.by_class = nn.Linear(classes, 2 * channels, bias=False) if classes else None
        if self.by_class is not None:
            nn.init.zeros_(self.by_class.weight)

    def _params(self, n: int, cond: Tensor | None) -> tuple[Tensor, Tensor]:
        p = self.top.expand(n, -1, -1, -1)  # (N, 2C, 1, 1)
        if self.by_class is not None:
            if cond is None:
                raise ValueError("a class-conditional prior needs the one-hot classes")
            p = p + self.by_class(cond.to(p.dtype))[:, :, None, None]
        mu, log_sigma = p.chunk(2, dim=1)  # 2 x (N, C, 1, 1)
        return mu, log_sigma

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        mu, log_sigma = self._params(x.shape[0], cond)
        ld = -log_sigma.flatten(1).sum(1) * (x.shape[2] * x.shape[3])
        return (x - mu) * torch.exp(-log_sigma), ld

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> Tensor:
        mu, log_sigma = self._params(y.shape[0], cond)
        return mu + torch.exp(log_sigma) * y


class DiagonalScale(nn.Module):
    """NICE's last layer: y = x exp(s), one learned s per sub-pixel (from 0), log-det sum s.

    Args:
        shape: (C, H, W).
    """

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.log_scale = nn.Parameter(torch.zeros(1, *shape))

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return x * torch.exp(self.log_scale), self.log_scale.sum().expand(x.shape[0])

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> Tensor:
        return y * torch.exp(-self.log_scale)
