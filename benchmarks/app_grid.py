"""A 16-image grid through the app (`genzoo.app.panels.sample_grid`) beside
`model.sample` alone, same process, same seeds: what the app adds to a draw.

    python benchmarks/app_grid.py [--repeats 30] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from _common import START_COMMIT, append_result, machine

from genzoo.app import panels

MODELS = ("zoo:gan-fashion-mnist", "zoo:vae-fashion-mnist")


def _median_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    session = panels.Session(panels.open_models(MODELS))
    rows = ["| model | app grid (ms) | model.sample alone (ms) | ratio |", "|---|---|---|---|"]
    for ref in MODELS:
        model = session.get(ref).model

        def alone(model=model) -> None:
            model.sample(16, generator=torch.Generator().manual_seed(0))

        app = _median_ms(lambda ref=ref: panels.sample_grid(session, ref, 0, 16), args.repeats)
        bare = _median_ms(alone, args.repeats)
        rows.append(f"| {ref} | {app:.1f} | {bare:.1f} | {app / bare:.2f} |")
    cmd = f"python benchmarks/app_grid.py --repeats {args.repeats} --threads {args.threads}"
    table = "\n".join(rows)
    print(table)
    append_result(
        f"## App: a 16-image grid beside model.sample (commit {START_COMMIT})\n\n"
        f"Command: `{cmd}`; {machine()}; median of {args.repeats} after a warm-up.\n\n{table}\n"
    )


if __name__ == "__main__":
    main()
