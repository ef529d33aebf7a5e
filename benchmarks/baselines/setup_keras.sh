#!/usr/bin/env bash
# The seeds' stack (TensorFlow + Keras 3) in its own virtual environment, never a dependency of zspace.
# Usage: bash benchmarks/baselines/setup_keras.sh [VENV]   (default: benchmarks/.venv-keras)
# Prints the venv's python on success; exits non-zero with pip's last lines when TensorFlow cannot be installed.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=${1:-benchmarks/.venv-keras}
PYTHON=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import tensorflow, keras" 2>/dev/null; then
  "$PYTHON" -m venv "$VENV"
  if ! "$VENV/bin/pip" install --quiet --disable-pip-version-check "tensorflow>=2.16" "keras>=3" numpy \
      > "$VENV/install.log" 2>&1; then
    tail -5 "$VENV/install.log" >&2
    exit 1
  fi
fi
echo "$VENV/bin/python"
