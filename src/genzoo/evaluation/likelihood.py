"""The likelihood of a split under a model, through ``nll_terms``: every estimator the
model offers (exact figures, bounds, estimates), in nats per example of the discrete data
and bits per dimension, each stored with the label, kind and note its model declares
(``likelihood_terms``)."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from genzoo import threads
from genzoo.data.datasets import GenzooDataset
from genzoo.declare import Term
from genzoo.errors import NoDensityError, UserInputError
from genzoo.evaluation.settings import EvalSettings

LIKELIHOOD_WORDS = {
    "exact": "exact",
    "bound": "upper bound on the NLL",
    "estimate": "estimate of the NLL",
}


def examples(dataset: GenzooDataset, n: int, seed: int) -> tuple[Tensor, Tensor | None]:
    """The first n examples of a split: images in data space (dynamically binarised ones
    drawn from a generator seeded with ``seed``) or 2-D points, and their labels."""
    x = dataset.examples(n, seed)
    labels = dataset.labels
    return x, (None if labels is None else labels[:n])


def require_density(model: Any) -> None:
    """A one-line error for a model that declares no density."""
    if model.density is None:
        raise NoDensityError(
            f"{model.name} defines no density, so no likelihood: evaluate its samples with "
            "--metrics fid,kid,pr,dc (FID, KID, precision/recall, density/coverage), or parzen "
            "(a Parzen-window estimate, not a likelihood)"
        )


@torch.no_grad()
def evaluate_likelihood(
    model: Any,
    dataset: Any,
    settings: EvalSettings,
    *,
    progress: bool = False,
) -> dict[str, Any]:
    """Every NLL figure the model offers (``nll_terms``) over the first n examples.

    Args:
        model: a model that declares a density.
        dataset: the split.
        settings: n (None: all), seed, batch size and the estimators' options.
        progress: show a progress bar.

    Returns:
        ``{"n", "likelihood" (what the figures are), "likelihood_settings", term:
        {"nats_per_image", "bits_per_dim", "label", "kind"[, "note"][, "std"]}}``: nats
        per example of the discrete data, ``bits/dim = nats / (D ln 2)``, and what the
        model declares the term to be (its ``likelihood_terms``, options filled in).
    """
    from genzoo.progress import bar

    require_density(model)
    n = min(settings.n or len(dataset), len(dataset))
    if n < 1:
        raise UserInputError(f"--n must be >= 1, got {n}")
    x_all, labels_all = examples(dataset, n, settings.seed)
    device = model.device
    g = torch.Generator(device).manual_seed(settings.seed)
    options = settings.likelihood_options()
    sums: dict[str, float] = {}
    bs = settings.batch_size
    with bar(n, "likelihood", "img", disable=not progress, leave=False) as shown:
        for i in range(0, n, bs):
            x = x_all[i : i + bs].to(device)
            labels = None
            if model.conditional and labels_all is not None:
                labels = labels_all[i : i + bs].to(device)
            terms = model.nll_terms(x, labels, generator=g, **options)
            for key, value in terms.items():
                sums[key] = sums.get(key, 0.0) + float(value.double().sum())
            threads.tick("likelihood")
            shown.update(len(x))
    exact = model.density == "exact"
    result: dict[str, Any] = {
        "n": n,
        "likelihood": LIKELIHOOD_WORDS[model.density],
        "likelihood_settings": {"n": n, "seed": settings.seed} | ({} if exact else dict(options)),
    }
    details = model.likelihood_details(**options)
    if details:
        result["likelihood_details"] = details
    declared = {t.key: t for t in (term.resolve(options) for term in model.likelihood_terms)}
    for key, total in sums.items():
        nll = total / n
        term = declared.get(key) or Term(key, key, model.density)  # undeclared: its key
        entry: dict[str, Any] = {
            "nats_per_image": nll,
            "bits_per_dim": nll / (model.data.num_dims * math.log(2)),
            "label": term.label,
            "kind": term.kind,
        }
        if term.note:
            entry["note"] = term.note
        if term.spread and details.get(term.spread):  # e.g. one estimate shifting every example
            entry["std"] = details[term.spread]
        result[key] = entry
    return result
