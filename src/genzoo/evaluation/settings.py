"""The settings of one evaluation: the same settings give comparable figures."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from genzoo.errors import UserInputError

FEATURES = ("inception", "inception-tf", "domain", "pixel")
"""Feature networks of the sample metrics (``--features``)."""


@dataclass(frozen=True)
class EvalSettings:
    """What to evaluate, and how.

    Attributes:
        split: split of the run's dataset (``test``, ``train``, or a slice).
        metrics: names in :data:`genzoo.evaluation.table.METRICS`.
        n: nll: the first n examples (None: all); sample metrics: n samples against the
            first n images of the split (None: 10000).
        features: ``inception``, ``inception-tf``, ``domain`` or ``pixel``.
        seed: seeds samplers, bound estimators, KID subsets, dynamic binarisation.
        iwae_k: importance samples of bounded likelihoods (VAE); ignored for exact ones.
        ais_steps: annealing steps of a VAE's AIS estimate; 0: none.
        ais_chains: AIS chains per example (VAE).
        ais_runs: AIS runs of a Boltzmann machine's log Z estimate.
        ais_betas: intermediate distributions of a Boltzmann machine's AIS.
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
    iwae_k: int = 1000
    batch_size: int = 256
    device: str = "cpu"
    data: str | None = None
    data_root: Path | None = None
    ais_steps: int = 0
    ais_chains: int = 16
    ais_runs: int = 100
    ais_betas: int = 14500

    def __post_init__(self) -> None:
        from genzoo.evaluation.table import check_metrics

        if self.features not in FEATURES:
            raise UserInputError(
                f"unknown features {self.features!r}; choose one of {', '.join(FEATURES)}"
            )
        check_metrics(tuple(self.metrics), self)
        if self.ais_steps < 0 or self.ais_chains < 1:
            raise UserInputError("--ais-steps must be >= 0 and --ais-chains >= 1")
        if self.ais_runs < 1 or self.ais_betas < 2:
            raise UserInputError("--ais-runs must be >= 1 and --ais-betas >= 2")
        if self.n is not None and self.n < 1:
            raise UserInputError(f"--n must be >= 1, got {self.n}")
        if self.batch_size < 1:
            raise UserInputError(f"--batch-size must be >= 1, got {self.batch_size}")

    @property
    def n_samples(self) -> int:
        """Samples drawn for the sample metrics."""
        return self.n or 10000

    def likelihood_options(self) -> dict[str, int]:
        """The estimator options handed to every model's ``nll_terms`` (each reads its own)."""
        return {
            "iwae_k": self.iwae_k,
            "ais_steps": self.ais_steps,
            "ais_chains": self.ais_chains,
            "ais_runs": self.ais_runs,
            "ais_betas": self.ais_betas,
        }
