#!/usr/bin/env bash
# The k-means benchmark in one run: seeded data (bench/latent/kmeans_vs_sklearn.py), trustql's
# `kmeans` through the CLI (bench/latent/kmeans_speed.sql) and scikit-learn 1.6.1's KMeans
# (lloyd, n_init = 1) and MiniBatchKMeans on the same rows, side by side. A few minutes.
#
#   bench/latent/kmeans_run.sh [--n 200000 --d 20 --k 64 ...]
#   bench/latent/kmeans_run.sh --n 2000000 --d 25 --k 2048 --big-k 0 --batch 4096 --repeats 1 \
#     --skip-digits --algorithms minibatch      # the dictionary scale of the thesis (README)
#
# PYTHON: an interpreter with bench/latent/requirements.txt (default .venv/bin/python).
# THREADS (default 2): threads of both sides. PROFILE (default release; `debug` for the dev
# profile, where trustql-udfs is built at opt-level 2 and matrixmultiply at 3): the cargo profile
# of the trustql binary, found under CARGO_TARGET_DIR (default target); BUILD=0 uses the binary
# already there (e.g. the one `cargo test --workspace --no-run` built). Results go to
# target/bench-results/.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY="${PYTHON:-.venv/bin/python}"
PROFILE="${PROFILE:-release}"
OUT=target/bench-results
export OMP_NUM_THREADS="${THREADS:-2}" RAYON_NUM_THREADS="${THREADS:-2}" OPENBLAS_NUM_THREADS="${THREADS:-2}" MKL_NUM_THREADS="${THREADS:-2}"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs" >&2
if [ "${BUILD:-1}" != 0 ]; then
  if [ "$PROFILE" = release ]; then cargo build --release --bin trustql; else cargo build --bin trustql; fi
fi
DIR="${CARGO_TARGET_DIR:-target}/$([ "$PROFILE" = release ] && echo release || echo debug)"
mkdir -p "$OUT"
rm -rf "$OUT/kmeans_models"
"$PY" bench/latent/kmeans_vs_sklearn.py --trustql "$DIR/trustql" --out "$OUT" --profile "$PROFILE" "$@"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
