"""``genzoo compare``: several runs evaluated the same way, in one table with its units.

Every run is evaluated by :func:`genzoo.metrics.evaluate.evaluate_run` with one
:class:`~genzoo.metrics.evaluate.EvalSettings` (same split, same n, same seed, same feature
network), reusing the figures a run already stores for the same weights and settings.
The likelihood is asked only of models that have one (a GAN's cell says so); the table
states the unit of every column and whether a likelihood is exact or a bound.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genzoo.errors import UserInputError
from genzoo.metrics.evaluate import EvalSettings

TABLE_FORMATS = ("text", "markdown", "csv", "json")


@dataclass
class RunResult:
    """One run's figures, as :func:`compare_runs` found or computed them.

    Attributes:
        run: the run directory (or export).
        label: the name shown in tables (the folder's name).
        model: the model family (registry name).
        num_params: trainable parameters.
        has_density: whether the model has a likelihood (exact or a bound).
        bound: whether that likelihood is a bound (VAE) rather than exact.
        figures: the dict :func:`evaluate_run` returned.
        is_reference: the row of real training images (:func:`real_data_row`), not a model.
        loaded: the loaded model (kept for the report's pictures; None for the real row).
    """

    run: Path
    label: str
    model: str
    num_params: int
    has_density: bool
    bound: bool
    figures: dict[str, Any] = field(default_factory=dict)
    is_reference: bool = False
    loaded: Any = field(default=None, repr=False)


@dataclass
class Table:
    """A rendered comparison: column headers (with units), rows of cells, notes."""

    columns: list[str]
    rows: list[list[str]]
    notes: list[str]

    def render(self, fmt: str = "text") -> str:
        """The table as ``text`` (aligned columns), ``markdown`` or ``csv``."""
        if fmt == "csv":
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\n")
            writer.writerow(self.columns)
            writer.writerows(self.rows)
            return buf.getvalue()
        if fmt == "markdown":
            lines = ["| " + " | ".join(self.columns) + " |"]
            lines.append("|" + "---|" * len(self.columns))
            lines += ["| " + " | ".join(r) + " |" for r in self.rows]
            return "\n".join(lines + [""] + [f"- {n}" for n in self.notes]) + "\n"
        if fmt != "text":
            raise UserInputError(f"unknown table format {fmt!r}; choose text, markdown or csv")
        widths = [max(len(c), *(len(r[i]) for r in self.rows)) for i, c in enumerate(self.columns)]
        line = "  ".join(c.ljust(w) for c, w in zip(self.columns, widths, strict=True))
        out = [line, "  ".join("-" * w for w in widths)]
        out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in self.rows]
        return "\n".join([*out, "", *self.notes]) + "\n"


def run_label(run: Path) -> str:
    """The name of a run in tables: its folder's name."""
    return Path(run).resolve().name or str(run)


def _dataset_of(run: Path, settings: EvalSettings) -> str:
    from genzoo.train.checkpoint import RUN_FILE, read_run

    if settings.data:
        return settings.data
    if (Path(run) / RUN_FILE).is_file():
        return str(read_run(Path(run)).get("data", {}).get("spec", "?"))
    raise UserInputError(f"{run} is an exported model and records no dataset; pass --data NAME")


def check_runs(runs: Sequence[Path], settings: EvalSettings) -> str:
    """The one dataset all runs were trained on; a UserInputError otherwise."""
    if not runs:
        raise UserInputError("name at least one run directory")
    seen: set[Path] = set()
    for run in runs:
        if not Path(run).exists():
            raise UserInputError(f"{run} does not exist; pass run directories of 'genzoo train'")
        key = Path(run).resolve()
        if key in seen:
            raise UserInputError(f"{run} is named twice; name each run once")
        seen.add(key)
    specs = {str(r): _dataset_of(Path(r), settings) for r in runs}
    if len(set(specs.values())) > 1:
        listing = ", ".join(f"{r}: {s}" for r, s in specs.items())
        raise UserInputError(
            f"the runs were trained on different datasets ({listing}); compare runs of one "
            "dataset, or evaluate all on one with --data NAME"
        )
    return next(iter(specs.values()))


def compare_runs(
    runs: Sequence[str | Path],
    settings: EvalSettings,
    *,
    progress: bool = True,
    echo: Callable[[str], None] | None = print,
    real_row: bool = False,
) -> list[RunResult]:
    """Evaluate every run with the same settings (reusing stored figures that match).

    ``nll`` is skipped for models without a density rather than refused, so one command
    covers PixelCNNs, VAEs and GANs together. With ``real_row`` the last row holds real
    training images measured the same way (:func:`real_data_row`).
    """
    from genzoo.metrics.evaluate import evaluate_run, has_density
    from genzoo.train.checkpoint import load

    paths = [Path(r) for r in runs]
    check_runs(paths, settings)
    results = []
    for run in paths:
        model = load(run, map_location=settings.device)
        density = has_density(model)
        metrics = tuple(m for m in settings.metrics if density or m != "nll")
        if echo:
            echo(f"{run}: {model.name}")
        figures = evaluate_run(
            run,
            EvalSettings(**{**settings.__dict__, "metrics": metrics}),
            reuse=True,
            model=model,
            progress=progress,
            echo=echo,
        )
        results.append(
            RunResult(
                run=run,
                label=run_label(run),
                model=model.name,
                num_params=sum(p.numel() for p in model.parameters()),
                has_density=density,
                bound=bool(model.log_prob_is_bound) if density else False,
                figures=figures,
                loaded=model,
            )
        )
    if real_row:
        row = real_data_row(paths[0], settings, model=results[0].loaded, progress=progress)
        if row is not None:
            results.append(row)
    return results


REFERENCE_METRICS = ("fid", "kid", "pr", "dc", "is")


def real_data_row(
    run: Path, settings: EvalSettings, *, model: Any | None = None, progress: bool = True
) -> RunResult | None:
    """The sample metrics of n real *training* images against the n evaluation images: the
    floor a perfect sampler would reach at this n (FID is biased upwards at small n).

    Uses ``run``'s model (``model`` if given, else loaded) only for its data kind; None when
    no sample metric is asked.
    """
    from genzoo.metrics.evaluate import evaluate_samples, real_images
    from genzoo.train.checkpoint import load, run_dataset

    metrics = [m for m in settings.metrics if m in REFERENCE_METRICS]
    if not metrics:
        return None
    if model is None:
        model = load(run, map_location=settings.device)
    test = run_dataset(run, settings.split, settings.data, settings.data_root)
    train = run_dataset(run, "train", settings.data, settings.data_root)
    n = min(settings.n_samples, len(train))
    spec = getattr(test, "name", "data")
    figures = evaluate_samples(
        model, metrics, test, train=train, n=n, features=settings.features,
        reference_tag=f"{spec}-{settings.split}", train_tag=f"{spec}-train",
        device=settings.device, batch_size=settings.batch_size, seed=settings.seed,
        progress=progress, samples=real_images(train, n, settings.seed),
        samples_tag=f"{spec}-train",
    )  # fmt: skip
    return RunResult(
        run=Path(run), label=f"real: train[:{n}]", model="(data)", num_params=0,
        has_density=False, bound=False, figures=figures, is_reference=True,
    )  # fmt: skip


def best_nll(figures: dict[str, Any]) -> tuple[str, dict[str, float]] | None:
    """The tightest likelihood figure stored: (term name, {nats_per_image, bits_per_dim})."""
    terms = {
        k: v
        for k, v in figures.items()
        if k.startswith("nll") and isinstance(v, dict) and "nats_per_image" in v
    }
    if not terms:
        return None
    key = min(terms, key=lambda k: terms[k]["nats_per_image"])
    return key, terms[key]


def _term_label(key: str) -> str:
    if key == "nll":
        return "exact"
    if key.startswith("nll_iwae"):
        return f"IWAE-{key[len('nll_iwae') :]} bound"
    if key == "nll_elbo":
        return "ELBO bound"
    if key.startswith("nll_ais"):
        return f"AIS-{key[len('nll_ais') :]} estimate"
    return key


def _fmt(x: Any, spec: str) -> str:
    return "n/a" if x is None else format(x, spec)


def build_table(results: Sequence[RunResult], settings: EvalSettings) -> Table:
    """The comparison table: one row per run, one column per figure, units in headers."""
    metrics = settings.metrics
    columns = ["run", "model", "params"]
    if "nll" in metrics:
        columns += ["NLL (nats/image)", "bits/dim"]
    if "fid" in metrics:
        columns.append("FID (lower better)")
    if "kid" in metrics:
        columns.append("KID x 1e3 (lower better)")
    if "pr" in metrics:
        columns += ["precision", "recall"]
    if "dc" in metrics:
        columns += ["density", "coverage"]
    if "is" in metrics:
        columns.append("IS (domain)")
    if "nn" in metrics:
        columns += ["copies (pixels)", "d_train/d_test"]
    if "parzen" in metrics:
        columns.append("Parzen est. (nats/image)")
    rows = []
    feature_labels: set[str] = set()
    counts: set[tuple[int, int]] = set()
    for r in results:
        f = r.figures
        row = [r.label, r.model, "-" if r.is_reference else f"{r.num_params / 1e6:.2f}M"]
        if "nll" in metrics:
            best = best_nll(f) if r.has_density else None
            if r.is_reference:
                row += ["-", "-"]
            elif not r.has_density:
                row += ["no density", "no density"]
            elif best is None:
                row += ["n/a", "n/a"]
            else:
                key, v = best
                sign = "<= " if r.bound else ""
                row += [
                    f"{sign}{v['nats_per_image']:.1f} ({_term_label(key)})",
                    f"{sign}{v['bits_per_dim']:.4f}",
                ]
        for name in ("fid", "kid", "pr", "dc", "is", "nn", "parzen"):
            e = f.get(name) if name in metrics else None
            if name not in metrics:
                continue
            if r.is_reference and name not in REFERENCE_METRICS:
                row += ["-"] * (2 if name == "nn" else 1)
                continue
            if isinstance(e, dict):
                if "features" in e:
                    feature_labels.add(e["features"])
                counts.add((e.get("n_samples", 0), e.get("n_reference", 0)))
            e = e if isinstance(e, dict) else {}
            if name == "fid":
                row.append(_fmt(e.get("value"), ".2f"))
            elif name == "kid":
                v, s = e.get("value"), e.get("std")
                if v is None:
                    row.append("n/a")
                elif e.get("subset_size", 0) < e.get("n_samples", 0):
                    row.append(f"{1e3 * v:.2f} +- {1e3 * s:.2f}")
                else:  # every subset is the whole set: one estimate, no spread to show
                    row.append(f"{1e3 * v:.2f}")
            elif name == "pr":
                row += [_fmt(e.get("precision"), ".3f"), _fmt(e.get("recall"), ".3f")]
            elif name == "dc":
                row += [_fmt(e.get("density"), ".3f"), _fmt(e.get("coverage"), ".3f")]
            elif name == "is":
                v, s = e.get("value"), e.get("std")
                row.append("n/a" if v is None else f"{v:.2f} +- {s:.2f}")
            elif name == "nn":
                px = e.get("pixel", {})
                rate, ref = px.get("duplicate_rate"), px.get("reference_duplicate_rate")
                row.append("n/a" if rate is None else f"{100 * rate:.1f}% (real {100 * ref:.1f}%)")
                row.append(_fmt(px.get("median_ratio"), ".3f"))
            else:
                v, s = e.get("estimate_nats_per_image"), e.get("std_error")
                row.append("n/a" if v is None else f"{v:.1f} +- {s:.1f}")
        rows.append(row)
    notes = [f"split: {settings.split}; seed {settings.seed}"]
    if any(r.is_reference for r in results):
        notes.append(
            "real: the first n training images in place of samples: the floor a perfect "
            "sampler reaches at this n (FID is biased upwards at small n; KID is not)."
        )
    if "nll" in metrics:
        notes.append(
            "NLL: negative log-likelihood of the discrete data in nats per image, bits/dim = "
            "nats / (D ln 2); exact for autoregressive models, '<=' an upper bound (VAE: "
            f"the tightest of ELBO and IWAE-{settings.iwae_k}); GANs define no density."
        )
    if counts:
        pairs = ", ".join(f"{a} samples vs {b} {settings.split} images" for a, b in sorted(counts))
        notes.append(f"sample metrics: {pairs}")
    if feature_labels:
        notes.append("features: " + "; ".join(sorted(feature_labels)))
    if "kid" in metrics:
        notes.append(
            "KID: unbiased MMD^2, polynomial kernel, x 1e3 (can be slightly negative), +- the "
            "std over 100 subsets of 1000 (shown when n > 1000)."
        )
    if "pr" in metrics or "dc" in metrics:
        notes.append(
            "precision/recall: k=3 (Kynkaanniemi et al. 2019); density/coverage: k=5 (Naeem "
            "et al. 2020); in [0, 1] except density (about 1 for real data)."
        )
    if "is" in metrics:
        notes.append(
            "IS: Inception Score (Salimans et al. 2016, 10 splits) from the domain "
            "classifier's logits, not Inception's: not comparable with published scores; "
            "at most the number of classes."
        )
    if "nn" in metrics:
        notes.append(
            "copies: share of samples closer (pixels, L2) to a training image than 99% of "
            "held-out real images are (real data: about 1%); d_train/d_test: median ratio of "
            "each sample's distance to its nearest training and nearest test image (about 1 "
            "for a model that does not copy)."
        )
    if "parzen" in metrics:
        notes.append(
            "Parzen: the Gaussian Parzen-window estimate of Goodfellow et al. 2014, an "
            "estimate with high variance in high dimension, not a likelihood."
        )
    return Table(columns, rows, notes)


def results_json(results: Sequence[RunResult], settings: EvalSettings) -> str:
    """All figures of all runs, with the settings, as JSON text."""
    payload = {
        "settings": {
            k: (str(v) if isinstance(v, Path) else v) for k, v in settings.__dict__.items()
        },
        "runs": [
            {
                "run": str(r.run), "label": r.label, "model": r.model,
                "num_params": r.num_params, "has_density": r.has_density, "bound": r.bound,
                "is_reference": r.is_reference,
                "figures": r.figures,
            }
            for r in results
        ],
    }  # fmt: skip
    return json.dumps(payload, indent=2, sort_keys=True) + "\n"


def format_for(path: Path | None, fmt: str | None) -> str:
    """The table format from ``--format`` or else the suffix of ``--out``."""
    if fmt is not None:
        if fmt not in TABLE_FORMATS:
            raise UserInputError(f"unknown --format {fmt!r}; choose {', '.join(TABLE_FORMATS)}")
        return fmt
    if path is None:
        return "text"
    by_suffix = {".md": "markdown", ".csv": "csv", ".json": "json", ".txt": "text"}
    if path.suffix not in by_suffix:
        raise UserInputError(
            f"cannot tell the format of {path} from its suffix; use .md, .csv, .json or .txt "
            "(or pass --format)"
        )
    return by_suffix[path.suffix]
