"""Train and build the zoo: the shipped weights of genzoo and their measured figures.

    python scripts/zoo.py train [--only NAME,...] [--queue a] [--minutes M] [--runs runs/zoo]
    python scripts/zoo.py build [--only NAME,...] [--runs runs/zoo] [--n 10000] ...

``train`` runs ``genzoo train`` for each entry of ``configs/zoo.toml`` (its recipe, its
options, one thread, its per-session time budget), resuming a run that exists, one entry
after the other; give each queue its own process to train two entries side by side.
``build`` evaluates every trained run with ``genzoo eval`` (the figures are stored in the
run, keyed by what they were measured against) and copies the export, the stored figures
and the run's facts into ``src/genzoo/zoo/`` through :func:`genzoo.zoo.build.add_to_zoo`.
Nothing here types a figure in: every number of the manifest comes from those commands.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent
PLAN = ROOT / "configs" / "zoo.toml"
GENZOO = [sys.executable, "-m", "genzoo.cli"]


def load_plan(only: str | None, queue: str | None) -> dict[str, dict]:
    plan = tomllib.loads(PLAN.read_text())
    plan.pop("eval", None)
    if only:
        names = [n.strip() for n in only.split(",") if n.strip()]
        unknown = [n for n in names if n not in plan]
        if unknown:
            sys.exit(f"zoo.py: unknown entries {unknown}; configs/zoo.toml has {sorted(plan)}")
        plan = {n: plan[n] for n in names}
    if queue:
        plan = {n: e for n, e in plan.items() if e.get("queue") == queue}
    return plan


def train(args: argparse.Namespace) -> int:
    for name, entry in load_plan(args.only, args.queue).items():
        out = Path(args.runs) / name
        minutes = args.minutes if args.minutes is not None else entry.get("max_minutes", 0)
        cmd = [*GENZOO, "train", entry["model"], "--config", str(ROOT / entry["recipe"])]
        cmd += ["--out", str(out), "--train.threads", str(entry.get("threads", 1))]
        cmd += ["--train.no-progress", "--train.max-minutes", str(minutes)]
        if (out / "run.json").is_file():
            # a resume keeps the run's own settings (a finished run stops at once); only
            # the budget and thread options above reach it
            cmd.append("--resume")
        else:
            cmd += list(entry.get("options", []))
        print(f"== {name}: {' '.join(cmd[2:])}", flush=True)
        t0 = time.time()
        rc = subprocess.call(cmd, cwd=ROOT)
        print(f"== {name}: exit {rc} after {time.time() - t0:.0f} s", flush=True)
    return 0


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                             capture_output=True, check=True)  # fmt: skip
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def shown(path: Path) -> str:
    """A path as the commands of the manifest show it: relative to the checkout."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def wanted_metrics(ev: dict, density: bool, metrics: str | None = None) -> list[str]:
    """The plan's metrics (or ``metrics``), without the likelihood for a model with none."""
    return [m for m in (metrics or ev["metrics"]).split(",") if density or m != "nll"]


def eval_args(run: Path, ev: dict, density: bool, metrics: str | None = None) -> list[str]:
    wanted = wanted_metrics(ev, density, metrics)
    args = ["eval", str(run), "--metrics", ",".join(wanted), "--n", str(ev["n"])]
    args += ["--features", ev["features"], "--iwae-k", str(ev["iwae_k"])]
    args += ["--ais-runs", str(ev["ais_runs"]), "--ais-betas", str(ev["ais_betas"])]
    return args


def check_for(entry_name: str, density: bool) -> dict:
    """The small figure the tests reproduce from the installed package, computed here on
    the shipped copy: an NLL of 16 test images (cheap estimator settings) for a density,
    else a pixel-space FID of 64 samples."""
    from genzoo.evaluation.run import evaluate_run
    from genzoo.evaluation.settings import EvalSettings
    from genzoo.zoo import ZooRun

    if density:
        settings = EvalSettings(metrics=("nll",), n=16, iwae_k=8, ais_runs=4, ais_betas=100)
    else:
        settings = EvalSettings(metrics=("fid",), n=64, features="pixel")
    figures = evaluate_run(ZooRun(entry_name), settings, progress=False, echo=None)
    if density:  # the first likelihood term stored (nll, nll_elbo, nll_ais, ...)
        key = min(k for k in figures if k.startswith("nll") and isinstance(figures[k], dict))
        field = "nats_per_image"
    else:
        key, field = "fid", "value"
    kept = {k: v for k, v in vars(settings).items() if k not in ("data", "data_root")}
    return {"settings": kept, "key": key, "field": field, "value": figures[key][field]}


def evaluate_shipped(name: str, ev: dict, density: bool, inception: bool) -> dict:
    """The figures of a shipped (float16) entry, measured on zoo:NAME as ``genzoo eval
    zoo:NAME`` would (a zoo model stores nothing itself, so they are returned here)."""
    from genzoo.evaluation.run import evaluate_run
    from genzoo.evaluation.settings import EvalSettings
    from genzoo.zoo import ZooRun

    args = eval_args(Path(f"zoo:{name}"), ev, density)
    settings = EvalSettings(metrics=tuple(wanted_metrics(ev, density)), n=ev["n"],
                            features=ev["features"],
                            iwae_k=ev["iwae_k"], ais_runs=ev["ais_runs"],
                            ais_betas=ev["ais_betas"])  # fmt: skip
    print(f"== {name}: genzoo {' '.join(args)}", flush=True)
    fields: dict = {"figures": {"test": evaluate_run(ZooRun(name), settings)},
                    "eval_command": "genzoo " + " ".join(args)}  # fmt: skip
    if inception:
        fields |= inception_figures(name, ev["n"])
    return fields


