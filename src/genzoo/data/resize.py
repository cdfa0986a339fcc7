"""Resizing whole image datasets to a square side (``--image-size``), e.g. Fashion-MNIST's
28x28 to 32x32 for the progressive GAN, whose levels double from 4x4.

Meant to be called from :func:`genzoo.data.registry.load_dataset` when ``image_size``
differs from a dataset's native size (today it refuses that for every dataset but
image-folder), so that training, ``eval``, ``compare`` and the report (which reload the
data through :func:`genzoo.train.checkpoint.run_dataset` with the run's ``image_size``)
all see the same resized images.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from genzoo.data.datasets import ImageDataset
from genzoo.errors import UserInputError

CHUNK = 4096
"""Images resized per call (bounds the float copy's memory)."""


def resize_images(images: torch.Tensor, size: int, *, max_value: int = 255) -> torch.Tensor:
    """Resize uint8 images to ``size`` x ``size`` with antialiased bilinear interpolation.

    Up-sampling is plain bilinear; down-sampling averages over each output pixel's
    footprint (``antialias``), so no aliasing. Values are rounded and clamped to
    ``[0, max_value]``: 0/1 images (``max_value`` 1) stay 0/1 (thresholded at 1/2).

    Args:
        images: uint8 (N, C, H, W).
        size: the side of the output.
        max_value: 255 for grey levels, 1 for binary images.

    Returns:
        uint8 (N, C, size, size); ``images`` itself when it already has that size.

    Raises:
        UserInputError: on a non-uint8 or non-4-D tensor, or a size below 1.
    """
    if images.dtype != torch.uint8 or images.ndim != 4:
        raise UserInputError(
            f"resize needs uint8 images (N, C, H, W), got {images.dtype} {tuple(images.shape)}"
        )
    if not isinstance(size, int) or size < 1:
        raise UserInputError(f"image size must be a positive integer, got {size!r}")
    if tuple(images.shape[-2:]) == (size, size):
        return images
    out = torch.empty((images.shape[0], images.shape[1], size, size), dtype=torch.uint8)
    for start in range(0, images.shape[0], CHUNK):
        x = images[start : start + CHUNK].float()  # (B, C, H, W)
        y = F.interpolate(
            x, size=(size, size), mode="bilinear", align_corners=False, antialias=True
        )
        out[start : start + CHUNK] = y.round().clamp(0, max_value).to(torch.uint8)
    return out


def resize_dataset(dataset: ImageDataset, size: int) -> ImageDataset:
    """The same dataset with every image resized to ``size`` x ``size``.

    Grey levels are resized for 8-bit data and for dynamically binarised data (which
    stores grey levels and draws the binary image on access); a fixed binarisation's 0/1
    images are resized and thresholded at 1/2. Labels, name and kind are kept.

    Example:
        >>> resize_dataset(load_dataset("fashion-mnist"), 32).image_shape
        (1, 32, 32)
    """
    if not isinstance(dataset, ImageDataset):
        raise UserInputError(
            f"--image-size resizes image datasets, not {type(dataset).__name__}; leave it unset"
        )
    if dataset.image_shape[1:] == (size, size):
        return dataset
    max_value = 1 if dataset.binarize == "fixed" else 255
    return ImageDataset(
        resize_images(dataset.images, size, max_value=max_value),
        dataset.labels,
        name=dataset.name,
        kind=dataset.kind,
        num_classes=dataset.num_classes,
        binarize=dataset.binarize,
    )
