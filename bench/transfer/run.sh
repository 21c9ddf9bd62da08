#!/usr/bin/env bash
# The transfer benchmark in one run: seeded data (bench/transfer/mlp_vs_sklearn.py), trustql's
# mlp through the CLI (bench/transfer/mlp_speed.sql) and scikit-learn's MLPClassifier on the same
# data, side by side. A few minutes.
#
#   bench/transfer/run.sh
#
# PYTHON: an interpreter with scikit-learn and pyarrow (default .venv/bin/python; e.g.
#   python3 -m venv /tmp/skl && /tmp/skl/bin/pip install scikit-learn pyarrow, then
#   PYTHON=/tmp/skl/bin/python). THREADS (default 2): threads of both sides. PROFILE (default
#   release): the cargo profile of the trustql binary. Results go to target/bench-results/.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY="${PYTHON:-.venv/bin/python}"
PROFILE="${PROFILE:-release}"
OUT=target/bench-results
export OMP_NUM_THREADS="${THREADS:-2}" RAYON_NUM_THREADS="${THREADS:-2}" OPENBLAS_NUM_THREADS="${THREADS:-2}" MKL_NUM_THREADS="${THREADS:-2}"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs" >&2
if [ "$PROFILE" = release ]; then cargo build --release --bin trustql; else cargo build --bin trustql; fi
DIR="${CARGO_TARGET_DIR:-target}/$([ "$PROFILE" = release ] && echo release || echo debug)"
rm -rf "$OUT/transfer_models"
"$PY" bench/transfer/mlp_vs_sklearn.py --trustql "$DIR/trustql" --out "$OUT" "$@"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
