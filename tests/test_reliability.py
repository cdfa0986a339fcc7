"""Runs are never lost or silently replaced: stale exports, plain resume, divergence, the
run lock, SIGTERM, leftovers of interrupted writes, and damaged files in one line."""

from __future__ import annotations

import copy
import csv
import json
import os
import shutil
import signal
import types

import pytest
import torch

import genzoo
from genzoo.cli import main
from genzoo.errors import CorruptFileError, NonFiniteLossError, RunBusyError
from genzoo.runs import Run
from genzoo.train.checkpoint import load_checkpoint
from genzoo.train.loop import TrainingInterrupted, fit
from test_train import NoisyBinary, cfg, make_model

TINY_PCNN = ["--model.hidden-channels", "4", "--model.num-blocks", "1"]
TINY_PCNN += ["--model.output-channels", "8"]
QUIET = ["--data", "digits", "--train.batch-size", "16", "--train.sample-every", "0"]
QUIET += ["--train.no-progress", "--train.log-every", "1"]


def _train(out, *extra):
    return main(["train", "pixelcnn", *TINY_PCNN, *QUIET, "--out", str(out), *extra])


def test_an_export_older_than_the_checkpoint_is_remade_from_it(tmp_path):
    run = tmp_path / "run"
    assert _train(run, "--train.steps", "2") == 0
    shutil.copytree(run / "model", tmp_path / "old-export")
    assert _train(run, "--resume", "--train.steps", "4") == 0
    # a kill after checkpoint.pt and before model/ leaves the step-2 export behind
    shutil.rmtree(run / "model")
    shutil.copytree(tmp_path / "old-export", run / "model")
    assert json.loads((run / "model" / "config.json").read_text())["step"] == 2
    state = load_checkpoint(run / "checkpoint.pt")
    model = genzoo.load(run)  # loads the checkpoint's weights, not the stale export's
    for k, v in model.state_dict().items():
        assert torch.equal(v, state["model"][k]), k
    assert json.loads((run / "model" / "config.json").read_text())["step"] == 4


