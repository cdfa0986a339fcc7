"""The run directory and the one object that owns it.

A *run directory* is what ``genzoo train`` writes::

    run.json            what was trained: model name and config, data, train config
    checkpoint.pt       full training state (weights, optimizers, EMA, step, RNG states)
    model/              the export (config.json + model.safetensors), refreshed at every checkpoint
    logs/               TensorBoard events and metrics.csv
    samples/            sample grids written during training
    eval/SPLIT.json     stored evaluation figures, keyed by what they were measured against

An *exported model* is a folder with ``config.json`` and ``model.safetensors`` only (see
:mod:`genzoo.train.checkpoint` for both file formats). :class:`Run` opens either: it reads
and writes ``run.json``, loads the model, gives the datasets (honouring a ``--data`` /
``--data-root`` override once, for every caller), the weights digest, the stored
evaluations, the training state and the decision of what a resumed run continues with.
Everything above the training loop (evaluation, report, command line) reaches a run
through it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors import SafetensorError

from genzoo._version import __version__
from genzoo.config import SettingTypeError, TrainConfig, from_dict, to_dict
from genzoo.errors import (
    CorruptFileError,
    GenzooError,
    MissingFileError,
    RunBusyError,
    RunExistsError,
    RunWriteError,
    UserInputError,
)
from genzoo.io import free_space, write_failure, write_json
from genzoo.train.checkpoint import (
    CHECKPOINT_FILE,
    EXPORT_DIR,
    FORMAT_VERSION,
    RUN_FILE,
    checkpoint_step,
    export_model,
    load_checkpoint,
    load_export,
    model_from_config,
    save_checkpoint,
)

if TYPE_CHECKING:
    from genzoo.models.base import GenerativeModel

EVAL_DIR = "eval"
SAMPLES_DIR = "samples"
LOCK_FILE = ".lock"
EVAL_LOCK_FILE = ".eval.lock"  # held only while stored figures are merged


def parse_indices(text: str, what: str = "indices") -> list[int]:
    """'3' -> [3]; '0-9' -> [0..9]; '1,5,9' -> [1, 5, 9] (labels, image and sample indices)."""
    out: list[int] = []
    try:
        for part in text.split(","):
            if "-" in part.strip()[1:]:
                a, b = part.split("-", 1)
                out.extend(range(int(a), int(b) + 1))
            elif part.strip():
                out.append(int(part))
    except ValueError:
        raise UserInputError(
            f"cannot read {what} {text!r}; write e.g. '3', '0-9' or '1,5,9'"
        ) from None
    if not out:
        raise UserInputError(f"no {what} in {text!r}")
    return out


DATA_INFO_TYPES: dict[str, tuple[type, ...]] = {
    "spec": (str,), "root": (str, type(None)), "image_size": (int, type(None)), "seed": (int,),
}  # fmt: skip
"""The keys of run.json's ``"data"`` and their types (``spec`` is required)."""


def checked_data_info(info: Any, where: str | Path) -> dict[str, Any]:
    """run.json's ``"data"`` ({"spec", "root", "image_size", "seed"}) after checking its
    keys' types; a damaged one is refused in one line.

    Raises:
        CorruptFileError: not a table, no ``spec``, or a value of the wrong type.
    """
    bad = not isinstance(info, dict) or not isinstance(info.get("spec"), str)
    if not bad:
        bad = any(
            k in info and (not isinstance(info[k], types) or isinstance(info[k], bool))
            for k, types in DATA_INFO_TYPES.items()
        )
    if bad:
        raise CorruptFileError(
            f"{where}: 'data' must be a table with a 'spec' (the dataset's name) and optional "
            "'root', 'image_size' and 'seed'; restore the file"
        )
    return dict(info)


