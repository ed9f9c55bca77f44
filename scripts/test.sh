#!/usr/bin/env bash
# Quickstart 2: set everything up, then run every check CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== policy pack, offline, on every committed stack"
.venv/bin/python -m policies.check dev prod
echo "== pytest"
.venv/bin/python -m pytest "$@"
