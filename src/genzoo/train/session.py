"""One training run from settings: decide what a resumed run continues with, load the
data, build the model, and hand them to the loop (:func:`genzoo.train.loop.fit`).

The command line's ``genzoo train`` is this function; Python users may call it too, or
build a model themselves and call :func:`~genzoo.train.loop.fit`.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from genzoo import threads
from genzoo.config import DataSpec, TrainConfig
from genzoo.models.base import GenerativeModel
from genzoo.registry import create_model, get_entry
from genzoo.runs import Run
from genzoo.train.checkpoint import RUN_FILE, check_buildable
from genzoo.train.loop import fit


def is_main_process() -> bool:
    """False in the extra processes a distributed launch starts (they re-run the command:
    only the first prints its header and summary)."""
    return all(int(os.environ.get(k, "0") or 0) == 0 for k in ("LOCAL_RANK", "NODE_RANK", "RANK"))


def train_run(
    model_name: str,
    model_config: Any,
    train: TrainConfig,
    data_info: dict[str, Any],
    run: Run,
    *,
    resume: bool = False,
    force: bool = False,
    given: set[str] | None = None,
    note: str | None = None,
    thread_policy: bool = False,
) -> GenerativeModel:
    """Train a registered model on a named dataset into a run directory.

    Args:
        model_name: a registered model name.
        model_config: its config (ignored on resume: the run's own is used).
        train: the loop's settings (on resume, the run's own; a larger ``steps`` extends it).
        data_info: ``{"spec", "root", "image_size", "seed"}`` (on resume, the run's own).
        run: the run directory.
        resume: continue the run from its checkpoint.
        force: move an existing run aside and start over.
        given: on resume, the settings the user gave explicitly ("train.lr", "model.x",
            "data", ...): the train settings a resume takes are applied, the others are
            named as ignored.
        note: a sentence for a new run's run.json, printed by ``genzoo report`` beside the
            run's samples (a resumed run keeps its own).
        thread_policy: put genzoo's CPU thread policy in force (:mod:`genzoo.threads`;
            ``genzoo train`` does). Otherwise PyTorch's thread setting is kept unless
            ``train.threads`` fixes a count.

    Returns:
        The trained model.
    """
    from genzoo.data import load_dataset

    if resume and run.is_run:
        entry = get_entry(model_name)
        given = given or set()
        train_given = {g.removeprefix("train.") for g in given if g.startswith("train.")}
        model_config, train, data_info, ignored = run.resume_settings(
            model_name, entry.config_class, train, train_given
        )
        ignored_all = [f"train.{k}" for k in ignored] + sorted(
            g for g in given if not g.startswith("train.")
        )
        if ignored_all and is_main_process():
            flags = ", ".join("--" + g.replace("_", "-") for g in ignored_all)
            print(f"--resume keeps the run's own settings; ignored: {flags}")
        if train_given & set(run.RESUME_TAKES) and is_main_process():
            taken = ", ".join(f"--train.{k.replace('_', '-')}" for k in sorted(train_given))
            print(f"--resume takes: {taken}")
    if thread_policy or train.threads:
        policy = threads.apply(train.threads if train.threads else None, tune=not train.compile)
    else:
        policy = f"threads {torch.get_num_threads()} (PyTorch's setting)"
    dataset = load_dataset(
        data_info["spec"],
        "train",
        root=data_info.get("root"),
        image_size=data_info.get("image_size"),
        seed=data_info.get("seed", 0),
    )
    if resume and run.is_run:  # a run.json may be damaged or crafted: probe before building
        spec = DataSpec(dataset.image_shape, dataset.kind, dataset.num_classes)
        check_buildable(get_entry(model_name), model_config, spec, str(run.path / RUN_FILE))
    torch.manual_seed(train.seed)
    model = create_model(
        model_name,
        image_shape=dataset.image_shape,
        kind=dataset.kind,
        num_classes=dataset.num_classes,
        config=model_config,
    )
    n_params = sum(p.numel() for p in model.parameters())
    say = print if is_main_process() else lambda *a, **k: None
    say(
        f"{model_name}: {n_params / 1e6:.2f}M parameters; data {data_info['spec']} "
        f"({len(dataset)} training examples); run directory {run.path}; CPU: {policy}"
    )
    for line in model.plan_notes(train):
        say(line)
    model = fit(
        model, dataset, run.path, train,
        data_info=data_info, resume=resume, force=force, note=note,
    )  # fmt: skip
    split = threads.summary()
    if split:
        say(f"CPU threads: {split}")
    return model
