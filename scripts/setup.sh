#!/usr/bin/env bash
# Installs everything the project needs on a Debian/Ubuntu machine: the system
# packages listed in system-packages.txt and a virtualenv in .venv with the
# project and its dev tools. Safe to run again; it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t packages < <(grep -v '^\s*#' system-packages.txt | grep -v '^\s*$')
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  python3 -m venv .venv
fi
if ! .venv/bin/python -c 'import renderlib, pytest, moto, pulumi' 2>/dev/null \
   || [ pyproject.toml -nt .venv/.installed ]; then
  echo "setup: installing Python packages into .venv"
  .venv/bin/pip install -q --upgrade pip
  # imageio-ffmpeg (MoviePy's) from source: without its bundled 170 MB ffmpeg it
  # uses the system ffmpeg, as the worker image does (docs/worker-image.md).
  PIP_NO_BINARY=imageio-ffmpeg .venv/bin/pip install -q -e '.[farm,dev,infra]'
  touch .venv/.installed
fi
