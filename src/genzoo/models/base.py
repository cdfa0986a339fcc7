"""The model contract every family follows.

A model is an ``nn.Module`` that owns its loss, its sampler and (where it has one) its
likelihood; it knows nothing of the training loop. The loop calls
:meth:`GenerativeModel.training_step` once per batch; families with one optimizer use the
default, families with several (GAN, DBM) override that one hook.

Contract (see ../shared/GUIDE.md):

- ``loss(images, labels) -> dict``: holds "loss" (what is minimised); other keys are logged.
- ``sample(n, *, labels=None, generator=None) -> uint8 tensor (N, C, H, W)`` in data space.
- ``log_prob(images, labels=None) -> (N,)``: log-likelihood of the discrete data in nats
  per example; the class's :attr:`density` says whether it is exact, a bound or an
  estimate (None: the model has none and ``log_prob`` raises NoDensityError).
- ``forward`` stays the plain network output.

What a model can do is declared on its class (``density``, ``has_latent``,
``has_encoder``, ``can_complete``, ``sample_options``, ``likelihood_terms``) and read by
everything above the models, never probed; tests/test_contract.py checks each declaration
against behaviour. What the upper floors show of a family (its views, its sample and
estimator options) is declared beside its config (:mod:`genzoo.declare`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor, nn

from genzoo.config import DataSpec, TrainConfig
from genzoo.declare import Term
from genzoo.errors import NoDensityError, UserInputError


@dataclass
class StepContext:
    """What the loop hands to :meth:`GenerativeModel.training_step`: the seam through
    which a model reaches what the loop owns (its optimizers' rates and state, the world
    of processes), so that no model imports the trainer, Lightning or torch.distributed.

    Attributes:
        model: the model as wrapped by Lightning Fabric; call the methods named in
            ``forward_methods`` through it so that distributed strategies see them.
        optimizers: the model's optimizers by name (from ``configure_optimizers``).
        step: the global step about to be taken (0-based).
        optimize: ``optimize(name, loss)`` zeroes that optimizer's gradients, back-propagates
            ``loss`` (through Fabric, for precision and gradient sync), clips and steps.
        world_size: processes training together (each takes its share of the batch).
        rank: this process's index among them.
    """

    model: Any
    optimizers: dict[str, torch.optim.Optimizer]
    step: int
    optimize: Callable[[str, Tensor], None]
    world_size: int = 1
    rank: int = 0

    def set_lr(self, name: str, lr: float) -> None:
        """Set the learning rate of optimizer ``name`` (every parameter group) for the
        steps from now on: a model's own schedule, e.g. a linear decay."""
        for group in self.optimizers[name].param_groups:  # shared with Fabric's wrapper
            group["lr"] = lr

    def reset_optimizers(self) -> None:
        """Forget every optimizer's state (e.g. Adam's moments and step counts), as at a
        new training phase."""
        for opt in self.optimizers.values():
            opt.state.clear()  # Fabric's wrapper shares the optimizer's state


Density = Literal["exact", "bound", "estimate"] | None


def adamw(params: Any, **options: Any) -> torch.optim.Optimizer:
    """AdamW (Loshchilov & Hutter 2019) as every genzoo model builds it: PyTorch's fused
    kernel, one pass over all parameters instead of a Python loop of small operations per
    parameter (PyTorch's default on the CPU). The same update up to rounding; on the CPU
    it makes the whole training step of small models 1.04-1.17x faster
    (benchmarks/RESULTS.md, "CPU training step")."""
    return torch.optim.AdamW(params, fused=True, **options)


