"""Helpers shared by the tests: tiny configs of every registered model, weight scrambling."""

from __future__ import annotations

import torch

# The smallest sensible config of each registered model; test_contract.py fails if a
# registered model has no entry here, so every new family joins the conformance suite.
TINY: dict[str, dict] = {
    "pixelcnn": {"hidden_channels": 6, "num_blocks": 1, "output_channels": 12},
    "pixelrnn": {"hidden_channels": 12, "num_layers": 1, "output_channels": 12},
    "gated-pixelcnn": {"hidden_channels": 12, "num_layers": 2, "output_channels": 12},
    "pixelcnn++": {"filters": 6, "num_resnet": 1, "num_mixtures": 2, "dropout": 0.0},
    "vae": {"latent_dim": 2, "hidden": 8, "hidden_layers": 1},
    "gan": {"latent_dim": 4, "width": 4, "hidden_layers": 1},
    "progan": {"latent_dim": 4, "channel_base": 16, "max_channels": 4, "mbstd_group_size": 2},
    "rbm": {"hidden": 4, "num_chains": 3, "gibbs_steps": 3},
    "dbm": {"hidden": (4, 3), "num_chains": 3, "gibbs_steps": 3, "mean_field_steps": 2},
    "made": {"hidden": (8, 8), "num_masks": 2, "ensemble": 2},
    "nade": {"hidden": 6, "ordering": "agnostic", "num_orderings": 2, "ensemble": 2},
    "fvsbn": {},
    "gsn": {"hidden": 6, "walkback": 2, "hidden_noise": 0.5, "burn_in": 2, "thin": 1},
    "nice": {"couplings": 2, "hidden": 8, "hidden_layers": 1},
    "realnvp": {"scales": 2, "couplings": 1, "hidden": 4},
    "glow": {"levels": 1, "steps": 2, "hidden": 4},
}

# Image shapes of the conformance suite for families that refuse its default (1, 6, 6) and
# (3, 4, 4) (progan: square sides that are powers of two; 6x6 is refused, naming
# --image-size). test_contract.py is to read SHAPES.get(name, default).
SHAPES: dict[str, list[tuple[int, ...]]] = {"progan": [(1, 8, 8), (3, 4, 4)]}


def scramble(model: torch.nn.Module, scale: float = 3.0, seed: int = 0) -> torch.nn.Module:
    """Give a model large random weights, so its distributions are far from uniform."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * scale / max(1, p[0].numel()) ** 0.5)
    return model
