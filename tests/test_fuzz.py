"""A property-based fuzzer (Hypothesis) over the command line and the files genzoo reads.

Every property runs ``genzoo`` in process (:func:`genzoo.cli.main`) on generated input and
asserts what any outcome a user sees must be:

- exit status 0, or 2 with one line ``genzoo: error: ...``: never a traceback (an
  exception escaping :func:`main` fails the property, with the input that raised it);
- nothing written outside the command's ``--out``, or the run the command reads (it may
  store figures and refresh its export there): the whole case folder, the working
  directory included, is compared before and after.

Inputs: an export's ``config.json`` and a run's ``run.json`` (real ones with values
replaced, keys dropped or added, or other JSON altogether), a run's ``checkpoint.pt``
(truncated, bytes overwritten), recipes (generated TOML, or text that is not TOML),
``logs/metrics.csv`` (generated rows and bytes, through the report's curves) and
command-line options with generated values. Values are small (so a case stays fast) or
far too large (10^9 and beyond, which must be refused, never allocated).

The cases are derandomized: the same ones on every run, so the suite is stable. For a
longer hunt with fresh cases, ``GENZOO_FUZZ_SCALE=20 pytest tests/test_fuzz.py`` runs
twenty times as many, randomly drawn.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from genzoo.cli import main
from genzoo.registry import create_model
from genzoo.train.checkpoint import export_model
from test_reliability import QUIET, TINY_PCNN

SCALE = max(1, int(os.environ.get("GENZOO_FUZZ_SCALE", "1") or 1))


def fuzz(examples: int) -> Any:
    """Hypothesis settings of one property: ``examples`` cases (times GENZOO_FUZZ_SCALE)."""
    return settings(
        max_examples=examples * SCALE,
        deadline=None,
        derandomize=SCALE == 1,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


# -- running a case -----------------------------------------------------------------------


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for folder, dirs, files in os.walk(root):
        for name in files + dirs:
            path = Path(folder) / name
            with contextlib.suppress(OSError):
                st_ = path.lstat()
                out[str(path.relative_to(root))] = (st_.st_size, st_.st_mtime_ns)
    return out


def run_case(case: Path, argv: list[str], may_write: list[Path]) -> int:
    """Run ``genzoo ARGV`` with ``case/cwd`` as working directory; assert the outcome is 0,
    or 2 with one line (or tyro's usage message for an option of the wrong type), and
    that nothing changed in ``case`` outside ``may_write``. Returns the exit status."""
    cwd = case / "cwd"
    cwd.mkdir(exist_ok=True)
    before = _snapshot(case)
    err, out = io.StringIO(), io.StringIO()
    here = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            try:
                code = main(argv)
            except SystemExit as e:  # tyro: an option it cannot parse; a usage message
                code = e.code
                assert code == 2 and "Traceback" not in err.getvalue(), (argv, err.getvalue())
                code = -2
    finally:
        os.chdir(here)
    if code not in (0, -2):
        text = err.getvalue()
        assert code == 2, (argv, code, text)
        assert text.count("genzoo: error:") == 1, (argv, text)
        message = text.split("genzoo: error:", 1)[1].strip()
        assert message and "\n" not in message and "Traceback" not in text, (argv, text)
    after = _snapshot(case)
    changed = {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}
    allowed = [str(p.relative_to(case)) for p in may_write]
    outside = sorted(
        p for p in changed if not any(p == a or p.startswith(a + os.sep) for a in allowed)
    )
    assert not outside, (argv, outside)
    event(f"exit {code if code != -2 else '2 (usage)'}")
    return code


@contextlib.contextmanager
def case_folder(base: Path, *copies: str) -> Any:
    """A fresh folder under ``base`` holding copies of the named folders of ``base``."""
    case = Path(tempfile.mkdtemp(prefix="case-", dir=base))
    try:
        for name in copies:
            shutil.copytree(base / name, case / name)
        yield case
    finally:
        shutil.rmtree(case, ignore_errors=True)


@pytest.fixture(autouse=True)
def _bounded_memory() -> Any:
    """At most 8 GB more address space while a property runs: a case that would allocate
    without bound fails with an error (and its input) instead of exhausting the machine."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as f:
        used = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    limit = used + 8 * 2**30
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@pytest.fixture
def base(tmp_path: Path) -> Path:
    """A tiny trained PixelCNN run (``run``) and exports of three families (``export-*``)."""
    argv = ["train", "pixelcnn", *TINY_PCNN, *QUIET, "--train.steps", "2"]
    assert main([*argv, "--out", str(tmp_path / "run")]) == 0
    tiny = {
        "pixelcnn": {"hidden_channels": 4, "num_blocks": 1, "output_channels": 8},
        "vae": {"latent_dim": 2, "hidden": 8, "hidden_layers": 1},
        "gan": {"latent_dim": 4, "width": 4, "hidden_layers": 1},
    }
    for name, config in tiny.items():
        export_model(create_model(name, image_shape=(1, 8, 8), **config), tmp_path / name)
    return tmp_path


# -- generated values ---------------------------------------------------------------------

HUGE = st.sampled_from([10**9, 10**12, 10**18, 2**63, 10**30, -(10**9)])
NUMBERS = st.one_of(
    st.integers(-2, 9),
    HUGE,
    st.floats(allow_nan=True, allow_infinity=True, width=32),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, st.text(max_size=10))
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(doc: Any, here: tuple = ()) -> list[tuple]:
    out = [here]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*here, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*here, i))
    return out


