"""The zoo: adding a run, opening zoo:NAME everywhere a run is taken, the sha256 check, the
manifest, and every shipped model loaded from an *installed* copy of the package."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import genzoo.evaluation.run as evaluation_run
import genzoo.zoo
from genzoo.cli import main
from genzoo.errors import CorruptFileError, MissingFileError, UserInputError
from genzoo.evaluation.run import evaluate_run
from genzoo.evaluation.settings import EvalSettings
from genzoo.zoo import ZooRun, open_run, sha256_of
from genzoo.zoo.build import add_to_zoo, set_check, update_record

ROOT = Path(__file__).resolve().parents[1]

TINY_ARGS = [
    "--data", "digits",
    "--model.hidden-channels", "6", "--model.num-blocks", "1", "--model.output-channels", "12",
    "--train.steps", "6", "--train.batch-size", "16", "--train.sample-every", "0",
    "--train.checkpoint-every", "6", "--train.no-progress", "--train.accelerator", "cpu",
]  # fmt: skip

SETTINGS = EvalSettings(metrics=("nll",), n=32)


@pytest.fixture(scope="module")
def tiny_zoo(tmp_path_factory):
    """A zoo folder holding one tiny PixelCNN on the 8x8 digits, with stored figures."""
    base = tmp_path_factory.mktemp("zoo")
    run = base / "run"
    assert main(["train", "pixelcnn", *TINY_ARGS, "--out", str(run)]) == 0
    assert main(["eval", str(run), "--n", "32"]) == 0  # stores eval/test.json in the run
    root = base / "zoo"
    record = add_to_zoo(
        run, "tiny-digits", recipe="(test)", command="genzoo train pixelcnn ...",
        note="looked at: noise", settings={"metrics": ["nll"], "n": 32}, root=root,
    )  # fmt: skip
    return run, root, record


@pytest.fixture
def zoo_root(tiny_zoo, monkeypatch, tmp_path):
    """A fresh copy of the tiny zoo installed as the package's zoo for one test."""
    import shutil

    _, root, _ = tiny_zoo
    copy = tmp_path / "zoo"
    shutil.copytree(root, copy)
    monkeypatch.setattr(genzoo.zoo, "ZOO_DIR", copy)
    return copy


def test_add_to_zoo_records_the_run_as_it_is(tiny_zoo):
    run, root, record = tiny_zoo
    weights = root / "tiny-digits" / "model.safetensors"
    assert record["sha256"] == sha256_of(weights)
    assert weights.read_bytes() == (run / "model" / "model.safetensors").read_bytes()
    assert record["file_bytes"] == weights.stat().st_size
    model = genzoo.load(str(run))
    assert record["parameters"] == sum(p.numel() for p in model.parameters())
    assert record["steps"] == 6 and record["family"] == "pixelcnn"
    assert record["dataset"] == "digits" and record["density"] == "exact"
    stored = json.loads((run / "eval" / "test.json").read_text())
    assert record["figures"]["test"] == stored  # figures copied, never typed in
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["models"]["tiny-digits"] == record


def test_a_zoo_model_is_a_read_only_run_with_its_figures(zoo_root, tiny_zoo):
    run_dir, _, record = tiny_zoo
    run = open_run("zoo:tiny-digits")
    assert isinstance(run, ZooRun) and run.label == "zoo:tiny-digits"
    assert run.dataset_name == "digits" and len(run.dataset("test")) > 0
    x = run.dataset("test").images[:4]
    same = genzoo.load(str(run_dir)).log_prob(x)
    assert torch.allclose(run.load_model().log_prob(x), same)
    before = sorted(p.name for p in (zoo_root / "tiny-digits").iterdir())
    figures = evaluate_run(run, SETTINGS, reuse=True, progress=False, echo=None)
    assert figures["nll"] == record["figures"]["test"]["nll"]
    assert sorted(p.name for p in (zoo_root / "tiny-digits").iterdir()) == before  # no eval/


