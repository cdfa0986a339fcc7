"""Latent views built from codes drawn from the prior z ~ N(0, I), for models that decode
but need not encode (``has_latent``; an encoder is not read).

- :func:`latent_codes`: the codes behind a seeded draw; code i is "sample i" of
  ``genzoo sample --seed S`` for a model whose ``latents`` draws in fixed blocks.
- :func:`interpolate_samples`: decode the linear or spherical path between two codes.
- :func:`arithmetic`: latent vector arithmetic over groups of samples, mean z(A) -
  mean z(B) + mean z(C) (Radford, Metz, Chintala 2016, "Unsupervised Representation
  Learning with Deep Convolutional Generative Adversarial Networks", section 6.3 and
  figure 7: "averaging the Z vector for three exemplars showed consistent and stable
  generations").

Everything reads only ``latent_dim``, ``decode(z, labels)`` and, if present,
``latents(n, generator=...)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from genzoo.errors import UserInputError
from genzoo.viz.latent import interpolate_codes, require_latent_model


def latent_codes(model: Any, n: int, seed: int) -> Tensor:
    """n codes z ~ N(0, I), (n, latent_dim), from a generator seeded with ``seed`` on the
    model's device: ``model.latents`` (a model may override it to keep code i fixed)."""
    model = require_latent_model(model, "latent codes")
    if n <= 0:
        raise UserInputError(f"the number of codes must be positive, got {n}")
    device = model.device
    g = torch.Generator(device).manual_seed(seed)
    return model.latents(n, generator=g)


def _labels(model: Any, label: int | None, n: int) -> Tensor | None:
    if not model.conditional:
        return None
    if label is None:
        raise UserInputError("this model is class-conditional: pass --label")
    return torch.full((n,), int(label), dtype=torch.long, device=model.device)


@torch.no_grad()
def interpolate_samples(
    model: Any,
    i: int,
    j: int,
    *,
    steps: int = 10,
    method: str = "linear",
    seed: int = 0,
    label: int | None = None,
) -> Tensor:
    """Decode ``steps`` codes from code i to code j of the seeded draw: (steps, C, H, W)."""
    if min(i, j) < 0:
        raise UserInputError(f"sample indices must be >= 0, got {i} and {j}")
    z = latent_codes(model, max(i, j) + 1, seed)
    path = interpolate_codes(z[i], z[j], steps, method)  # (steps, L)
    return model.decode(path, _labels(model, label, steps))


@torch.no_grad()
def arithmetic(
    model: Any,
    a: Sequence[int],
    b: Sequence[int],
    c: Sequence[int],
    *,
    seed: int = 0,
    label: int | None = None,
) -> tuple[Tensor, int]:
    """Latent vector arithmetic: decode mean z(A) - mean z(B) + mean z(C).

    A, B and C are indices of the codes drawn with ``seed`` (:func:`latent_codes`).

    Returns:
        (images, columns): a grid of 4 rows of ``max(|A|, |B|, |C|) + 1`` columns, uint8
        (4 * columns, C, H, W). Rows 1-3: the samples of A, B and C, then (last column)
        the decoded group mean; row 4: blank, then (last column) the result. Blank tiles
        are zeros.
    """
    model = require_latent_model(model, "arithmetic")
    groups = [list(a), list(b), list(c)]
    for name, group in zip("ABC", groups, strict=True):
        if not group:
            raise UserInputError(f"group {name} is empty: pass indices, e.g. --{name.lower()} 1,5")
        if min(group) < 0:
            raise UserInputError(f"group {name}: sample indices must be >= 0, got {group}")
    z = latent_codes(model, max(max(g) for g in groups) + 1, seed)  # (M, L)
    means = [z[g].mean(0) for g in groups]  # 3 x (L,)
    result = means[0] - means[1] + means[2]  # (L,)
    cols = max(len(g) for g in groups) + 1
    tiles: list[Tensor] = []
    blank: Tensor | None = None
    for group, mean in zip(groups, means, strict=True):
        codes = torch.cat([z[group], mean[None]])  # (|G| + 1, L)
        images = model.decode(codes, _labels(model, label, len(codes)))
        blank = torch.zeros_like(images[:1])
        tiles += [images[:-1], blank.expand(cols - len(codes), *blank.shape[1:]), images[-1:]]
    assert blank is not None
    out = model.decode(result[None], _labels(model, label, 1))
    tiles += [blank.expand(cols - 1, *blank.shape[1:]), out]
    return torch.cat(tiles), cols
