#!/usr/bin/env bash
# Builds build/lambda-deps/python: the layer of PyPI dependencies the Pulumi program ships
# with the dispatcher and jobs resolver Lambdas (their code is handlers/ and renderlib/ as
# they are). Run it before `pulumi up`, and again when scripts/lambda-requirements.txt changes.
# Wheels are chosen for the Lambda runtime (Python 3.12, x86_64 Linux), not for this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
[ -x .venv/bin/python ] && python=.venv/bin/python
out=build/lambda-deps
rm -rf "$out"
mkdir -p "$out/python"
"$python" -m pip install --quiet --no-compile \
  --target "$out/python" \
  --platform manylinux2014_x86_64 --implementation cp --python-version 3.12 \
  --only-binary=:all: \
  -r scripts/lambda-requirements.txt
echo "build-lambda: $(du -sh "$out" | cut -f1) in $out/python"
