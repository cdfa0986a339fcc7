"""PixelRNN training step: the recurrent layers' loop over columns (rows) read by ``unbind``
against the same loop read by indexing ``pre[..., j]`` (the baseline, genzoo before
2026-12-07), on the same weights and batch, one CPU thread.

    python benchmarks/pixelrnn_step.py [--batches 32,128] [--repeats 3] [--dry-run]

Why it matters: indexing one column of ``pre`` in a loop of W + H - 1 columns makes each
index's backward write its column's gradient into a fresh zero tensor of ``pre``'s full
size, so a step's backward costs O(columns x map size); ``unbind``'s backward stacks the
gradients once. Both forwards compute the same outputs (checked here before timing).
"""

from __future__ import annotations

import argparse
import datetime
import time
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from _common import START_COMMIT, append_result, machine

import genzoo
from genzoo.nn import recurrent
from genzoo.nn.recurrent import add_class_bias, lstm_cell, skew, unskew


def _indexed_diagonal_forward(self, x, labels=None):  # the baseline: pre[:, :, :, j]
    n, _, hh, ww = x.shape
    pre = skew(add_class_bias(self.input_to_state(x), self.class_bias, labels))
    h = x.new_zeros(n, self.hidden, hh)
    c = torch.zeros_like(h)
    cols = []
    for j in range(pre.shape[3]):
        h, c = lstm_cell(pre[:, :, :, j] + self.state_to_state(F.pad(h, (1, 0))), c, self.groups)
        cols.append(h)
    return unskew(torch.stack(cols, dim=3), ww)


def _indexed_row_forward(self, x, labels=None):  # the baseline: pre[:, :, i]
    n, _, hh, ww = x.shape
    pre = add_class_bias(self.input_to_state(x), self.class_bias, labels)
    h = x.new_zeros(n, self.hidden, ww)
    c = torch.zeros_like(h)
    rows = []
    for i in range(hh):
        h, c = lstm_cell(pre[:, :, i] + self.state_to_state(h), c, self.groups)
        rows.append(h)
    return torch.stack(rows, dim=2)


@contextmanager
def indexed():
    """Swap the baseline forwards in for the duration."""
    saved = recurrent.DiagonalLSTM.forward, recurrent.RowLSTM.forward
    recurrent.DiagonalLSTM.forward = _indexed_diagonal_forward
    recurrent.RowLSTM.forward = _indexed_row_forward
    try:
        yield
    finally:
        recurrent.DiagonalLSTM.forward, recurrent.RowLSTM.forward = saved


def step_seconds(model, x, repeats: int) -> float:
    """Best wall time of ``repeats`` forward+backward passes (one warm-up first)."""
    times = []
    for _ in range(repeats + 1):
        t = time.perf_counter()
        (-model.log_prob(x).mean()).backward()
        times.append(time.perf_counter() - t)
        model.zero_grad(set_to_none=True)
    return min(times[1:])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batches", default="32,128")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--dry-run", action="store_true", help="print, do not append to RESULTS.md")
    args = p.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    rows = []
    for cell in ("diagonal-bilstm", "row-lstm"):
        model = genzoo.create_model("pixelrnn", image_shape=(1, 28, 28), kind="binary", cell=cell)
        for b in (int(v) for v in args.batches.split(",")):
            x = (torch.rand(b, 1, 28, 28) > 0.5).to(torch.uint8)  # (B, 1, 28, 28)
            with torch.no_grad():
                new = model.log_prob(x)
                with indexed():
                    old = model.log_prob(x)
            if not torch.allclose(new, old, rtol=1e-5, atol=1e-4):
                raise SystemExit(f"{cell}: the two forwards disagree; fix before timing")
            with indexed():
                t_old = step_seconds(model, x, args.repeats)
            t_new = step_seconds(model, x, args.repeats)
            rows.append(f"| {cell} | {b} | {t_old:.2f} | {t_new:.2f} | **{t_old / t_new:.1f}x** |")
            print(rows[-1], flush=True)
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    entry = "\n".join([
        f"## PixelRNN training step: unbind against indexing ({when}, commit {START_COMMIT})",
        "",
        f"`python benchmarks/pixelrnn_step.py --batches {args.batches} --repeats "
        f"{args.repeats}`; {machine()}; one thread. One forward+backward of the binarised "
        "model (h = 32, 4 layers, 128 output channels: the zoo's recipe sizes), best of the "
        "repeats after a warm-up; the baseline swaps in the loop that indexes pre[..., j].",
        "",
        "| cell | batch | indexing (s) | unbind (s) | speed-up |",
        "|---|---|---|---|---|",
        *rows,
    ])  # fmt: skip
    print(entry)
    if not args.dry_run:
        append_result(entry)


if __name__ == "__main__":
    main()
