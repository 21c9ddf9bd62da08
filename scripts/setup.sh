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
  # pip unpacks the wheels (about 3 GB downloaded) beside the 4.5 GB it installs: say so plainly
  # before starting rather than fail half-way with pip's "No space left on device".
  need_kb=$((8 * 1024 * 1024))
  free_kb=$(df -Pk . | awk 'NR == 2 { print $4 }')
  if [ -n "$free_kb" ] && [ "$free_kb" -lt "$need_kb" ]; then
    echo "setup: installing torch==$TORCH_VERSION needs about 8 GB free on the disk of $(pwd);" \
         "$((free_kb / 1024 / 1024)) GB are free (a build cache such as \$CARGO_TARGET_DIR may hold the space)" >&2
    exit 1
  fi
  echo "setup: installing torch==$TORCH_VERSION into .venv (about 4.5 GB, once)" >&2
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/python -m pip install --disable-pip-version-check -q "torch==$TORCH_VERSION"
fi

torch_dir=$(.venv/bin/python -c "import torch, os; print(os.path.dirname(torch.__file__))" 2>/dev/null)
if [ "$(readlink .libtorch 2>/dev/null || true)" != "$torch_dir" ]; then
  ln -sfn "$torch_dir" .libtorch
fi

# The music21 score corpus (scripts/music21_corpus.py, scripts/performances.py; docs/corpus.md):
# music21 and pyarrow in .venv, and the General MIDI soundfont that render_midi uses.
MUSIC21_VERSION=10.5.1
PYARROW_VERSION=26.0.1
if ! .venv/bin/python -c "from importlib.metadata import version as v; import sys; sys.exit(0 if (v('music21'), v('pyarrow')) == ('$MUSIC21_VERSION', '$PYARROW_VERSION') else 1)" 2>/dev/null; then
  echo "setup: installing music21==$MUSIC21_VERSION pyarrow==$PYARROW_VERSION into .venv" >&2
  .venv/bin/python -m pip install --disable-pip-version-check -q \
    "music21==$MUSIC21_VERSION" "pyarrow==$PYARROW_VERSION"
fi

# The Python package's tests and examples (python/, README "Python"): pytest, pandas, the
# datafusion-python package whose FFI matches DataFusion 55, maturin (wheels), matplotlib.
PY_TEST_PINS="pytest==9.2.0 pandas==3.1.1 datafusion==55.0.0 maturin==1.16.0 matplotlib==3.11.2"
if ! .venv/bin/python - "$PY_TEST_PINS" 2>/dev/null <<'PYEOF'
import sys
from importlib.metadata import version
sys.exit(0 if all(version(n) == v for n, v in (p.split("==") for p in sys.argv[1].split())) else 1)
PYEOF
then
  echo "setup: installing $PY_TEST_PINS into .venv" >&2
  # shellcheck disable=SC2086
  .venv/bin/python -m pip install --disable-pip-version-check -q $PY_TEST_PINS
fi

SOUNDFONT=/usr/share/sounds/sf2/TimGM6mb.sf2
if [ ! -f "$SOUNDFONT" ]; then
  echo "setup: installing the Debian package timgm6mb-soundfont ($SOUNDFONT)" >&2
  if [ "$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; else SUDO=none; fi
  if [ "$SUDO" = none ] || ! command -v apt-get >/dev/null 2>&1 ||
     ! { $SUDO apt-get install -y -q --no-install-recommends timgm6mb-soundfont >/dev/null 2>&1 ||
         { $SUDO apt-get update -q >/dev/null 2>&1 &&
           $SUDO apt-get install -y -q --no-install-recommends timgm6mb-soundfont >/dev/null 2>&1; }; }; then
    echo "setup: could not install timgm6mb-soundfont (needs apt-get and root or sudo);" \
         "install it by hand: apt-get install timgm6mb-soundfont" >&2
  fi
fi
