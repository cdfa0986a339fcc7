"""``genzoo compare``: several runs evaluated the same way, in one table with its units.

Every run is evaluated by :func:`genzoo.evaluation.evaluate_run` with one
:class:`~genzoo.evaluation.EvalSettings` (same split, same n, same seed, same feature
network, same data), reusing the figures a run already stores for the same weights,
settings and data. The likelihood is asked only of models that declare one (the cell of a
model without one says so); columns, cells and notes come from the metric table
(:data:`genzoo.evaluation.table.METRICS`), so the table states the unit of every column
and whether a likelihood is exact, a bound or an estimate.
"""

from __future__ import annotations

import csv
import io
import json
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genzoo.errors import UserInputError
from genzoo.evaluation.settings import EvalSettings
from genzoo.evaluation.table import METRICS, RowFacts
from genzoo.runs import Run
from genzoo.zoo import open_run

TABLE_FORMATS = ("text", "markdown", "csv", "json")


@dataclass
class RunResult:
    """One run's figures, as :func:`compare_runs` found or computed them.

    Attributes:
        run: the run directory (or export, or ``zoo:NAME``).
        label: the name shown in tables (the folder's name).
        model: the model family (registry name).
        num_params: trainable parameters.
        density: what the model's likelihood is: "exact", "bound", "estimate" or None.
        figures: the dict :func:`evaluate_run` returned.
        is_reference: the row of real training images (:func:`real_data_row`), not a model.
        loaded: the loaded model (kept for the report's pictures; None for the real row).
    """

    run: Path | str
    label: str
    model: str
    num_params: int
    density: str | None
    figures: dict[str, Any] = field(default_factory=dict)
    is_reference: bool = False
    loaded: Any = field(default=None, repr=False)
    training: dict[str, Any] = field(default_factory=dict)

    @property
    def has_density(self) -> bool:
        return self.density is not None


ARROWS = {"lower": " ↓", "higher": " ↑", None: ""}


@dataclass
class Table:
    """A comparison: column headers (with units), display cells, the numbers behind them,
    which way each column is better, the best value of each, notes and a reading.

    Attributes:
        columns: headers with their units.
        rows: display cells, one line each.
        notes: what the figures are (units, counts, features).
        better: per column, "lower", "higher" or None.
        values: per row, the number behind each cell (text for the name columns, None
            where there is none): what CSV and JSON tables hold.
        best: (row, column) of the best value of each column with a direction, among the
            models (never the real-data row).
        reading: the table in words: which model has the best likelihood, the best
            samples, and what the real-data row means.
    """

    columns: list[str]
    rows: list[list[str]]
    notes: list[str]
    better: list[str | None] = field(default_factory=list)
    values: list[list[Any]] = field(default_factory=list)
    best: set[tuple[int, int]] = field(default_factory=set)
    reading: list[str] = field(default_factory=list)

    def header(self, i: int) -> str:
        """Column i's header with its direction: ↓ lower is better, ↑ higher is better."""
        return self.columns[i] + ARROWS[self.better[i] if self.better else None]

    def cell(self, r: int, c: int, fmt: str = "text") -> str:
        """A display cell, marked when it is its column's best (text: *, markdown: bold)."""
        text = self.rows[r][c]
        if (r, c) not in self.best:
            return text
        return f"**{text}**" if fmt == "markdown" else f"{text}*"

    def render(self, fmt: str = "text", width: int | None = None) -> str:
        """The table as ``text`` (aligned columns, wrapped to ``width`` characters if given,
        the name column repeated), ``markdown`` or ``csv`` (numbers in their own columns)."""
        if fmt == "csv":
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\n")
            writer.writerow(self.columns)
            writer.writerows(self.values or self.rows)
            return buf.getvalue()
        mark = "bold" if fmt == "markdown" else "*"
        legend = (
            f"↓ lower is better, ↑ higher is better; {mark}: the best model in the column"
            if self.best
            else ""
        )
        words = [*self.reading, ""] if self.reading else []
        if fmt == "markdown":
            n = len(self.columns)
            lines = ["| " + " | ".join(self.header(i) for i in range(n)) + " |"]
            lines.append("|" + "---|" * n)
            lines += [
                "| " + " | ".join(self.cell(r, c, "markdown") for c in range(n)) + " |"
                for r in range(len(self.rows))
            ]
            notes = [f"- {t}" for t in [*([legend] if legend else []), *self.notes]]
            return "\n".join([*lines, "", *words, *notes]) + "\n"
        if fmt != "text":
            raise UserInputError(f"unknown table format {fmt!r}; choose text, markdown or csv")
        n = len(self.columns)
        cells = [[self.cell(r, c) for c in range(n)] for r in range(len(self.rows))]
        heads = [self.header(i) for i in range(n)]
        widths = [max(len(heads[i]), *(len(row[i]) for row in cells)) for i in range(n)]
        blocks: list[list[int]] = [[0]]
        for i in range(1, n):  # wrap: later blocks repeat the name column
            used = sum(widths[j] + 2 for j in blocks[-1])
            if width is not None and used + widths[i] > width and len(blocks[-1]) > 1:
                blocks.append([0])
            blocks[-1].append(i)
        out: list[str] = []
        for cols in blocks:
            out.append("  ".join(heads[i].ljust(widths[i]) for i in cols).rstrip())
            out.append("  ".join("-" * widths[i] for i in cols))
            out += ["  ".join(row[i].ljust(widths[i]) for i in cols).rstrip() for row in cells]
            out.append("")
        prose = [*words, *([legend] if legend else []), *self.notes]
        if width is not None:
            prose = [textwrap.fill(t, width) if t else t for t in prose]
        return "\n".join([*out, *prose]) + "\n"


