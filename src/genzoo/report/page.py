"""``genzoo report``: several runs side by side on one static HTML page.

The page is one self-contained file: every picture is a PNG embedded as a ``data:`` URI,
the style sheet is inline and there is no script, so it opens offline, from any folder,
and can be attached to a report or mailed as is. It holds:

- the comparison table of :mod:`genzoo.report.compare` (units, sample counts, features);
- a grid of real images of the split ("compare with the original data");
- per run: samples, samples beside their nearest training images (pixels), completions
  (models that complete images), decoded prior codes (models with an encoder), the report
  figures of every view the model's capabilities and family declare (reconstructions,
  interpolations, the 2-D manifold, ...: :class:`genzoo.declare.View`), training curves
  from ``logs/metrics.csv`` (matplotlib), and the run's ``run.json``.

Everything is computed through the model contract and the views of :mod:`genzoo.viz`;
the pictures are drawn with fixed seeds, so a report of the same runs is reproducible.
"""

from __future__ import annotations

import base64
import csv
import datetime
import html
import io
import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from genzoo._version import __version__
from genzoo.errors import UserInputError
from genzoo.evaluation.settings import EvalSettings
from genzoo.io import atomic_path
from genzoo.report.compare import RunResult, Table, build_table, compare_runs
from genzoo.runs import Run
from genzoo.zoo import open_run

SAMPLES_SHOWN = 64
NEIGHBOURS_ROWS = 8
NEIGHBOURS_K = 5


@dataclass(frozen=True)
class Figure:
    """One picture of the page: a PNG and what it shows."""

    title: str
    png: bytes
    caption: str


