"""The domain feature network: a small CNN classifier trained on the dataset itself, for a
fast FID during training (Inception runs at a few images/s on two CPU cores; this at
thousands).

Its features (the 128 units before the class logits) are *not* Inception features: FIDs
computed on them are comparable only with each other, for the same dataset and the same
trained network. Every output that uses them says "domain classifier" and the network's
test accuracy (the measure of how meaningful its features are). This follows the practice
of "FID with a domain-specific classifier" for MNIST-like data (e.g. the LeNet features of
Bińkowski et al. 2018's MNIST experiments); the architecture and training here are ours.

The trained network is cached as safetensors under ``cache_root()/"features"``, keyed by
the training images' digest, with its test accuracy in the file's metadata.

The features are divided by one constant, their root mean square over the real test
images, so their entries are of order 1 as Inception's are: KID's polynomial kernel was
designed for that range (on the raw ReLU units, KIDs were of order 1e2-1e3).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.errors import UserInputError
from genzoo.metrics.features import _slug, check_images, images_digest

FEATURE_DIM = 128


class DomainNet(nn.Module):
    """conv16-pool-conv32-pool-conv64-avgpool(7x7)-fc128-fc(classes); input (N, C, H, W).

    On 28x28 images the last pooling keeps the 7x7 map: 88.5% test accuracy on
    Fashion-MNIST after the default 3 epochs (31 s on 2 CPU cores); pooling to 4x4 gave 82%
    after 2 epochs, to 7x7 87%."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(channels, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(7),
        )  # fmt: skip
        self.fc = nn.Linear(64 * 49, FEATURE_DIM)
        self.head = nn.Linear(FEATURE_DIM, num_classes)

    def features(self, x: Tensor) -> Tensor:
        """Inputs in [-1, 1] (N, C, H, W) -> features (N, 128), after a ReLU."""
        return F.relu(self.fc(self.conv(x).flatten(1)))

    def forward(self, x: Tensor) -> Tensor:
        """Class logits (N, num_classes)."""
        return self.head(self.features(x))


def _inputs(images: Tensor, max_value: int) -> Tensor:
    return images.float() / max_value * 2 - 1  # (N, C, H, W) in [-1, 1]


@torch.no_grad()
def _accuracy(net: DomainNet, images: Tensor, labels: Tensor, max_value: int) -> float:
    net.eval()
    correct = 0
    for i in range(0, len(images), 1000):
        logits = net(_inputs(images[i : i + 1000], max_value))
        correct += int((logits.argmax(1) == labels[i : i + 1000]).sum())
    return correct / max(1, len(images))


MIN_STEPS = 500
"""The fewest training steps of the domain classifier (three epochs when that is more)."""


