#!/usr/bin/env bash
# The demo: installs (scripts/setup.sh), trains a small PixelCNN on Fashion-MNIST for a few
# minutes on the CPU, then samples, completes test images and evaluates the test NLL.
# Running it again continues the same run (--resume) instead of starting over.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
G=.venv/bin/genzoo
RUN=${RUN:-runs/demo-pixelcnn}
RESUME=()
[ -f "$RUN/run.json" ] && RESUME=(--resume)
$G train pixelcnn --config configs/pixelcnn-fashion-mnist-demo.toml --out "$RUN" "${RESUME[@]}"
$G sample "$RUN" -n 64 --seed 0 --out "$RUN/samples.png" --force
$G sample "$RUN" --complete test:0-7 --seed 0 --out "$RUN/completions.png" --force
$G eval "$RUN" --split test
echo "demo done: $RUN/samples.png, $RUN/completions.png, $RUN/eval/test.json, logs in $RUN/logs"
