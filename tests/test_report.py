"""``genzoo compare`` and ``genzoo report`` on three tiny runs (PixelCNN, VAE, GAN) trained
on scikit-learn's 8x8 digits; the page is opened in headless Chromium where it is installed."""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import re
import shutil

import pytest
import torch
from PIL import Image

import genzoo
from genzoo.cli import main

LOOP = [
    "--data", "digits", "--train.steps", "6", "--train.batch-size", "16",
    "--train.sample-every", "3", "--train.num-samples", "4", "--train.log-every", "2",
    "--train.checkpoint-every", "6", "--train.no-progress", "--train.accelerator", "cpu",
]  # fmt: skip
MODELS = {
    "pcnn": ["pixelcnn", "--model.hidden-channels", "6", "--model.num-blocks", "1",
             "--note", "six steps: too short to draw digits"],
    "vae": ["vae", "--model.latent-dim", "2", "--model.hidden", "16"],
    "gan": ["gan", "--model.latent-dim", "4", "--model.width", "4"],
}  # fmt: skip
QUICK = ["--n", "40", "--features", "pixel", "--iwae-k", "4"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    out = {}
    for name, argv in MODELS.items():
        out[name] = root / name
        assert main(["train", argv[0], *argv[1:], *LOOP, "--out", str(out[name])]) == 0
    return out


def _copy(runs, tmp_path):
    """Fresh copies of the runs (tests below write eval/ files into them)."""
    copies = {}
    for name, path in runs.items():
        copies[name] = tmp_path / name
        shutil.copytree(path, copies[name])
    return copies


def test_compare_prints_one_table_with_units_and_writes_every_format(runs, tmp_path, capsys):
    r = _copy(runs, tmp_path)
    argv = ["compare", str(r["pcnn"]), str(r["vae"]), str(r["gan"]), *QUICK]
    assert main([*argv, "--out", str(tmp_path / "t.md")]) == 0
    out = capsys.readouterr().out
    assert "NLL (nats/image)" in out and "bits/dim" in out and "FID" in out
    assert "40 samples vs 40 test images" in out
    md = (tmp_path / "t.md").read_text().splitlines()
    rows = {line.split("|")[1].strip(): line for line in md if line.startswith("| ")}
    assert set(rows) >= {"pcnn", "vae", "gan", "real: train[:40]"}
    assert "(exact)" in rows["pcnn"] and "no density" in rows["gan"] and "<=" in rows["vae"]

    # the table's exact NLL is the model's own log_prob on the first --n test images
    x = genzoo.data.load_dataset("digits", "test").images[:40]
    nll = -genzoo.load(r["pcnn"]).log_prob(x).double().mean().item()
    assert f"{nll:.1f} (exact)" in rows["pcnn"]

    assert main([*argv, "--out", str(tmp_path / "t.csv")]) == 0
    table = list(csv.reader(io.StringIO((tmp_path / "t.csv").read_text())))
    assert table[0][:3] == ["run", "model", "params"] and len(table) == 5
    assert main([*argv, "--out", str(tmp_path / "t.json")]) == 0
    payload = json.loads((tmp_path / "t.json").read_text())
    assert [x["model"] for x in payload["runs"]] == ["pixelcnn", "vae", "gan", "(data)"]
    assert [x["is_reference"] for x in payload["runs"]] == [False, False, False, True]
    assert payload["settings"]["n"] == 40
    fids = [x["figures"]["fid"]["value"] for x in payload["runs"]]
    # real training images are the floor: closer to the test images than 6-step models
    assert all(f > fids[-1] > 0 for f in fids[:-1])
    assert main([*argv, "--no-real-row", "--out", str(tmp_path / "t.csv"), "--force"]) == 0
    assert len((tmp_path / "t.csv").read_text().splitlines()) == 4
    # an existing table is not overwritten without --force
    assert main([*argv, "--out", str(tmp_path / "t.md")]) == 2
    assert main([*argv, "--out", str(tmp_path / "t.md"), "--force"]) == 0


def test_compare_reuses_figures_of_the_same_weights_and_settings_only(runs, tmp_path, monkeypatch):
    from genzoo.evaluation import EvalSettings
    from genzoo.evaluation import run as evaluate
    from genzoo.report.compare import compare_runs

    r = _copy(runs, tmp_path)
    settings = EvalSettings(metrics=("nll", "fid"), n=40, features="pixel", iwae_k=4)
    first = compare_runs([r["gan"], r["vae"]], settings, progress=False, echo=None)

    calls = []
    real = evaluate.evaluate_samples
    monkeypatch.setattr(
        evaluate, "evaluate_samples", lambda *a, **k: calls.append(a[1]) or real(*a, **k)
    )
    again = compare_runs([r["gan"], r["vae"]], settings, progress=False, echo=None)
    assert calls == []  # everything came from RUN/eval/test.json
    assert [a.figures["fid"] for a in again] == [f.figures["fid"] for f in first]

    # other settings (n) are computed, not read back
    other = EvalSettings(metrics=("fid",), n=30, features="pixel")
    compare_runs([r["gan"]], other, progress=False, echo=None)
    assert calls == [["fid"]]

    # new weights: stored figures are dropped, never shown as the new model's
    model = genzoo.load(r["gan"])
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.5)
    from genzoo.train.checkpoint import export_model

    export_model(model, r["gan"] / "model")
    calls.clear()
    new = compare_runs([r["gan"]], settings, progress=False, echo=None)[0]
    assert calls == [["fid"]]
    assert new.figures["fid"]["value"] != first[0].figures["fid"]["value"]
    stored = json.loads((r["gan"] / "eval" / "test.json").read_text())
    assert stored["fid"]["n_samples"] == 40  # the n=30 figure of the old weights is gone


