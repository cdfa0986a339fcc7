"""What a family declares for the floors above the models: its views, its options and its
likelihood terms.

A family states these beside its torch-free config (``models/<family>_config.py``) and its
registry entry carries them (:class:`genzoo.registry.ModelEntry`). The command line builds
``genzoo viz NAME``, the options of ``genzoo sample`` and ``genzoo eval``, the report builds
its figures and evaluation labels its stored figures from them, so no floor above the
models names a family. ``tests/test_contract.py`` checks every declaration against the
model's behaviour.

Torch-free: ``genzoo --help`` reads these without importing torch or any model.

Example (a family's view, in its config module)::

    @dataclass
    class ChainOptions:
        chains: int = 8
        \"\"\"Chains run side by side.\"\"\"

    CHAIN = View(
        "chain", "Gibbs chains from random starts, over time.", ChainOptions,
        "genzoo.viz.boltzmann:chain_view",
        report=(ReportFigure("Gibbs chains over time", "8 chains from random starts"),),
    )
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["exact", "bound", "estimate"]
"""What a likelihood figure is: exact, an upper bound on the NLL, or an estimate of it."""


def flag(name: str) -> str:
    """The command-line spelling of an option name: ``gibbs_steps`` -> ``--gibbs-steps``."""
    return "--" + name.replace("_", "-")


def load(target: str) -> Any:
    """The object named by ``"module:attribute"``, imported now."""
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class Option:
    """One keyword option of a family's ``sample`` (and ``complete``) or ``nll_terms``.

    Attributes:
        name: the keyword; the command line spells it ``--name-with-hyphens``.
        type: its annotation as the command line parses it, e.g. ``int`` or
            ``Literal["cached", "naive"]`` (sample options are also optional: None leaves
            the model's own default).
        help: one paragraph for ``--help``.
        default: the value ``genzoo eval`` passes when none is given (estimator options;
            sample options default to None, the model's own choice).
        minimum: the smallest valid value of a number (refused below it), or None.
        retired: (value, message) pairs: values once accepted, now refused with their
            message (one line naming what to use instead), before ``type`` would refuse
            them with a bare list of choices.
    """

    name: str
    type: Any
    help: str
    default: Any = None
    minimum: float | None = None
    retired: tuple[tuple[str, str], ...] = ()

    def check(self, value: Any) -> None:
        """Raise UserInputError when ``value`` is retired or below the declared minimum."""
        from genzoo.errors import UserInputError

        for old, message in self.retired:
            if value == old:
                raise UserInputError(message)
        if self.minimum is not None and value is not None and value < self.minimum:
            raise UserInputError(f"{flag(self.name)} must be >= {self.minimum:g}, got {value}")

    def check_retired(self, argv: Sequence[str]) -> None:
        """Raise UserInputError when command-line ``argv`` gives this option a retired
        value (``--name value`` or ``--name=value``); called before the parser sees it."""
        if not self.retired:
            return
        spellings = {flag(self.name), "--" + self.name}
        for k, token in enumerate(argv):
            name, eq, value = token.partition("=")
            if name in spellings and (eq or k + 1 < len(argv)):
                self.check(value if eq else argv[k + 1])


@dataclass(frozen=True, eq=False)
class ReportFigure:
    """How the report shows a view: one figure drawn with fixed options.

    Attributes:
        title: the figure's title on the page.
        caption: what it shows, in words.
        options: option values of the view for this figure (the others keep their
            defaults), or a function of the model giving them.
        when: a test on the model's declared facts (e.g. ``lambda m: m.latent_dim == 2``);
            the figure is drawn only where it holds. None: always.
        reads_data: the figure reads the run's dataset (left out where the run names none).
    """

    title: str
    caption: str
    options: Mapping[str, Any] | Callable[[Any], Mapping[str, Any]] = field(default_factory=dict)
    when: Callable[[Any], bool] | None = None
    reads_data: bool = False

    def applies(self, model: Any, has_data: bool) -> bool:
        """Whether the report shows this figure for ``model``."""
        return (has_data or not self.reads_data) and (self.when is None or bool(self.when(model)))

    def options_for(self, model: Any) -> dict[str, Any]:
        """The view's option values of this figure for ``model``."""
        return dict(self.options(model) if callable(self.options) else self.options)


@dataclass(frozen=True, eq=False)
class View:
    """One picture of a model: ``genzoo viz NAME`` and, where declared, a report figure
    (a view is one object, equal only to itself, however many families list it).

    Attributes:
        name: the subcommand of ``genzoo viz``.
        help: its description in ``--help`` (first sentence: the listing's line).
        options: a dataclass whose fields (with their docstrings) are the view's flags;
            the command line adds ``--out`` (default ``NAME.png``), the run, ``--seed``,
            ``--scale``, ``--device`` and ``--force``.
        draw: ``"module:function"`` drawing it, imported when drawn:
            ``draw(model, run, options, seed) -> picture``, the picture either a grid
            ``(uint8 images (N, C, H, W), columns)`` or an object with ``save(path)`` and
            ``png() -> bytes``. It raises UserInputError, saying what to use instead, when
            the model lacks what the view needs.
        needs: declared capabilities of the model the view reads (``has_latent``,
            ``has_encoder``, ``can_complete``): models lacking one are refused.
        report: the report's figures of this view (none: the report leaves it out).
    """

    name: str
    help: str
    options: type
    draw: str
    needs: tuple[str, ...] = ()
    report: tuple[ReportFigure, ...] = ()

    def drawer(self) -> Callable[..., Any]:
        """The drawing function, imported now."""
        return load(self.draw)

    def fits(self, model: Any) -> bool:
        """Whether ``model`` declares every capability the view needs."""
        return all(getattr(model, need, False) for need in self.needs)


@dataclass(frozen=True)
class Term:
    """One figure of a family's ``nll_terms``: its key, what it is and what it rests on.

    ``key``, ``label`` and ``note`` may name the estimator options in braces, e.g.
    ``Term("nll_iwae{iwae_k}", "IWAE-{iwae_k} bound", "bound")``; :meth:`resolve` fills
    them in with the options of the evaluation.

    Attributes:
        key: the key ``nll_terms`` returns it under.
        label: what it is, in a few words (the table's cell shows it).
        kind: "exact", "bound" (an upper bound on the NLL) or "estimate".
        note: a sentence for the table's notes (its method, its bias), or "".
        spread: the key of ``likelihood_details`` holding the figure's standard deviation
            (e.g. one estimated log Z shifting every example), or None.
    """

    key: str
    label: str
    kind: Kind
    note: str = ""
    spread: str | None = None

    def resolve(self, options: Mapping[str, Any]) -> Term:
        """This term with the options' values filled into its key, label and note."""
        values = dict(options)
        return Term(
            self.key.format(**values),
            self.label.format(**values),
            self.kind,
            self.note.format(**values),
            self.spread,
        )


@dataclass(frozen=True)
class Declarations:
    """Everything a family declares for the upper floors.

    Attributes:
        views: its own views (the views of every model with a latent space, an encoder or
            a sampler are declared once, in :mod:`genzoo.models.shared_views`).
        sample_options: keyword options of its ``sample`` and ``complete`` (the names its
            model class lists in ``sample_options``).
        estimator_options: options of its ``nll_terms`` (``genzoo eval`` passes them).
    """

    views: tuple[View, ...] = ()
    sample_options: tuple[Option, ...] = ()
    estimator_options: tuple[Option, ...] = ()