def _png(img: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def grid_png(images: Tensor, nrow: int | None = None, scale: int | None = None) -> bytes:
    """uint8 (N, C, H, W) images as the PNG bytes of one grid (enlarged, see TILE_PIXELS)."""
    from genzoo.viz.grid import grid_image, readable_scale

    scale = scale or max(2, readable_scale(max(images.shape[-2:])))
    return _png(grid_image(images.cpu(), nrow, scale))


def scatter_png(points: Tensor, log_density: Any, title: str) -> bytes:
    """2-D points (N, 2) over a density, as PNG bytes (:func:`genzoo.viz.points.save_scatter`)."""
    import tempfile

    from genzoo.viz.points import save_scatter

    with tempfile.TemporaryDirectory() as tmp:
        path = save_scatter(points, Path(tmp) / "scatter.png", log_density=log_density, title=title)
        return path.read_bytes()


def read_curves(run: Path) -> dict[str, tuple[list[int], list[float]]]:
    """The training curves of ``logs/metrics.csv``: name -> (steps, values)."""
    path = Path(run) / "logs" / "metrics.csv"
    curves: dict[str, tuple[list[int], list[float]]] = {}
    if not path.is_file():
        return curves
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            try:
                step, value = int(row["step"]), float(row["value"])
            except (KeyError, TypeError, ValueError):
                continue  # a line cut short by an interrupted run
            steps, values = curves.setdefault(row.get("name") or "?", ([], []))
            steps.append(step)
            values.append(value)
    return curves


def smooth(values: list[float], weight: float | None = None) -> list[float]:
    """An exponential moving average, debiased as TensorBoard's smoothing is, with a
    weight that keeps about 20 points' memory by default."""
    weight = weight if weight is not None else max(0.0, 1.0 - 1.0 / max(1.0, len(values) / 20))
    out, avg, norm = [], 0.0, 0.0
    for v in values:
        avg = weight * avg + (1 - weight) * v
        norm = weight * norm + (1 - weight)
        out.append(avg / norm)
    return out


def curves_png(curves: dict[str, tuple[list[int], list[float]]], max_panels: int = 8) -> bytes:
    """Training curves, one small panel per logged quantity (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted(curves, key=lambda k: (k != "loss", k))[:max_panels]
    cols = min(4, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
    for ax in axes.flat[len(names) :]:
        ax.axis("off")
    for ax, name in zip(axes.flat, names, strict=False):
        steps, values = curves[name]
        if len(values) < 20:
            ax.plot(steps, values, linewidth=1, marker=".")
        else:  # raw points faint, an exponential moving average over them
            ax.plot(steps, values, linewidth=0.6, alpha=0.3, color="C0")
            ax.plot(steps, smooth(values), linewidth=1.4, color="C0")
        ax.set_title(name, fontsize=9, parse_math=False)  # a name is text, never TeX
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


@torch.no_grad()
def run_figures(run: Run, model: Any, *, seed: int = 0) -> list[Figure]:
    """The pictures of one run, each drawn with ``seed``: its samples (beside their nearest
    training images), completions where the model completes images, decoded prior codes
    where it has an encoder, then the report figures of every view that applies to it
    (:func:`genzoo.registry.views_of`), then its training curves.

    The datasets come from ``run`` (with its ``--data`` override, as the table's do)."""
    has_data = run.has_dataset
    if model.data.is_points:
        return _points_figures(run, model, seed, has_data) + _curves_figure(run.path)
    figures = _sample_figures(run, model, seed, has_data)
    if has_data and model.can_complete:
        images, labels = run.pick_images("test:0-7", "report")  # (8, C, H, W), (8,)
        labels = labels.to(model.device) if model.conditional else None
        figures += _completion_figures(model, images, labels, seed)
    if has_data and model.has_encoder:
        figures += _decoded_figures(model, seed)
    return figures + view_figures(run, model, seed) + _curves_figure(run.path)


def view_figures(run: Run, model: Any, seed: int) -> list[Figure]:
    """The report figures the views of ``model`` declare (:class:`genzoo.declare.View`),
    in their declared order, each drawn with its declared options and ``seed``."""
    from genzoo.registry import views_of

    figures = []
    for view in views_of(model):
        for shown in view.report:
            if not shown.applies(model, run.has_dataset):
                continue
            options = view.options(**shown.options_for(model))
            picture = view.drawer()(model, run, options, seed)
            png = picture.png() if hasattr(picture, "png") else grid_png(*picture)
            figures.append(Figure(shown.title, png, shown.caption))
    return figures


def _points_figures(run: Run, model: Any, seed: int, has_data: bool) -> list[Figure]:
    n = 2000
    points = model.sample(n, generator=torch.Generator(model.device).manual_seed(seed)).cpu()
    density = run.dataset("test").log_prob if has_data else None
    png = scatter_png(points, density, f"{model.name}: {n} samples")
    return [Figure("samples", png, f"{n} samples over the true density (blue)")]


def _sample_figures(run: Run, model: Any, seed: int, has_data: bool) -> list[Figure]:
    from genzoo.evaluation.samples import draw_samples, max_value_of
    from genzoo.metrics.nearest import nearest_grid

    samples = draw_samples(model, SAMPLES_SHOWN, batch_size=SAMPLES_SHOWN, seed=seed)
    how = "class labels 0, 1, ... in turn" if model.conditional else "unconditional"
    caption = f"{len(samples)} samples ({how})"
    if run.note:  # the recipe's own word on its samples, e.g. what its budget does not reach
        caption += f". Note from the run's recipe: {run.note}"
    figures = [Figure("samples", grid_png(samples, 8), caption)]
    if has_data:
        train_ds = run.dataset("train")
        train = train_ds.examples(len(train_ds), seed)
        grid, _ = nearest_grid(
            samples[:NEIGHBOURS_ROWS], train, NEIGHBOURS_K, max_value_of(model.data)
        )
        figures.append(
            Figure(
                "nearest training images",
                grid_png(grid, NEIGHBOURS_K + 1),
                f"first column: a sample; then its {NEIGHBOURS_K} nearest of the "
                f"{len(train)} training images (pixels, L2). A copy would match exactly.",
            )
        )
    return figures


def _completion_figures(model: Any, images: Tensor, labels: Any, seed: int) -> list[Figure]:
    from genzoo.viz.views import completion_grid

    rows = model.data.image_shape[1] // 2
    g = torch.Generator(model.device).manual_seed(seed)
    grid, nrow = completion_grid(model, images, labels, rows, generator=g)
    caption = f"rows: top {rows} rows given; the rest sampled; the original test image"
    return [Figure("completions", grid_png(grid, nrow), caption)]


def _decoded_figures(model: Any, seed: int) -> list[Figure]:
    from genzoo.viz import prior

    z = prior.latent_codes(model, SAMPLES_SHOWN, seed)  # (64, latent_dim)
    k = model.data.num_classes or 1
    z_lab = torch.arange(SAMPLES_SHOWN, device=model.device) % k if model.conditional else None
    return [
        Figure(
            "decoded prior codes",
            grid_png(model.decode(z, z_lab).cpu(), 8),
            "decode(z) for z ~ N(0, I): the decoder's mean image, without the pixel noise of "
            "p(x|z) that true samples (above) carry",
        )
    ]


def _curves_figure(run: Path) -> list[Figure]:
    try:
        curves = read_curves(run)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        note = f"logs/metrics.csv could not be read ({type(e).__name__}); curves skipped"
        return [Figure("training curves", _note_png(note), note)]
    if not curves:
        return []
    last = max(max(steps) for steps, _ in curves.values())
    return [Figure("training curves", curves_png(curves), f"logs/metrics.csv, up to step {last}")]


def _note_png(text: str) -> bytes:
    """A small blank PNG standing in for a picture that could not be drawn (its caption
    says why)."""
    from PIL import Image

    return _png(Image.new("L", (8, 8), 255))


def _img(fig: Figure) -> str:
    data = base64.b64encode(fig.png).decode("ascii")
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(fig.title)}">'
        f"<figcaption><b>{html.escape(fig.title)}</b>: {html.escape(fig.caption)}"
        "</figcaption></figure>"
    )


TIPS = {"lower": "lower is better", "higher": "higher is better", None: ""}