def test_a_float16_entry_halves_the_file_and_loads_as_float32(tiny_zoo, tmp_path):
    from safetensors.torch import load_file

    run_dir, root, record = tiny_zoo
    half = add_to_zoo(run_dir, "tiny-half", recipe="(test)", command="-", half=True,
                      root=tmp_path)  # fmt: skip
    stored = load_file(str(tmp_path / "tiny-half" / "model.safetensors"))
    full = load_file(str(root / "tiny-digits" / "model.safetensors"))
    assert {k: v.dtype for k, v in stored.items()} == {
        k: torch.float16 if v.dtype == torch.float32 else v.dtype for k, v in full.items()
    }
    assert half["file_bytes"] < 0.6 * record["file_bytes"] and "float16" in half["weights"]
    assert half["figures"] == {}  # the run's float32 figures are not the shipped file's
    model = ZooRun("tiny-half", root=tmp_path).load_model()
    assert all(p.dtype == torch.float32 for p in model.parameters())
    x = ZooRun("tiny-half", root=tmp_path).dataset("test").images[:8]
    exact = genzoo.load(str(run_dir)).log_prob(x)
    got = model.log_prob(x)
    assert not torch.equal(got, exact)  # rounded weights: not the same function
    assert torch.allclose(got, exact, rtol=1e-2)


def test_a_weight_beyond_float16_is_refused_and_the_file_kept(tmp_path):
    from safetensors.torch import save_file

    from genzoo.zoo.build import to_half

    path = tmp_path / "model.safetensors"
    save_file({"w": torch.tensor([1.0, 1e6]), "n": torch.tensor([3])}, str(path))
    before = path.read_bytes()
    with pytest.raises(UserInputError, match=r"w holds values up to 1e\+06.*float32"):
        to_half(path)
    assert path.read_bytes() == before


