"""What the app's panels compute, without Gradio: a model's card, a sample grid, a
completion and any declared view, each as a picture or a refusal.

Every picture comes from the code the command line and the report use:
``model.sample`` as ``genzoo sample`` calls it, :func:`genzoo.viz.views.completion_grid` as
``genzoo sample --complete`` does, and a declared view's own drawing function
(:class:`genzoo.declare.View`, ``view.drawer()(model, run, options, seed)``) as
``genzoo viz NAME`` and the report do; the view's options are its declared options
dataclass. Nothing here names a model family: what a model offers is read from its
declarations (:func:`genzoo.registry.views_of`, ``sample_options``, ``conditional``,
``can_complete``).

Bad input raises :class:`genzoo.errors.UserInputError` with one line (the page shows it);
long samplers report through :mod:`genzoo.progress` and stop between two steps when asked
(:class:`Stop`).
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import io
import itertools
import math
import threading
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from PIL import Image

from genzoo import progress
from genzoo.declare import View
from genzoo.errors import GenzooError, UserInputError
from genzoo.runs import Run, parse_indices

SEED_MAX = 2**32 - 1
"""The largest seed the app takes (seeds are whole numbers in [0, SEED_MAX])."""
MAX_GRID = 256
"""The most images one sample grid draws (``genzoo sample -n`` draws more)."""


class Stopped(GenzooError):
    """Long work stopped by the user (the page's Stop button) between two steps."""


@dataclass
class Loaded:
    """One model the app serves: its reference, its run and the loaded model."""

    ref: str
    run: Run
    model: Any

    @property
    def name(self) -> str:
        return self.model.name


@dataclass
class Session:
    """The app's models and what their calls share: one lock (one drawing at a time, as
    models and torch's global generator are not shared between threads) and the stop
    request of long work."""

    models: dict[str, Loaded]
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def get(self, ref: str | None) -> Loaded:
        if ref not in self.models:
            raise UserInputError(f"no model {ref!r} in this app; choose one of the list")
        return self.models[ref]


def open_models(refs: Sequence[str], device: str | torch.device = "cpu") -> dict[str, Loaded]:
    """Open every reference (a run folder, an export or ``zoo:NAME``) and load its model:
    a bad reference raises its one-line error before anything is served."""
    from genzoo.zoo import open_run

    out: dict[str, Loaded] = {}
    for ref in refs:
        run = open_run(ref)
        out[str(ref)] = Loaded(str(ref), run, run.load_model(device))
    return out


# -- input ------------------------------------------------------------------------------


def check_seed(seed: Any) -> int:
    """A seed from the page: a whole number in [0, SEED_MAX], else a UserInputError."""
    if seed is None or isinstance(seed, bool):
        raise UserInputError(f"seed: give a whole number in [0, {SEED_MAX}]")
    try:
        value = float(seed)
    except (TypeError, ValueError):
        raise UserInputError(
            f"seed: give a whole number in [0, {SEED_MAX}], got {seed!r}"
        ) from None
    if value != int(value) or not 0 <= value <= SEED_MAX:
        raise UserInputError(f"seed must be a whole number in [0, {SEED_MAX}], got {seed}")
    return int(value)


def check_count(n: Any, what: str, low: int, high: int) -> int:
    """A whole number in [low, high] from the page, else a UserInputError naming ``what``."""
    try:
        value = float(n)
    except (TypeError, ValueError):
        raise UserInputError(f"{what}: give a whole number in [{low}, {high}]") from None
    if value != int(value) or not low <= value <= high:
        raise UserInputError(f"{what} must be a whole number in [{low}, {high}], got {n}")
    return int(value)


def sample_kwargs(model: Any, options: Mapping[str, Any]) -> dict[str, Any]:
    """The declared sample options given (None or "" left to the model), checked against
    what ``model`` takes (as ``genzoo sample`` does) and against their declared minimum."""
    from genzoo.declare import flag
    from genzoo.registry import sample_options

    declared = sample_options()
    out: dict[str, Any] = {}
    for key, value in options.items():
        if isinstance(value, str):
            value = value.strip()
        if value is None or value == "":
            continue
        if key not in model.sample_options:
            takes = ", ".join(model.sample_options) or "none"
            raise UserInputError(f"{key} does not apply to {model.name} (its options: {takes})")
        option = declared[key]
        if option.type is int:
            value = check_count(value, key, -(2**31), 2**31 - 1)
        elif option.type is float:
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise UserInputError(f"{key}: give a number, got {value!r}") from None
            if value != value:  # NaN
                raise UserInputError(f"{flag(key)} must be a number")
        option.check(value)
        out[key] = value
    return out


def labels_for(model: Any, text: str | None, n: int) -> torch.Tensor | None:
    """Class labels of a grid: ``text`` ('3', '0-9', '1,5,9') cycled over ``n``; for a
    conditional model without any, 0, 1, ... in turn (as ``genzoo sample`` does)."""
    text = (text or "").strip()
    if not model.conditional:
        if text:
            raise UserInputError(f"this {model.name} is not class-conditional: leave labels empty")
        return None
    k = model.data.num_classes or 1
    pool = parse_indices(text, "labels") if text else list(range(k))
    bad = [c for c in pool if not 0 <= c < k]
    if bad:
        raise UserInputError(f"labels must be in [0, {k - 1}], got {bad[0]}")
    return torch.tensor([pool[i % len(pool)] for i in range(n)], device=model.device)


# -- progress and stopping --------------------------------------------------------------


class Reporter(progress.Tracker):
    """Passes a sampler's progress to ``report(done, total, unit)`` (at most every
    ``every`` units) and stops it between two units once ``stop`` is set."""

    def __init__(
        self, report: Callable[[int, int, str], None], stop: threading.Event, every: int = 8
    ) -> None:
        super().__init__("sampling")
        self.report, self.stop, self.every = report, stop, max(1, every)
        self.done, self.total, self.unit = 0, 0, "step"

    def start(self, total: int, unit: str) -> None:
        self.done, self.total, self.unit = 0, int(total), unit
        self.report(0, self.total, unit)

    def advance(self, k: int = 1) -> None:
        if self.stop.is_set():
            raise Stopped(f"stopped after {self.done} of {self.total} {self.unit}s")
        self.done += k
        if self.done % self.every == 0 or self.done >= self.total:
            self.report(self.done, self.total, self.unit)

    def close(self) -> None:
        pass


def _quiet(done: int, total: int, unit: str) -> None:
    pass


def run_drawing(
    session: Session,
    draw: Callable[[], Any],
    seed: int,
    report: Callable[[int, int, str], None] | None = None,
) -> Any:
    """Call ``draw()`` under the session's lock with torch's global generator seeded with
    ``seed`` (restored afterwards, as ``genzoo viz`` seeds it), samplers reporting to
    ``report`` and stopping when ``session.stop`` is set."""
    with session.lock:
        session.stop.clear()
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            torch.manual_seed(seed)
            with progress.tracking(Reporter(report or _quiet, session.stop)):
                return draw()


# -- pictures ---------------------------------------------------------------------------


def picture_image(picture: Any, scale: int | None = None) -> Image.Image:
    """A view's picture (a grid ``(images, columns)`` or an object with ``png()``) as a
    PIL image; grids are enlarged as the report enlarges them."""
    from genzoo.viz.grid import grid_image, readable_scale

    if hasattr(picture, "png"):
        return Image.open(io.BytesIO(picture.png())).convert("RGB")
    images, cols = picture
    scale = scale or max(2, readable_scale(max(images.shape[-2:])))
    return grid_image(images.cpu(), cols, scale)


def sample_grid(
    session: Session,
    ref: str,
    seed: Any,
    n: Any,
    labels: str | None = None,
    options: Mapping[str, Any] | None = None,
    report: Callable[[int, int, str], None] | None = None,
) -> Image.Image:
    """``n`` samples drawn with ``seed`` as one grid (``genzoo sample REF -n N --seed S``)."""
    loaded = session.get(ref)
    model = loaded.model
    seed = check_seed(seed)
    n = check_count(n, "count", 1, MAX_GRID)
    kwargs = sample_kwargs(model, options or {})
    lab = labels_for(model, labels, n)

    def draw() -> Any:
        if model.data.is_points:
            from genzoo.report.page import scatter_png

            g = torch.Generator(model.device).manual_seed(seed)
            points = model.sample(n, labels=lab, generator=g, **kwargs).cpu()
            return Image.open(io.BytesIO(scatter_png(points, None, f"{n} samples")))
        g = torch.Generator(model.device).manual_seed(seed)
        images = model.sample(n, labels=lab, generator=g, **kwargs).cpu()
        return picture_image((images, None), grid_scale(model))

    return run_drawing(session, draw, seed, report)


def grid_scale(model: Any) -> int:
    """The enlargement of a model's grids in the page (:func:`picture_image`)."""
    from genzoo.viz.grid import readable_scale

    return max(2, readable_scale(max(model.data.image_shape[-2:])))


def grid_index(model: Any, n: int, x: float, y: float, padding: int = 2) -> int | None:
    """The index of the sample under pixel (x, y) of a grid of ``n`` samples drawn by
    :func:`sample_grid` (``make_grid``'s layout: about sqrt(n) columns, ``padding``
    pixels around each tile, enlarged by :func:`grid_scale`), or None between tiles."""
    _, h, w = model.data.image_shape
    cols = max(1, math.ceil(math.sqrt(n)))
    scale = grid_scale(model)
    px, py = x / scale - padding, y / scale - padding
    col, row = int(px // (w + padding)), int(py // (h + padding))
    inside = 0 <= px % (w + padding) < w and 0 <= py % (h + padding) < h
    index = row * cols + col
    return index if inside and px >= 0 and py >= 0 and col < cols and index < n else None


def completion(
    session: Session,
    ref: str,
    images: str,
    known_rows: Any,
    seed: Any,
    options: Mapping[str, Any] | None = None,
    report: Callable[[int, int, str], None] | None = None,
) -> Image.Image:
    """Completions of dataset images (``genzoo sample REF --complete SPEC``): rows of the
    given top part, the completion and the original."""
    from genzoo.viz.views import completion_grid

    loaded = session.get(ref)
    model = loaded.model
    if not model.can_complete:
        raise UserInputError(
            f"{model.name} cannot complete images (it does not declare can_complete); "
            "choose an autoregressive model"
        )
    seed = check_seed(seed)
    h = model.data.image_shape[1]
    rows = check_count(known_rows, "known rows", 0, h)
    kwargs = sample_kwargs(model, options or {})
    spec = (images or "").strip() or "test:0-7"
    originals, ds_labels = loaded.run.pick_images(spec if ":" in spec else f"{spec}:0-7", "images")
    if len(originals) > 32:
        raise UserInputError(f"complete at most 32 images at once, got {len(originals)}")
    lab = ds_labels.to(model.device) if model.conditional else None

    def draw() -> Any:
        g = torch.Generator(model.device).manual_seed(seed)
        return picture_image(completion_grid(model, originals, lab, rows, generator=g, **kwargs))

    return run_drawing(session, draw, seed, report)


def view_note(view: View, model: Any) -> str:
    """What the page says of ``view`` for ``model``: its help, or why it does not apply."""
    from genzoo.registry import view_models, views_of

    if view in views_of(model):
        return view.help
    families = view_models(view)
    if families:
        why = f"is a view of {' and '.join(families)} models"
    else:
        why = "needs a model that declares " + " and ".join(view.needs)
    return f"Not available for {model.name}: '{view.name}' {why}. ({view.help})"


def draw_view(
    session: Session,
    ref: str,
    view: View,
    values: Mapping[str, Any],
    seed: Any,
    report: Callable[[int, int, str], None] | None = None,
) -> Image.Image:
    """A declared view drawn with the options ``values`` (``genzoo viz NAME REF ...``)."""
    from genzoo.registry import views_of

    loaded = session.get(ref)
    model = loaded.model
    if view not in views_of(model):
        raise UserInputError(view_note(view, model))
    seed = check_seed(seed)
    options = view.options(**option_values(view.options, values))
    drawer = view.drawer()
    return run_drawing(
        session, lambda: picture_image(drawer(model, loaded.run, options, seed)), seed, report
    )


# -- a view's options, read from its dataclass -----------------------------------------


@dataclass(frozen=True)
class Field:
    """One option of a view as the page shows it: its name, kind, default and help."""

    name: str
    kind: str  # "int", "float", "str", "bool" or "choice"
    default: Any
    optional: bool
    help: str
    choices: tuple[Any, ...] = ()


def option_fields(options: type) -> list[Field]:
    """The fields of a view's options dataclass, with the docstring under each as help."""
    hints = typing.get_type_hints(options)
    docs = _field_docs(options)
    out = []
    for f in dataclasses.fields(options):
        kind, optional, choices = _kind(hints[f.name])
        default = f.default if f.default is not dataclasses.MISSING else None
        out.append(Field(f.name, kind, default, optional, docs.get(f.name, ""), choices))
    return out


def _kind(hint: Any) -> tuple[str, bool, tuple[Any, ...]]:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    optional = type(None) in typing.get_args(hint)
    if optional and len(args) == 1:
        hint = args[0]
    if typing.get_origin(hint) is typing.Literal:
        return "choice", optional, typing.get_args(hint)
    for t, name in ((bool, "bool"), (int, "int"), (float, "float")):
        if hint is t:
            return name, optional, ()
    return "str", optional, ()


@functools.cache
def _field_docs(cls: type) -> dict[str, str]:
    """Field name -> the string literal under it in the class body (as tyro reads it)."""
    try:
        tree = ast.parse(inspect.getsource(cls).strip())
    except (OSError, TypeError, SyntaxError):
        return {}
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    docs = {}
    for a, b in itertools.pairwise(body):
        if (
            isinstance(a, ast.AnnAssign)
            and isinstance(a.target, ast.Name)
            and isinstance(b, ast.Expr)
            and isinstance(b.value, ast.Constant)
            and isinstance(b.value.value, str)
        ):
            docs[a.target.id] = " ".join(b.value.value.split())
    return docs


def option_values(options: type, values: Mapping[str, Any]) -> dict[str, Any]:
    """The page's values of a view's options, typed and checked: an empty optional field
    is None, a whole number stays whole, and sizes are bounded (at most 10 times the
    declared default and at least 100), so that a mistyped number is refused, not drawn
    for an hour (``genzoo viz`` draws larger pictures)."""
    out: dict[str, Any] = {}
    for f in option_fields(options):
        value = values.get(f.name, f.default)
        if isinstance(value, str) and f.kind != "str":
            value = value.strip()
        if value is None or value == "":
            if f.optional:
                out[f.name] = None
                continue
            if f.kind == "str":
                out[f.name] = ""
                continue
            raise UserInputError(f"{f.name}: give a value")
        if f.kind == "int":
            high = max(100, 10 * int(f.default or 0))
            value = check_count(value, f.name, 0, high)
        elif f.kind == "float":
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise UserInputError(f"{f.name}: give a number, got {value!r}") from None
        elif f.kind == "choice" and value not in f.choices:
            raise UserInputError(f"{f.name} must be one of {', '.join(map(str, f.choices))}")
        elif f.kind == "str":
            value = str(value)
        out[f.name] = value
    return out


# -- the model's card -------------------------------------------------------------------


def card_markdown(loaded: Loaded) -> str:
    """The model's card: what it is and how it was made (the zoo manifest or the run's
    run.json), then its stored figures as the comparison table shows them."""
    from genzoo.zoo import ZooRun

    run, model = loaded.run, loaded.model
    params = sum(p.numel() for p in model.parameters())
    lines = [f"### {loaded.ref}", ""]
    if isinstance(run, ZooRun):
        from genzoo.report.zoo import describe_entry

        lines += [line.strip() + "  " for line in describe_entry(run.entry)]
    else:
        facts = run.facts
        lines.append(f"{model.name} on {facts.get('data', {}).get('spec', '?')}, "
                     f"{params / 1e6:.2f}M parameters, folder {run.path}  ")  # fmt: skip
        if facts.get("step") is not None:
            lines.append(f"trained {facts.get('step')} steps  ")
        if run.note:
            lines.append(f"note: {run.note}  ")
    lines += ["", _capabilities(model), ""]
    table = figures_table(loaded)
    lines += [table] if table else ["No stored evaluation: run `genzoo eval " + loaded.ref + "`."]
    return "\n".join(lines)


def _capabilities(model: Any) -> str:
    facts = [f"density: {model.density or 'none (a sampler only)'}"]
    if model.has_latent:
        facts.append(f"latent space of {model.latent_dim} units")
    if model.has_encoder:
        facts.append("an encoder")
    if model.can_complete:
        facts.append("completes images")
    if model.conditional:
        facts.append(f"class-conditional ({model.data.num_classes} classes)")
    return "What it declares: " + "; ".join(facts) + "."


def figures_table(loaded: Loaded) -> str:
    """The stored test figures as a markdown table (the zoo's table of the model's dataset
    for a zoo model: the model beside the other shipped models), or "" when none."""
    from genzoo.zoo import PREFIX, ZooRun

    run = loaded.run
    if isinstance(run, ZooRun):
        from genzoo.report.zoo import zoo_tables

        for _, table in zoo_tables(run.entry.root):
            if any(row and row[0] == run.entry.name for row in table.rows):
                return table.render("markdown")
        return ""
    figures = run.read_eval("test")
    if not figures:
        return ""
    from genzoo.evaluation.settings import EvalSettings
    from genzoo.evaluation.table import METRICS
    from genzoo.report.compare import RunResult, build_table

    result = RunResult(
        run=run.ref, label=run.label.removeprefix(PREFIX), model=loaded.name,
        num_params=sum(p.numel() for p in loaded.model.parameters()),
        density=loaded.model.density, figures=figures,
    )  # fmt: skip
    metrics = tuple(m for m in METRICS if m in figures or (m == "nll" and "likelihood" in figures))
    return build_table([result], EvalSettings(metrics=metrics or ("nll",))).render("markdown")