class DomainFeatures:
    """Features of a classifier trained on the dataset (see the module docstring).

    Args:
        train_images, train_labels: uint8 (N, C, H, W) and int64 (N,) training data.
        test_images, test_labels: held-out data for the stored accuracy.
        dataset: the dataset's name, for labels and the cache file.
        max_value: 255 for 8-bit images, 1 for binary ones.
        steps: optimisation steps (default: 3 epochs, at least 500 steps).
        batch_size: images per step.
        seed: seeds the initialisation and the batches.
        cache_dir: where the trained network is kept (default ``cache_root()/"features"``).
        log: called with one line when a network is trained.
    """

    dim = FEATURE_DIM

    def __init__(
        self,
        train_images: Tensor,
        train_labels: Tensor | None,
        test_images: Tensor,
        test_labels: Tensor | None,
        *,
        dataset: str,
        max_value: int = 255,
        steps: int | None = None,
        batch_size: int = 128,
        seed: int = 0,
        cache_dir: Path | None = None,
        log: Callable[[str], None] | None = print,
    ) -> None:
        from safetensors import SafetensorError
        from safetensors.torch import load_file, safe_open, save_file

        from genzoo.data.files import cache_root
        from genzoo.io import atomic_path

        check_images(train_images, max_value)
        check_images(test_images, max_value)
        if train_labels is None or test_labels is None or int(train_labels.min()) < 0:
            raise UserInputError(
                f"--features domain trains a classifier and needs class labels; {dataset} has "
                "none: use --features inception"
            )
        num_classes = int(max(int(train_labels.max()), int(test_labels.max()))) + 1
        self.max_value = max_value
        self.net = DomainNet(train_images.shape[1], num_classes)
        steps = steps or max(MIN_STEPS, math.ceil(3 * len(train_images) / batch_size))
        key = images_digest(train_images, max_value)[:16]
        folder = cache_dir or (cache_root() / "features")
        self.path = folder / f"domain-{_slug(dataset)}-s{steps}-seed{seed}-{key}.safetensors"
        self.accuracy: float | None = None
        # One constant, the RMS of the real test images' features, is divided out so that
        # entries are of order 1 like Inception's pool3 features, the range KID's kernel
        # (x . y / D + 1)^3 was designed for (raw ReLU units gave KIDs of order 1e2-1e3).
        # FID scales with its square. Stored with the network, computed once.
        self.scale = 1.0
        scale: float | None = None
        if self.path.is_file():
            try:
                self.net.load_state_dict(load_file(str(self.path)))
                with safe_open(str(self.path), framework="pt") as f:
                    meta = f.metadata() or {}
                self.accuracy = float(meta["test_accuracy"])
                scale = float(meta["feature_scale"]) if "feature_scale" in meta else None
            except (SafetensorError, OSError, KeyError, RuntimeError, ValueError):
                self.accuracy = None  # unreadable or foreign: train again
        if self.accuracy is None:
            if log is not None:
                log(f"training the domain feature network on {dataset} ({steps} steps) ...")
            self._train(train_images, train_labels, steps, batch_size, seed)
            self.accuracy = _accuracy(self.net, test_images, test_labels, max_value)
            scale = self._rms(test_images, max_value)
            state = {k: v.contiguous() for k, v in self.net.state_dict().items()}
            with atomic_path(self.path) as tmp:
                meta = {"test_accuracy": f"{self.accuracy:.6f}", "dataset": dataset,
                        "steps": str(steps), "num_test": str(len(test_images)),
                        "feature_scale": repr(scale)}  # fmt: skip
                save_file(state, str(tmp), metadata=meta)
        self.net.eval()
        self.scale = scale if scale is not None else self._rms(test_images, max_value)
        weights = hashlib.sha1()
        for k, v in sorted(self.net.state_dict().items()):
            weights.update(k.encode() + v.detach().cpu().contiguous().numpy().tobytes())
        # Reference-feature caches are keyed by the weights themselves.
        self.name = f"domain-{_slug(dataset)}-{weights.hexdigest()[:12]}-rms1"
        self.label = (
            f"domain classifier on {dataset} (test accuracy {100 * self.accuracy:.1f}%; "
            "not comparable with Inception FIDs)"
        )

    def _rms(self, images: Tensor, max_value: int) -> float:
        """Root mean square of the unscaled features of ``images`` (the feature scale)."""
        self.net.eval()
        self.scale = 1.0
        raw = self.features(images, max_value=max_value)  # (N, 128)
        return float(raw.double().pow(2).mean().sqrt().clamp_min(1e-12))

    def _train(
        self, images: Tensor, labels: Tensor, steps: int, batch_size: int, seed: int
    ) -> None:
        g = torch.Generator().manual_seed(seed)
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            self.net = DomainNet(images.shape[1], self.net.head.out_features)
        opt = torch.optim.Adam(self.net.parameters(), lr=1e-3)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
        self.net.train()
        for _ in range(steps):
            idx = torch.randint(0, len(images), (batch_size,), generator=g)
            loss = F.cross_entropy(self.net(_inputs(images[idx], self.max_value)), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()

    @torch.no_grad()
    def features(
        self, images: Tensor, *, max_value: int = 255, progress: Callable[[int], None] | None = None
    ) -> Tensor:
        """uint8 images (N, C, H, W) -> float32 features (N, 128), divided by ``scale``."""
        check_images(images, max_value)
        out = torch.empty(len(images), self.dim)
        for i in range(0, len(images), 500):
            batch = images[i : i + 500]
            out[i : i + len(batch)] = self.net.features(_inputs(batch, max_value)) / self.scale
            if progress is not None:
                progress(len(batch))
        return out

    @torch.no_grad()
    def logits(
        self, images: Tensor, *, max_value: int = 255, progress: Callable[[int], None] | None = None
    ) -> Tensor:
        """uint8 images (N, C, H, W) -> float32 class logits (N, num_classes), for
        :func:`genzoo.metrics.inception_score` (not comparable with Inception's IS)."""
        check_images(images, max_value)
        self.net.eval()
        out = torch.empty(len(images), self.net.head.out_features)
        for i in range(0, len(images), 500):
            batch = images[i : i + 500]
            out[i : i + len(batch)] = self.net(_inputs(batch, max_value))
            if progress is not None:
                progress(len(batch))
        return out
