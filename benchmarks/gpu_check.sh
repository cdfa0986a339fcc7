#!/usr/bin/env bash
# The GPU check of issue 14, in at most 8 minutes on one GPU: every family's model on the
# device (finite loss, gradients and samples; exact log_prob equal to the CPU's), one short
# training per family at bf16-mixed through the training loop, training throughput per
# family (bare step and loop), and the autoregressive samplers at batch 256.
# What each section does: benchmarks/gpu_check.py. The test suite itself pins its models and
# loops to the CPU (tests build TrainConfig(accelerator="cpu")), so it is not rerun here.
#
#   bash benchmarks/gpu_check.sh                              # on the GPU machine
#   GZ_DEVICE=cpu GZ_TINY=1 bash benchmarks/gpu_check.sh      # CPU smoke test of the logic
#   GZ_FAMILIES=pixelcnn,vae-mlp bash benchmarks/gpu_check.sh # a subset
#
# Output: the log on stdout, also copied to $OUT/gpu_check.log when $OUT is set (the
# device tool's folder). Exit status: 0 if every check passed, 124 if the budget ran out.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="src${PYTHONPATH:+:$PYTHONPATH}"
export GZ_DEVICE="${GZ_DEVICE:-cuda}"
BUDGET="${GZ_BUDGET_S:-470}"   # seconds; the device tool allows 600 per command
PY="${PYTHON:-python}"
LOG="${OUT:-/tmp}/gpu_check.log"
"$PY" -c 'import torch, genzoo; print("python", __import__("sys").version.split()[0], "torch", torch.__version__, "cuda", torch.cuda.is_available())'
timeout --signal=INT --kill-after=20 "$BUDGET" "$PY" benchmarks/gpu_check.py 2>&1 | tee "$LOG"
status=${PIPESTATUS[0]}
echo "gpu_check: exit $status (log: $LOG)"
exit "$status"