@st.composite
def mutated(draw: Any, doc: Any) -> Any:
    """``doc`` with one to three of its values replaced, keys dropped or keys added; or,
    now and then, other JSON altogether."""
    if draw(st.integers(0, 9)) == 0:
        return draw(JSON)
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(doc)))
        if not path:
            continue
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        op = draw(st.sampled_from(["replace", "replace", "drop", "add"]))
        if op == "replace":
            parent[path[-1]] = draw(JSON)
        elif op == "drop":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = draw(JSON)
    return doc


def _write_json(path: Path, doc: Any) -> None:
    path.write_text(json.dumps(doc))


# -- the properties -----------------------------------------------------------------------


@fuzz(60)
@given(data=st.data(), family=st.sampled_from(["pixelcnn", "vae", "gan"]))
def test_fuzzed_export_config_json(base, data, family):
    with case_folder(base, family) as case:
        config = case / family / "config.json"
        _write_json(config, data.draw(mutated(json.loads(config.read_text()))))
        out = case / "s.png"
        run_case(case, ["sample", str(case / family), "-n", "2", "--out", str(out)], [out])


@fuzz(40)
@given(data=st.data(), command=st.sampled_from(["eval", "resume"]))
def test_fuzzed_run_json(base, data, command):
    with case_folder(base, "run") as case:
        run = case / "run"
        _write_json(
            run / "run.json", data.draw(mutated(json.loads((run / "run.json").read_text())))
        )
        if command == "eval":
            argv = ["eval", str(run), "--n", "4"]
        else:  # a resume by one step, its grids off (a run.json may ask for 10^9 samples)
            argv = ["train", "pixelcnn", "--out", str(run), "--resume", "--train.steps", "3"]
            argv += ["--train.sample-every", "0", "--train.no-progress"]
        run_case(case, argv, [run])


@fuzz(30)
@given(data=st.data())
def test_fuzzed_checkpoint(base, data):
    with case_folder(base, "run") as case:
        run = case / "run"
        raw = bytearray((run / "checkpoint.pt").read_bytes())
        if data.draw(st.booleans()):
            raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
        else:
            for _ in range(data.draw(st.integers(1, 8))):
                at = data.draw(st.integers(0, len(raw) - 1))
                raw[at] = data.draw(st.integers(0, 255))
        (run / "checkpoint.pt").write_bytes(bytes(raw))
        export = json.loads((run / "model" / "config.json").read_text())
        _write_json(run / "model" / "config.json", export | {"step": 0})  # remade from it
        out = case / "s.png"
        run_case(case, ["sample", str(run), "-n", "1", "--out", str(out)], [run, out])


