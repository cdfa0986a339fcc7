"""Stored figures and cached features are keyed by everything they were measured against
(defects D1-D3 of the contract rebuild), and the command line's error policy."""

from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from genzoo.cli import main
from genzoo.errors import UserInputError
from helpers import TINY


def _write_idx_dataset(folder: Path, seed: int, n_train: int = 40, n_test: int = 12) -> None:
    """Fashion-MNIST-style IDX files of random 28x28 images (seeded: two seeds, two datasets)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            header = bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
            (folder / f"{prefix}-{kind}-ubyte.gz").write_bytes(
                gzip.compress(header + array.tobytes())
            )


@pytest.fixture(scope="module")
def two_roots(tmp_path_factory):
    """A tiny PixelCNN trained on dataset A (fashion-mnist files in root A); root B holds
    other images under the same dataset name and split names."""
    base = tmp_path_factory.mktemp("d1")
    a, b = base / "a", base / "b"
    _write_idx_dataset(a, seed=1)
    _write_idx_dataset(b, seed=2)
    run = base / "run"
    model = ["--model.hidden-channels", "4", "--model.num-blocks", "1"]
    model += ["--model.output-channels", "8"]
    loop = ["--train.steps", "2", "--train.batch-size", "8", "--train.sample-every", "0"]
    loop += ["--train.no-progress"]
    argv = ["train", "pixelcnn", "--data", "fashion-mnist", "--data-root", str(a), *model, *loop]
    assert main([*argv, "--out", str(run)]) == 0
    return run, a, b


def test_d1_stored_figures_are_not_reused_for_another_dataset(two_roots, tmp_path, monkeypatch):
    import shutil

    from genzoo.evaluation import EvalSettings
    from genzoo.evaluation import run as evaluation
    from genzoo.report.compare import compare_runs

    src, _, root_b = two_roots
    run = tmp_path / "run"
    shutil.copytree(src, run)
    settings = EvalSettings(metrics=("nll", "fid"), n=6, features="pixel", batch_size=6)
    on_a = compare_runs([run], settings, progress=False, echo=None)[0].figures

    calls: list[list[str]] = []
    real = evaluation.evaluate_samples
    monkeypatch.setattr(
        evaluation, "evaluate_samples", lambda *a, **k: calls.append(a[1]) or real(*a, **k)
    )
    again = compare_runs([run], settings, progress=False, echo=None)[0].figures
    assert calls == [] and again["fid"] == on_a["fid"]  # same data: reused

    other = EvalSettings(
        metrics=("nll", "fid"), n=6, features="pixel", batch_size=6, data_root=root_b
    )
    on_b = compare_runs([run], other, progress=False, echo=None)[0].figures
    assert calls == [["fid"]]  # another dataset under the same names: measured again
    assert on_b["fid"]["value"] != on_a["fid"]["value"]
    assert on_b["nll"]["nats_per_image"] != on_a["nll"]["nats_per_image"]
    assert on_b["fid"]["against"]["root"] == str(root_b)
    stored = json.loads((run / "eval" / "test.json").read_text())
    assert stored["likelihood_against"]["reference"] == on_b["likelihood_against"]["reference"]
    # the figure against B is exactly what the model gives on B's images
    import genzoo

    x = genzoo.data.load_dataset("fashion-mnist", "test", root=root_b).images[:6]
    nll_b = -genzoo.load(run).log_prob(x).double().mean().item()
    assert on_b["nll"]["nats_per_image"] == pytest.approx(nll_b, rel=1e-6)


def test_d2_binary_and_8bit_readings_of_the_same_bytes_never_share_a_cache_file(tmp_path):
    from genzoo.metrics.features import PixelFeatures, reference_features

    images = torch.randint(0, 2, (5, 1, 4, 4), dtype=torch.uint8)  # valid as both kinds
    net = PixelFeatures()
    as_binary = reference_features(net, images, tag="x", max_value=1, cache_dir=tmp_path)
    as_8bit = reference_features(net, images, tag="x", max_value=255, cache_dir=tmp_path)
    assert as_binary.path != as_8bit.path
    assert torch.allclose(as_binary.features, as_8bit.features * 255)
    again = reference_features(net, images, tag="x", max_value=255, cache_dir=tmp_path)
    assert torch.equal(again.features, as_8bit.features)  # and each is still cached


def _tiny_network_file(path: Path, scale: float) -> Path:
    """A TorchScript file with the FID network's interface: (N, 3, 299, 299) -> (N, 2048)."""

    class Tiny(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = scale

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            pooled = torch.nn.functional.adaptive_avg_pool2d(x, 1).flatten(1)  # (N, 3)
            return pooled.repeat(1, 683)[:, :2048] * self.scale

    torch.jit.save(torch.jit.script(Tiny()), str(path))
    return path


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_d3_features_of_another_network_file_never_come_from_this_ones_cache(tmp_path):
    from genzoo.metrics.features import InceptionFeatures, reference_features

    one = InceptionFeatures(path=_tiny_network_file(tmp_path / "one.pt", 1.0), batch_size=4)
    two = InceptionFeatures(path=_tiny_network_file(tmp_path / "two.pt", 2.0), batch_size=4)
    images = torch.randint(0, 256, (4, 1, 8, 8), dtype=torch.uint8)
    cache = tmp_path / "cache"
    f1 = reference_features(one, images, tag="t", cache_dir=cache)
    f2 = reference_features(two, images, tag="t", cache_dir=cache)
    assert f1.path != f2.path
    assert torch.allclose(f2.features, 2 * f1.features)


def test_a_config_refusal_names_the_flag(capsys):
    assert main(["train", "pixelcnn", "--data", "digits", "--train.steps", "0"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "genzoo: error: --train.steps must be positive, got 0"


def test_only_genzoos_own_errors_become_one_line(monkeypatch, capsys):
    import genzoo.cli as cli

    def user_error(argv):
        raise UserInputError("a problem you can fix")

    def bug(argv):
        raise ValueError("an internal bug")

    monkeypatch.setitem(cli.COMMANDS, "eval", ("", user_error))
    assert main(["eval"]) == 2
    assert capsys.readouterr().err == "genzoo: error: a problem you can fix\n"
    monkeypatch.setitem(cli.COMMANDS, "eval", ("", bug))
    with pytest.raises(ValueError, match="internal bug"):  # a bug keeps its traceback
        main(["eval"])


def test_labels_for_an_unconditional_model_are_refused(tmp_path, capsys):
    from genzoo.registry import create_model
    from genzoo.train.checkpoint import export_model

    model = create_model("pixelcnn", image_shape=(1, 4, 4), **TINY["pixelcnn"])
    export_model(model, tmp_path / "m")
    argv = ["sample", str(tmp_path / "m"), "-n", "2", "--labels", "3"]
    assert main([*argv, "--out", str(tmp_path / "s.png")]) == 2
    assert "not class-conditional" in capsys.readouterr().err
    assert not (tmp_path / "s.png").exists()


def test_two_evaluations_storing_into_one_run_at_once_lose_neither(
    two_roots, tmp_path, monkeypatch
):
    """Reliability 3: `genzoo eval` of the likelihood and of FID on one run at once. The
    second process stores FID while the first is still measuring the likelihood; the
    first's write must merge into what is stored then, not overwrite it with what it read
    at its start."""
    import shutil

    from genzoo.evaluation import EvalSettings
    from genzoo.evaluation import run as evaluation

    src, _, _ = two_roots
    run = tmp_path / "run"
    shutil.copytree(src, run)
    fid_only = EvalSettings(metrics=("fid",), n=6, features="pixel", batch_size=6)
    nll_only = EvalSettings(metrics=("nll",), batch_size=6)
    real = evaluation.evaluate_likelihood

    def meanwhile_another_process_stores_fid(*args, **kwargs):
        evaluation.evaluate_run(run, fid_only, progress=False, echo=None)
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluation, "evaluate_likelihood", meanwhile_another_process_stores_fid)
    out = evaluation.evaluate_run(run, nll_only, progress=False, echo=None)
    stored = json.loads((run / "eval" / "test.json").read_text())
    assert "fid" in stored and "nll" in stored
    assert out["fid"] == stored["fid"]  # the caller sees the merged figures too

    # a re-measured likelihood replaces the old terms (kept only by the other process'
    # figures, never stale ones of its own)
    monkeypatch.setattr(evaluation, "evaluate_likelihood", real)
    again = evaluation.evaluate_run(run, nll_only, progress=False, echo=None, reuse=False)
    assert again["nll"] == stored["nll"] and again["fid"] == stored["fid"]


def test_another_familys_estimator_option_does_not_invalidate_a_stored_likelihood(
    tmp_path, monkeypatch
):
    """A VAE's stored bound depends on its own estimator option (--iwae-k), not on a flow's
    --dequant-k or the Boltzmann machines' AIS settings: changing those reuses it, changing
    its own recomputes it."""
    from genzoo.evaluation import EvalSettings
    from genzoo.evaluation import run as evaluation

    run = tmp_path / "vae"
    args = ["--data", "digits", "--model.latent-dim", "2", "--train.steps", "2"]
    args += ["--train.batch-size", "8", "--train.sample-every", "0", "--train.no-progress"]
    assert main(["train", "vae", *args, "--out", str(run)]) == 0
    base = dict(metrics=("nll",), n=8, batch_size=8, iwae_k=4)
    evaluation.evaluate_run(run, EvalSettings(**base), progress=False, echo=None)
    calls: list[int] = []
    real = evaluation.evaluate_likelihood
    monkeypatch.setattr(
        evaluation, "evaluate_likelihood", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    others = EvalSettings(**base, dequant_k=3, ais_runs=7)
    evaluation.evaluate_run(run, others, reuse=True, progress=False, echo=None)
    assert calls == []
    own = EvalSettings(**{**base, "iwae_k": 5})
    evaluation.evaluate_run(run, own, reuse=True, progress=False, echo=None)
    assert calls == [1]
