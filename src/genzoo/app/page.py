"""The app's Gradio Blocks page: one tab per panel, built from the declarations.

Imported only by :func:`genzoo.app.serve` (after Gradio's analytics are turned off) and by
the tests. The panels' work is :mod:`genzoo.app.panels`; here it is only laid out: a model
list, the model's card, a sample grid with the declared sample options of every family
(each shown only for the models that take it), completions, and a tab per declared view
(:func:`genzoo.registry.views`) with a field per field of its options dataclass. Every
handler returns a picture and a message: a refusal (bad input, a view the model lacks) is
the message, in the page; an unexpected error is shown there too, its traceback printed
in the terminal.
"""

from __future__ import annotations

import re
import sys
import traceback
from collections.abc import Callable
from typing import Any

import gradio as gr

from genzoo.app import panels
from genzoo.errors import GenzooError
from genzoo.registry import sample_options, views

TITLE = "genzoo"


def _escape(text: str) -> str:
    """Plain text for a Markdown component (a message may hold * _ ` < >)."""
    return re.sub(r"([\\`*_<>\[\]#|])", r"\\\1", text)


def attempt(work: Callable[[], Any]) -> tuple[Any, str]:
    """``(picture, "")``, or ``(None, message)`` when the work is refused or stopped."""
    try:
        return work(), ""
    except panels.Stopped as e:
        return None, f"**Stopped:** {_escape(str(e))}"
    except GenzooError as e:
        return None, f"**Refused:** {_escape(str(e))}"
    except Exception as e:  # a bug: shown in the page, its traceback in the terminal
        traceback.print_exc(file=sys.stderr)
        return None, (
            f"**Error** (a bug in genzoo; the terminal shows its traceback): "
            f"{_escape(type(e).__name__ + ': ' + str(e))}"
        )


def _reporter(progress: Any) -> Callable[[int, int, str], None]:
    def report(done: int, total: int, unit: str) -> None:
        progress((done, total), desc="sampling", unit=unit)

    return report


def _option_input(option: Any, elem_id: str) -> Any:
    """A page field for a declared sample option (:class:`genzoo.declare.Option`)."""
    import typing

    if typing.get_origin(option.type) is typing.Literal:
        return gr.Dropdown(
            [("the model's default", ""), *typing.get_args(option.type)], value="",
            label=option.name, info=option.help, elem_id=elem_id, visible=False,
        )  # fmt: skip
    return gr.Textbox(
        value="", label=option.name, info=option.help, placeholder="the model's default",
        elem_id=elem_id, visible=False,
    )  # fmt: skip


def _field_input(f: panels.Field, elem_id: str) -> Any:
    """A page field for one field of a view's options dataclass."""
    info = f.help + (" Empty: the default." if f.optional else "")
    if f.kind == "bool":
        return gr.Checkbox(value=bool(f.default), label=f.name, info=info, elem_id=elem_id)
    if f.kind == "choice":
        return gr.Dropdown(list(f.choices), value=f.default, label=f.name, info=info,
                           elem_id=elem_id)  # fmt: skip
    if f.kind in ("int", "float") and not f.optional:  # an empty Number reads as 0
        return gr.Number(value=f.default, label=f.name, info=info, elem_id=elem_id,
                         precision=0 if f.kind == "int" else None)  # fmt: skip
    value = "" if f.default is None else str(f.default)
    return gr.Textbox(value=value, label=f.name, info=info, elem_id=elem_id,
                      placeholder="default" if f.optional else None)  # fmt: skip


def _picture(elem_id: str) -> Any:
    return gr.Image(type="pil", format="png", interactive=False, show_label=False,
                    buttons=["download", "fullscreen"],  # no "share": nothing leaves the machine
                    elem_id=elem_id, height=None)  # fmt: skip


