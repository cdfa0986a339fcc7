"""Random-kill soak of a training run: SIGKILL at random moments, resume after each, and
check that nothing was lost or silently replaced.

A tiny PixelCNN on the 8x8 digits trains to a fixed number of steps, checkpointing often;
the process is killed at a random moment (inside checkpoint and export writes as often as
anywhere else), then resumed, again and again, until a resume finishes. Checked at the end:
the final weights equal those of an uninterrupted run (resume is exact), the export matches
the checkpoint's step, every kept file loads, and no temporary file is left behind.

    python scripts/kill_soak.py --kills 200      # about 15 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ARGS = [
    "--data", "digits", "--model.hidden-channels", "8", "--model.num-blocks", "2",
    "--model.output-channels", "16", "--train.batch-size", "32", "--train.checkpoint-every", "3",
    "--train.sample-every", "4", "--train.num-samples", "4", "--train.no-progress",
    "--train.accelerator", "cpu", "--train.threads", "1",
]  # fmt: skip
"""One fixed thread: resume is bit-exact at a fixed thread count (README, 'Resume')."""


def genzoo(*argv: str) -> list[str]:
    return [sys.executable, "-m", "genzoo.cli", *argv]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kills", type=int, default=50)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--in-training",
        action="store_true",
        help="kill only after the launch has written its own first checkpoint (then within "
        "2 s), so every kill lands in training and its writes, none in start-up",
    )
    args = ap.parse_args()
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="genzoo-soak-"))
    steps = ["--train.steps", str(args.steps)]
    whole = tmp / "whole"
    subprocess.run(genzoo("train", "pixelcnn", *ARGS, *steps, "--out", str(whole)), check=True)
    run = tmp / "soaked"
    kills = resumes = 0
    first = True
    while True:
        argv = genzoo("train", "pixelcnn", *ARGS, *steps, "--out", str(run))
        if not first:
            argv.append("--resume")
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if kills < args.kills:
            if args.in_training:  # once this launch has written a checkpoint of its own
                ckpt = run / "checkpoint.pt"
                before = ckpt.stat().st_mtime_ns if ckpt.is_file() else None
                while proc.poll() is None and (
                    not ckpt.is_file() or ckpt.stat().st_mtime_ns == before
                ):
                    time.sleep(0.02)
                time.sleep(rng.uniform(0.0, 2.0))
            else:
                time.sleep(rng.uniform(1.0, 6.0))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
        _, err = proc.communicate()
        if proc.returncode == 0:
            if kills >= args.kills:
                break
            resumes += 1
            # it finished before the kill: extend the run to keep killing it
            args.steps += 60
            steps = ["--train.steps", str(args.steps)]
            subprocess.run(
                genzoo("train", "pixelcnn", *ARGS, *steps, "--out", str(whole), "--resume"),
                check=True, capture_output=True,
            )  # fmt: skip
        elif proc.returncode != -signal.SIGKILL:
            print(err.decode()[-2000:])
            print(f"FAILED: a resume exited {proc.returncode} after {kills} kills")
            return 1
        first = first and not (run / "run.json").is_file()
        resumes += 0 if first else 1

    import torch
    from safetensors.torch import load_file

    from genzoo.train.checkpoint import load_checkpoint

    a = load_file(str(whole / "model" / "model.safetensors"))
    b = load_file(str(run / "model" / "model.safetensors"))
    same = a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    state = load_checkpoint(run / "checkpoint.pt")
    export_step = json.loads((run / "model" / "config.json").read_text()).get("step")
    leftovers = [str(p) for p in run.rglob("*.tmp")]
    print(
        f"kills {kills}, resumes {resumes}, steps {args.steps}: final weights equal to an "
        f"uninterrupted run: {same}; checkpoint step {state['step']}, export step "
        f"{export_step}; temporary files left: {len(leftovers)}"
    )
    return 0 if same and export_step == state["step"] == args.steps and not leftovers else 1


if __name__ == "__main__":
    sys.exit(main())