def inception_figures(name: str, n: int) -> dict:
    """The Inception FID/KID/PR/DC of zoo:NAME at n, with the command that computes them."""
    from genzoo.evaluation.run import evaluate_run
    from genzoo.evaluation.settings import EvalSettings
    from genzoo.zoo import ZooRun

    settings = EvalSettings(metrics=("fid", "kid", "pr", "dc"), n=n, features="inception")
    print(f"== {name}: Inception figures at n = {n}", flush=True)
    figures = evaluate_run(ZooRun(name), settings)
    return {
        "inception": {m: figures[m] for m in ("fid", "kid", "pr", "dc")},
        "inception_command": (
            f"genzoo eval zoo:{name} --metrics fid,kid,pr,dc --features inception --n {n}"
        ),
    }


def build(args: argparse.Namespace) -> int:
    import torch

    from genzoo.runs import Run
    from genzoo.zoo.build import add_to_zoo, set_check, update_record

    torch.set_num_threads(args.threads)
    ev = tomllib.loads(PLAN.read_text())["eval"]
    commit = git_commit()
    for name, entry in load_plan(args.only, None).items():
        out = Path(args.runs) / name
        density = Run(out).load_model().density is not None
        # a float16 entry is evaluated as shipped (zoo:NAME) once copied, not as trained
        half = bool(entry.get("half"))
        env = {**os.environ, "GENZOO_THREADS": str(args.threads)}
        extra: dict = {"commit": commit, "eval_command": None, "threads": args.threads}
        wants_inception = entry.get("inception") and not args.no_inception
        if args.reuse:  # facts and notes again; the figures stored in the run by its eval
            from genzoo.zoo import get

            old = get(name).record
            keep = (*extra, "inception", "inception_command", *(("figures",) if half else ()))
            extra = {k: old[k] for k in keep if k in old}
        elif wants_inception and not half:
            cmd = eval_args(out, ev | {"features": "inception"}, False, "fid,kid,pr,dc")
            print(f"== {name}: genzoo {' '.join(cmd)}", flush=True)
            subprocess.run([*GENZOO, *cmd], cwd=ROOT, env=env, check=True)
            stored = json.loads((out / "eval" / "test.json").read_text())
            extra["inception"] = {m: stored[m] for m in ("fid", "kid", "pr", "dc") if m in stored}
            extra["inception_command"] = "genzoo " + " ".join(cmd).replace(str(out), shown(out))
        if not args.reuse and not half:
            cmd = eval_args(out, ev, density)
            print(f"== {name}: genzoo {' '.join(cmd)}", flush=True)
            subprocess.run([*GENZOO, *cmd], cwd=ROOT, env=env, check=True)
            extra["eval_command"] = "genzoo " + " ".join(cmd).replace(str(out), shown(out))
        train_cmd = f"genzoo train {entry['model']} --config {entry['recipe']} --out RUN"
        train_cmd += "".join(f" {o}" for o in entry.get("options", []))
        train_cmd += f" --train.threads 1 --train.max-minutes {entry.get('max_minutes', 0)}"
        settings = {"split": "test", "metrics": ev["metrics"].split(","), "n": ev["n"],
                    "features": ev["features"], "iwae_k": ev["iwae_k"],
                    "ais_runs": ev["ais_runs"], "ais_betas": ev["ais_betas"]}  # fmt: skip
        notes = tomllib.loads(PLAN.read_text())[name].get("looked_at", "")
        add_to_zoo(out, name, recipe=entry["recipe"], command=train_cmd, note=notes,
                   settings=settings, extra=extra, half=half)  # fmt: skip
        if half and not args.reuse:
            update_record(name, evaluate_shipped(name, ev, density, wants_inception))
        set_check(name, check_for(name, density))
        print(f"== {name}: added to the zoo", flush=True)
    return 0


def inception(args: argparse.Namespace) -> int:
    """Inception FID/KID/PR/DC of shipped entries at --n, stored in their manifest record
    (what ``genzoo eval zoo:NAME --metrics fid,kid,pr,dc --features inception --n N``
    computes; a zoo model stores nothing itself, so the record is written here)."""
    import torch

    from genzoo.zoo.build import update_record

    torch.set_num_threads(args.threads)
    for name in load_plan(args.only, None):
        update_record(name, inception_figures(name, args.n))
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train the zoo's entries (resuming existing runs)")
    t.add_argument("--only", help="comma-separated entry names")
    t.add_argument("--queue", help="only the entries of this queue (a, b, ...)")
    t.add_argument("--minutes", type=float, help="this session's budget (default: the plan's)")
    t.add_argument("--runs", default=str(ROOT / "runs" / "zoo"), help="where the runs live")
    b = sub.add_parser("build", help="evaluate trained runs and copy them into the zoo")
    b.add_argument("--only", help="comma-separated entry names")
    b.add_argument("--runs", default=str(ROOT / "runs" / "zoo"), help="where the runs live")
    b.add_argument("--threads", type=int, default=2, help="CPU threads of the evaluation")
    b.add_argument(
        "--no-inception",
        action="store_true",
        help="skip the entries' extra Inception figures (hours on a loaded CPU)",
    )
    b.add_argument("--reuse", action="store_true",
                   help="evaluate nothing: copy the run again with the figures its last "
                        "build stored (to update facts or the looked-at note)")  # fmt: skip
    i = sub.add_parser("inception", help="add Inception figures of shipped entries")
    i.add_argument("--only", required=True, help="comma-separated entry names")
    i.add_argument("--n", type=int, default=10000, help="samples and test images")
    i.add_argument("--threads", type=int, default=2, help="CPU threads")
    args = p.parse_args()
    return {"train": train, "build": build, "inception": inception}[args.command](args)


if __name__ == "__main__":
    raise SystemExit(main())
