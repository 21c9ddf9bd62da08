#!/usr/bin/env bash
# Idempotent set-up for building trustql: a project-local Python environment `.venv` holding the
# PyTorch 2.11.0 wheel (libtorch for tch 0.24), and the `.libtorch` link that .cargo/config.toml
# points the build at. Nothing is downloaded when the right torch is already installed (pip's
# cache is reused when it is not).
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH_VERSION=2.11.0
PY=${PYTHON:-python3}

have_torch() {
  [ -x .venv/bin/python ] &&
    .venv/bin/python -c "import torch, sys; sys.exit(0 if torch.__version__.split('+')[0] == '$TORCH_VERSION' else 1)" 2>/dev/null
}

if ! have_torch; then
  echo "setup: installing torch==$TORCH_VERSION into .venv (about 4.5 GB, once)" >&2
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/python -m pip install --disable-pip-version-check -q "torch==$TORCH_VERSION"
fi

torch_dir=$(.venv/bin/python -c "import torch, os; print(os.path.dirname(torch.__file__))" 2>/dev/null)
if [ "$(readlink .libtorch 2>/dev/null || true)" != "$torch_dir" ]; then
  ln -sfn "$torch_dir" .libtorch
fi
