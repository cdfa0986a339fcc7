"""genzoo: train, sample, evaluate and compare deep generative models of images.

Quick start::

    import torch, genzoo
    model = genzoo.create_model("pixelcnn", image_shape=(1, 28, 28))
    images = genzoo.data.load_dataset("fashion-mnist", "test").images[:8]
    nats = model.log_prob(images)                      # (8,) exact log-likelihood, nats
    x = model.sample(16, generator=torch.Generator().manual_seed(0))   # uint8 (16, 1, 28, 28)
    trained = genzoo.load("runs/pcnn")                 # a run directory or an export
    gan = genzoo.load("zoo:gan-fashion-mnist")         # a shipped model (genzoo zoo lists them)

Heavy modules (torch) are imported on first use, so ``import genzoo`` and the command
line's ``--help`` stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from genzoo._version import __version__

__all__ = ["__version__", "create_model", "data", "list_models", "load"]

if TYPE_CHECKING:
    from genzoo import data
    from genzoo.registry import create_model
    from genzoo.zoo import load_ref as load


def list_models() -> list[str]:
    """Names of the registered models."""
    from genzoo.registry import MODELS

    return sorted(MODELS)


def __getattr__(name: str) -> Any:
    if name == "create_model":
        from genzoo.registry import create_model

        return create_model
    if name == "load":
        from genzoo.zoo import load_ref

        return load_ref
    if name == "data":
        import importlib

        return importlib.import_module("genzoo.data")
    raise AttributeError(f"module 'genzoo' has no attribute {name!r}")
