#!/usr/bin/env bash
# The demo: installs (scripts/setup.sh), briefly trains a PixelCNN, a VAE and a GAN on
# Fashion-MNIST on the CPU (configs/demo/*.toml), evaluates the three the same way and writes
# one HTML report. Running it again reuses finished runs and their figures, continues an
# interrupted run (--resume) and rewrites the report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
G=.venv/bin/genzoo
OUT=${OUT:-runs/demo}
for MODEL in pixelcnn vae gan; do
  RESUME=()
  [ -f "$OUT/$MODEL/run.json" ] && RESUME=(--resume)
  echo "== genzoo train $MODEL --config configs/demo/$MODEL.toml"
  $G train "$MODEL" --config "configs/demo/$MODEL.toml" --out "$OUT/$MODEL" "${RESUME[@]}"
done
# 500 samples per model against 500 test images, on the fast domain-classifier features
# (labelled as such in the table; use --features inception --n 10000 for paper-style FIDs).
$G report "$OUT/pixelcnn" "$OUT/vae" "$OUT/gan" \
  --metrics nll,fid,kid,pr,dc,is,nn --n 500 --features domain --iwae-k 100 \
  --title "genzoo demo: PixelCNN, VAE and GAN on Fashion-MNIST" --out "$OUT/report.html" --force
echo "demo done: open $OUT/report.html (figures in $OUT/*/eval/test.json, logs in $OUT/*/logs)"