def build(session: panels.Session) -> gr.Blocks:
    """The page of the models in ``session`` (not launched)."""
    refs = list(session.models)
    declared = sample_options()
    all_views = views()
    draw = {"concurrency_id": "draw", "concurrency_limit": 1}

    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.Markdown(
            "## genzoo: samples and views of trained generative models\n"
            "Each picture is drawn as `genzoo sample` and `genzoo viz` draw it; the same "
            "seed gives the same picture."
        )
        model = gr.Dropdown(refs, value=refs[0], label="model", elem_id="model")
        with gr.Tabs():
            with gr.Tab("Card", id="card"):
                card = gr.Markdown(elem_id="card")

            with gr.Tab("Samples", id="samples"):
                with gr.Row():
                    seed = gr.Number(0, label="seed", precision=0, elem_id="samples-seed")
                    count = gr.Slider(1, 64, value=16, step=1, label="count",
                                      elem_id="samples-count")  # fmt: skip
                    labels = gr.Textbox(label="labels", visible=False, elem_id="samples-labels",
                                        info="Class labels, e.g. 3, 0-9 or 1,5,9 (cycled); "
                                        "empty: 0, 1, ... in turn.")  # fmt: skip
                s_opts = {k: _option_input(o, f"samples-{k}") for k, o in declared.items()}
                with gr.Row():
                    s_draw = gr.Button("Draw", variant="primary", elem_id="samples-draw")
                    s_stop = gr.Button("Stop", elem_id="samples-stop")
                s_msg = gr.Markdown(elem_id="samples-message")
                s_img = _picture("samples-image")
                drawn = gr.State(None)  # (ref, seed, n) of the grid shown
                with gr.Row():
                    picked = gr.Textbox(
                        label="picked samples", elem_id="samples-picked", scale=3,
                        info="Click samples in the grid to pick them (their indices), then "
                        "use them in a view: the views draw sample i of the same seed.",
                    )  # fmt: skip
                    to_views = {
                        (view, field): gr.Button(text, elem_id=f"pick-{view}-{field}")
                        for view, field, text in PICKS
                        if view in all_views
                    }

            with gr.Tab("Completion", id="completion"):
                c_note = gr.Markdown(elem_id="completion-note")
                with gr.Row():
                    c_images = gr.Textbox("test:0-7", label="images", elem_id="completion-images",
                                          info="SPLIT:RANGE of the model's dataset, e.g. "
                                          "test:0-7 or train:3,5,9.")  # fmt: skip
                    c_rows = gr.Number(
                        14, label="known rows", precision=0, elem_id="completion-rows",
                        info="Top image rows kept; the rest is sampled.",
                    )  # fmt: skip
                    c_seed = gr.Number(0, label="seed", precision=0, elem_id="completion-seed")
                c_opts = {k: _option_input(o, f"completion-{k}") for k, o in declared.items()}
                with gr.Row():
                    c_draw = gr.Button("Complete", variant="primary", elem_id="completion-draw")
                    c_stop = gr.Button("Stop", elem_id="completion-stop")
                c_msg = gr.Markdown(elem_id="completion-message")
                c_img = _picture("completion-image")

            view_notes = []
            view_panels = []
            with gr.Tab("Views", id="views"), gr.Tabs():
                for name, view in all_views.items():
                    with gr.Tab(name, id=f"view-{name}"):
                        note = gr.Markdown(elem_id=f"{name}-note")
                        fields = panels.option_fields(view.options)
                        with gr.Row():
                            inputs = [_field_input(f, f"{name}-{f.name}") for f in fields]
                            v_seed = gr.Number(0, label="seed", precision=0, elem_id=f"{name}-seed")
                        with gr.Row():
                            v_draw = gr.Button("Draw", variant="primary", elem_id=f"{name}-draw")
                            v_stop = gr.Button("Stop", elem_id=f"{name}-stop")
                        v_msg = gr.Markdown(elem_id=f"{name}-message")
                        v_img = _picture(f"{name}-image")
                    view_notes.append(note)
                    view_panels.append((view, fields, inputs, v_seed, v_draw, v_stop, v_msg, v_img))

        # -- the model list: the card, the options it takes, what each panel offers it --
        def choose(ref: str) -> list[Any]:
            try:
                loaded = session.get(ref)
            except GenzooError as e:
                return [f"**Refused:** {_escape(str(e))}"] + [gr.update()] * (
                    1 + 2 * len(declared) + 2 + len(all_views)
                )
            m = loaded.model
            shown = [gr.update(visible=k in m.sample_options) for k in declared]
            h = m.data.image_shape[1] if not m.data.is_points else 0
            completes = (
                "Completes the bottom of dataset images: the top rows are kept, the rest "
                "sampled. Rows: the given part, the completion, the original."
                if m.can_complete
                else f"Not available for {m.name}: it does not complete images (no "
                "autoregressive sampler)."
            )
            return [
                panels.card_markdown(loaded),
                gr.update(visible=bool(m.conditional)),
                *shown,
                *shown,
                completes,
                gr.update(value=h // 2),
                *[_escape(panels.view_note(v, m)) for v in all_views.values()],
            ]

        outputs = [card, labels, *s_opts.values(), *c_opts.values(), c_note, c_rows, *view_notes]
        model.change(choose, model, outputs)
        demo.load(choose, model, outputs)

        # -- samples ------------------------------------------------------------------
        def draw_samples(ref, seed_, n, labels_, *opts, progress=gr.Progress()):  # noqa: B008
            options = dict(zip(declared, opts, strict=True))
            report = _reporter(progress)
            return attempt(
                lambda: panels.sample_grid(session, ref, seed_, n, labels_, options, report)
            )[::-1]

        s_draw.click(draw_samples, [model, seed, count, labels, *s_opts.values()],
                     [s_msg, s_img], show_progress_on=s_img, **draw).success(
            lambda ref, seed_, n, msg: None if msg else (ref, seed_, n),
            [model, seed, count, s_msg], drawn,
        )  # fmt: skip

        def pick(state: Any, current: str, evt: gr.SelectData) -> str:
            if state is None:
                return current
            ref, _, n = state
            index = panels.grid_index(session.get(ref).model, int(n), *evt.index)
            if index is None:
                return current
            return ",".join([p for p in (current or "").split(",") if p.strip()] + [str(index)])

        s_img.select(pick, [drawn, picked], picked)
        model.change(lambda: (None, ""), None, [drawn, picked])
        seed.change(lambda: "", None, picked)
        inputs_of = {
            (v.name, f.name): (i, v_seed)
            for v, fields, inputs, v_seed, *_ in view_panels
            for f, i in zip(fields, inputs, strict=True)
        }
        for (view, field), button in to_views.items():
            target, target_seed = inputs_of[(view, field)]
            button.click(_use_picked(view), [picked, seed], [target, target_seed, s_msg])

        # -- completions --------------------------------------------------------------
        def draw_completion(ref, images, rows, seed_, *opts, progress=gr.Progress()):  # noqa: B008
            options = dict(zip(declared, opts, strict=True))
            report = _reporter(progress)
            return attempt(
                lambda: panels.completion(session, ref, images, rows, seed_, options, report)
            )[::-1]

        c_draw.click(draw_completion, [model, c_images, c_rows, c_seed, *c_opts.values()],
                     [c_msg, c_img], show_progress_on=c_img, **draw)  # fmt: skip

        # -- the declared views -------------------------------------------------------
        for view, fields, inputs, v_seed, v_draw, v_stop, v_msg, v_img in view_panels:
            v_draw.click(_view_handler(session, view, fields), [model, v_seed, *inputs],
                         [v_msg, v_img], show_progress_on=v_img, **draw)  # fmt: skip
            v_stop.click(session.stop.set, None, None, queue=False)
        for stop in (s_stop, c_stop):
            stop.click(session.stop.set, None, None, queue=False)
    return demo


PICKS = (
    ("interpolate", "between", "Interpolate between the first two"),
    ("arithmetic", "a", "Use as arithmetic A"),
    ("arithmetic", "b", "Use as arithmetic B"),
    ("arithmetic", "c", "Use as arithmetic C"),
)
"""Views whose options name samples of a seed (view, field, button): picked samples fill
them, with the grid's seed."""


def _use_picked(view: str) -> Callable[[str, Any], tuple[Any, Any, str]]:
    """The picked indices as the value of a view's field (the two ends of a path, or a
    group of indices), with the grid's seed; a message when too few are picked."""

    def use(picked: str, seed: Any) -> tuple[Any, Any, str]:
        indices = [p.strip() for p in (picked or "").split(",") if p.strip()]
        if view == "interpolate":
            if len(indices) < 2:
                return gr.update(), gr.update(), "**Refused:** pick two samples to interpolate"
            value = f"sample:{indices[0]},sample:{indices[1]}"
        elif not indices:
            return gr.update(), gr.update(), "**Refused:** pick samples first"
        else:
            value = ",".join(indices)
        return value, seed, f"set {view}'s options to {value} (seed {seed}): open Views, {view}"

    return use


def _view_handler(
    session: panels.Session, view: Any, fields: list[panels.Field]
) -> Callable[..., tuple[str, Any]]:
    """The Draw button of a view's tab: its options from the page's fields."""

    def draw_view(ref, seed_, *values, progress=gr.Progress()):  # noqa: B008
        given = {f.name: v for f, v in zip(fields, values, strict=True)}
        report = _reporter(progress)
        return attempt(lambda: panels.draw_view(session, ref, view, given, seed_, report))[::-1]

    return draw_view