class Run:
    """A run directory (or an exported model folder) and everything read from it.

    Args:
        path: the run directory of ``genzoo train``, or an exported model folder.
        data: evaluate on this dataset instead of the run's own (its name).
        data_root: the folder holding the dataset's files (overrides the usual look-up).

    The override applies to every dataset the object hands out, so a table and the
    pictures of one report are always of the same data.
    """

    def __init__(
        self, path: str | Path, *, data: str | None = None, data_root: Path | None = None
    ) -> None:
        self.path = Path(path)
        self.data = data
        self.data_root = Path(data_root) if data_root is not None else None
        self._meta: dict[str, Any] | None = None
        self._datasets: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    # -- what the folder holds ------------------------------------------------------

    @property
    def is_run(self) -> bool:
        """True for a run directory (with run.json), False for an exported model."""
        return (self.path / RUN_FILE).is_file()

    @property
    def ref(self) -> str | Path:
        """What names this run on the command line (its folder; ``zoo:NAME`` for a zoo model)."""
        return self.path

    @property
    def has_dataset(self) -> bool:
        """True when the run knows its dataset (a run directory, or ``data`` given)."""
        return self.is_run or self.data is not None

    @property
    def facts(self) -> dict[str, Any]:
        """What the report shows of how the model was made: ``run.json`` ({} for an export)."""
        return self.meta if self.is_run else {}

    @property
    def label(self) -> str:
        """The name of the run in tables: its folder's name."""
        return self.path.resolve().name or str(self.path)

    @property
    def meta(self) -> dict[str, Any]:
        """The contents of ``run.json`` (read once)."""
        if self._meta is None:
            f = self.path / RUN_FILE
            if not f.is_file():
                raise MissingFileError(
                    f"{self.path} holds no run ({RUN_FILE} missing); train there first"
                )
            try:
                meta = json.loads(f.read_text())
            except json.JSONDecodeError as e:
                raise CorruptFileError(
                    f"{f} is not valid JSON ({e}); restore or delete the run"
                ) from e
            if not isinstance(meta, dict):
                raise CorruptFileError(f"{f} is not a genzoo run file; restore or delete the run")
            self._meta = meta
        return self._meta

    @property
    def note(self) -> str | None:
        """The run's note (``run.json``'s ``"note"``, from its recipe), or None."""
        if not self.is_run:
            return None
        note = self.meta.get("note")
        return str(note) if note else None

    @property
    def data_info(self) -> dict[str, Any]:
        """How the run's data was specified (``{"spec", "root", "image_size", "seed"}``),
        checked: a damaged ``"data"`` of run.json is one :class:`CorruptFileError`."""
        return (
            checked_data_info(self.meta.get("data", {}), self.path / RUN_FILE)
            if self.is_run
            else {}
        )

    @property
    def dataset_name(self) -> str:
        """The dataset evaluations use: ``data`` if given, else the one the run trained on."""
        spec = self.data or self.data_info.get("spec")
        if not spec:
            raise UserInputError(
                f"{self.path} is an exported model and records no dataset; pass --data NAME"
            )
        return str(spec)

    @property
    def dataset_root(self) -> str | None:
        """The folder of the dataset's files: ``data_root`` if given, else the run's own
        (only when the run's own dataset is used)."""
        if self.data_root is not None:
            return str(self.data_root)
        return None if self.data else self.data_info.get("root")

    def dataset(self, split: str) -> Any:
        """The dataset at ``split`` (``train``, ``test`` or a slice), loaded once."""
        if split not in self._datasets:
            from genzoo.data import load_dataset

            info = self.data_info
            self._datasets[split] = load_dataset(
                self.dataset_name,
                split,
                root=self.dataset_root,
                image_size=info.get("image_size"),
                seed=info.get("seed", 0),
            )
        return self._datasets[split]

    def pick_images(self, spec: str, option: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Images named like 'test:3,test:17' or 'test:0-7' -> (uint8 (N, C, H, W), labels (N,)).

        Args:
            spec: comma-separated SPLIT:INDEX or SPLIT:RANGE; the split may hold a slice
                (``train[:9]:3``) and carries over to the following parts.
            option: the command-line option, for error messages.
        """
        picks: list[tuple[str, int]] = []
        split = ""
        for part in spec.split(","):
            if ":" in part:
                split, _, part = part.rpartition(":")
            if not split:
                raise UserInputError(f"{option} {spec!r}: write SPLIT:INDEX, e.g. test:3,test:17")
            picks += [(split.strip(), i) for i in parse_indices(part, "image indices")]
        images, labels = [], []
        for split, i in picks:
            ds = self.dataset(split)
            if not 0 <= i < len(ds):
                raise UserInputError(f"{option} {spec}: the {split} split has {len(ds)} images")
            image, label = ds[i]
            images.append(image)
            labels.append(torch.as_tensor(label))
        return torch.stack(images), torch.stack(labels)

    # -- the model ------------------------------------------------------------------

    @property
    def export_dir(self) -> Path:
        """The folder holding config.json + model.safetensors."""
        return self.path / EXPORT_DIR if self.is_run else self.path

    def load_model(self, map_location: str | torch.device = "cpu") -> GenerativeModel:
        """The trained model in eval mode (the EMA weights when the run kept an average).

        A run's export is made from its checkpoint; if a run was stopped between writing
        the two (or the export is missing), the export is made again from the checkpoint
        first, so the model loaded is always the checkpoint's.
        """
        if self.is_run:
            self.refresh_export()
            if not (self.export_dir / "model.safetensors").is_file():
                raise MissingFileError(
                    f"{self.path} holds a run that has written no checkpoint yet (it is at its "
                    "first steps, or stopped before one): wait for its first checkpoint "
                    "(--train.checkpoint-every), or continue it with 'genzoo train "
                    f"{self.meta.get('model', 'MODEL')} --out {self.path} --resume'"
                )
        return load_export(self.export_dir, map_location)

    def refresh_export(self) -> bool:
        """Make the export again from ``checkpoint.pt`` when it is missing or records
        another step. Returns True when it did. An export that records no step (written by
        hand or by an older genzoo) and a read-only run are left as they are."""
        if not self.checkpoint_path.is_file():
            return False
        step = checkpoint_step(self.checkpoint_path)
        try:
            exported = json.loads((self.export_dir / "config.json").read_text()).get("step")
            current = (self.export_dir / "model.safetensors").is_file()
        except (OSError, ValueError, AttributeError):
            exported, current = None, False
        if step is None or (current and (exported == step or exported is None)):
            return False
        try:
            self.export(self.export_dir)
        except PermissionError:
            return False
        return True

    def weights_digest(self) -> str:
        """SHA-256 (hex, first 16 digits) of the weights :meth:`load_model` loads.

        Stored figures carry it, so figures computed on older weights of a run that has
        trained on are never shown as the current model's.
        """
        h = hashlib.sha256()
        with open(self.export_dir / "model.safetensors", "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        return h.hexdigest()[:16]

    def training_info(self) -> dict[str, Any]:
        """The training budget of the exported weights: ``{"step", "epochs", "seconds",
        "batch_size"}`` as far as recorded ({} for a hand-made export)."""
        try:
            meta = json.loads((self.export_dir / "config.json").read_text())
        except (OSError, ValueError):
            return {}
        info = dict(meta.get("training") or {}) if isinstance(meta, dict) else {}
        if isinstance(meta, dict) and isinstance(meta.get("step"), int):
            info["step"] = meta["step"]
        return info

    def export(self, out: Path, *, raw: bool = False) -> int:
        """Write the model of the last checkpoint to ``out`` (config.json +
        model.safetensors); the EMA weights unless ``raw``. Returns the checkpoint's step."""
        meta = self.meta
        model = model_from_config(
            {"model": meta.get("model"), "config": meta.get("model_config"),
             "data": meta.get("data_spec")},
            where=str(self.path / RUN_FILE),
        )  # fmt: skip
        state = self.load_state()
        weights = state["model"]
        if state.get("ema") is not None and not raw:
            prefix = "module."
            weights = {k[len(prefix) :]: v for k, v in state["ema"].items() if k.startswith(prefix)}
        try:
            model.load_state_dict(weights)
        except (RuntimeError, TypeError, AttributeError) as e:
            raise CorruptFileError(
                f"checkpoint {self.checkpoint_path} does not match the model of {RUN_FILE} "
                f"({(str(e).strip().splitlines() or [''])[0][:200]}); it is damaged: restore it"
            ) from e
        own = out == self.export_dir  # the run's own export records its step and budget
        export_model(
            model, out, step=int(state["step"]) if own else None,
            training=state.get("training") if own else None,
        )  # fmt: skip
        return int(state["step"])

    # -- stored evaluations ---------------------------------------------------------

    def eval_path(self, split: str) -> Path:
        """Where the run keeps the figures of one split: ``RUN/eval/SPLIT.json``."""
        safe = "".join(c if c.isalnum() else "_" for c in split)
        return self.path / EVAL_DIR / f"{safe}.json"

    def read_eval(self, split: str) -> dict[str, Any]:
        """The stored figures of a split ({} when none, unreadable, or not a run)."""
        path = self.eval_path(split)
        if not self.is_run or not path.is_file():
            return {}
        try:
            old = json.loads(path.read_text())
        except (json.JSONDecodeError, OSError, UnicodeDecodeError):
            return {}
        return old if isinstance(old, dict) else {}

    def write_eval(
        self, split: str, figures: dict[str, Any], *, dropped: Iterable[str] = ()
    ) -> dict[str, Any] | None:
        """Store the figures of a split: merged, under a lock, into what is stored *now*.

        Two ``genzoo eval``/``compare`` processes may store into one run at once (one
        measuring the likelihood, one FID): each re-reads the file under an OS lock
        (flock, released if its process dies) and writes its own new figures over it
        atomically, so neither loses the other's. Figures stored for other weights (another
        ``model_digest``) are replaced, never merged.

        Args:
            split: the split the figures were measured on.
            figures: the figures to store, with ``model_digest``.
            dropped: keys this evaluation replaced (e.g. an old likelihood's terms), removed
                from what is stored before the merge.

        Returns:
            The stored figures after the merge; None for an export or a zoo model, which
            keep none, and for a run that cannot be written (read-only: the caller's
            figures are still shown).
        """
        if not self.is_run:
            return None
        path = self.eval_path(split)
        try:
            fd = os.open(self.path / EVAL_LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            print(f"note: {self.path} is not writable ({e.strerror}); figures not stored")
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # short: one read and one atomic write
            now = self.read_eval(split)
            if now.get("model_digest") != figures.get("model_digest"):
                now = {}
            for key in dropped:
                now.pop(key, None)
            merged = {**now, **figures}
            write_json(path, merged)
        except OSError as e:
            print(f"note: {self.path} is not writable ({e.strerror}); figures not stored")
            return None
        finally:
            os.close(fd)
        return merged

    # -- training -------------------------------------------------------------------

    @property
    def checkpoint_path(self) -> Path:
        return self.path / CHECKPOINT_FILE

    def claim(self, *, resume: bool, force: bool, dry_run: bool = False) -> Path | None:
        """Check that the folder may take a new or resumed run; never delete anything.

        Args:
            resume: continue the run in the folder.
            force: move an existing run aside (to ``NAME.replaced-TIME``).
            dry_run: only check (the command line calls this before loading any data).

        Returns:
            Where an old run was moved with ``force``, else None.

        Raises:
            RunExistsError: the folder holds a run (or other files) and neither flag was given.
            FileNotFoundError: ``resume`` was given but there is no checkpoint to resume.
        """
        out = self.path
        lost = self.lost_checkpoint()
        if lost is not None and not force:
            raise MissingFileError(
                f"{out} holds a run whose {CHECKPOINT_FILE} is missing (its export "
                f"{EXPORT_DIR}/ is from step {lost}; it still samples and evaluates): restore "
                f"{CHECKPOINT_FILE} to continue it with --resume, or pass --force to start "
                "over (the old folder is moved aside, not deleted), or choose another --out"
            )
        if resume:
            if not self.checkpoint_path.is_file() and not self.is_run:
                raise MissingFileError(
                    f"no checkpoint to resume in {out}; drop --resume to start a new run there"
                )
            return None  # a run stopped before its first checkpoint resumes from step 0
        if not out.exists() or (out.is_dir() and not any(out.iterdir())):
            return None
        if not force:
            what = "already holds a run" if self.is_run else "exists and is not empty"
            if self.is_run and not self.checkpoint_path.is_file():
                what = "holds a run that stopped before its first checkpoint"
            raise RunExistsError(
                f"{out} {what}; pass --resume to continue it (from step 0 if it has no "
                "checkpoint), --force to start over (the old folder is moved aside, not "
                "deleted), or choose another --out"
            )
        here = Path.cwd().resolve()
        if out.resolve() in (here, *here.parents):
            raise RunExistsError(
                f"--out {out} is the current folder or holds it; --force would move it aside "
                "from under you: choose a new folder for --out"
            )
        if dry_run:
            return None
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        moved = out.with_name(f"{out.name}.replaced-{stamp}")
        shutil.move(str(out), str(moved))
        self._meta = None
        return moved

    def lost_checkpoint(self) -> int | str | None:
        """The step of the export of a run whose ``checkpoint.pt`` is gone ('?' when the
        export records none); None when the checkpoint is there, or was never written.

        Training writes the export only after the checkpoint of the same step, so an export
        without a checkpoint means the checkpoint was deleted or lost: neither a resume
        (it would start again from step 0 and overwrite the export) nor a new run fits.
        """
        weights = self.path / EXPORT_DIR / "model.safetensors"
        if not self.is_run or self.checkpoint_path.is_file() or not weights.is_file():
            return None
        try:
            step = json.loads((self.path / EXPORT_DIR / "config.json").read_text()).get("step")
        except (OSError, ValueError, AttributeError):
            step = None
        return step if isinstance(step, int) else "?"

    def discard_start(self, *, keep_folder: bool) -> None:
        """Remove everything a refused start of a *new* run wrote, so a plain rerun accepts
        the folder. Only for a folder :meth:`claim` found absent or empty before the start
        (all it holds is then this start's): the folder itself is kept with
        ``keep_folder`` (it existed, empty, before)."""
        if not keep_folder:
            shutil.rmtree(self.path, ignore_errors=True)
            return
        for child in self.path.iterdir() if self.path.is_dir() else []:
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    child.unlink()
        self._meta = None

    RESUME_TAKES = (
        "steps", "lr", "max_minutes", "progress", "log_every", "sample_every", "num_samples",
        "checkpoint_every", "accelerator", "devices", "strategy", "precision", "num_workers",
        "threads", "compile",
    )  # fmt: skip
    """Train settings a resume takes from the command line; every other setting (the
    model, the data, the seed, the batch size, ...) is the run's own."""

    def resume_settings(
        self, model_name: str, config_class: type, train: TrainConfig, given: set[str]
    ) -> tuple[Any, TrainConfig, dict[str, Any], list[str]]:
        """What a resumed run continues with: the stored model config, data and train
        settings, with the train settings in :attr:`RESUME_TAKES` that the user gave.

        Args:
            model_name: the model named on the command line.
            config_class: its config class.
            train: the train settings parsed from the command line.
            given: the names of the train settings the user gave explicitly (a plain
                ``--resume`` gives none: the run continues to its own ``steps``).

        Returns:
            (model config, train config, data info, names of given settings ignored).
        """
        stored = self.meta
        if stored.get("model") != model_name:
            raise UserInputError(
                f"{self.path} holds a {stored.get('model')!r} run, not {model_name!r}; "
                f"resume it with 'genzoo train {stored.get('model')} --out {self.path} --resume'"
            )
        where = str(self.path / RUN_FILE)
        try:
            model_cfg = from_dict(config_class, stored["model_config"], where=where)
            old_train = from_dict(TrainConfig, stored["train"], where=where)
            data_info = checked_data_info(stored["data"], where)
        except KeyError as e:
            raise CorruptFileError(f"{where} lacks the key {e}; restore or delete the run") from e
        except SettingTypeError as e:
            raise CorruptFileError(f"{e}: a setting of the wrong type; restore the file") from e
        except (TypeError, AttributeError) as e:
            raise CorruptFileError(f"{where} holds a damaged setting ({e}); restore it") from e
        taken = {k: getattr(train, k) for k in given if k in self.RESUME_TAKES}
        ignored = sorted(k for k in given if k not in self.RESUME_TAKES)
        return model_cfg, dataclasses.replace(old_train, **taken), data_info, ignored

    def check_resumable(self, model: GenerativeModel) -> None:
        """Refuse to resume ``model`` from a run of another family or config."""
        meta = self.meta
        try:  # read through the config class: a field added since (at its default) matches
            stored = to_dict(from_dict(type(model.config), meta.get("model_config") or {}))
        except (GenzooError, TypeError, ValueError):
            stored = None
        if meta.get("model") != model.name or stored != to_dict(model.config):
            raise UserInputError(
                f"the run in {self.path} trained {meta.get('model')!r} with another config; "
                "resume with the same model settings (or none: the CLI reads run.json)"
            )

    def write_meta(
        self,
        model: GenerativeModel,
        train: TrainConfig,
        data_info: dict[str, Any],
        note: str | None = None,
    ) -> None:
        """Write ``run.json`` for a new run; ``note`` (a sentence from its recipe, e.g.
        what its budget does not reach) is stored under ``"note"`` when given."""
        self.path.mkdir(parents=True, exist_ok=True)
        meta = {
            "format": FORMAT_VERSION,
            "genzoo_version": __version__,
            "model": model.name,
            "model_config": to_dict(model.config),
            "data_spec": to_dict(model.data),
            "data": data_info,
            "train": to_dict(train),
            "created": datetime.datetime.now().isoformat(timespec="seconds"),
        }
        if note:
            meta["note"] = note
        write_json(self.path / RUN_FILE, meta)
        self._meta = meta

    def save_state(
        self,
        state: dict[str, Any],
        model: GenerativeModel,
        export_weights: dict[str, torch.Tensor] | None = None,
        training: dict[str, Any] | None = None,
    ) -> None:
        """Write the training state (``checkpoint.pt``) and refresh the export from it
        (marked with the step, so an export left behind by a kill is recognised, and with
        the training budget so far)."""
        try:
            save_checkpoint(self.checkpoint_path, {"format": FORMAT_VERSION, **state})
            export_model(
                model, self.path / EXPORT_DIR, export_weights, step=int(state["step"]),
                training=training,
            )  # fmt: skip
        except (OSError, RuntimeError, SafetensorError) as e:
            error = self.write_error("the checkpoint", e)
            if error is None:
                raise
            raise error from e

    def write_error(self, what: str, e: BaseException) -> RunWriteError | None:
        """The one-line :class:`RunWriteError` for a write into the run the file system
        refused (a full disk, a read-only folder); None when ``e`` is another error.

        Args:
            what: what was being written ("the checkpoint", "a sample grid").
            e: the error the write raised.
        """
        if isinstance(e, GenzooError):
            return None
        why = write_failure(e)
        if why is None:
            return None
        free = free_space(self.path)
        return RunWriteError(
            f"cannot write {what} into {self.path} ({why}{'; ' + free if free else ''}); the "
            "last checkpoint is intact: free space or fix permissions, then --resume"
        )

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the run's lock while training: a second training (or resume) of the same
        run is refused. An OS lock (flock) that dies with its process, so a kill -9 never
        leaves a stale lock. Leftover temporary files of interrupted writes are removed
        once the lock is held (no other writer can own them then)."""
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RunBusyError(
                    f"{self.path} is being trained by another process; wait for it to finish "
                    "(or stop it), or choose another --out"
                ) from None
            self.remove_leftovers()
            yield
        finally:
            os.close(fd)  # releases the lock

    def remove_leftovers(self) -> list[Path]:
        """Delete temporary files of interrupted atomic writes (``.NAME.*.tmp``) in every
        folder genzoo writes atomically: the run's own, ``model/``, ``eval/`` and
        ``samples/`` (the periodic grids)."""
        removed = []
        folders = (EXPORT_DIR, EVAL_DIR, SAMPLES_DIR)
        for folder in (self.path, *(self.path / f for f in folders)):
            for tmp in folder.glob(".*.tmp") if folder.is_dir() else []:
                with contextlib.suppress(OSError):
                    tmp.unlink()
                    removed.append(tmp)
        return removed

    def load_state(self, map_location: str | torch.device = "cpu") -> dict[str, Any]:
        """The training state of ``checkpoint.pt`` (never unpickles arbitrary objects)."""
        return load_checkpoint(self.checkpoint_path, map_location)


def load(path: str | Path, map_location: str | torch.device = "cpu") -> GenerativeModel:
    """Load a trained model from a run directory or an exported model folder.

    Returns the model in eval mode. A run directory gives its latest export (written at
    every checkpoint, holding the EMA weights when the run kept an average).

    Raises:
        FileNotFoundError: when ``path`` holds neither form.
        CorruptFileError: when the files exist but cannot be read.
    """
    return Run(path).load_model(map_location)