class GenerativeModel(nn.Module):
    """Base class of every genzoo model.

    Args:
        config: the family's frozen config dataclass (stored as ``self.config``).
        data: the data's shape, kind and classes (stored as ``self.data``).
    """

    name: ClassVar[str] = ""

    # -- declared capabilities: read by everything above the models, never probed ------
    density: ClassVar[Density] = None
    """What ``log_prob`` / ``nll_terms`` give: "exact" (autoregressive), "bound" (a lower
    bound on log p: VAE), "estimate" (a stochastic estimate, e.g. with an AIS partition
    function: Boltzmann machines) or None (no density: GAN; ``log_prob`` raises
    :class:`genzoo.errors.NoDensityError`)."""
    has_latent: ClassVar[bool] = False
    """The model has a latent code z ~ N(0, I) of ``latent_dim`` units and ``decode(z,
    labels) -> data-space images`` (VAE, GAN): the prior views (interpolation between prior
    codes, arithmetic, the 2-D manifold) apply."""
    has_encoder: ClassVar[bool] = False
    """``encode(images, labels) -> (N, latent_dim)`` maps images to codes (VAE): the views
    that start from data (reconstruction, interpolation between images, the scatter of
    encoded codes) apply. Implies ``has_latent``."""
    can_complete: ClassVar[bool] = False
    """``complete(images, num_known_rows, *, labels, generator, **sample options)`` fills
    in the bottom of images (autoregressive models)."""
    sample_options: ClassVar[tuple[str, ...]] = ()
    """Keyword options ``sample`` (and ``complete``) take beyond n, labels and generator,
    e.g. ("sampler",) for autoregressive models, ("truncation",) for GANs."""
    likelihood_terms: ClassVar[tuple[Term, ...]] = (Term("nll", "exact", "exact"),)
    """What each key of :meth:`nll_terms` is (label, kind, note; keys and labels may name
    estimator options in braces, :class:`genzoo.declare.Term`): evaluation stores the
    label and kind with each figure, so nothing above the models parses term names. The
    default is the exact ``"nll"`` of the default ``nll_terms``."""
    forward_methods: ClassVar[tuple[str, ...]] = ("loss",)
    """Methods the loop routes through Fabric's module wrapper (for DDP and precision)."""

    def __init__(self, config: Any, data: DataSpec) -> None:
        super().__init__()
        self.config = config
        self.data = data
        if self.conditional and not data.num_classes:
            raise UserInputError(
                f"a conditional {type(self).__name__} needs labelled data (num_classes); "
                "drop --model.conditional or use a labelled dataset"
            )

    # -- facts of an instance --------------------------------------------------------

    @property
    def conditional(self) -> bool:
        """Whether the model takes class labels (its config's ``conditional`` setting)."""
        return bool(getattr(self.config, "conditional", False))

    @property
    def label_classes(self) -> int:
        """Classes the model conditions on: the data's ``num_classes`` for a conditional
        model, 0 for an unconditional one (the width of its one-hot labels, or of its
        per-class biases)."""
        return int(self.data.num_classes or 0) if self.conditional else 0

    @property
    def log_prob_is_bound(self) -> bool:
        """Whether ``log_prob`` is a lower bound or an estimate rather than exact."""
        return self.density in ("bound", "estimate")

    @property
    def device(self) -> torch.device:
        """The device of the model's parameters (CPU for a model without any)."""
        for p in self.parameters():
            return p.device
        return torch.device("cpu")

    @property
    def dtype(self) -> torch.dtype:
        """The floating dtype of the model's parameters: inputs are made in it, so the
        model works after ``model.double()`` or a bfloat16 cast."""
        for p in self.parameters():
            if p.is_floating_point():
                return p.dtype
        return torch.float32

    # -- the contract --------------------------------------------------------------

    def loss(self, images: Tensor, labels: Tensor | None = None) -> dict[str, Tensor]:
        """Training loss on a batch of data-space images; ``out["loss"]`` is minimised."""
        raise NotImplementedError

    def sample(
        self, n: int, *, labels: Tensor | None = None, generator: torch.Generator | None = None
    ) -> Tensor:
        """Draw ``n`` samples in data space (uint8 images, N x C x H x W)."""
        raise NotImplementedError

    def log_prob(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        """Per-example log-likelihood in nats of the discrete data, shape (N,)."""
        raise NoDensityError(
            f"{type(self).__name__} defines no likelihood; compare it by sample quality instead"
        )

    def nll_terms(
        self,
        images: Tensor,
        labels: Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
        **options: Any,
    ) -> dict[str, Tensor]:
        """Per-example negative log-likelihood figures in nats, for ``genzoo eval``.

        The default is ``{"nll": -log_prob}``. A family whose likelihood is bounded or
        estimated returns one entry per estimator, each declared in
        :attr:`likelihood_terms`, draws its randomness from ``generator`` (never
        the global RNG), and may read estimator options (e.g. ``iwae_k``); options a family
        does not use are ignored, so ``genzoo eval`` can pass them to every model.
        """
        return {"nll": -self.log_prob(images, labels)}

    def latents(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """n codes z ~ N(0, I) of ``latent_dim`` units on the model's device (models that
        declare ``has_latent``; the GAN overrides it to keep row i fixed whatever n)."""
        if not self.has_latent:
            raise UserInputError(f"{type(self).__name__} has no latent space")
        if n <= 0:
            raise UserInputError(f"number of codes must be positive, got {n}")
        latent_dim = int(self.latent_dim)  # type: ignore[attr-defined]
        return torch.randn(n, latent_dim, generator=generator, device=self.device, dtype=self.dtype)

    def likelihood_details(self, **options: Any) -> dict[str, Any]:
        """JSON-able facts the figures of :meth:`nll_terms` rest on, stored and shown beside
        them (e.g. the log partition function of a Boltzmann machine, with its spread);
        takes the same options as ``nll_terms``. Default: none."""
        return {}

    # -- training hooks --------------------------------------------------------------

    def plan_notes(self, train: TrainConfig) -> list[str]:
        """Lines ``genzoo train`` prints before training about what ``train`` will do with
        this model (e.g. a training phase its steps never reach); none by default."""
        return []

    def configure_optimizers(self, train: TrainConfig) -> dict[str, torch.optim.Optimizer]:
        """The optimizers by name; the default is one AdamW over all parameters."""
        return {"model": adamw(self.parameters(), lr=train.lr, weight_decay=train.weight_decay)}

    def training_step(self, images: Tensor, labels: Tensor | None, ctx: StepContext) -> dict:
        """One optimisation step on a batch; returns the scalars to log.

        The default computes :meth:`loss` and takes one step of the single optimizer.
        Families with several optimizers override this hook (and only this hook).
        """
        out = ctx.model.loss(images, labels)
        ctx.optimize("model", out["loss"])
        return out

    # -- shared helpers --------------------------------------------------------------

    def bits_per_dim(self, nll_nats: Tensor) -> Tensor:
        """Convert per-example NLL in nats to bits per dimension: nll / (D ln 2)."""
        return nll_nats / (self.data.num_dims * math.log(2.0))

    def check_images(self, images: Tensor) -> Tensor:
        """Validate a batch of data-space images against the model's data; return it.

        Raises:
            UserInputError: on a wrong shape, dtype or value range, with the expected one.
        """
        shape = tuple(self.data.image_shape)
        if images.ndim != len(shape) + 1 or tuple(images.shape[1:]) != shape:
            raise UserInputError(
                f"images of shape {tuple(images.shape)} do not fit this model, which expects "
                f"(N, {', '.join(map(str, shape))}); resize or pick a model trained on this data"
            )
        if self.data.is_image:
            if images.dtype.is_floating_point or images.dtype == torch.bool:
                raise UserInputError(
                    f"images must be integer tensors (uint8) in data space, got {images.dtype}; "
                    "pass the dataset's uint8 images, not normalised floats"
                )
            hi = self.data.max_value
            # The value-range check reads the data (a graph break under torch.compile); the
            # compiled training step skips it: the loop's batches come from genzoo's own
            # datasets, checked when they are loaded.
            if torch.compiler.is_compiling():
                return images
            if images.numel() and (int(images.min()) < 0 or int(images.max()) > hi):
                raise UserInputError(
                    f"{self.data.kind} images must lie in [0, {hi}], got "
                    f"[{int(images.min())}, {int(images.max())}]"
                    + ("; binarise them first" if self.data.is_binary else "")
                )
        return images

    def check_labels(self, labels: Tensor | None, n: int) -> Tensor | None:
        """Validate class labels for a conditional model (None for unconditional ones)."""
        if not self.conditional:
            return None  # the loop hands every model its batch's labels; unused here
        if labels is None:
            raise UserInputError(
                "this model is class-conditional: pass labels (e.g. --labels 0-9 on the CLI)"
            )
        labels = torch.as_tensor(labels, dtype=torch.long).reshape(-1)
        if labels.numel() == 1 and n > 1:
            labels = labels.expand(n)
        k = self.data.num_classes or 0
        if labels.numel() != n or (labels.numel() and (labels.min() < 0 or labels.max() >= k)):
            raise UserInputError(f"need {n} labels in [0, {k - 1}], got {labels.tolist()[:10]}")
        return labels