def test_compare_refuses_runs_of_different_datasets_and_repeated_runs(runs, tmp_path, capsys):
    r = _copy(runs, tmp_path)
    info = json.loads((r["vae"] / "run.json").read_text())
    info["data"]["spec"] = "fashion-mnist"
    (r["vae"] / "run.json").write_text(json.dumps(info))
    assert main(["compare", str(r["pcnn"]), str(r["vae"]), *QUICK]) == 2
    err = capsys.readouterr().err
    assert "different datasets" in err and err.count("\n") == 1
    assert main(["compare", str(r["pcnn"]), str(r["pcnn"]), *QUICK]) == 2
    assert "named twice" in capsys.readouterr().err
    assert main(["compare", str(tmp_path / "nope"), *QUICK]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["compare", str(r["pcnn"]), *QUICK, "--metrics", "fid,fdi"]) == 2
    assert "unknown metric(s) fdi" in capsys.readouterr().err
    assert not (r["pcnn"] / "eval").exists()  # refused before evaluating anything


def test_inception_score_metric_needs_class_logits(runs, tmp_path, capsys):
    r = _copy(runs, tmp_path)
    assert main(["eval", str(r["gan"]), "--metrics", "is", "--n", "20"]) == 2
    assert "class logits" in capsys.readouterr().err


def _images(page: str) -> list[tuple[str, bytes]]:
    found = re.findall(r'<img src="data:image/png;base64,([^"]+)" alt="([^"]*)"', page)
    return [(html.unescape(alt), base64.b64decode(data)) for data, alt in found]


@pytest.fixture(scope="module")
def report(runs, tmp_path_factory):
    root = tmp_path_factory.mktemp("page")
    r = _copy(runs, root)
    out = root / "report.html"
    argv = ["report", str(r["pcnn"]), str(r["vae"]), str(r["gan"]), *QUICK, "--out", str(out)]
    assert main(argv) == 0
    return out


def test_report_is_one_self_contained_page_with_every_view(report):
    page = report.read_text()
    assert page.startswith("<!doctype html>") and "</html>" in page
    assert "src=" not in page.replace('src="data:image/png;base64,', "")  # nothing external
    images = _images(page)
    for alt, data in images:
        img = Image.open(io.BytesIO(data))
        img.load()
        assert img.width > 0 and img.height > 0, alt
    sections = re.split(r"<h2 id=\"run-", page)[1:]
    assert [s.split('"')[0] for s in sections] == ["pcnn", "vae", "gan"]
    titles = [[alt for alt, _ in _images(s)] for s in sections]
    assert "completions" in titles[0] and "reconstructions" not in titles[0]
    assert {"reconstructions", "interpolations", "2-D latent manifold"} <= set(titles[1])
    assert "decoded prior codes" in titles[1] and "decoded prior codes" not in titles[2]
    assert "interpolations" in titles[2] and "completions" not in titles[2]
    for t in titles:
        assert {"samples", "nearest training images", "training curves"} <= set(t)
    assert "no density" in page and "&lt;= " in page  # the table, escaped


def test_a_runs_note_is_printed_beside_its_samples_only(report, runs):
    note = "six steps: too short to draw digits"
    assert json.loads((runs["pcnn"] / "run.json").read_text())["note"] == note
    assert "note" not in json.loads((runs["vae"] / "run.json").read_text())
    sections = re.split(r"<h2 id=\"run-", report.read_text())[1:]
    samples = r"<figcaption><b>samples</b>: ([^<]*)</figcaption>"
    captions = [re.findall(samples, s) for s in sections]
    assert len(captions[0]) == 1 and html.escape(note) in captions[0][0]
    assert all("Note from the run" not in c[0] for c in captions[1:])


