"""One training run from settings: decide what a resumed run continues with, load the
data, build the model, and hand them to the loop (:func:`genzoo.train.loop.fit`).

The command line's ``genzoo train`` is this function; Python users may call it too, or
build a model themselves and call :func:`~genzoo.train.loop.fit`.
"""

from __future__ import annotations

from typing import Any

import torch

from genzoo.config import TrainConfig
from genzoo.models.base import GenerativeModel
from genzoo.registry import create_model, get_entry
from genzoo.runs import Run
from genzoo.train.loop import fit


def train_run(
    model_name: str,
    model_config: Any,
    train: TrainConfig,
    data_info: dict[str, Any],
    run: Run,
    *,
    resume: bool = False,
    force: bool = False,
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

    Returns:
        The trained model.
    """
    from genzoo.data import load_dataset

    if resume and run.is_run:
        entry = get_entry(model_name)
        model_config, train, data_info = run.resume_settings(model_name, entry.config_class, train)
    dataset = load_dataset(
        data_info["spec"],
        "train",
        root=data_info.get("root"),
        image_size=data_info.get("image_size"),
        seed=data_info.get("seed", 0),
    )
    torch.manual_seed(train.seed)
    model = create_model(
        model_name,
        image_shape=dataset.image_shape,
        kind=dataset.kind,
        num_classes=dataset.num_classes,
        config=model_config,
    )
    n_params = sum(p.numel() for p in model.parameters())
    print(
        f"{model_name}: {n_params / 1e6:.2f}M parameters; data {data_info['spec']} "
        f"({len(dataset)} training examples); run directory {run.path}"
    )
    return fit(model, dataset, run.path, train, data_info=data_info, resume=resume, force=force)
