"""The one table of metrics: what each is, what it needs, how it is computed and shown.

Every consumer reads :data:`METRICS`: validation of ``--metrics`` (and the help text),
:func:`genzoo.evaluation.samples.evaluate_samples` (compute), ``genzoo eval``'s lines
(:func:`describe`), the ``compare`` table and the report (columns, cells, notes), and the
real-data row (which metrics it takes). Adding a metric is one :class:`Metric` entry here.

This module imports no torch at import time (the command line's ``--help`` reads it); the
compute functions import what they need when called.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from genzoo.errors import UserInputError, did_you_mean

if TYPE_CHECKING:
    from torch import Tensor

    from genzoo.metrics.features import FeatureExtractor


class EvalSettings(Protocol):
    """What the table reads of an evaluation's settings (``genzoo.evaluation.settings
    .EvalSettings`` satisfies it). Declared here, so that the table, which the settings
    and the sample evaluation read, imports neither of them: no import circle."""

    features: str


class SampleSet(Protocol):
    """What a metric's ``compute`` reads of one evaluation's samples and real images
    (``genzoo.evaluation.samples.SampleSet`` satisfies it; declared here for the same
    reason as :class:`EvalSettings`)."""

    samples: Tensor
    real: Tensor
    max_value: int
    seed: int
    settings: EvalSettings

    @property
    def common(self) -> dict[str, Any]: ...
    @property
    def extractor(self) -> FeatureExtractor: ...
    @property
    def fake_features(self) -> Tensor: ...
    @property
    def real_features(self) -> Tensor: ...
    @property
    def train_images(self) -> Tensor: ...
    def train_features(self, m: int) -> Tensor: ...


Better = Literal["lower", "higher"] | None


@dataclass(frozen=True)
class Column:
    """One column of the comparison table.

    Attributes:
        header: the header, with its unit.
        better: "lower" or "higher" is better, or None where neither (a rate to compare
            with the real-data row).
    """

    header: str
    better: Better = None


@dataclass(frozen=True)
class RowFacts:
    """What a cell needs to know about the row's model beyond its figures."""

    density: str | None
    is_reference: bool


@dataclass(frozen=True)
class Metric:
    """One metric of ``--metrics``.

    Attributes:
        name: the name users type.
        help: one line for ``--help`` and error messages.
        kind: "likelihood" (of the data under the model) or "samples" (of samples against
            real images).
        features: the figure depends on the feature network (``--features``).
        needs_train: it reads the training split.
        on_real_row: the real-data row of ``compare`` is measured with it.
        columns: its columns in the comparison table.
        compute: SampleSet -> the stored entry (sample metrics; None for the likelihood).
        values: entry -> the numbers behind the cells.
        cells: (entry or {}, RowFacts, settings) -> one string per column.
        describe: entry -> lines for ``genzoo eval``.
        note: settings -> the table's note on this metric ("" for none).
        check: settings -> raises UserInputError when the metric cannot run with them.
    """

    name: str
    help: str
    kind: Literal["likelihood", "samples"]
    columns: tuple[Column, ...]
    cells: Callable[[dict[str, Any], RowFacts, EvalSettings], list[str]]
    describe: Callable[[dict[str, Any]], list[str]]
    note: Callable[[EvalSettings], str]
    compute: Callable[[SampleSet], dict[str, Any]] | None = None
    values: Callable[[dict[str, Any], RowFacts], list[float | None]] | None = None
    """entry -> one number per column (None where there is none): for the best-value marks
    and for CSV/JSON tables, which hold numbers, not display text."""
    features: bool = False
    needs_train: bool = False
    on_real_row: bool = False
    check: Callable[[EvalSettings], None] | None = None
    entry_notes: Callable[[dict[str, Any], RowFacts], list[str]] | None = None
    """(entry, RowFacts) -> notes the row's figure carries (e.g. what its estimator is):
    the table lists each once, after the metric's own note."""


def _f(x: Any, spec: str) -> str:
    return "n/a" if x is None else format(x, spec)


# -- the likelihood -------------------------------------------------------------------