def table_html(table: Table) -> str:
    """The comparison table as an HTML table (each column's direction in its header, the
    best model of each column in bold), its reading in words, and its notes."""
    head = "".join(
        f'<th title="{TIPS[table.better[i] if table.better else None]}">'
        f"{html.escape(table.header(i))}</th>"
        for i in range(len(table.columns))
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="best">{html.escape(c)}</td>' if (r, i) in table.best
            else f"<td>{html.escape(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for r, row in enumerate(table.rows)
    )  # fmt: skip
    legend = (
        "<li>↓ lower is better, ↑ higher is better; <b>bold</b>: the best model in the column</li>"
        if table.best
        else ""
    )
    notes = legend + "".join(f"<li>{html.escape(n)}</li>" for n in table.notes)
    words = "".join(f"<p>{html.escape(t)}</p>" for t in table.reading)
    reading = f'<div class="reading"><h3>Reading the table</h3>{words}</div>' if words else ""
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>'
        f"</table></div>{reading}<ul>{notes}</ul>"
    )


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; padding: 0 1em;
       color: #222; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; white-space: nowrap; }
td.best { font-weight: bold; }
.scroll { overflow-x: auto; }
.reading { background: #f6f8fa; padding: 0.2em 1em; margin: 1em 0; }
nav ul { columns: 2; }
th { background: #f3f3f3; }
figure { display: inline-block; vertical-align: top; margin: 0.5em 1em 1em 0; max-width: 100%; }
figure img { image-rendering: pixelated; max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.85em; max-width: 40em; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.8em; }
.meta { color: #555; font-size: 0.9em; }
"""


def render_page(
    title: str,
    table: Table,
    real: Figure,
    runs: Sequence[tuple[RunResult, list[Figure], dict[str, Any]]],
    meta: Sequence[str],
) -> str:
    """The whole page as HTML text."""

    def heading(result: RunResult) -> str:  # "MODEL", or "my-run (MODEL)": never "MODEL: MODEL"
        name = result.label if result.label == result.model else f"{result.label} ({result.model})"
        return html.escape(name)

    def anchor(result: RunResult) -> str:
        return html.escape("run-" + result.label, quote=True)

    contents = [
        '<li><a href="#comparison">Comparison</a></li>',
        '<li><a href="#data">The original data</a></li>',
        *(f'<li><a href="#{anchor(r)}">{heading(r)}</a></li>' for r, _, _ in runs),
    ]
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        '<p class="meta">' + "<br>".join(html.escape(m) for m in meta) + "</p>",
        "<nav><b>Contents</b><ul>" + "".join(contents) + "</ul></nav>",
        '<h2 id="comparison">Comparison</h2>',
        table_html(table),
        '<h2 id="data">The original data</h2>',
        _img(real),
    ]
    for result, figures, info in runs:
        parts.append(f'<h2 id="{anchor(result)}">{heading(result)}</h2>')
        parts.append(
            f'<p class="meta">{html.escape(str(result.run))}; {result.num_params:,} parameters</p>'
        )
        parts += [_img(f) for f in figures]
        if info:
            text = html.escape(json.dumps(info, indent=2, sort_keys=True))
            parts.append(f"<details><summary>run.json</summary><pre>{text}</pre></details>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_report(
    runs: Sequence[str | Path],
    out: str | Path,
    settings: EvalSettings,
    *,
    title: str = "genzoo report",
    force: bool = False,
    progress: bool = True,
    echo: Callable[[str], None] | None = print,
    command: str | None = None,
    real_row: bool = True,
) -> Path:
    """Evaluate ``runs`` with ``settings`` (reusing matching stored figures), draw their
    pictures and write the page to ``out`` atomically.

    Raises:
        UserInputError: ``out`` exists and ``force`` is False, or it is not an .html file.
    """
    from genzoo.progress import bar

    out = Path(out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise UserInputError(f"--out {out}: the report is an HTML page; name it e.g. report.html")
    if out.exists() and not force:
        raise UserInputError(f"{out} exists; pass --force to overwrite it or choose another --out")
    results = compare_runs(runs, settings, progress=progress, echo=echo, real_row=real_row)
    table = build_table(results, settings)
    if echo:
        echo("\n" + table.render("text", width=shutil.get_terminal_size((120, 24)).columns))
    opened = {
        r.run: open_run(r.run, data=settings.data, data_root=settings.data_root) for r in results
    }
    ref = opened[results[0].run].dataset(settings.split)
    if ref.kind == "points":  # 2-D toy data
        real = Figure(
            "real points",
            scatter_png(ref.examples(2000), ref.log_prob, "data"),
            f"the first 2000 points of the {settings.split} split of {ref.name}",
        )
    else:
        real = Figure(
            "real images",
            grid_png(ref.examples(SAMPLES_SHOWN, settings.seed), 8),
            f"the first {SAMPLES_SHOWN} images of the {settings.split} split of {ref.name}",
        )
    pages = []
    models = [r for r in results if not r.is_reference]
    for result in bar(None, "pictures", "run", disable=not progress, iterable=models):
        run = opened[result.run]
        figures = run_figures(run, result.loaded, seed=settings.seed)
        info = run.facts
        pages.append((result, figures, info))
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    meta = [
        f"dataset: {ref.name}, split {settings.split}; written {now} by genzoo {__version__}",
    ]
    if command:
        meta.append(f"command: {command}")
    page = render_page(title, table, real, pages, meta)
    with atomic_path(out) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return out