def test_report_refuses_to_overwrite_and_wrong_suffix(report, runs, capsys):
    before = report.read_bytes()
    assert main(["report", str(runs["gan"]), *QUICK, "--out", str(report)]) == 2
    assert "--force" in capsys.readouterr().err
    assert report.read_bytes() == before
    assert main(["report", str(runs["gan"]), *QUICK, "--out", str(report.with_suffix(".png"))]) == 2
    assert "HTML" in capsys.readouterr().err


def _open_in_chromium(path, query=None):
    """Load a page in headless Chromium; return (images [(alt, complete, width)], errors),
    and with ``query`` (a JS function of the document) its result as well."""
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no chromium on PATH (scripts/setup.sh installs Debian's package as root)")
    args = [
        "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync",
    ]  # fmt: skip
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=args)
        try:
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("requestfailed", lambda r: errors.append(f"failed: {r.url}"))
            page.goto(path.resolve().as_uri(), wait_until="load")
            images = page.eval_on_selector_all(
                "img", "els => els.map(e => [e.alt, e.complete, e.naturalWidth])"
            )
            found = page.evaluate(query) if query else None
        finally:
            browser.close()
    return (images, errors, found) if query else (images, errors)


def test_report_opens_in_headless_chromium_with_every_image_shown(report, tmp_path):
    images, errors = _open_in_chromium(report)
    assert errors == []
    assert len(images) == len(_images(report.read_text())) >= 12
    assert all(complete and width > 0 for _, complete, width in images), images

    # the check can fail: a page with one broken image is caught
    broken = tmp_path / "broken.html"
    page = report.read_text().replace("data:image/png;base64,", "missing.png#", 1)
    broken.write_text(page)
    images, errors = _open_in_chromium(broken)
    assert sum(width == 0 for _, _, width in images) == 1 and errors


def test_report_of_a_2d_toy_run_draws_scatters_and_refuses_image_metrics(tmp_path, capsys):
    run = tmp_path / "toy"
    argv = ["train", "gan", "--data", "toy2d:8gaussians", "--train.steps", "3",
            "--train.no-progress", "--train.sample-every", "0", "--out", str(run)]  # fmt: skip
    assert main(argv) == 0
    out = tmp_path / "toy.html"
    assert main(["report", str(run), "--metrics", "nll", "--out", str(out)]) == 0
    titles = [alt for alt, _ in _images(out.read_text())]
    assert titles[:2] == ["real points", "samples"]
    assert main(["compare", str(run), "--metrics", "fid"]) == 2
    assert "--metrics nll" in capsys.readouterr().err


TABLE_QUERY = """() => ({
    links: [...document.querySelectorAll('nav a')].map(
        a => !!document.getElementById(a.getAttribute('href').slice(1))),
    headers: [...document.querySelectorAll('th')].map(th => th.textContent),
    best: document.querySelectorAll('td.best').length,
    wrapped: [...document.querySelectorAll('td')].filter(
        td => getComputedStyle(td).whiteSpace !== 'nowrap').length,
    reading: document.querySelector('.reading') ? document.querySelector('.reading').innerText : '',
    headings: [...document.querySelectorAll('h2')].map(h => h.textContent),
})"""


def test_report_says_what_to_conclude(report):
    _, errors, found = _open_in_chromium(report, TABLE_QUERY)
    assert errors == []
    assert len(found["links"]) == 2 + 3 and all(found["links"])  # contents: every link lands
    for header in ("steps", "epochs", "train time", "FID ↓", "bits/dim ↓", "precision ↑"):
        assert header in found["headers"], found["headers"]
    assert found["best"] >= 3 and found["wrapped"] == 0
    assert "Best likelihood: pcnn" in found["reading"] or "Best likelihood: vae" in found["reading"]
    assert "Best samples by FID" in found["reading"] and "floor" in found["reading"]
    assert not any(": " in h and h.split(": ")[0] == h.split(": ")[1] for h in found["headings"])


def test_csv_tables_hold_numbers_and_the_terminal_table_fits(runs, tmp_path, capsys, monkeypatch):
    r = _copy(runs, tmp_path)
    argv = ["compare", str(r["pcnn"]), str(r["gan"]), *QUICK, "--out", str(tmp_path / "t.csv")]
    monkeypatch.setenv("COLUMNS", "80")
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    table = lines[next(i for i, x in enumerate(lines) if x.startswith("run ")) : -1]  # to "wrote"
    assert len(table) > 10 and max(len(line) for line in table) <= 80
    table = list(csv.reader(io.StringIO((tmp_path / "t.csv").read_text())))
    head = table[0]
    pcnn = dict(zip(head, table[1], strict=True))
    float(pcnn["NLL (nats/image)"]), float(pcnn["FID"]), int(pcnn["steps"])  # plain numbers
    assert "(exact)" not in pcnn["NLL (nats/image)"] and "+-" not in pcnn["KID x 1e3"]
