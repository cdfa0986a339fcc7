"""Every ``genzoo`` command of the README runs, in order, as a small-step version of itself.

The README cannot drift from the program: each command line of its code blocks is run
through :func:`genzoo.cli.main` in a temporary folder and must exit 0. "Small-step" means
the same command with sizes a test affords, and nothing else changed:

- data: every Fashion-MNIST/MNIST-based dataset keeps its name and reads small files made
  here (``--data-root``); CIFAR-10 (3 channels, not on this machine) becomes the 8x8
  digits; an image folder (CelebA) becomes a folder of small PNGs made here;
- training: the tiny model of tests/helpers.py first (the README's own ``--model.*``
  options still apply, they come later), then a few steps, small batches, no periodic
  grids; a recipe's steps and time budget are overridden the same way;
- sampling and evaluation: a few samples, examples, importance samples, annealing steps,
  AIS runs and Gibbs sweeps instead of thousands; sample metrics on raw pixels where the
  command does not name its features (the Inception path has tests of its own), and the
  domain classifier trained for 20 steps.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import socket
from pathlib import Path

import numpy as np
from PIL import Image

from genzoo.cli import main
from helpers import TINY
from test_evaluation import _write_idx_dataset

ROOT = Path(__file__).resolve().parents[1]
SHOWS_AN_ERROR = {"genzoo eval runs/gan --split test": "defines no density"}
"""README lines that demonstrate a one-line error (exit 2), with what it must say."""
IDX_DATASETS = ("fashion-mnist", "mnist", "binarized-mnist", "binarized-fashion-mnist")
LOOP = ["--train.steps", "2", "--train.batch-size", "8", "--train.sample-every", "0"]
LOOP += ["--train.checkpoint-every", "2", "--train.max-minutes", "0", "--train.no-progress"]
SMALLER = {  # option -> the value a test affords
    "-n": "4", "--n": "10", "--iwae-k": "4", "--ais-steps": "3", "--ais-runs": "2",
    "--ais-betas": "20", "--gibbs-steps": "3", "--steps": "4",
}  # fmt: skip


def readme_commands() -> list[str]:
    """The genzoo command lines of the README's code blocks, in order, comments dropped."""
    text = (ROOT / "README.md").read_text()
    lines = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.S):
        for line in block.splitlines():
            for part in line.split("  #")[0].split(";"):
                if part.strip().startswith("genzoo "):
                    lines.append(part.strip())
    return lines


def _flags(config: dict) -> list[str]:
    out = []
    for key, value in config.items():
        if isinstance(value, tuple):
            value = ",".join(map(str, value))
        out += [f"--model.{key.replace('_', '-')}", str(value).lower()]
    return out


def small(line: str, data: dict[str, Path]) -> list[str]:
    """The small-step version of one README command (see the module docstring)."""
    argv = shlex.split(line)[1:]
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--data" and i + 1 < len(argv):
            spec = argv[i + 1]
            base = spec.partition(":")[0]
            if base in IDX_DATASETS:
                out += ["--data", spec, "--data-root", str(data["idx"])]
            elif base == "cifar10":
                out += ["--data", "digits"]
            elif base == "image-folder":
                out += ["--data", f"image-folder:{data['images']}"]
            else:
                out += ["--data", spec]
            i += 2
            continue
        if arg == "--config" and i + 1 < len(argv):
            out += ["--config", str(ROOT / argv[i + 1])]
            i += 2
            continue
        if arg in SMALLER and i + 1 < len(argv):
            out += [arg, SMALLER[arg]]
            i += 2
            continue
        out.append(arg)
        i += 1
    command = out[0]
    if command == "train":
        model = out[1]
        out[2:2] = _flags(TINY[model])
        if "--resume" not in out:
            out += LOOP
            if "--data" not in out:  # a recipe names its own dataset: use the small files
                out += ["--data-root", str(data["idx"])]
    elif command == "eval" or command == "compare" or command == "report":
        if "--n" not in out:
            out += ["--n", "10"]
        if "--features" not in out:
            out += ["--features", "pixel"]
        out += ["--ais-runs", "2", "--ais-betas", "20", "--iwae-k", "4"]
    elif command == "viz" and out[1] == "chain":
        out += ["--steps", "4", "--every", "2"]
    elif command == "app":  # a free port; the test's Ctrl-C comes at once (see below)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            out += ["--port", str(s.getsockname()[1])]
    return out


def _image_folder(folder: Path) -> Path:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for k in range(24):
        pixels = rng.integers(0, 256, (20, 16, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{k:03d}.png")
    return folder


def test_every_readme_command_runs(tmp_path, capsys, monkeypatch):
    import genzoo.metrics.domain

    monkeypatch.setattr(genzoo.metrics.domain, "MIN_STEPS", 20)

    def ctrl_c() -> None:  # `genzoo app` serves until Ctrl-C: press it at once
        raise KeyboardInterrupt

    monkeypatch.setattr("genzoo.app.idle", ctrl_c)
    has_gradio = importlib.util.find_spec("gradio") is not None
    data = {"idx": tmp_path / "idx", "images": _image_folder(tmp_path / "faces")}
    _write_idx_dataset(data["idx"], seed=0, n_train=48, n_test=24)
    for name in ("train", "t10k"):  # MNIST's files have the same names: one folder for both
        assert (data["idx"] / f"{name}-images-idx3-ubyte.gz").is_file()
    commands = readme_commands()
    assert len(commands) > 40
    for line in commands:
        if line.startswith("genzoo app") and not has_gradio:
            continue  # the optional extra (pip install 'genzoo[app]') is not installed
        argv = small(line, data)
        code = main(argv)
        err = capsys.readouterr().err
        if line in SHOWS_AN_ERROR:
            assert code == 2 and SHOWS_AN_ERROR[line] in err, err
            continue
        assert code == 0, f"README command failed: {line}\n  ran: genzoo {shlex.join(argv)}\n{err}"
