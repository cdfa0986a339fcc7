"""Image grids, written as PNG.

Hand-written rather than torchvision's ``make_grid`` because PyPI's torchvision does not
import beside the CPU torch build this project installs (see README), and a grid is a few
lines of tensor reshaping.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from PIL import Image
from torch import Tensor

from genzoo.errors import UserInputError
from genzoo.io import atomic_path


def make_grid(
    images: Tensor, nrow: int | None = None, padding: int = 2, pad_value: int = 255
) -> Tensor:
    """Tile images into one picture.

    Args:
        images: uint8 (N, C, H, W) in data space; binary images (values 0/1) are scaled to 0/255.
        nrow: images per row (default: about sqrt(N)).
        padding: pixels between tiles.
        pad_value: grey level of the padding.

    Returns:
        uint8 (C, H', W').
    """
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise UserInputError(
            f"a grid needs images of shape (N, 1 or 3, H, W), got {tuple(images.shape)}"
        )
    images = images.detach().cpu()
    if images.dtype != torch.uint8:
        raise UserInputError(f"a grid needs uint8 images, got {images.dtype}")
    if images.numel() and int(images.max()) <= 1:
        images = images * 255
    n, c, h, w = images.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    ncol = math.ceil(n / nrow)
    grid = torch.full(
        (c, ncol * (h + padding) + padding, nrow * (w + padding) + padding),
        pad_value,
        dtype=torch.uint8,
    )
    for k in range(n):
        r, col = divmod(k, nrow)
        y, x = padding + r * (h + padding), padding + col * (w + padding)
        grid[:, y : y + h, x : x + w] = images[k]
    return grid


MAX_GRID_PIXELS = 8192 * 8192
"""The largest picture a grid is enlarged to (a larger --scale is refused, not allocated)."""


def grid_image(images: Tensor, nrow: int | None = None, scale: int = 1) -> Image.Image:
    """``make_grid(images, nrow)`` as a PIL image; ``scale`` enlarges it (nearest)."""
    grid = make_grid(images, nrow)  # (C, H, W)
    array = grid.permute(1, 2, 0).numpy()
    img = Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)
    if scale > 1:
        check_scale(scale, img.width, img.height)
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    return img


def check_scale(scale: int, width: int, height: int) -> None:
    """Refuse a ``scale`` that would enlarge a ``width`` x ``height`` picture beyond
    :data:`MAX_GRID_PIXELS` (the command line checks one image's size before sampling).

    Raises:
        UserInputError: naming --scale and the size it would make.
    """
    w, h = width * max(scale, 1), height * max(scale, 1)
    if w * h > MAX_GRID_PIXELS:
        raise UserInputError(
            f"--scale {scale} would make a {w}x{h} picture (more than {MAX_GRID_PIXELS:,} "
            "pixels); lower --scale or the number of images"
        )


def save_grid(images: Tensor, path: str | Path, nrow: int | None = None, scale: int = 1) -> Path:
    """Write ``make_grid(images, nrow)`` as a PNG, atomically; ``scale`` enlarges it."""
    img = grid_image(images, nrow, scale)
    path = Path(path)
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")
    return path


TILE_PIXELS = 56
"""Image tiles are enlarged (nearest neighbour, by a whole factor) to about this many
pixels, so 8x8 and 28x28 images stay legible."""


def readable_scale(side: int) -> int:
    """The whole enlargement factor that brings a tile of ``side`` pixels to about
    :data:`TILE_PIXELS` (at least 1)."""
    return max(1, TILE_PIXELS // max(1, side))
