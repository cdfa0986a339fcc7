"""The training loop and checkpoints: exact resume, safe loading, protected run folders."""

from __future__ import annotations

import os
import pickle
import shutil
import types

import pytest
import torch
from torch.utils.data import Dataset

import genzoo
from genzoo.config import TrainConfig
from genzoo.errors import CorruptFileError, NonFiniteLossError, RunExistsError
from genzoo.registry import MODELS
from genzoo.train.checkpoint import load_checkpoint
from genzoo.train.loop import fit, step_batches
from helpers import TINY


class NoisyBinary(Dataset):
    """Images binarised afresh on every access (like dynamic binarisation), so an exact
    resume needs the global RNG state restored as well as the data order."""

    def __init__(self, n: int = 40) -> None:
        self.p = torch.rand(n, 1, 4, 4, generator=torch.Generator().manual_seed(0))

    def __len__(self) -> int:
        return len(self.p)

    def __getitem__(self, i: int):
        return torch.bernoulli(self.p[i]).to(torch.uint8), torch.tensor(-1)


def make_model():
    torch.manual_seed(0)
    return genzoo.create_model("pixelcnn", image_shape=(1, 4, 4), kind="binary", **TINY["pixelcnn"])


def cfg(**kw) -> TrainConfig:
    base = dict(
        steps=6,
        batch_size=8,
        log_every=1,
        sample_every=0,
        checkpoint_every=3,
        ema_decay=0.9,
        progress=False,
        accelerator="cpu",
    )
    return TrainConfig(**(base | kw))


def test_resumed_run_equals_uninterrupted_run(tmp_path):
    whole = fit(make_model(), NoisyBinary(), tmp_path / "whole", cfg())
    fit(make_model(), NoisyBinary(), tmp_path / "parts", cfg(steps=3))
    parts = fit(make_model(), NoisyBinary(), tmp_path / "parts", cfg(steps=6), resume=True)
    for (k, a), b in zip(whole.state_dict().items(), parts.state_dict().values(), strict=True):
        assert torch.equal(a, b), k
    ema_whole = load_checkpoint(tmp_path / "whole" / "checkpoint.pt")["ema"]
    ema_parts = load_checkpoint(tmp_path / "parts" / "checkpoint.pt")["ema"]
    for k in ema_whole:
        assert torch.equal(ema_whole[k], ema_parts[k]), k
    # and the runs did train: the weights moved away from their initial values
    assert not torch.equal(
        make_model().state_dict()["input_conv.weight"], whole.state_dict()["input_conv.weight"]
    )


def test_the_weight_average_warms_up_then_keeps_its_decay():
    """A short run's average is not dragged back to its first weights (a fixed decay of
    0.999 keeps 0.999^99 = 91% of them after 100 updates), and a long run's average moves
    by exactly 1 - decay per update; integer buffers take the current value."""
    from torch.optim.swa_utils import AveragedModel

    from genzoo.train.loop import ema_with_warmup

    model = torch.nn.Linear(1, 1, bias=False)
    model.register_buffer("count", torch.tensor(0))
    avg = AveragedModel(model, multi_avg_fn=ema_with_warmup(0.999), use_buffers=True)
    with torch.no_grad():
        model.weight.fill_(-1.0)
        avg.update_parameters(model)  # the first update copies
        model.weight.fill_(1.0)
        for step in range(1, 100):
            model.count.fill_(step)
            avg.update_parameters(model)
    assert avg.module.weight.item() > 0.999  # fixed decay: 2 * (1 - 0.999^99) - 1 = -0.81
    assert avg.module.count.item() == 99
    avg.n_averaged.fill_(10**6)  # long past the warm-up: the configured decay
    with torch.no_grad():
        avg.module.weight.fill_(0.0)
        avg.update_parameters(model)
    assert avg.module.weight.item() == pytest.approx(1 - 0.999, rel=1e-4)