def test_stored_figures_are_reused_not_recomputed(zoo_root, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the stored figure should have been reused")

    monkeypatch.setattr(evaluation_run, "evaluate_likelihood", refuse)
    figures = evaluate_run("zoo:tiny-digits", SETTINGS, reuse=True, progress=False, echo=None)
    assert figures["nll"]["nats_per_image"] > 0
    with pytest.raises(AssertionError, match="reused"):  # other settings: computed again
        evaluate_run("zoo:tiny-digits", EvalSettings(n=16), reuse=True, progress=False)


def test_a_tampered_or_missing_file_is_refused(zoo_root, capsys):
    weights = zoo_root / "tiny-digits" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(CorruptFileError, match="sha256"):
        ZooRun("tiny-digits")
    assert main(["sample", "zoo:tiny-digits", "-n", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "altered" in err and "reinstall" in err
    weights.unlink()
    with pytest.raises(MissingFileError, match="missing"):
        ZooRun("tiny-digits")


def test_unknown_names_and_a_forgotten_prefix_get_one_line(zoo_root, capsys):
    with pytest.raises(UserInputError, match="did you mean 'tiny-digits'"):
        ZooRun("zoo:tiny-digit")
    assert main(["eval", "zoo:nothing"]) == 2
    assert "'genzoo zoo' lists them" in capsys.readouterr().err
    assert main(["sample", "tiny-digits", "-n", "2"]) == 2
    assert "zoo:tiny-digits" in capsys.readouterr().err


def test_commands_take_zoo_names(zoo_root, tmp_path, capsys):
    assert main(["sample", "zoo:tiny-digits", "-n", "4", "--out", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").is_file()
    out = tmp_path / "t.md"
    assert main(["compare", "zoo:tiny-digits", "--metrics", "nll", "--n", "32",
                 "--no-real-row", "--out", str(out)]) == 0  # fmt: skip
    assert "zoo:tiny-digits" in out.read_text()
    page = tmp_path / "r.html"
    assert main(["report", "zoo:tiny-digits", "--metrics", "nll", "--n", "32", "--no-real-row",
                 "--out", str(page)]) == 0  # fmt: skip
    assert "zoo:tiny-digits" in page.read_text() and "looked at: noise" in page.read_text()
    assert (
        main(["viz", "nearest", "zoo:tiny-digits", "--n", "2", "--out", str(tmp_path / "v.png")])
        == 0
    )
    assert main(["export", "zoo:tiny-digits", "--out", str(tmp_path / "exp")]) == 0
    assert genzoo.load(str(tmp_path / "exp")).name == "pixelcnn"
    assert main(["zoo"]) == 0
    text = capsys.readouterr().out
    assert "digits:" in text and "tiny-digits" in text and "nats" in text
    assert main(["zoo", "tiny-digits"]) == 0
    card = capsys.readouterr().out
    assert "sha256" in card and "looked at: noise" in card


def test_the_card_shows_an_inception_fid_only_where_one_was_measured(zoo_root, capsys):
    assert main(["zoo", "tiny-digits"]) == 0
    assert "Inception" not in capsys.readouterr().out
    command = "genzoo eval zoo:tiny-digits --metrics fid --features inception --n 50"
    update_record("tiny-digits", {"inception": {"fid": {"value": 41.237, "n_samples": 50}},
                                  "inception_command": command})  # fmt: skip
    assert main(["zoo", "tiny-digits"]) == 0
    assert f"Inception FID 41.24 at n = 50 (by: {command})" in capsys.readouterr().out


def test_the_check_figure_is_reproduced(zoo_root):
    settings = EvalSettings(metrics=("nll",), n=8)
    figures = evaluate_run("zoo:tiny-digits", settings, progress=False, echo=None)
    value = figures["nll"]["nats_per_image"]
    set_check("tiny-digits", {"settings": {"metrics": ["nll"], "n": 8}, "key": "nll",
                              "field": "nats_per_image", "value": value})  # fmt: skip
    check = genzoo.zoo.get("tiny-digits").record["check"]
    assert _reproduce(check, "tiny-digits") == pytest.approx(check["value"], rel=1e-6)


def _reproduce(check: dict, name: str) -> float:
    settings = dict(check["settings"])
    settings["metrics"] = tuple(settings["metrics"])
    figures = evaluate_run(f"zoo:{name}", EvalSettings(**settings), progress=False, echo=None)
    return figures[check["key"]][check["field"]]


def test_shipped_manifest_is_complete():
    """Every shipped entry carries its facts, its figures and a check; its file is there."""
    models = genzoo.zoo.read_manifest()["models"]
    for name, r in models.items():
        for key in ("family", "dataset", "recipe", "command", "parameters", "file_bytes",
                    "sha256", "steps", "train_seconds", "commit", "figures", "check"):  # fmt: skip
            assert r.get(key) not in (None, "", {}), (name, key)
        weights = genzoo.zoo.ZOO_DIR / name / "model.safetensors"
        assert weights.stat().st_size == r["file_bytes"], name
        assert r["figures"]["test"]["model_digest"] == r["sha256"][:16], name
    total = sum(r["file_bytes"] for r in models.values())
    assert total <= 60 * 2**20, f"the zoo holds {total / 2**20:.1f} MiB; the aim is <= 60"


@pytest.mark.skipif(
    not (genzoo.zoo.ZOO_DIR / "manifest.json").is_file(), reason="no zoo shipped yet"
)
def test_every_shipped_model_loads_from_an_installed_wheel(tmp_path):
    """Build the wheel, install it into a folder, and from there (not from src/) load every
    shipped model, check its sha256, and reproduce its check figure (wheels that drop
    package data are a known failure of other projects)."""
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(wheels), str(ROOT)],
        check=True, capture_output=True,
    )  # fmt: skip
    target = tmp_path / "site"
    (wheel,) = wheels.glob("genzoo-*.whl")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
         str(wheel)],
        check=True, capture_output=True,
    )  # fmt: skip
    script = textwrap.dedent(
        """
        import sys, genzoo.zoo as zoo
        from genzoo.evaluation.run import evaluate_run
        from genzoo.evaluation.settings import EvalSettings
        assert zoo.ZOO_DIR.is_relative_to(sys.argv[1]), zoo.ZOO_DIR
        for e in zoo.entries():
            run = zoo.ZooRun(e.name)            # checks the sha256
            model = run.load_model()
            check = dict(e.record["check"]["settings"])
            check["metrics"] = tuple(check["metrics"])
            figures = evaluate_run(run, EvalSettings(**check), progress=False, echo=None)
            got = figures[e.record["check"]["key"]][e.record["check"]["field"]]
            print(e.name, got, e.record["check"]["value"])
        """
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run(
        [sys.executable, "-c", script, str(target)], env=env, capture_output=True, text=True,
        cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split("\n")
    rows = [line.split() for line in lines if line.strip()]
    assert len(rows) == len(genzoo.zoo.entries()) > 0
    for name, got, want in rows:
        assert float(got) == pytest.approx(float(want), rel=1e-3, abs=1e-3), name


def test_a_resized_dataset_gets_its_own_table(zoo_root):
    """A model trained on the same dataset at another image size (the progressive GAN's
    32x32 Fashion-MNIST) is never put in one table with the original size's models: its
    figures were measured against other reference images."""
    from genzoo.io import write_json
    from genzoo.report.zoo import zoo_tables
    from genzoo.zoo import MANIFEST

    manifest = json.loads((zoo_root / MANIFEST).read_text())
    record = manifest["models"]["tiny-digits"]
    manifest["models"]["tiny-digits-16"] = {**record, "image_size": 16}
    (zoo_root / "tiny-digits-16").symlink_to(zoo_root / "tiny-digits")
    write_json(zoo_root / MANIFEST, manifest)
    tables = dict(zoo_tables(zoo_root))
    assert set(tables) == {"digits", "digits at 16x16"}
