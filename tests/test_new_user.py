"""What a new user hit (issue 16): each test fails on the code before the fix."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from genzoo.cli import main
from genzoo.registry import create_model
from genzoo.train.checkpoint import export_model
from helpers import TINY


def test_a_mistyped_run_is_named_even_when_the_default_out_file_exists(tmp_path, capsys):
    (tmp_path / "samples.png").write_bytes(b"an old picture")  # the cwd is tmp_path's sibling
    assert (
        main(["sample", str(tmp_path / "runz/pcnn"), "--out", str(tmp_path / "samples.png")]) == 2
    )
    err = capsys.readouterr().err
    assert "runz/pcnn" in err and "neither a run directory" in err


def test_ctrl_c_outside_training_says_interrupted_without_resume(monkeypatch, capsys):
    import genzoo.cli as cli

    def interrupted(argv):
        raise KeyboardInterrupt()

    monkeypatch.setitem(cli.COMMANDS, "sample", ("", interrupted))
    assert main(["sample"]) == 130
    assert capsys.readouterr().err == "genzoo: interrupted\n"


def test_bars_print_lines_not_carriage_returns_when_stderr_is_a_log(capsys):
    from genzoo import progress

    with progress.bar(3, "working", "step") as shown:
        for _ in range(3):
            shown.update(1)
    err = capsys.readouterr().err
    assert "\r" not in err and "working" in err and err.endswith("\n")


@pytest.mark.parametrize(
    "name,kind,options,unit",
    [
        ("rbm", "binary", ["--gibbs-steps", "5"], "sweep"),
        ("pixelcnn", "8bit", [], "pixel"),
        ("pixelcnn", "8bit", ["--sampler", "naive"], "pixel"),
        ("pixelrnn", "8bit", [], "pixel"),
    ],
)
def test_sample_shows_progress(name, kind, options, unit, tmp_path, capsys):
    model = create_model(name, image_shape=(1, 4, 4), kind=kind, **TINY[name])
    export_model(model, tmp_path / "m")
    argv = ["sample", str(tmp_path / "m"), "-n", "2", *options]
    assert main([*argv, "--out", str(tmp_path / "s.png")]) == 0
    err = capsys.readouterr().err
    assert "sampling" in err and unit in err and "\r" not in err


def test_a_conditional_model_samples_without_labels_and_says_which(tmp_path, capsys):
    model = create_model(
        "gated-pixelcnn", image_shape=(1, 4, 4), num_classes=3, conditional=True,
        **TINY["gated-pixelcnn"],
    )  # fmt: skip
    export_model(model, tmp_path / "m")
    argv = ["sample", str(tmp_path / "m"), "-n", "4", "--sampler", "naive"]
    assert main([*argv, "--out", str(tmp_path / "s.png")]) == 0
    assert "labels 0-2 in turn" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv,hint",
    [
        (["train", "pixelcn"], "did you mean 'pixelcnn'"),
        (["train", "pixelcnn", "--data", "fmnist", "--out", "{tmp}/x"], "'fashion-mnist'"),
        (["eval", "{tmp}/m", "--metrics", "fdi", "--data", "digits"], "did you mean 'fid'"),
    ],
)
def test_typos_get_a_suggestion(argv, hint, tmp_path, capsys):
    export_model(create_model("gan", image_shape=(1, 8, 8), **TINY["gan"]), tmp_path / "m")
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 2
    assert hint in capsys.readouterr().err


def test_latent_views_of_a_gan_do_not_send_the_user_in_circles(tmp_path, capsys):
    export_model(create_model("gan", image_shape=(1, 8, 8), **TINY["gan"]), tmp_path / "gan")
    gan = str(tmp_path / "gan")
    assert main(["viz", "manifold", gan, "--out", str(tmp_path / "m.png")]) == 2
    manifold = capsys.readouterr().err
    assert "latents" not in manifold and "interpolate" in manifold
    assert main(["viz", "latents", gan, "--out", str(tmp_path / "l.png")]) == 2
    latents = capsys.readouterr().err
    assert "manifold" not in latents and "interpolate" in latents


def test_a_run_without_a_checkpoint_says_what_to_do(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"model": "pixelcnn", "data": {"spec": "digits"}}))
    assert main(["sample", str(run), "--out", str(tmp_path / "s.png")]) == 2
    err = capsys.readouterr().err
    assert "no checkpoint yet" in err and "--resume" in err and "--out folder" not in err


def test_training_sample_grids_are_readable(tmp_path):
    tiny = [
        "--model.hidden-channels",
        "4",
        "--model.num-blocks",
        "1",
        "--model.output-channels",
        "8",
    ]
    loop = ["--train.steps", "2", "--train.batch-size", "8", "--train.sample-every", "2"]
    loop += ["--train.num-samples", "4", "--train.no-progress"]
    argv = ["train", "pixelcnn", "--data", "digits", *tiny, *loop, "--out", str(tmp_path / "r")]
    assert main(argv) == 0
    grid = Image.open(tmp_path / "r" / "samples" / "step_0000002.png")
    assert grid.size[0] >= 2 * 56  # two 8x8 tiles per row, each enlarged to about 56 px


def test_the_entry_point_reads_the_policy_before_torch_and_a_users_setting_wins():
    import os
    import subprocess
    import sys

    code = (
        "import os, sys; from genzoo.cli import main; r = main(['--version']); "
        "print(os.environ.get('OMP_WAIT_POLICY'), 'torch' in sys.modules, r)"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GENZOO_THREADS")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.split()[-3:] == ["None", "False", "0"]  # OpenMP's own, torch not loaded
    env["OMP_WAIT_POLICY"] = "PASSIVE"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.split()[-3:] == ["PASSIVE", "False", "0"]
    env["GENZOO_THREADS"] = "many"  # a bad value is one line, before torch loads
    code = code.replace("['--version']", "['data', 'list']")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.split()[-3:] == ["PASSIVE", "False", "2"]
    assert "GENZOO_THREADS" in out.stderr


def test_threads_option_and_environment(tmp_path, monkeypatch, capsys):
    import torch

    before = torch.get_num_threads()
    tiny = ["--model.hidden-channels", "4", "--model.num-blocks", "1"]
    tiny += ["--model.output-channels", "8", "--train.steps", "1", "--train.batch-size", "8"]
    tiny += ["--train.sample-every", "0", "--train.no-progress"]
    try:
        argv = ["train", "pixelcnn", "--data", "digits", *tiny, "--train.threads", "2"]
        assert main([*argv, "--out", str(tmp_path / "r")]) == 0
        assert "CPU: threads 2" in capsys.readouterr().out and torch.get_num_threads() == 2
        monkeypatch.setenv("GENZOO_THREADS", "many")
        assert main(["data", "list"]) == 2
        assert "GENZOO_THREADS" in capsys.readouterr().err
    finally:
        torch.set_num_threads(before)


def test_a_training_bar_in_a_log_prints_a_few_lines_with_a_real_rate(tmp_path, capsys):
    tiny = ["--model.hidden-channels", "4", "--model.num-blocks", "1"]
    tiny += ["--model.output-channels", "8", "--train.steps", "12", "--train.batch-size", "8"]
    tiny += ["--train.sample-every", "0", "--train.log-every", "1"]
    assert main(["train", "pixelcnn", "--data", "digits", *tiny, "--out", str(tmp_path / "r")]) == 0
    lines = [x for x in capsys.readouterr().err.splitlines() if x.startswith("training")]
    assert 1 <= len(lines) <= 3  # the start and the end, not one line per logged step
    assert "img/s=0," not in lines[-1] and "img/s=0]" not in lines[-1]
