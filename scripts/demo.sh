#!/usr/bin/env bash
# The demo: installs (scripts/setup.sh), shows the zoo (the trained models shipped inside
# genzoo, with the figures measured on them), writes one report page per dataset from the
# shipped weights (figures reused from the manifest, pictures drawn now), then trains one
# small model live (the demo VAE, about 20 s) so the loop is seen at work, samples and
# evaluates it. Running it again continues or reuses the live run and rewrites the pages.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
G=.venv/bin/genzoo
OUT=${OUT:-runs/demo}
mkdir -p "$OUT"
echo "== genzoo zoo"
$G zoo
# The zoo's own settings (configs/zoo.toml [eval]), so every figure is the stored one.
SETTINGS=(--metrics nll,fid,kid,pr,dc,nn --n 10000 --features domain --no-real-row)
echo "== genzoo report: the 8-bit Fashion-MNIST models of the zoo"
$G report zoo:pixelcnn-fashion-mnist zoo:gated-pixelcnn-fashion-mnist zoo:pixelrnn-fashion-mnist \
  zoo:pixelcnnpp-fashion-mnist zoo:realnvp-fashion-mnist zoo:glow-fashion-mnist \
  zoo:nice-fashion-mnist zoo:vae-fashion-mnist zoo:gan-fashion-mnist \
  "${SETTINGS[@]}" --title "genzoo zoo: 8-bit Fashion-MNIST" --out "$OUT/zoo-fashion-mnist.html" --force
echo "== genzoo report: the binarised Fashion-MNIST models of the zoo"
$G report zoo:fvsbn-binarized-fashion-mnist zoo:nade-binarized-fashion-mnist \
  zoo:made-binarized-fashion-mnist zoo:pixelcnn-binarized-fashion-mnist \
  zoo:gated-pixelcnn-binarized-fashion-mnist zoo:pixelrnn-binarized-fashion-mnist \
  zoo:pixelrnn-diagonal-bilstm-binarized-fashion-mnist \
  zoo:vae-binarized-fashion-mnist zoo:rbm-binarized-fashion-mnist zoo:rbm-pcd-binarized-fashion-mnist \
  zoo:dbm-binarized-fashion-mnist zoo:gsn-binarized-fashion-mnist \
  "${SETTINGS[@]}" --title "genzoo zoo: binarised Fashion-MNIST" --out "$OUT/zoo-binarized.html" --force
RESUME=()
[ -f "$OUT/vae/run.json" ] && RESUME=(--resume)
echo "== genzoo train vae --config configs/demo/vae.toml (a small model, live)"
$G train vae --config configs/demo/vae.toml --out "$OUT/vae" "${RESUME[@]}"
$G sample "$OUT/vae" -n 64 --out "$OUT/vae-samples.png" --force
$G eval "$OUT/vae" --n 1000 --iwae-k 100
echo "demo done: open $OUT/zoo-fashion-mnist.html and $OUT/zoo-binarized.html;" \
     "the live VAE's samples are $OUT/vae-samples.png"
