"""Boltzmann machines through the command line: train, sample, eval (log Z exact or by
AIS, labelled), compare, the chain and filter views, and the report."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from genzoo.cli import main
from test_evaluation import _write_idx_dataset

LOOP = ["--train.steps", "3", "--train.batch-size", "10", "--train.sample-every", "0"]
LOOP += ["--train.no-progress", "--train.log-every", "1"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("boltzmann")
    root = base / "data"
    _write_idx_dataset(root, seed=3)
    data = ["--data", "binarized-fashion-mnist:fixed", "--data-root", str(root)]
    out = {"rbm": base / "rbm", "dbm": base / "dbm"}
    rbm = ["--model.hidden", "6", "--model.num-chains", "4", "--model.gibbs-steps", "5"]
    assert main(["train", "rbm", *data, *rbm, *LOOP, "--out", str(out["rbm"])]) == 0
    dbm = ["--model.hidden", "30,30", "--model.num-chains", "4", "--model.gibbs-steps", "5"]
    dbm += ["--model.pretrain-steps", "1"]
    assert main(["train", "dbm", *data, *dbm, *LOOP, "--out", str(out["dbm"])]) == 0
    return out


def test_eval_labels_exact_and_ais_log_z(runs, capsys):
    assert main(["eval", str(runs["rbm"]), "--n", "6"]) == 0
    out = capsys.readouterr().out
    assert "nll_exact" in out and "exact, by enumeration" in out  # 6 hidden units: summed
    ais = ["--n", "6", "--ais-runs", "4", "--ais-betas", "50"]
    assert main(["eval", str(runs["dbm"]), *ais]) == 0
    out = capsys.readouterr().out
    assert "nll_bound_ais" in out and "AIS estimate, 4 runs x 50 betas" in out
    stored = json.loads((runs["dbm"] / "eval" / "test.json").read_text())
    assert stored["likelihood"] == "estimate of the NLL"
    assert stored["likelihood_details"]["ais_runs"] == 4
    assert stored["nll_bound_ais"]["std"] == stored["likelihood_details"]["log_z_std"]


def test_compare_shows_what_each_figure_is(runs, tmp_path, capsys):
    argv = ["compare", str(runs["rbm"]), str(runs["dbm"]), "--metrics", "nll", "--n", "6"]
    argv += ["--ais-runs", "4", "--ais-betas", "50", "--out", str(tmp_path / "t.md")]
    assert main(argv) == 0
    rows = {
        line.split("|")[1].strip(): line
        for line in (tmp_path / "t.md").read_text().splitlines()
        if line.startswith("| ")
    }
    assert "(exact log Z)" in rows["rbm"] and "~ " not in rows["rbm"]
    assert "~ " in rows["dbm"] and "mean-field bound, AIS log Z" in rows["dbm"]


def test_sample_chain_and_filters(runs, tmp_path, capsys):
    run = str(runs["rbm"])
    out = tmp_path / "s.png"
    assert main(["sample", run, "-n", "4", "--gibbs-steps", "3", "--out", str(out)]) == 0
    assert main(["sample", run, "-n", "4", "--truncation", "1", "--out", str(out), "--force"]) == 2
    assert "--truncation does not apply to rbm" in capsys.readouterr().err
    argv = ["viz", "chain", run, "--chains", "2", "--steps", "4", "--every", "2", "--scale", "1"]
    assert main([*argv, "--out", str(tmp_path / "c.png")]) == 0
    w, h = Image.open(tmp_path / "c.png").size
    assert h / w == pytest.approx(3 / 2, rel=0.1)  # rows: sweeps 0, 2, 4; columns: 2 chains
    argv = ["viz", "filters", run, "-n", "6", "--out", str(tmp_path / "f.png")]
    assert main(argv) == 0 and (tmp_path / "f.png").is_file()


def test_binary_models_refuse_8bit_data_in_one_line(tmp_path, capsys):
    argv = ["train", "rbm", "--data", "digits", *LOOP, "--out", str(tmp_path / "x")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "binarized-fashion-mnist" in err and len(err.strip().splitlines()) == 1


def test_the_report_shows_chains_and_filters(runs, tmp_path):
    argv = ["report", str(runs["rbm"]), "--metrics", "nll", "--n", "6"]
    assert main([*argv, "--out", str(tmp_path / "r.html")]) == 0
    page = (tmp_path / "r.html").read_text()
    assert "Gibbs chains over time" in page and "first-layer filters" in page
