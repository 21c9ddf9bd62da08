#!/usr/bin/env bash
# The LDA benchmark in one run: a seeded corpus of 2,000 documents × 2,048 terms from 40 planted
# topics (bench/latent/lda_vs_sklearn.py), trustql's `lda` through the CLI
# (bench/latent/lda_speed.sql) and scikit-learn 1.6.1's LatentDirichletAllocation(learning_method=
# 'batch') on the same matrix with the same k, max_iter and priors, each with 1 and THREADS
# threads; prints fit times, training-set perplexities and their ratios. A few minutes.
#
#   bench/latent/lda_run.sh [--docs N --terms W --topics K --max-iter T]
#
# BIN: the trustql binary (default: the debug build, $CARGO_TARGET_DIR/debug/trustql, as
#   `cargo test --workspace --no-run` leaves it; trustql-udfs is optimised at level 2 in the dev
#   profile). PYTHON: an interpreter with bench/latent/requirements.txt (default .venv/bin/python).
#   THREADS (default 2). Results go to target/bench-results/.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY="${PYTHON:-.venv/bin/python}"
BIN="${BIN:-${CARGO_TARGET_DIR:-target}/debug/trustql}"
OUT=target/bench-results
CPUS="$(getconf _NPROCESSORS_ONLN)"
# NumPy's BLAS single-threaded: scikit-learn's LDA parallelises over documents (n_jobs), and its
# products are on k-long vectors.
export THREADS="${THREADS:-2}" OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
if [ ! -x "$BIN" ]; then
  echo "no trustql binary at $BIN: build it with cargo test --workspace --no-run, or set BIN" >&2
  exit 1
fi
echo "binary: $BIN; load before: $(cut -d' ' -f1-3 /proc/loadavg) on $CPUS CPUs" >&2
rm -rf "$OUT/lda_models"
"$PY" bench/latent/lda_vs_sklearn.py --trustql "$BIN" --out "$OUT" --threads "$THREADS" "$@"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
