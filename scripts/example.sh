#!/usr/bin/env bash
# Quickstart 1: set everything up, then render the bundled example video.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/renderlib render examples/narrated -o out/narrated.mp4 "$@"