def nll_terms_of(entry: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The stored NLL figures of a result: term -> {nats_per_image, bits_per_dim, label,
    kind, ...} (label and kind as the model declared them, see
    :func:`genzoo.evaluation.likelihood.evaluate_likelihood`)."""
    return {
        k: v
        for k, v in entry.items()
        if k.startswith("nll") and isinstance(v, dict) and "nats_per_image" in v
    }


def best_nll(entry: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The tightest NLL figure stored: (term, its stored figure), or None."""
    terms = nll_terms_of(entry)
    if not terms:
        return None
    key = min(terms, key=lambda k: terms[k]["nats_per_image"])
    return key, terms[key]


DENSITY_SIGN = {"exact": "", "bound": "<= ", "estimate": "~ "}
"""How a figure of each kind relates to the true NLL: equal, an upper bound, an estimate."""


def term_sign(figure: dict[str, Any], density: str | None) -> str:
    """The sign of a stored figure: by the kind its model declared for the term (a figure
    stored without one: by the model's density)."""
    return DENSITY_SIGN.get(figure.get("kind") or density or "", "")


def _nll_cells(entry: dict[str, Any], row: RowFacts, settings: EvalSettings) -> list[str]:
    if row.is_reference:
        return ["-", "-"]
    if row.density is None:
        return ["no density", "no density"]
    best = best_nll(entry)
    if best is None:
        return ["n/a", "n/a"]
    key, v = best
    sign = term_sign(v, row.density)
    return [
        f"{sign}{v['nats_per_image']:.1f} ({v.get('label', key)})",
        f"{sign}{v['bits_per_dim']:.4f}",
    ]


def _nll_entry_notes(entry: dict[str, Any], row: RowFacts) -> list[str]:
    best = best_nll(entry) if row.density is not None and not row.is_reference else None
    return [best[1]["note"]] if best is not None and best[1].get("note") else []


def _nll_values(entry: dict[str, Any], row: RowFacts) -> list[float | None]:
    best = best_nll(entry) if row.density is not None and not row.is_reference else None
    return [None, None] if best is None else [best[1]["nats_per_image"], best[1]["bits_per_dim"]]


def _get(*keys: str, scale: float = 1.0) -> Callable[[dict[str, Any], RowFacts], list]:
    """Values of an entry's fields (scaled), None where missing."""

    def values(e: dict[str, Any], row: RowFacts) -> list[float | None]:
        return [None if e.get(k) is None else scale * e[k] for k in keys]

    return values


def _nn_values(e: dict[str, Any], row: RowFacts) -> list[float | None]:
    px = e.get("pixel", {})
    rate = px.get("duplicate_rate")
    return [None if rate is None else 100 * rate, px.get("median_ratio")]


def _nll_describe(entry: dict[str, Any]) -> list[str]:
    lines = [f"n={entry.get('n')}, {entry.get('likelihood')}:"]
    summary = entry.get("likelihood_details", {}).get("summary")
    if summary:
        lines.append(f"  {summary}")
    for key, e in nll_terms_of(entry).items():
        spread = f" (+- {e['std']:.2f})" if e.get("std") is not None else ""
        lines.append(
            f"  {key}: {e['nats_per_image']:.2f} nats/image{spread}, "
            f"{e['bits_per_dim']:.4f} bits/dim"
        )
    return lines


def _nll_note(settings: EvalSettings) -> str:
    return (
        "NLL: negative log-likelihood of the discrete data in nats per image, bits/dim = "
        "nats / (D ln 2); the tightest figure of each model, named in brackets: exact, '<=' "
        "an upper bound, '~' an estimate, as the model declares it; 'no density': the model "
        "defines none."
    )


# -- sample metrics: compute ------------------------------------------------------------


def _fid(s: SampleSet) -> dict[str, Any]:
    from genzoo.metrics.fid import fid

    return {"value": fid(s.fake_features, s.real_features), **s.common}


def _kid(s: SampleSet) -> dict[str, Any]:
    from genzoo.metrics.kid import kid

    k = kid(s.fake_features, s.real_features, seed=s.seed)
    return {
        "value": k.mean, "std": k.std, "num_subsets": k.num_subsets,
        "subset_size": k.subset_size, **s.common,
    }  # fmt: skip


def _pr(s: SampleSet) -> dict[str, Any]:
    from genzoo.metrics.prdc import precision_recall

    return {**precision_recall(s.real_features, s.fake_features, k=3), "k": 3, **s.common}


def _dc(s: SampleSet) -> dict[str, Any]:
    from genzoo.metrics.prdc import density_coverage

    return {**density_coverage(s.real_features, s.fake_features, k=5), "k": 5, **s.common}


def _is(s: SampleSet) -> dict[str, Any]:
    from genzoo.metrics.inception_score import inception_score

    score = inception_score(s.extractor.logits(s.samples, max_value=s.max_value), splits=10)  # type: ignore[attr-defined]
    return {
        "value": score.mean, "std": score.std, "splits": score.splits,
        "note": "from the domain classifier's logits, not Inception's: not comparable "
        "with published Inception Scores",
        **s.common,
    }  # fmt: skip


def _nn(s: SampleSet) -> dict[str, Any]:
    from genzoo.metrics import nearest

    mv = s.max_value
    train = s.train_images
    px = nearest.memorisation(
        nearest.pixel_vectors(s.samples, mv),
        nearest.pixel_vectors(train, mv),
        nearest.pixel_vectors(s.real, mv),
    )
    entry: dict[str, Any] = {
        "pixel": {**px, "n_train": len(train), "space": "pixels in [0, 1], L2"},
        **{k: v for k, v in s.common.items() if k != "features"},
    }
    if s.settings.features != "pixel":
        m = min(len(s.samples), len(train))
        fx = nearest.memorisation(s.fake_features, s.train_features(m), s.real_features)
        entry["feature"] = {**fx, "n_train": m, "space": s.extractor.label}
    return entry


def _parzen(s: SampleSet) -> dict[str, Any]:
    from genzoo.metrics import nearest, parzen

    real = s.real
    if len(real) < 4:
        raise UserInputError("the Parzen estimate needs at least 4 reference images")
    half = len(real) // 2
    mv = s.max_value
    vecs = nearest.pixel_vectors(real, mv)
    res = parzen.parzen_estimate(nearest.pixel_vectors(s.samples, mv), vecs[:half], vecs[half:])
    return {
        "estimate_nats_per_image": res.mean_log_density, "std_error": res.std_error,
        "sigma": res.sigma, "n_validation": half, "n_test": len(real) - half, "note": res.note,
        **{k: v for k, v in s.common.items() if k not in ("features", "feature_network")},
    }  # fmt: skip


def _needs_domain(settings: EvalSettings) -> None:
    if settings.features != "domain":
        raise UserInputError(
            "the Inception Score needs a network with class logits, and the FID network file "
            "(pool3 only) has none: use --features domain for a domain-classifier score (not "
            "comparable with published Inception Scores), or drop 'is'"
        )


# -- sample metrics: cells and lines ------------------------------------------------------


def _kid_cells(e: dict[str, Any], row: RowFacts, settings: EvalSettings) -> list[str]:
    v, s = e.get("value"), e.get("std")
    if v is None:
        return ["n/a"]
    if e.get("subset_size", 0) < e.get("n_samples", 0):
        return [f"{1e3 * v:.2f} +- {1e3 * s:.2f}"]
    return [f"{1e3 * v:.2f}"]  # every subset is the whole set: one estimate, no spread


def _nn_cells(e: dict[str, Any], row: RowFacts, settings: EvalSettings) -> list[str]:
    px = e.get("pixel", {})
    rate, ref = px.get("duplicate_rate"), px.get("reference_duplicate_rate")
    return [
        "n/a" if rate is None else f"{100 * rate:.1f}% (real {100 * ref:.1f}%)",
        _f(px.get("median_ratio"), ".3f"),
    ]


def _nn_describe(e: dict[str, Any]) -> list[str]:
    lines = []
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
    return lines


def _none(settings: EvalSettings) -> str:
    return ""


METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric(
            "nll",
            "negative log-likelihood of the split in nats/image and bits/dim (exact, a bound "
            "or an estimate, as the model has it)",
            "likelihood",
            (Column("NLL (nats/image)", "lower"), Column("bits/dim", "lower")),
            _nll_cells,
            _nll_describe,
            _nll_note,
            values=_nll_values,
            entry_notes=_nll_entry_notes,
        ),
        Metric(
            "fid",
            "Frechet Inception Distance",
            "samples",
            (Column("FID", "lower"),),
            lambda e, r, s: [_f(e.get("value"), ".2f")],
            lambda e: [f"  fid: {e['value']:.3f}"],
            _none,
            compute=_fid,
            values=_get("value"),
            features=True,
            on_real_row=True,
        ),
        Metric(
            "kid",
            "Kernel Inception Distance (unbiased, x 1e3 in tables)",
            "samples",
            (Column("KID x 1e3", "lower"),),
            _kid_cells,
            lambda e: [
                f"  kid: {1e3 * e['value']:.3f} x 1e-3 +- {1e3 * e['std']:.3f} x 1e-3 "
                f"({e['num_subsets']} subsets of {e['subset_size']})"
            ],
            lambda s: (
                "KID: unbiased MMD^2, polynomial kernel, x 1e3 (can be slightly negative), +- "
                "the std over 100 subsets of 1000 (shown when n > 1000)."
            ),
            compute=_kid,
            values=_get("value", scale=1e3),
            features=True,
            on_real_row=True,
        ),
        Metric(
            "pr",
            "precision and recall (k=3)",
            "samples",
            (Column("precision", "higher"), Column("recall", "higher")),
            lambda e, r, s: [_f(e.get("precision"), ".3f"), _f(e.get("recall"), ".3f")],
            lambda e: [f"  precision: {e['precision']:.4f}, recall: {e['recall']:.4f} (k=3)"],
            lambda s: (
                "precision/recall: k=3 (Kynkaanniemi et al. 2019): the share of samples on the "
                "real manifold, and of real images on the samples' manifold, in [0, 1]."
            ),
            compute=_pr,
            values=_get("precision", "recall"),
            features=True,
            on_real_row=True,
        ),
        Metric(
            "dc",
            "density and coverage (k=5)",
            "samples",
            (Column("density"), Column("coverage", "higher")),
            lambda e, r, s: [_f(e.get("density"), ".3f"), _f(e.get("coverage"), ".3f")],
            lambda e: [f"  density: {e['density']:.4f}, coverage: {e['coverage']:.4f} (k=5)"],
            lambda s: (
                "density/coverage: k=5 (Naeem et al. 2020); coverage in [0, 1], density about "
                "1 for real data."
            ),
            compute=_dc,
            values=_get("density", "coverage"),
            features=True,
            on_real_row=True,
        ),
        Metric(
            "is",
            "Inception Score from the domain classifier's logits (needs --features domain)",
            "samples",
            (Column("IS (domain)", "higher"),),
            lambda e, r, s: [
                "n/a" if e.get("value") is None else f"{e['value']:.2f} +- {e['std']:.2f}"
            ],
            lambda e: [
                f"  inception score (domain classifier): {e['value']:.3f} +- {e['std']:.3f} "
                f"({e['splits']} splits)"
            ],
            lambda s: (
                "IS: Inception Score (Salimans et al. 2016, 10 splits) from the domain "
                "classifier's logits, not Inception's: not comparable with published scores; "
                "at most the number of classes."
            ),
            compute=_is,
            values=_get("value"),
            features=True,
            needs_train=True,
            on_real_row=True,
            check=_needs_domain,
        ),
        Metric(
            "nn",
            "nearest training images of the samples (pixels and features): memorisation",
            "samples",
            (Column("copies (pixels)", "lower"), Column("d_train/d_test")),
            _nn_cells,
            _nn_describe,
            lambda s: (
                "copies: share of samples closer (pixels, L2) to a training image than 99% of "
                "held-out real images are (real data: about 1%); d_train/d_test: median ratio "
                "of each sample's distance to its nearest training and nearest test image "
                "(about 1 for a model that does not copy)."
            ),
            compute=_nn,
            values=_nn_values,
            features=True,
            needs_train=True,
        ),
        Metric(
            "parzen",
            "Parzen-window estimate (for models without a density; an estimate, not a likelihood)",
            "samples",
            (Column("Parzen est. (nats/image)", "higher"),),
            lambda e, r, s: [
                "n/a"
                if e.get("estimate_nats_per_image") is None
                else f"{e['estimate_nats_per_image']:.1f} +- {e['std_error']:.1f}"
            ],
            lambda e: [
                f"  parzen (an estimate, not a likelihood): {e['estimate_nats_per_image']:.2f} "
                f"+- {e['std_error']:.2f} nats/image, sigma {e['sigma']:.3f} chosen on "
                f"{e['n_validation']} images"
            ],
            lambda s: (
                "Parzen: the Gaussian Parzen-window estimate of Goodfellow et al. 2014, an "
                "estimate with high variance in high dimension, not a likelihood."
            ),
            compute=_parzen,
            values=_get("estimate_nats_per_image"),
        ),
    ]
}