def test_step_batches_continue_across_epochs_from_any_step():
    full = [b for _, b in zip(range(10), step_batches(10, 3, seed=1, start_step=0), strict=False)]
    late = [b for _, b in zip(range(6), step_batches(10, 3, seed=1, start_step=4), strict=False)]
    assert late == full[4:]
    epoch = [i for b in full[:3] for i in b]
    assert len(epoch) == len(set(epoch)) == 9  # no repeats within an epoch
    # two ranks split the one global batch between them, without overlap
    whole = next(step_batches(10, 4, 1, 0))
    ranks = [next(step_batches(10, 4, 1, 0, rank=r, world_size=2)) for r in (0, 1)]
    assert sorted(ranks[0] + ranks[1]) == sorted(whole) and not set(ranks[0]) & set(ranks[1])
    # the in-memory path takes the same batches as int64 tensors
    as_tensors = step_batches(10, 3, seed=1, start_step=4, tensors=True)
    got = [next(as_tensors) for _ in range(6)]
    assert all(t.dtype == torch.int64 for t in got) and [t.tolist() for t in got] == late


def test_export_is_loaded_with_ema_weights_and_identical_log_prob(tmp_path):
    model = fit(make_model(), NoisyBinary(), tmp_path / "run", cfg(ema_decay=0.0))
    loaded = genzoo.load(tmp_path / "run")
    x = NoisyBinary().p.round().to(torch.uint8)[:5]
    assert torch.equal(model.log_prob(x), loaded.log_prob(x))
    assert not loaded.training


def test_existing_run_is_never_overwritten(tmp_path):
    out = tmp_path / "run"
    fit(make_model(), NoisyBinary(), out, cfg(steps=2))
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with pytest.raises(RunExistsError, match="--resume"):
        fit(make_model(), NoisyBinary(), out, cfg(steps=2))
    assert before == {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    fit(make_model(), NoisyBinary(), out, cfg(steps=2), force=True)
    moved = [p for p in tmp_path.iterdir() if p.name.startswith("run.replaced-")]
    assert len(moved) == 1 and (moved[0] / "checkpoint.pt").is_file()


def test_resume_without_a_run_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="drop --resume"):
        fit(make_model(), NoisyBinary(), tmp_path / "none", cfg(), resume=True)


