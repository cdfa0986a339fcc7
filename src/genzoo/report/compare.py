"""``genzoo compare``: several runs evaluated the same way, in one table with its units.

Every run is evaluated by :func:`genzoo.evaluation.evaluate_run` with one
:class:`~genzoo.evaluation.EvalSettings` (same split, same n, same seed, same feature
network, same data), reusing the figures a run already stores for the same weights,
settings and data. The likelihood is asked only of models that declare one (a GAN's cell
says so); columns, cells and notes come from the metric table
(:data:`genzoo.evaluation.table.METRICS`), so the table states the unit of every column
and whether a likelihood is exact, a bound or an estimate.
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
from genzoo.evaluation.settings import EvalSettings
from genzoo.evaluation.table import METRICS, RowFacts
from genzoo.runs import Run

TABLE_FORMATS = ("text", "markdown", "csv", "json")


@dataclass
class RunResult:
    """One run's figures, as :func:`compare_runs` found or computed them.

    Attributes:
        run: the run directory (or export).
        label: the name shown in tables (the folder's name).
        model: the model family (registry name).
        num_params: trainable parameters.
        density: what the model's likelihood is: "exact", "bound", "estimate" or None.
        figures: the dict :func:`evaluate_run` returned.
        is_reference: the row of real training images (:func:`real_data_row`), not a model.
        loaded: the loaded model (kept for the report's pictures; None for the real row).
    """

    run: Path
    label: str
    model: str
    num_params: int
    density: str | None
    figures: dict[str, Any] = field(default_factory=dict)
    is_reference: bool = False
    loaded: Any = field(default=None, repr=False)

    @property
    def has_density(self) -> bool:
        return self.density is not None


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


def open_runs(runs: Sequence[str | Path], settings: EvalSettings) -> list[Run]:
    """The runs, opened with the settings' data override, all of one dataset; a
    UserInputError for no run, a missing one, one named twice, or mixed datasets."""
    if not runs:
        raise UserInputError("name at least one run directory")
    seen: set[Path] = set()
    opened = []
    for path in runs:
        if not Path(path).exists():
            raise UserInputError(f"{path} does not exist; pass run directories of 'genzoo train'")
        key = Path(path).resolve()
        if key in seen:
            raise UserInputError(f"{path} is named twice; name each run once")
        seen.add(key)
        opened.append(Run(path, data=settings.data, data_root=settings.data_root))
    specs = {str(r.path): r.dataset_name for r in opened}
    if len(set(specs.values())) > 1:
        listing = ", ".join(f"{r}: {s}" for r, s in specs.items())
        raise UserInputError(
            f"the runs were trained on different datasets ({listing}); compare runs of one "
            "dataset, or evaluate all on one with --data NAME"
        )
    return opened


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
    import dataclasses

    from genzoo.evaluation.run import evaluate_run

    opened = open_runs(runs, settings)
    results = []
    for run in opened:
        model = run.load_model(settings.device)
        density = model.density
        metrics = tuple(m for m in settings.metrics if density is not None or m != "nll")
        if echo:
            echo(f"{run.path}: {model.name}")
        figures = evaluate_run(
            run,
            dataclasses.replace(settings, metrics=metrics),
            reuse=True,
            model=model,
            progress=progress,
            echo=echo,
        )
        results.append(
            RunResult(
                run=run.path,
                label=run.label,
                model=model.name,
                num_params=sum(p.numel() for p in model.parameters()),
                density=density,
                figures=figures,
                loaded=model,
            )
        )
    if real_row:
        row = real_data_row(opened[0], settings, model=results[0].loaded, progress=progress)
        if row is not None:
            results.append(row)
    return results


def real_data_row(
    run: Run, settings: EvalSettings, *, model: Any | None = None, progress: bool = True
) -> RunResult | None:
    """The sample metrics of n real *training* images against the n evaluation images: the
    floor a perfect sampler would reach at this n (FID is biased upwards at small n).

    Uses ``run``'s model (``model`` if given, else loaded) only for its data kind; None when
    no sample metric is asked.
    """
    from genzoo.evaluation.samples import evaluate_samples, real_images

    metrics = [m for m in settings.metrics if METRICS[m].on_real_row]
    if not metrics:
        return None
    if model is None:
        model = run.load_model(settings.device)
    test = run.dataset(settings.split)
    train = run.dataset("train")
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
        run=run.path, label=f"real: train[:{n}]", model="(data)", num_params=0,
        density=None, figures=figures, is_reference=True,
    )  # fmt: skip


def build_table(results: Sequence[RunResult], settings: EvalSettings) -> Table:
    """The comparison table: one row per run, one column per figure, units in headers;
    columns, cells and notes come from the metric table."""
    metrics = [m for m in METRICS if m in settings.metrics]
    columns = ["run", "model", "params"]
    for name in metrics:
        columns += [c.header for c in METRICS[name].columns]
    rows = []
    feature_labels: set[str] = set()
    counts: set[tuple[int, int]] = set()
    for r in results:
        row = [r.label, r.model, "-" if r.is_reference else f"{r.num_params / 1e6:.2f}M"]
        facts = RowFacts(density=r.density, is_reference=r.is_reference)
        for name in metrics:
            metric = METRICS[name]
            if metric.kind == "likelihood":
                row += metric.cells(r.figures, facts, settings)
                continue
            if r.is_reference and not metric.on_real_row:
                row += ["-"] * len(metric.columns)
                continue
            e = r.figures.get(name)
            if isinstance(e, dict):
                if "features" in e:
                    feature_labels.add(e["features"])
                counts.add((e.get("n_samples", 0), e.get("n_reference", 0)))
            row += metric.cells(e if isinstance(e, dict) else {}, facts, settings)
        rows.append(row)
    notes = [f"split: {settings.split}; seed {settings.seed}"]
    if any(r.is_reference for r in results):
        notes.append(
            "real: the first n training images in place of samples: the floor a perfect "
            "sampler reaches at this n (FID is biased upwards at small n; KID is not)."
        )
    if "nll" in metrics:
        notes.append(METRICS["nll"].note(settings))
    if counts:
        pairs = ", ".join(f"{a} samples vs {b} {settings.split} images" for a, b in sorted(counts))
        notes.append(f"sample metrics: {pairs}")
    if feature_labels:
        notes.append("features: " + "; ".join(sorted(feature_labels)))
    notes += [n for n in (METRICS[m].note(settings) for m in metrics if m != "nll") if n]
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
                "num_params": r.num_params, "density": r.density,
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