SAMPLE_METRICS = tuple(n for n, m in METRICS.items() if m.kind == "samples")
"""The names of the sample metrics, in table order."""


def metrics_help() -> str:
    """The ``--metrics`` help text: every metric with its one line."""
    return "Comma-separated: " + "; ".join(f"{n} ({m.help})" for n, m in METRICS.items()) + "."


def check_metrics(names: tuple[str, ...], settings: EvalSettings | None = None) -> None:
    """Refuse unknown metric names (and, with settings, metrics those settings cannot run)."""
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        hint = did_you_mean(unknown[0], METRICS)
        raise UserInputError(
            f"unknown metric(s) {', '.join(unknown)}{hint}; choose from {', '.join(METRICS)}"
        )
    if settings is not None:
        for n in names:
            if METRICS[n].check is not None:
                METRICS[n].check(settings)  # type: ignore[misc]


def describe(results: dict[str, Any], model_name: str, split: str) -> list[str]:
    """Lines for ``genzoo eval`` of the sample figures in ``results`` (metric -> entry)."""
    shown = [n for n in SAMPLE_METRICS if isinstance(results.get(n), dict)]
    if not shown:
        return []
    first = results[shown[0]]
    head = (
        f"{model_name}: {first['n_samples']} samples against {first['n_reference']} {split} images"
    )
    lines = [head + (f"; features: {first['features']}" if "features" in first else "")]
    for n in shown:
        lines += METRICS[n].describe(results[n])
    return lines
