"""The command line end to end, in a temporary folder, on scikit-learn's 8x8 digits."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from PIL import Image

import genzoo
from genzoo.cli import main

TINY_ARGS = [
    "--data", "digits",
    "--model.hidden-channels", "6", "--model.num-blocks", "1", "--model.output-channels", "12",
    "--train.steps", "8", "--train.batch-size", "16", "--train.sample-every", "4",
    "--train.num-samples", "4", "--train.log-every", "2", "--train.checkpoint-every", "4",
    "--train.no-progress", "--train.accelerator", "cpu",
]  # fmt: skip


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", "pixelcnn", *TINY_ARGS, "--out", str(out)]) == 0
    return out


def test_train_writes_a_complete_run(run_dir):
    for f in [
        "run.json",
        "checkpoint.pt",
        "model/config.json",
        "model/model.safetensors",
        "logs/metrics.csv",
        "samples/step_0000004.png",
        "samples/step_0000008.png",
    ]:
        assert (run_dir / f).is_file(), f
    run = json.loads((run_dir / "run.json").read_text())
    assert run["model"] == "pixelcnn" and run["data"]["spec"] == "digits"
    assert run["data_spec"]["image_shape"] == [1, 8, 8] and run["train"]["steps"] == 8
    assert list((run_dir / "logs" / "tensorboard").glob("events.out.tfevents.*"))


def test_sample_and_complete_write_images(run_dir, tmp_path):
    assert (
        main(
            [
                "sample",
                str(run_dir),
                "-n",
                "6",
                "--seed",
                "1",
                "--out",
                str(tmp_path / "s.png"),
                "--scale",
                "1",
            ]
        )
        == 0
    )
    assert Image.open(tmp_path / "s.png").size == (
        3 * 10 + 2,
        2 * 10 + 2,
    )  # 3 per row, 2 px padding
    assert (
        main(
            [
                "sample",
                str(run_dir),
                "--complete",
                "test:0-3",
                "--out",
                str(tmp_path / "c.png"),
                "--scale",
                "1",
            ]
        )
        == 0
    )
    assert Image.open(tmp_path / "c.png").size == (
        4 * 10 + 2,
        3 * 10 + 2,
    )  # given, completed, original
    # an existing file is not overwritten without --force
    assert main(["sample", str(run_dir), "-n", "2", "--out", str(tmp_path / "s.png")]) == 2


def test_eval_reports_nats_and_bits_per_dim(run_dir, capsys):
    assert main(["eval", str(run_dir), "--split", "test", "--n", "50"]) == 0
    out = capsys.readouterr().out
    assert "nats/image" in out and "bits/dim" in out and "exact" in out
    result = json.loads((run_dir / "eval" / "test.json").read_text())
    assert result["n"] == 50 and result["likelihood"] == "exact"
    nll = result["nll"]
    assert nll["bits_per_dim"] == pytest.approx(nll["nats_per_image"] / (64 * 0.6931471805599453))
    model = genzoo.load(run_dir)
    x = genzoo.data.load_dataset("digits", "test").images[:50]
    assert -model.log_prob(x).mean().item() == pytest.approx(nll["nats_per_image"], rel=1e-5)


def test_resume_continues_to_more_steps(run_dir, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    assert (
        main(
            [
                "train",
                "pixelcnn",
                "--out",
                str(copy),
                "--resume",
                "--train.steps",
                "10",
                "--train.no-progress",
            ]
        )
        == 0
    )
    from genzoo.train.checkpoint import load_checkpoint

    assert load_checkpoint(copy / "checkpoint.pt")["step"] == 10


def test_export_writes_a_loadable_model(run_dir, tmp_path):
    assert main(["export", str(run_dir), "--out", str(tmp_path / "exp")]) == 0
    a, b = genzoo.load(run_dir), genzoo.load(tmp_path / "exp")
    x = genzoo.data.load_dataset("digits", "test").images[:5]
    assert (a.log_prob(x) == b.log_prob(x)).all()


@pytest.mark.parametrize(
    "argv,message",
    [
        (["train", "nosuchmodel"], "unknown model 'nosuchmodel'; choose one of:"),
        (["train", "pixelcnn", "--data", "nosuchdata", "--out", "{tmp}/x"], "unknown dataset"),
        (["sample", "{tmp}/missing"], "neither a run directory"),
        (["frobnicate"], "unknown command"),
        (["train", "pixelcnn", "--out", "{tmp}/fresh", "--resume"], "drop --resume"),
        (["train", "pixelcnn", "--config", "{tmp}/none.toml"], "not found"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(argv, message, tmp_path, capsys):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("genzoo: error:") and message in err and "\n" not in err


def test_an_existing_run_is_refused_and_left_untouched(run_dir, capsys):
    before = (run_dir / "checkpoint.pt").read_bytes()
    assert main(["train", "pixelcnn", *TINY_ARGS, "--out", str(run_dir)]) == 2
    assert "--resume" in capsys.readouterr().err
    assert (run_dir / "checkpoint.pt").read_bytes() == before


def test_recipe_file_and_dotted_overrides(tmp_path, capsys):
    recipe = tmp_path / "r.toml"
    recipe.write_text('data = "digits"\n[model]\nhidden_channels = 12\n[train]\nlr = 0.01\n')
    assert (
        main(["train", "pixelcnn", "--config", str(recipe), "--train.lr", "0.5", "--print-config"])
        == 0
    )
    out = capsys.readouterr().out
    assert 'data = "digits"' in out and "hidden_channels = 12" in out and "lr = 0.5" in out
    assert main(["train", "pixelcnn", "--model.conditional", "true", "--print-config"]) == 0
    assert "conditional = true" in capsys.readouterr().out
    recipe.write_text('note = "a short run"\n')
    assert main(["train", "pixelcnn", "--config", str(recipe), "--print-config"]) == 0
    assert 'note = "a short run"' in capsys.readouterr().out
    recipe.write_text("epochs = 3\n")
    assert main(["train", "pixelcnn", "--config", str(recipe)]) == 2
    assert "unknown setting(s) epochs" in capsys.readouterr().err
    recipe.write_text("[model]\nhiden_channels = 12\n")
    assert main(["train", "pixelcnn", "--config", str(recipe)]) == 2
    assert "unknown setting(s) hiden_channels" in capsys.readouterr().err


def test_help_needs_no_torch():
    """`genzoo --help` and `genzoo train pixelcnn --help` import no torch, so answer at once."""
    code = (
        "import sys; from genzoo.cli import main\n"
        "for argv in (['--help'], ['train', 'pixelcnn', '--help']):\n"
        "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "--model.hidden-channels" in proc.stdout


def test_console_script_runs(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "genzoo.cli", "data", "list"], capture_output=True, text=True
    )
    assert (
        proc.returncode == 0
        and "fashion-mnist" in proc.stdout
        and "toy2d:8gaussians" in proc.stdout
    )


def test_every_recipe_in_configs_is_valid(capsys):
    """Each configs/MODEL-*.toml and configs/demo/MODEL.toml parses against its model's
    typed config."""
    from pathlib import Path

    from genzoo.registry import MODELS

    recipes = sorted((Path(__file__).parents[1] / "configs").glob("**/*.toml"))
    recipes = [r for r in recipes if r.name != "zoo.toml"]  # the zoo's manifest of recipes
    assert len([r for r in recipes if r.parent.name == "demo"]) == 3
    for recipe in recipes:
        stem = recipe.stem
        model = max((m for m in MODELS if stem == m or stem.startswith(m + "-")), key=len)
        assert main(["train", model, "--config", str(recipe), "--print-config"]) == 0, recipe
    capsys.readouterr()
