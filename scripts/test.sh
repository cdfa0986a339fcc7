#!/usr/bin/env bash
# Installs (scripts/setup.sh), then lints and runs the whole test suite on 2 processes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src tests benchmarks
.venv/bin/python -m pytest -n 2 -q "$@"
