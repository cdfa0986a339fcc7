"""Append the zoo's measured figures to benchmarks/RESULTS.md, read from the manifest.

    python benchmarks/zoo_results.py [--dry-run]

Nothing is measured here: ``scripts/zoo.py build`` measured every figure with ``genzoo
eval`` on the shipped weights and stored it in ``src/genzoo/zoo/manifest.json``; this
script writes them down with their commands, budgets and the goals of the zoo issue.
"""

from __future__ import annotations

import argparse
import datetime

from _common import START_COMMIT, append_result, machine

from genzoo import zoo
from genzoo.report.zoo import zoo_tables


def _minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.1f} min"


def _inception_line(name: str, record: dict) -> str | None:
    inc = record.get("inception") or {}
    if "fid" not in inc:
        return None
    fid, kid = inc["fid"], inc.get("kid", {})
    pr, dc = inc.get("pr", {}), inc.get("dc", {})
    return (
        f"- {name}, Inception features (TF FID network, pool3), n = {fid.get('n_samples')} "
        f"samples vs {fid.get('n_reference')} test images: FID **{fid['value']:.2f}**, KID x 1e3 "
        f"{1e3 * kid.get('value', float('nan')):.2f}, precision {pr.get('precision', 0):.3f}, "
        f"recall {pr.get('recall', 0):.3f}, density {dc.get('density', 0):.3f}, coverage "
        f"{dc.get('coverage', 0):.3f} (`{record.get('inception_command')}`)"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dry-run", action="store_true", help="print, do not append")
    args = p.parse_args()
    entries = zoo.entries()
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = [
        f"## The zoo: shipped models and their figures ({now}, commit {START_COMMIT})",
        "",
        "`python scripts/zoo.py train` then `python scripts/zoo.py build` (configs/zoo.toml);"
        " this entry by `python benchmarks/zoo_results.py`, read from the manifest. "
        f"Machine of this entry: {machine()}.",
        "",
        "| model | training command (one thread) | steps | train time | file | sha256 |",
        "|---|---|---|---|---|---|",
    ]
    for e in entries:
        r = e.record
        lines.append(
            f"| {e.name} | `{r.get('command')}` | {r.get('steps')} | "
            f"{_minutes(r.get('train_seconds'))} | {r.get('file_bytes', 0) / 2**20:.1f} MiB | "
            f"{str(r.get('sha256'))[:12]} |"
        )
    total = sum(e.record.get("file_bytes", 0) for e in entries)
    lines += ["", f"Total size of the weights: {total / 2**20:.1f} MiB.", ""]
    for dataset, table in zoo_tables():
        lines += [f"**{dataset}** (figures stored by the eval commands below)", ""]
        lines += [table.render("markdown").rstrip(), ""]
    lines += ["Evaluation commands:", ""]
    lines += [f"- {e.name}: `{e.record.get('eval_command')}`" for e in entries]
    inception = [_inception_line(e.name, e.record) for e in entries]
    if any(inception):
        lines += ["", "Inception figures (the paper-comparable FID):", ""]
        lines += [line for line in inception if line]
    lines += ["", "What a person saw in each model's samples (the manifest's note):", ""]
    lines += [f"- {e.name}: {e.record.get('note') or '(not yet looked at)'}" for e in entries]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.dry_run:
        append_result(text)


if __name__ == "__main__":
    main()