def open_runs(runs: Sequence[str | Path], settings: EvalSettings) -> list[Run]:
    """The runs, opened with the settings' data override, all of one dataset; a
    UserInputError for no run, a missing one, one named twice, or mixed datasets."""
    if not runs:
        raise UserInputError("name at least one run directory")
    seen: set[Path] = set()
    opened = []
    for path in runs:
        run = open_run(path, data=settings.data, data_root=settings.data_root)
        if not run.path.exists():
            raise UserInputError(
                f"{path} does not exist; pass run directories of 'genzoo train' or zoo:NAME"
            )
        key = run.path.resolve()
        if key in seen:
            raise UserInputError(f"{path} is named twice; name each run once")
        seen.add(key)
        opened.append(run)
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
    covers models with and without a density together. With ``real_row`` the last row holds real
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
                run=run.ref,
                label=run.label,
                model=model.name,
                num_params=sum(p.numel() for p in model.parameters()),
                density=density,
                figures=figures,
                loaded=model,
                training=run.training_info(),
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
    from genzoo.evaluation.samples import evaluate_samples

    metrics = [m for m in settings.metrics if METRICS[m].on_real_row]
    if not metrics:
        return None
    if model is None:
        model = run.load_model(settings.device)
    test = run.dataset(settings.split)
    train = run.dataset("train")
    n = min(settings.n_samples, len(train))
    spec = test.name
    figures = evaluate_samples(
        model, metrics, test, train=train, n=n, features=settings.features,
        reference_tag=f"{spec}-{settings.split}", train_tag=f"{spec}-train",
        device=settings.device, batch_size=settings.batch_size, seed=settings.seed,
        progress=progress, samples=train.examples(n, settings.seed),
        samples_tag=f"{spec}-train",
    )  # fmt: skip
    return RunResult(
        run=run.path, label=f"real: train[:{n}]", model="(data)", num_params=0,
        density=None, figures=figures, is_reference=True,
    )  # fmt: skip


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    m, sec = divmod(round(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{sec:02d}s"


def build_table(results: Sequence[RunResult], settings: EvalSettings) -> Table:
    """The comparison table: one row per run with its training budget, one column per
    figure, units in headers; columns, cells and notes come from the metric table."""
    metrics = [m for m in METRICS if m in settings.metrics]
    columns = ["run", "model", "params", "steps", "epochs", "train time"]
    better: list[str | None] = [None] * len(columns)
    for name in metrics:
        columns += [c.header for c in METRICS[name].columns]
        better += [c.better for c in METRICS[name].columns]
    rows, values = [], []
    feature_labels: set[str] = set()
    counts: set[tuple[int, int]] = set()
    carried: dict[str, dict[str, None]] = {name: {} for name in metrics}  # ordered sets
    for r in results:
        t = r.training
        if r.is_reference:
            row, vals = (
                [r.label, r.model, "-", "-", "-", "-"],
                [r.label, r.model, None, None, None, None],
            )
        else:
            epochs = t.get("epochs")
            row = [
                r.label, r.model, f"{r.num_params / 1e6:.2f}M", str(t.get("step", "-")),
                "-" if epochs is None else f"{epochs:.1f}", _duration(t.get("seconds")),
            ]  # fmt: skip
            vals = [r.label, r.model, r.num_params, t.get("step"), epochs, t.get("seconds")]
        facts = RowFacts(density=r.density, is_reference=r.is_reference)
        for name in metrics:
            metric = METRICS[name]
            width = len(metric.columns)
            if metric.kind != "likelihood" and r.is_reference and not metric.on_real_row:
                row += ["-"] * width
                vals += [None] * width
                continue
            e = r.figures if metric.kind == "likelihood" else r.figures.get(name)
            e = e if isinstance(e, dict) else {}
            if metric.kind != "likelihood" and e:
                if "features" in e:
                    feature_labels.add(e["features"])
                counts.add((e.get("n_samples", 0), e.get("n_reference", 0)))
            row += metric.cells(e, facts, settings)
            if metric.entry_notes:
                carried[name].update(dict.fromkeys(metric.entry_notes(e, facts)))
            vals += metric.values(e, facts) if metric.values else [None] * width
        rows.append(row)
        values.append(vals)
    best: set[tuple[int, int]] = set()
    models = [i for i, r in enumerate(results) if not r.is_reference]
    for c, direction in enumerate(better):
        scored = [(values[i][c], i) for i in models if isinstance(values[i][c], (int, float))]
        if direction is None or len(scored) < 2 or len({v for v, _ in scored}) == 1:
            continue  # no direction, one model, or a tie of all: nothing to mark
        top = (min if direction == "lower" else max)(v for v, _ in scored)
        best |= {(i, c) for v, i in scored if v == top}
    notes = [f"split: {settings.split}; seed {settings.seed}"]
    notes.append(
        "steps, epochs, train time: the training budget of the weights evaluated (time as "
        "measured by the run, all its sessions)."
    )
    if any(r.is_reference for r in results):
        notes.append(
            "real: the first n training images in place of samples: the floor a perfect "
            "sampler reaches at this n (FID is biased upwards at small n; KID is not)."
        )
    if "nll" in metrics:
        notes += [METRICS["nll"].note(settings), *carried["nll"]]
    if counts:
        pairs = ", ".join(f"{a} samples vs {b} {settings.split} images" for a, b in sorted(counts))
        notes.append(f"sample metrics: {pairs}")
    if feature_labels:
        notes.append("features: " + "; ".join(sorted(feature_labels)))
    for m in metrics:
        if m != "nll":
            notes += [n for n in (METRICS[m].note(settings), *carried[m]) if n]
    table = Table(columns, rows, notes, better, values, best)
    table.reading = reading(results, table, settings)
    return table


def reading(results: Sequence[RunResult], table: Table, settings: EvalSettings) -> list[str]:
    """The table in a few sentences, generated from its figures."""
    out: list[str] = []
    col = {c: i for i, c in enumerate(table.columns)}

    def name(i: int) -> str:  # "MODEL", or "my-run (MODEL)": never "MODEL (MODEL)"
        r = results[i]
        return r.label if r.label == r.model else f"{r.label} ({r.model})"

    models = [i for i, r in enumerate(results) if not r.is_reference]
    real = [i for i, r in enumerate(results) if r.is_reference]
    if "bits/dim" in col:
        dens = [(table.values[i][col["bits/dim"]], i) for i in models]
        dens = [(v, i) for v, i in dens if v is not None]
        if dens:
            v, i = min(dens)
            kinds = {results[j].density for _, j in dens}
            what = {"exact": "exact", "bound": "an upper bound", "estimate": "an estimate"}
            sentence = (
                f"Best likelihood: {name(i)}, {v:.4f} bits/dim "
                f"({what.get(results[i].density or '', 'figure')})."
            )
            if len(kinds) > 1:
                sentence += (
                    " Exact figures, bounds and estimates are compared as they are: a bound "
                    "may hide a better model, an estimate may err either way."
                )
            out.append(sentence)
        none = sorted({results[i].model for i in models if results[i].density is None})
        if none:
            out.append(f"{', '.join(none)}: no likelihood defined; compare by the samples instead.")
    if "FID" in col:
        fids = [(table.values[i][col["FID"]], i) for i in models]
        fids = [(v, i) for v, i in fids if v is not None]
        if fids:
            v, i = min(fids)
            sentence = f"Best samples by FID: {name(i)}, {v:.2f}."
            floor = [table.values[j][col["FID"]] for j in real]
            if floor and floor[0] is not None:
                sentence += (
                    f" Real training images score {floor[0]:.2f} against the same "
                    f"{settings.split} images: the floor at this n, so read a model's FID as "
                    "its distance above that floor."
                )
            out.append(sentence)
    if "copies (pixels)" in col:
        for i in models:
            e = results[i].figures.get("nn", {}).get("pixel", {})
            rate, ref = e.get("duplicate_rate"), e.get("reference_duplicate_rate")
            if rate is not None and ref is not None and rate > max(3 * ref, 0.05):
                out.append(
                    f"{results[i].label} may copy training images: {100 * rate:.1f}% of its "
                    f"samples are closer to one than {100 * (1 - ref):.0f}% of real test "
                    "images are."
                )
    return out


def results_json(results: Sequence[RunResult], settings: EvalSettings) -> str:
    """All figures of all runs, with the settings, as JSON text."""
    payload = {
        "settings": {
            k: (str(v) if isinstance(v, Path) else v) for k, v in settings.__dict__.items()
        },
        "runs": [
            {
                "run": str(r.run), "label": r.label, "model": r.model,
                "num_params": r.num_params, "density": r.density, "training": r.training,
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