TOML_KEYS = st.one_of(
    st.sampled_from(
        [
            "data",
            "out",
            "data_root",
            "image_size",
            "note",
            "steps",
            "lr",
            "batch_size",
            "hidden_channels",
            "num_blocks",
            "seed",
            "threads",
            "ema_decay",
            "precision",
        ]
    ),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,8}", fullmatch=True),
)
TOML_VALUES = st.one_of(
    st.booleans(),
    st.integers(-2, 9),
    HUGE.filter(lambda v: -(2**63) <= v < 2**63),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=10),
    st.lists(st.integers(-2, 9), max_size=3),
)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(str(v), repr(v))
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return json.dumps(v)


@st.composite
def recipes(draw: Any) -> str:
    """A TOML document of top-level keys and [model], [train] or other tables; or, now
    and then, text that is not TOML."""
    if draw(st.integers(0, 7)) == 0:
        return draw(st.text(max_size=40))
    pairs = st.dictionaries(TOML_KEYS, TOML_VALUES, max_size=4)
    lines = [f"{k} = {_toml_value(v)}" for k, v in draw(pairs).items()]
    tables = draw(st.lists(st.sampled_from(["model", "train", "data", "x"]), unique=True))
    for table in tables:
        lines.append(f"[{table}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in draw(pairs).items()]
    return "\n".join(lines) + "\n"


@fuzz(100)
@given(recipe=recipes())
def test_fuzzed_recipe(base, recipe):
    with case_folder(base) as case:
        (case / "r.toml").write_text(recipe)
        run_case(
            case, ["train", "pixelcnn", "--config", str(case / "r.toml"), "--print-config"], []
        )


CSV_CELLS = st.one_of(
    st.text(max_size=8),
    st.integers(-3, 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["loss", "$\\foo$", "\\", "$", "grad_norm/model", "", "1e309"]),
)


@pytest.mark.filterwarnings("ignore:Glyph")  # generated names in scripts the font lacks
@fuzz(60)
@given(
    rows=st.lists(st.lists(CSV_CELLS, min_size=0, max_size=4), max_size=12),
    header=st.booleans(),
    tail=st.binary(max_size=8),
)
def test_fuzzed_metrics_csv(base, rows, header, tail):
    import csv

    from genzoo.report.page import _curves_figure

    with case_folder(base) as case:
        (case / "logs").mkdir()
        buf = io.StringIO()
        w = csv.writer(buf)
        if header:
            w.writerow(["step", "name", "value"])
        w.writerows(rows)
        (case / "logs" / "metrics.csv").write_bytes(buf.getvalue().encode() + tail)
        for figure in _curves_figure(case):  # what 'genzoo report' draws of a run's logs
            assert figure.png.startswith(b"\x89PNG")


OPTION_VALUES = st.one_of(
    st.text(max_size=12),
    st.integers(-3, 12).map(str),
    HUGE.map(str),
    st.sampled_from(["test:0-3", "test:9999", "train[:5]:2", "0-9", "1,5,9", "cuda:7", "cpu"]),
)
COUNTS = st.one_of(st.integers(-3, 16).map(str), st.text(max_size=4))
"""Values of -n / --n: small (a case stays fast), negative, or not numbers."""
OPTIONS = st.one_of(
    st.tuples(
        st.sampled_from(
            [
                "--labels",
                "--complete",
                "--device",
                "--seed",
                "--scale",
                "--sampler",
                "--truncation",
                "--known-rows",
                "--split",
                "--metrics",
                "--data",
            ]
        ),
        OPTION_VALUES,
    ),
    st.tuples(st.sampled_from(["-n", "--n"]), COUNTS),
)


@fuzz(60)
@given(command=st.sampled_from(["sample", "eval"]), options=st.lists(OPTIONS, max_size=3))
def test_fuzzed_options(base, command, options):
    with case_folder(base, "run") as case:
        argv = [command, str(case / "run"), "-n" if command == "sample" else "--n", "2"]
        for flag, value in options:
            argv += [flag, value]
        out = case / "s.png"
        if command == "sample":
            argv += ["--out", str(out)]
        run_case(case, argv, [case / "run", out])
