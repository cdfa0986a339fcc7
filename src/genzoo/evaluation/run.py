"""Evaluation of a run, with its figures stored in the run and reused only when they were
measured on the same weights, with the same settings, against the same data.

Every stored entry carries ``against``: the dataset's name and root, the split, and a
digest of the reference images it was measured against (and of the training images where
the metric reads them). An entry is reused only when all of these, the weights digest and
the settings (n, seed, feature network, estimator options) match, so ``genzoo compare
--data B`` never shows a figure measured against dataset A.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from genzoo.evaluation.likelihood import evaluate_likelihood, examples, require_density
from genzoo.evaluation.samples import evaluate_samples, max_value_of, reference_digest
from genzoo.evaluation.settings import EvalSettings
from genzoo.evaluation.table import METRICS, describe
from genzoo.runs import Run

LIKELIHOOD_KEYS = (
    "n", "likelihood", "likelihood_settings", "likelihood_against", "likelihood_details",
)  # fmt: skip


def open_run(run: str | Path | Run, settings: EvalSettings) -> Run:
    """A :class:`Run` (or a zoo model, ``zoo:NAME``) with the settings' dataset override
    (a Run given is used as it is)."""
    from genzoo.zoo import open_run as open_ref

    return open_ref(run, data=settings.data, data_root=settings.data_root)


def _against(run: Run, split: str, images: torch.Tensor, max_value: int) -> dict[str, Any]:
    return {
        "data": run.dataset_name,
        "root": run.dataset_root,
        "split": split,
        "reference": reference_digest(images, max_value),
    }


def _likelihood_against(run: Run, model: Any, settings: EvalSettings) -> dict[str, Any]:
    ds = run.dataset(settings.split)
    n = min(settings.n or len(ds), len(ds))
    x, _ = examples(ds, n, settings.seed)
    if x.dtype.is_floating_point:  # 2-D points: digest their bytes as such
        x = x.contiguous().view(torch.uint8)
        return _against(run, settings.split, x.reshape(len(x), 1, 1, -1), 255)
    return _against(run, settings.split, x, max_value_of(model.data))


def _samples_against(
    run: Run, model: Any, settings: EvalSettings, needs_train: bool
) -> dict[str, Any]:
    ds = run.dataset(settings.split)
    mv = max_value_of(model.data)
    real = ds.examples(min(settings.n_samples, len(ds)), settings.seed)
    out = _against(run, settings.split, real, mv)
    if needs_train:
        train = run.dataset("train")
        out["train"] = reference_digest(train.examples(len(train), settings.seed), mv)
    return out


def _likelihood_matches(
    stored: dict[str, Any], settings: EvalSettings, against: dict, family: str
) -> bool:
    s = stored.get("likelihood_settings")
    if not isinstance(s, dict) or stored.get("likelihood_against") != against:
        return False
    terms = [v for k, v in stored.items() if k.startswith("nll") and isinstance(v, dict)]
    if not terms or not all("label" in v for v in terms):  # figures stored before labels
        return False
    if stored.get("likelihood") == "exact":
        return s.get("n") == stored.get("n")
    # only the options the model's family declares: another family's estimator option (a
    # flow's --dequant-k beside a VAE's figure) never invalidates a stored figure
    wanted = {"n": stored.get("n"), "seed": settings.seed} | settings.likelihood_options(family)
    return all(s.get(k) == v for k, v in wanted.items())


def _sample_entry_matches(
    entry: Any, settings: EvalSettings, metric: str, against: dict[str, Any]
) -> bool:
    if not isinstance(entry, dict) or entry.get("against") != against:
        return False
    same = entry.get("n_samples") == settings.n_samples and entry.get("seed") == settings.seed
    if METRICS[metric].features:
        same = same and entry.get("feature_network") == settings.features
    return same


def evaluate_run(
    run: str | Path | Run,
    settings: EvalSettings,
    *,
    reuse: bool = False,
    model: Any | None = None,
    progress: bool = True,
    echo: Callable[[str], None] | None = print,
) -> dict[str, Any]:
    """Evaluate a run (or an exported model) and, for a run, store the figures.

    Args:
        run: a run directory, an exported model folder, or a :class:`Run`.
        settings: split, metrics, n, features, seed, data, ...
        reuse: keep a stored figure when it was measured on the same weights, with the same
            settings, against the same data (``compare``, ``report``); otherwise every
            asked metric is computed.
        model: the loaded model (default: loaded from the run).
        progress: show progress bars.
        echo: where the human-readable lines go (None: nowhere).

    Returns:
        ``{"model", "split", "model_digest", "nll"... , "fid"...}``: the figures asked for
        (and, for a run, the other figures stored for the same weights).

    Raises:
        NoDensityError: ``nll`` for a model without a density.
        UserInputError: unknown metrics, a dataset that does not fit, ...
    """
    run = open_run(run, settings)
    metrics = list(dict.fromkeys(settings.metrics))  # checked by EvalSettings
    if model is None:
        model = run.load_model(settings.device)
    if "nll" in metrics:
        require_density(model)
    digest = run.weights_digest()
    stored = run.read_eval(settings.split)
    if stored.get("model_digest") != digest:
        stored = {}  # figures of other weights are dropped, never shown as this model's
    result: dict[str, Any] = {**stored, "model": model.name, "split": settings.split}
    result["model_digest"] = digest
    ds = run.dataset(settings.split)
    if "nll" in metrics:
        against = _likelihood_against(run, model, settings)
        if not (reuse and _likelihood_matches(stored, settings, against, model.name)):
            for key in [k for k in result if k.startswith("nll") or k in LIKELIHOOD_KEYS]:
                del result[key]
            lik = evaluate_likelihood(model, ds, settings, progress=progress)
            lik["likelihood_against"] = against
            result.update(lik)
            if echo:
                echo(f"{model.name} on {settings.split}, " + METRICS["nll"].describe(lik)[0])
                for line in METRICS["nll"].describe(lik)[1:]:
                    echo(line)
    sample_metrics = [m for m in metrics if m != "nll"]
    if sample_metrics:
        needs_train = any(METRICS[m].needs_train for m in sample_metrics)
        needs_train = needs_train or settings.features == "domain"
        against = _samples_against(run, model, settings, needs_train)
        todo = [
            m for m in sample_metrics
            if not (reuse and _sample_entry_matches(stored.get(m), settings, m, against))
        ]  # fmt: skip
        if todo:
            train = run.dataset("train") if needs_train else None
            spec = ds.name
            out = evaluate_samples(
                model, todo, ds, train=train, n=settings.n_samples, features=settings.features,
                reference_tag=f"{spec}-{settings.split}", train_tag=f"{spec}-train",
                device=settings.device, batch_size=settings.batch_size, seed=settings.seed,
                progress=progress,
            )  # fmt: skip
            for entry in out.values():
                entry["against"] = against
            result.update(out)
            if echo:
                for line in describe(out, model.name, settings.split):
                    echo(line)
    # Store only what this call measured (and the keys it replaced): another process
    # may have stored other figures into the run since ``stored`` was read.
    fresh = {k: v for k, v in result.items() if k not in stored or stored[k] is not v}
    fresh.update(model=model.name, split=settings.split, model_digest=digest)
    dropped = [k for k in stored if k not in result]
    merged = run.write_eval(settings.split, fresh, dropped=dropped)
    if merged is None:
        return result
    if echo:
        echo(f"wrote {run.eval_path(settings.split)}")
    return merged
