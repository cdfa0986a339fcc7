"""The settings of one evaluation: the same settings give comparable figures."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genzoo.errors import UserInputError
from genzoo.registry import estimator_options

FEATURES = ("inception", "inception-tf", "domain", "pixel")
"""Feature networks of the sample metrics (``--features``)."""


@dataclass(frozen=True, kw_only=True)
class _Settings:
    """What to evaluate, and how.

    Beside the fields below, :data:`EvalSettings` has one field per estimator option the
    families declare (``genzoo.registry.estimator_options``: e.g. the importance samples
    of a bound), with its declared default; every model's
    ``nll_terms`` receives them all and reads its own.

    Attributes:
        split: split of the run's dataset (``test``, ``train``, or a slice).
        metrics: names in :data:`genzoo.evaluation.table.METRICS`.
        n: nll: the first n examples (None: all); sample metrics: n samples against the
            first n images of the split (None: 10000).
        features: ``inception``, ``inception-tf``, ``domain`` or ``pixel``.
        seed: seeds samplers, bound estimators, KID subsets, dynamic binarisation.
        batch_size: examples per forward pass and samples per sampler call.
        device: torch device name.
        data: another dataset than the run's own (its name).
        data_root: folder holding the dataset's files.
    """

    split: str = "test"
    metrics: tuple[str, ...] = ("nll",)
    n: int | None = None
    features: str = "inception"
    seed: int = 0
    batch_size: int = 256
    device: str = "cpu"
    data: str | None = None
    data_root: Path | None = None

    def __post_init__(self) -> None:
        from genzoo.evaluation.table import check_metrics

        if self.features not in FEATURES:
            raise UserInputError(
                f"unknown features {self.features!r}; choose one of {', '.join(FEATURES)}"
            )
        check_metrics(tuple(self.metrics), self)  # type: ignore[arg-type]
        for option in estimator_options().values():
            option.check(getattr(self, option.name))
        if self.n is not None and self.n < 1:
            raise UserInputError(f"--n must be >= 1, got {self.n}")
        if self.batch_size < 1:
            raise UserInputError(f"--batch-size must be >= 1, got {self.batch_size}")

    @property
    def n_samples(self) -> int:
        """Samples drawn for the sample metrics."""
        return self.n or 10000

    def likelihood_options(self, family: str | None = None) -> dict[str, Any]:
        """The estimator options handed to every model's ``nll_terms`` (each reads its own);
        with ``family``, only those that family declares (what its figures depend on)."""
        names = list(estimator_options())
        if family is not None:
            from genzoo.registry import MODELS

            entry = MODELS.get(family)
            own = {o.name for o in entry.declares.estimator_options} if entry else set()
            names = [n for n in names if n in own]
        return {name: getattr(self, name) for name in names}


if TYPE_CHECKING:
    EvalSettings = _Settings
else:
    EvalSettings = dataclasses.make_dataclass(
        "EvalSettings",
        [
            (o.name, o.type, dataclasses.field(default=o.default))
            for o in estimator_options().values()
        ],
        bases=(_Settings,),
        frozen=True,
        kw_only=True,
    )
    EvalSettings.__module__ = __name__
    EvalSettings.__doc__ = _Settings.__doc__