def test_nan_loss_stops_with_a_clear_error_and_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    model = make_model()
    real_loss = model.loss
    calls = {"n": 0}

    def flaky(self, images, labels=None):
        calls["n"] += 1
        out = real_loss(images, labels)
        if calls["n"] == 5:
            out["loss"] = out["loss"] * float("nan")
        return out

    monkeypatch.setattr(model, "loss", types.MethodType(flaky, model))
    with pytest.raises(NonFiniteLossError, match="step 4"):
        fit(model, NoisyBinary(), tmp_path / "run", cfg(steps=10))
    assert load_checkpoint(tmp_path / "run" / "checkpoint.pt")["step"] == 3


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def test_checkpoints_never_unpickle_arbitrary_objects(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(pickle.dumps({"format": 1, "x": _Evil()}))
    with pytest.raises(CorruptFileError, match="unreadable"):
        load_checkpoint(path)
    assert not (tmp_path / "PWNED").exists()


def test_truncated_checkpoint_and_weights_give_clear_errors(tmp_path):
    fit(make_model(), NoisyBinary(), tmp_path / "run", cfg(steps=2))
    ckpt = tmp_path / "run" / "checkpoint.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:200])
    with pytest.raises(CorruptFileError, match="truncated"):
        load_checkpoint(ckpt)
    weights = tmp_path / "run" / "model" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(CorruptFileError, match="truncated"):
        genzoo.load(tmp_path / "run")
    with pytest.raises(FileNotFoundError, match="neither a run"):
        genzoo.load(tmp_path)


def test_batched_fetch_gives_the_dataloaders_batches_and_the_same_training(tmp_path):
    from torch.utils.data import default_collate

    from genzoo.data import load_dataset

    digits = load_dataset("digits", "train")
    idx = torch.tensor([5, 0, 17, 3])
    for got, want in zip(digits.batch(idx), default_collate([digits[i] for i in idx]), strict=True):
        assert torch.equal(got, want)

    class PerItem(Dataset):  # the same data without .batch: the DataLoader path
        def __len__(self):
            return len(digits)

        def __getitem__(self, i):
            return digits[i]

    def tiny():
        torch.manual_seed(0)
        return genzoo.create_model("pixelcnn", image_shape=(1, 8, 8), **TINY["pixelcnn"])

    a = fit(tiny(), digits, tmp_path / "batched", cfg(ema_decay=0.0))
    b = fit(tiny(), PerItem(), tmp_path / "per-item", cfg(ema_decay=0.0))
    for (k, v), w in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(v, w), k


def test_batched_fetch_binarises_dynamically():
    from genzoo.data.datasets import ImageDataset

    grey = torch.full((64, 1, 4, 4), 128, dtype=torch.uint8)
    ds = ImageDataset(grey, None, name="x", kind="binary", num_classes=None, binarize="dynamic")
    torch.manual_seed(0)
    images, labels = ds.batch(torch.arange(64))
    assert set(images.unique().tolist()) == {0, 1} and labels.eq(-1).all()
    assert abs(images.float().mean().item() - 128 / 255) < 0.05  # p = 128/255 per pixel
    assert not torch.equal(images, ds.batch(torch.arange(64))[0])  # a fresh draw each time


def test_ddp_on_two_cpu_processes_trains_like_one_process_with_the_global_batch(tmp_path):
    """Fabric's DDP (gloo, 2 processes launched by the CLI): each rank takes half of every
    global batch and gradients are averaged, so the weights match one process's run."""
    import subprocess
    import sys

    from safetensors.torch import load_file

    printed = {}

    def train(out, *extra):
        cmd = [sys.executable, "-m", "genzoo.cli", "train", "pixelcnn", "--data", "digits",
               "--model.hidden-channels", "6", "--model.num-blocks", "1",
               "--model.output-channels", "12", "--train.steps", "6", "--train.batch-size", "16",
               "--train.no-progress", "--train.accelerator", "cpu", "--train.sample-every", "0",
               "--out", str(tmp_path / out), *extra]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        printed[out] = proc.stdout
        return load_file(str(tmp_path / out / "model" / "model.safetensors"))

    two = train("ddp", "--train.devices", "2", "--train.strategy", "ddp")
    # only the first process prints the header and the summary
    assert printed["ddp"].count("done:") == 1 and printed["ddp"].count("parameters;") == 1
    one = train("single")
    assert two.keys() == one.keys()
    for k in one:
        torch.testing.assert_close(two[k], one[k], atol=1e-5, rtol=1e-4)
    # and training moved the weights: one step fewer gives other weights
    shorter = train("shorter", "--train.steps", "5")
    assert any(not torch.allclose(one[k], shorter[k], atol=1e-4) for k in one)


COMPILE_EXCEPTIONS = {"progan": "WGAN-GP's gradient penalty calls torch.autograd.grad"}


@pytest.mark.parametrize("name", sorted(set(MODELS) - set(COMPILE_EXCEPTIONS)))
def test_the_compiled_step_has_no_graph_breaks(name):
    """--train.compile traces each family's loss whole: genzoo's own input checks (which
    read the data) are skipped while compiling instead of breaking the graph."""
    from helpers import SHAPES

    kind = MODELS[name].data_kinds[0]
    shape = (2,) if kind == "points" else SHAPES.get(name, [(1, 8, 8)])[0]
    model = genzoo.create_model(name, image_shape=shape, kind=kind, **TINY[name])
    top = 2 if kind == "binary" else 256
    x = torch.randint(0, top, (4, *shape), dtype=torch.uint8)
    torch._dynamo.reset()
    explained = torch._dynamo.explain(model.loss)(x, None)
    assert explained.graph_break_count == 0, [str(r.reason)[:200] for r in explained.break_reasons]


@pytest.mark.skipif(
    shutil.which("g++") is None and shutil.which("c++") is None,
    reason="torch.compile on CPU needs a C++ compiler (scripts/setup.sh installs g++ as root)",
)
def test_train_compile_runs_and_matches_eager_closely(tmp_path, capsys):
    eager = fit(make_model(), NoisyBinary(), tmp_path / "eager", cfg(steps=2, ema_decay=0.0))
    compiled = fit(
        make_model(),
        NoisyBinary(),
        tmp_path / "compiled",
        cfg(steps=2, ema_decay=0.0, compile=True, progress=True),
    )
    assert "compiling the first step" in capsys.readouterr().err  # the bar says why it waits
    for (k, a), b in zip(eager.state_dict().items(), compiled.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4, msg=k)


def test_models_use_the_fused_adamw_and_it_gives_the_reference_update():
    """genzoo's optimizers are fused AdamW (one kernel over all parameters), and a fused
    step equals PyTorch's reference per-parameter loop up to rounding."""
    import torch

    from genzoo import create_model
    from genzoo.config import TrainConfig

    for name in ("pixelcnn", "gan"):
        model = create_model(name, image_shape=(1, 8, 8), kind="8bit")
        for opt in model.configure_optimizers(TrainConfig(lr=1e-3)).values():
            assert isinstance(opt, torch.optim.AdamW) and opt.defaults["fused"] is True
    torch.manual_seed(0)
    a = [torch.randn(5, 3, requires_grad=True), torch.randn(7, requires_grad=True)]
    b = [p.detach().clone().requires_grad_() for p in a]
    start = [p.detach().clone() for p in a]
    fused = torch.optim.AdamW(a, lr=1e-2, weight_decay=0.1, fused=True)
    loop = torch.optim.AdamW(b, lr=1e-2, weight_decay=0.1, foreach=False)
    for _ in range(20):
        g = [torch.randn_like(p) for p in a]
        for params, opt in ((a, fused), (b, loop)):
            for p, gi in zip(params, g, strict=True):
                p.grad = gi.clone()
            opt.step()
    for p, q in zip(a, b, strict=True):
        assert torch.allclose(p, q, atol=1e-6, rtol=1e-5)
    assert all((p - s).abs().max() > 0.05 for p, s in zip(a, start, strict=True))  # it moved


def test_a_run_from_before_a_config_field_was_added_still_resumes(tmp_path):
    """run.json of a run trained before a config field existed (NADE's ``likelihood``,
    added 2026-12-07) lacks the key; read at the field's default it is the same config,
    so --resume continues; a config that really differs is still refused."""
    import json

    from genzoo.errors import UserInputError

    class Binary(Dataset):
        kind, image_shape, num_classes, name = "binary", (1, 2, 2), None, "tiny"

        def __len__(self) -> int:
            return 4

        def __getitem__(self, i: int):
            return (torch.arange(4).reshape(1, 2, 2) + i).remainder(2).to(torch.uint8), -1

    def nade(hidden: int = 3):
        return genzoo.create_model("nade", image_shape=(1, 2, 2), kind="binary", hidden=hidden)

    cfg = {"batch_size": 2, "sample_every": 0, "progress": False, "accelerator": "cpu"}
    fit(nade(), Binary(), tmp_path / "run", TrainConfig(steps=1, **cfg))
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert meta["model_config"].pop("likelihood") == "categorical"
    (tmp_path / "run" / "run.json").write_text(json.dumps(meta))
    fit(nade(), Binary(), tmp_path / "run", TrainConfig(steps=2, **cfg), resume=True)
    with pytest.raises(UserInputError, match="another config"):
        fit(nade(4), Binary(), tmp_path / "run", TrainConfig(steps=3, **cfg), resume=True)