def test_a_plain_resume_continues_the_runs_own_steps(tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(run, "--train.steps", "3") == 0
    assert _train(run, "--resume") == 0  # no --train.steps: the run's own 3, not 2000
    assert load_checkpoint(run / "checkpoint.pt")["step"] == 3
    capsys.readouterr()
    assert _train(run, "--resume", "--train.steps", "5", "--train.seed", "9") == 0
    out = capsys.readouterr().out
    assert load_checkpoint(run / "checkpoint.pt")["step"] == 5
    assert "ignored:" in out and "--train.seed" in out and "--data" in out  # named


def test_non_finite_weights_are_never_saved_and_a_resume_takes_a_lower_lr(tmp_path):
    model = make_model()
    real_step = model.training_step
    calls = {"n": 0}

    def poisoned(self, images, labels, ctx):
        out = real_step(images, labels, ctx)
        calls["n"] += 1
        if calls["n"] == 3:  # the weights blow up while the loss is still finite
            with torch.no_grad():
                next(self.parameters()).fill_(float("inf"))
        return out

    model.training_step = types.MethodType(poisoned, model)
    with pytest.raises(NonFiniteLossError, match="weights became non-finite at step 2"):
        fit(model, NoisyBinary(), tmp_path / "run", cfg(steps=6, checkpoint_every=2))
    state = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert state["step"] == 2
    assert all(torch.isfinite(v).all() for v in state["model"].values())
    # a resume with another learning rate uses it; everything else is the run's own
    resumed = make_model()
    fit(resumed, NoisyBinary(), tmp_path / "run", cfg(steps=4, lr=1e-4), resume=True)
    saved = load_checkpoint(tmp_path / "run" / "checkpoint.pt")["optimizers"]["model"]
    assert saved["param_groups"][0]["lr"] == 1e-4


def test_a_second_training_of_the_same_run_is_refused(tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(run, "--train.steps", "2") == 0
    with Run(run).lock():  # as if another process were training it
        assert _train(run, "--resume", "--train.steps", "3") == 2
        assert "being trained by another process" in capsys.readouterr().err
        with pytest.raises(RunBusyError):
            fit(make_model(), NoisyBinary(), run, cfg(steps=3), resume=True)
    assert _train(run, "--resume", "--train.steps", "3") == 0  # released with its holder


def test_sigterm_saves_a_checkpoint_like_ctrl_c(tmp_path):
    model = make_model()
    real_step = model.training_step
    calls = {"n": 0}

    def terminated(self, images, labels, ctx):
        out = real_step(images, labels, ctx)
        calls["n"] += 1
        if calls["n"] == 4:
            os.kill(os.getpid(), signal.SIGTERM)
        return out

    model.training_step = types.MethodType(terminated, model)
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(TrainingInterrupted, match="continue with --resume"):
        fit(model, NoisyBinary(), tmp_path / "run", cfg(steps=10, checkpoint_every=100))
    assert load_checkpoint(tmp_path / "run" / "checkpoint.pt")["step"] == 4
    assert signal.getsignal(signal.SIGTERM) == before


def test_leftovers_of_interrupted_writes_are_removed_on_the_next_start(tmp_path):
    run = tmp_path / "run"
    assert _train(run, "--train.steps", "2") == 0
    (run / ".checkpoint.pt.x1y2.tmp").write_bytes(b"half a checkpoint")
    (run / "model" / ".model.safetensors.a.tmp").write_bytes(b"half an export")
    assert _train(run, "--resume", "--train.steps", "3") == 0
    assert not list(run.glob(".*.tmp")) and not list((run / "model").glob(".*.tmp"))


def test_export_does_not_overwrite_without_force(tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(run, "--train.steps", "1") == 0
    assert main(["export", str(run), "--out", str(tmp_path / "e")]) == 0
    before = (tmp_path / "e" / "model.safetensors").read_bytes()
    assert main(["export", str(run), "--out", str(tmp_path / "e")]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["export", str(run), "--out", str(tmp_path / "e"), "--force"]) == 0
    assert (tmp_path / "e" / "model.safetensors").read_bytes() == before


def test_damaged_files_give_one_line(tmp_path, capsys):
    empty = tmp_path / "checkpoint.pt"
    empty.write_bytes(b"")
    with pytest.raises(CorruptFileError, match="unreadable"):
        load_checkpoint(empty)
    run = tmp_path / "run"
    assert _train(run, "--train.steps", "1") == 0
    meta = json.loads((run / "run.json").read_text())
    del meta["train"]
    (run / "run.json").write_text(json.dumps(meta))
    capsys.readouterr()
    assert _train(run, "--resume") == 2
    err = capsys.readouterr().err
    assert err.startswith("genzoo: error:") and "lacks the key 'train'" in err
    assert len(err.strip().splitlines()) == 1


def test_a_crafted_config_is_refused_before_anything_is_allocated(tmp_path):
    from genzoo.registry import create_model
    from genzoo.train.checkpoint import export_model, load_export

    export_model(create_model("pixelcnn", image_shape=(1, 4, 4), hidden_channels=4), tmp_path)
    meta = json.loads((tmp_path / "config.json").read_text())
    meta["config"]["hidden_channels"] = 10**6  # about 10^13 parameters
    (tmp_path / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CorruptFileError, match="refusing to build it"):
        load_export(tmp_path)
    meta["config"]["hidden_channels"] = "many"
    (tmp_path / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CorruptFileError, match="wrong type"):
        load_export(tmp_path)


def test_a_run_that_cannot_be_written_can_still_be_evaluated(tmp_path, monkeypatch, capsys):
    import genzoo.runs

    run = tmp_path / "run"
    assert _train(run, "--train.steps", "1") == 0

    def read_only(path, data):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(genzoo.runs, "write_json", read_only)
    assert main(["eval", str(run), "--n", "5"]) == 0
    out = capsys.readouterr().out
    assert "nats/image" in out and "not writable" in out
    assert not (run / "eval").exists()


def test_an_accelerator_that_is_not_here_is_one_line(tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert _train(tmp_path / "run", "--train.steps", "1", "--train.accelerator", "cuda") == 2
    err = capsys.readouterr().err
    assert err.startswith("genzoo: error:") and len(err.strip().splitlines()) == 1


def test_a_run_stopped_before_its_first_checkpoint_resumes_from_step_zero(tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(run, "--train.steps", "2") == 0
    (run / "checkpoint.pt").unlink()  # as if killed before the first checkpoint
    shutil.rmtree(run / "model")
    assert _train(run, "--train.steps", "2") == 2
    assert "stopped before its first checkpoint" in capsys.readouterr().err
    assert _train(run, "--resume") == 0
    assert load_checkpoint(run / "checkpoint.pt")["step"] == 2


def test_force_never_moves_the_current_folder_and_seeds_are_range_checked(
    tmp_path, monkeypatch, capsys
):
    (tmp_path / "something").write_text("a user's file")
    monkeypatch.chdir(tmp_path)
    assert _train(".", "--train.steps", "1", "--force") == 2
    assert "current folder" in capsys.readouterr().err
    assert (tmp_path / "something").read_text() == "a user's file"
    assert _train(tmp_path / "r", "--train.seed", str(2**64)) == 2
    err = capsys.readouterr().err
    assert "--train.seed must be in [0, 2^32)" in err and len(err.strip().splitlines()) == 1


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def test_a_hostile_checkpoint_is_refused_without_torchs_advice_to_unpickle(tmp_path):
    path = tmp_path / "checkpoint.pt"
    torch.save({"format": 1, "step": 1, "evil": _Evil()}, path)
    with pytest.raises(CorruptFileError) as err:
        load_checkpoint(path)
    assert "weights_only=False" not in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "PWNED").exists()


def test_a_damaged_metrics_log_skips_the_curves_and_says_so(tmp_path):
    from genzoo.report.page import _curves_figure

    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "metrics.csv").write_bytes(b"step,name,value\n\xff\xfe\x00garbage")
    (figure,) = _curves_figure(tmp_path)
    assert "could not be read" in figure.caption


def test_a_bogus_device_is_one_line(tmp_path, capsys):
    from genzoo.registry import create_model
    from genzoo.train.checkpoint import export_model

    export_model(create_model("pixelcnn", image_shape=(1, 4, 4), hidden_channels=4), tmp_path / "m")
    argv = ["sample", str(tmp_path / "m"), "--device", "bogus", "--out", str(tmp_path / "s.png")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--device 'bogus'" in err and len(err.strip().splitlines()) == 1


def test_a_non_finite_gradient_under_default_clipping_is_one_clear_error(tmp_path):
    model = make_model()
    real_loss = model.loss

    def infinite_gradient(self, images, labels=None):
        out = real_loss(images, labels)
        p = next(self.parameters())
        out["loss"] = out["loss"] + torch.sqrt((p - p.detach()).abs()).sum()  # 0, grad inf
        return out

    model.loss = types.MethodType(infinite_gradient, model)
    with pytest.raises(NonFiniteLossError, match="gradient norm of 'model' became non-finite"):
        fit(model, NoisyBinary(), tmp_path / "run", cfg(steps=3, grad_clip=1.0))


def test_a_full_disk_on_save_is_one_line_and_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    import errno

    import genzoo.runs
    from genzoo.errors import RunWriteError

    run = tmp_path / "run"
    fit(make_model(), NoisyBinary(), run, cfg(steps=3, checkpoint_every=3))
    before = (run / "checkpoint.pt").read_bytes()

    def full(path, state):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(genzoo.runs, "save_checkpoint", full)
    with pytest.raises(RunWriteError, match="No space left on device"):
        fit(make_model(), NoisyBinary(), run, cfg(steps=6, checkpoint_every=3), resume=True)
    assert (run / "checkpoint.pt").read_bytes() == before


# -- round three (issue 26) ---------------------------------------------------------------


def _one_line_error(capsys, *words):
    err = capsys.readouterr().err
    assert err.startswith("genzoo: error:") and len(err.strip().splitlines()) == 1, err
    for word in words:
        assert word in err, (word, err)
    return err


def test_a_refused_start_leaves_nothing_behind_and_a_rerun_accepts_the_folder(tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(run, "--train.steps", "1", "--train.batch-size", "5000") == 2
    _one_line_error(capsys, "--train.batch-size 5000 exceeds")
    assert not run.exists()
    assert _train(run, "--train.steps", "1") == 0  # a plain rerun with another batch
    # refused after the lock (by the model's optimizers): a folder the user made stays, empty
    (tmp_path / "mine").mkdir()
    pg = ["train", "progan", "--data", "digits", "--image-size", "8", "--train.ema-decay", "0.5"]
    assert main([*pg, "--train.no-progress", "--out", str(tmp_path / "mine")]) == 2
    _one_line_error(capsys, "--train.ema-decay 0")
    assert (tmp_path / "mine").is_dir() and not list((tmp_path / "mine").iterdir())


def test_a_start_refused_at_its_first_step_removes_its_run_json_and_logs(tmp_path):
    from genzoo.errors import UserInputError

    model = make_model()

    def refuse(self, images, labels, ctx):
        raise UserInputError("this model refuses its first batch")

    model.training_step = types.MethodType(refuse, model)
    with pytest.raises(UserInputError, match="refuses its first batch"):
        fit(model, NoisyBinary(), tmp_path / "run", cfg(steps=3))
    assert not (tmp_path / "run").exists()
    fit(make_model(), NoisyBinary(), tmp_path / "run", cfg(steps=3))  # no --force needed
    assert load_checkpoint(tmp_path / "run" / "checkpoint.pt")["step"] == 3


def test_a_run_whose_checkpoint_is_lost_says_what_is_missing_and_what_to_do(tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(run, "--train.steps", "2") == 0
    (run / "checkpoint.pt").unlink()  # the export (model/, step 2) is still there
    exported = (run / "model" / "model.safetensors").read_bytes()
    capsys.readouterr()
    for extra in (["--resume"], []):
        assert _train(run, *extra) == 2
        _one_line_error(capsys, "checkpoint.pt is missing", "step 2", "restore", "--force")
    assert (run / "model" / "model.safetensors").read_bytes() == exported  # not retrained
    assert main(["sample", str(run), "-n", "2", "--out", str(tmp_path / "s.png")]) == 0
    assert _train(run, "--train.steps", "1", "--force") == 0  # the way out it names


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError(
            "[enforce fail at inline_container.cc:778] . PytorchStreamWriter failed writing "
            "file data/3: file write failed"
        ),
        RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos 64 vs 0"),
        OSError(28, "No space left on device"),
    ],
)
def test_a_full_disk_in_torchs_zip_writer_is_one_line_naming_the_disk(
    tmp_path, monkeypatch, capsys, error
):
    run = tmp_path / "run"
    assert _train(run, "--train.steps", "2") == 0
    before = (run / "checkpoint.pt").read_bytes()
    real_save = torch.save

    def full_disk(obj, f, *args, **kwargs):
        with open(f, "wb") as out:
            out.write(b"PK\x03\x04 half a zip")  # what a writer leaves as the disk fills
        raise error

    monkeypatch.setattr(torch, "save", full_disk)
    capsys.readouterr()
    assert _train(run, "--resume", "--train.steps", "4") == 2
    err = _one_line_error(capsys, "cannot write the checkpoint", "free on the disk", "--resume")
    assert "the disk is full" in err or "the disk refused the write" in err
    monkeypatch.setattr(torch, "save", real_save)
    assert (run / "checkpoint.pt").read_bytes() == before
    assert not list(run.glob(".*.tmp"))
    assert _train(run, "--resume", "--train.steps", "4") == 0  # once there is space again


def test_a_bug_in_the_writer_is_not_called_a_full_disk(tmp_path, monkeypatch):
    def broken(obj, f, *args, **kwargs):
        raise RuntimeError("some other bug")

    monkeypatch.setattr(torch, "save", broken)
    with pytest.raises(RuntimeError, match="some other bug"):
        fit(make_model(), NoisyBinary(), tmp_path / "run", cfg(steps=3))


def test_leftovers_of_interrupted_sample_grids_are_removed_on_the_next_start(tmp_path):
    run = tmp_path / "run"
    assert _train(run, "--train.steps", "2", "--train.sample-every", "2") == 0
    assert (run / "samples" / "step_0000002.png").is_file()
    leftover = run / "samples" / ".step_0000004.png.k9x2.tmp"  # a kill -9 during a grid
    leftover.write_bytes(b"half a png")
    assert _train(run, "--resume", "--train.steps", "3") == 0
    assert not leftover.exists() and (run / "samples" / "step_0000002.png").is_file()


def test_a_config_whose_network_overflows_is_refused_in_one_line(tmp_path, capsys):
    from genzoo.registry import create_model
    from genzoo.train.checkpoint import export_model

    export_model(create_model("pixelcnn", image_shape=(1, 4, 4), hidden_channels=4), tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "config.json").read_text())
    for channels in (10**9, 10**18, 10**30):  # overflows torch's size arithmetic
        meta["config"]["hidden_channels"] = channels
        (tmp_path / "m" / "config.json").write_text(json.dumps(meta))
        argv = ["sample", str(tmp_path / "m"), "-n", "1", "--out", str(tmp_path / "s.png")]
        assert main(argv) == 2
        _one_line_error(capsys, "config.json")
        assert not (tmp_path / "s.png").exists()


@pytest.mark.parametrize("name", ["\\foo", "$\\foo$", "$x^$", "a$b$c\\"])
def test_metric_names_are_drawn_as_text_never_as_tex(tmp_path, name):
    from genzoo.report.page import _curves_figure

    (tmp_path / "logs").mkdir()
    with (tmp_path / "logs" / "metrics.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerows([["step", "name", "value"], [1, name, 0.5], [2, name, 0.25], [1, "loss", 1]])
    (figure,) = _curves_figure(tmp_path)
    assert figure.png.startswith(b"\x89PNG")


def test_a_resume_at_a_fixed_thread_count_gives_the_uninterrupted_weights_bit_for_bit(
    tmp_path,
):
    fixed = ["--train.threads", "1", "--train.checkpoint-every", "2"]
    assert _train(tmp_path / "whole", "--train.steps", "5", *fixed) == 0
    assert _train(tmp_path / "parts", "--train.steps", "2", *fixed) == 0
    assert _train(tmp_path / "parts", "--resume", "--train.steps", "5") == 0  # keeps threads 1
    whole = load_checkpoint(tmp_path / "whole" / "checkpoint.pt")
    parts = load_checkpoint(tmp_path / "parts" / "checkpoint.pt")
    assert whole["step"] == parts["step"] == 5
    for k, v in whole["model"].items():
        assert torch.equal(v, parts["model"][k]), k
    for key in ("exp_avg", "exp_avg_sq"):
        for i, st in whole["optimizers"]["model"]["state"].items():
            assert torch.equal(st[key], parts["optimizers"]["model"]["state"][i][key]), key
    digest = main(["eval", str(tmp_path / "whole"), "--n", "5"])
    assert (
        digest == 0
        and Run(tmp_path / "whole").weights_digest() == Run(tmp_path / "parts").weights_digest()
    )


def test_the_readme_says_when_a_resume_is_bit_exact():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    sentence = readme[readme.index("`--resume` continues with the run's own settings") :]
    sentence = sentence[: sentence.index("A resume takes")]
    assert "same weights as an uninterrupted" in sentence
    assert "--train.threads" in sentence and "auto" in sentence


# -- found by the fuzzer (tests/test_fuzz.py) ----------------------------------------------


def test_settings_of_the_wrong_type_in_a_file_are_one_line_naming_the_setting(tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(run, "--train.steps", "1") == 0
    meta = json.loads((run / "run.json").read_text())
    for section, key, value in [
        ("train", "devices", None),  # was: AttributeError: 'NoneType' object has no ...
        ("train", "batch_size", "16"),
        ("train", "compile", 1),
        ("model_config", "hidden_channels", 4.5),
    ]:
        broken = copy.deepcopy(meta)
        broken[section][key] = value
        (run / "run.json").write_text(json.dumps(broken))
        assert _train(run, "--resume", "--train.steps", "2") == 2
        _one_line_error(capsys, f"{key} must be")
    recipe = tmp_path / "r.toml"
    recipe.write_text('[train]\nlr = "fast"\n')
    assert main(["train", "pixelcnn", "--config", str(recipe), "--print-config"]) == 2
    _one_line_error(capsys, "lr must be a number")


def test_a_crafted_run_json_is_refused_before_its_network_is_built(tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(run, "--train.steps", "1") == 0
    meta = json.loads((run / "run.json").read_text())
    meta["model_config"]["hidden_channels"] = 10**9  # was: RuntimeError from the allocation
    (run / "run.json").write_text(json.dumps(meta))
    assert _train(run, "--resume", "--train.steps", "2") == 2
    _one_line_error(capsys, "run.json describes a network that cannot be built")


def test_crafted_layer_counts_chains_and_image_sizes_are_refused_before_allocation(tmp_path):
    from genzoo.errors import UserInputError
    from genzoo.registry import create_model
    from genzoo.train.checkpoint import export_model, load_export

    def crafted(name, shape, kind, tiny, section, key, value):
        folder = tmp_path / f"{name}-{key}"
        export_model(create_model(name, image_shape=shape, kind=kind, **tiny), folder)
        meta = json.loads((folder / "config.json").read_text())
        meta[section][key] = value
        (folder / "config.json").write_text(json.dumps(meta))
        return folder

    vae = {"latent_dim": 2, "hidden": 8, "hidden_layers": 1}
    layers = crafted("vae", (1, 4, 4), "8bit", vae, "config", "hidden_layers", 10**9)
    with pytest.raises(CorruptFileError, match="more than 5,000 weight tensors"):
        load_export(layers)  # was: hours of building layers on the meta device
    dbm = {"hidden": (4, 3), "num_chains": 3}
    chains = crafted("dbm", (1, 4, 4), "binary", dbm, "config", "num_chains", 10**9)
    with pytest.raises(CorruptFileError, match="parameters and buffers"):
        load_export(chains)  # was: DefaultCPUAllocator: can't allocate memory
    side = crafted("pixelcnn", (1, 4, 4), "8bit", {"hidden_channels": 4}, "data", "image_shape",
                   [1, 10**5, 10**5])  # fmt: skip
    with pytest.raises(UserInputError, match="values per example"):
        load_export(side)  # was: sampling 10^10 pixels, one at a time


def test_a_damaged_data_table_in_run_json_is_one_line(tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(run, "--train.steps", "1") == 0
    meta = json.loads((run / "run.json").read_text())
    for data in (None, [], {"root": None}, {"spec": "digits", "seed": "0"}):
        (run / "run.json").write_text(json.dumps(meta | {"data": data}))
        assert main(["eval", str(run), "--n", "4"]) == 2  # was: AttributeError, KeyError
        _one_line_error(capsys, "'data' must be a table with a 'spec'")
        assert _train(run, "--resume", "--train.steps", "2") == 2  # was: ValueError
        _one_line_error(capsys, "'data' must be a table")


def test_a_checkpoint_whose_weights_do_not_match_run_json_is_one_line(tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(run, "--train.steps", "1") == 0
    state = load_checkpoint(run / "checkpoint.pt")
    state["model"] = {("x" + k): v for k, v in state["model"].items()}  # a damaged key
    torch.save(state, run / "checkpoint.pt")
    meta = json.loads((run / "model" / "config.json").read_text())
    (run / "model" / "config.json").write_text(json.dumps(meta | {"step": 0}))  # stale
    assert main(["sample", str(run), "-n", "1", "--out", str(tmp_path / "s.png")]) == 2
    _one_line_error(capsys, "does not match the model of run.json")  # was: RuntimeError


def test_recipe_values_of_the_wrong_type_and_line_breaks_in_names_are_one_line(tmp_path, capsys):
    recipe = tmp_path / "r.toml"
    recipe.write_text("out = false\n")  # was: TypeError from Path(False)
    assert main(["train", "pixelcnn", "--config", str(recipe), "--print-config"]) == 2
    _one_line_error(capsys, "out must be a string")
    recipe.write_text('[model]\n"a\\nb" = 1\n')  # a key holding a line break
    assert main(["train", "pixelcnn", "--config", str(recipe), "--print-config"]) == 2
    _one_line_error(capsys, 'unknown setting(s) "a\\nb"')


def test_a_scale_that_would_allocate_a_giant_picture_is_refused(tmp_path, capsys):
    from genzoo.registry import create_model
    from genzoo.train.checkpoint import export_model

    export_model(create_model("pixelcnn", image_shape=(1, 4, 4), hidden_channels=4), tmp_path / "m")
    argv = ["sample", str(tmp_path / "m"), "-n", "1", "--out", str(tmp_path / "s.png")]
    assert main([*argv, "--scale", str(10**9)]) == 2  # was: tens of GB, then the OOM killer
    _one_line_error(capsys, "--scale 1000000000 would make")
    assert not (tmp_path / "s.png").exists()
