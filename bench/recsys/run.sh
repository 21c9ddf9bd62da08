#!/usr/bin/env bash
# The recommender benchmarks in one run: trustql's bench (udfs/benches/recsys.rs), then implicit's
# ALS on the same split, then both side by side.
#
#   bench/recsys/run.sh            # wrmf and mostpop (the side-by-side part; about 2 minutes)
#   bench/recsys/run.sh all        # every model type (about 1.5 hours on 2 cores)
#   bench/recsys/run.sh wrmf,inn   # any list of model types
#   bench/recsys/run.sh fm         # FM's epoch, then LightFM's (BPR, WARP) on the same data
#
# THREADS (default 2) sets the threads of both sides; PYTHON the interpreter with
# bench/recsys/requirements.txt installed (default .venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/../.."
MODELS="${1:-wrmf,mostpop}"
THREADS="${THREADS:-2}"
PY="${PYTHON:-.venv/bin/python}"
# rayon (the ALS kernel) and libtorch (scoring) threads; implicit gets --threads.
export RAYON_NUM_THREADS="$THREADS" OMP_NUM_THREADS="$THREADS"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs" >&2
TRUSTQL_BENCH_MODELS="$MODELS" cargo bench -j2 --workspace --bench recsys
if [[ "$MODELS" == all || ",$MODELS," == *,wrmf,* ]]; then
  # implicit asks for single-threaded BLAS: it parallelises over users itself.
  OPENBLAS_NUM_THREADS=1 "$PY" bench/recsys/implicit_wrmf.py --threads "$THREADS"
fi
if [[ "$MODELS" == all || ",$MODELS," == *,fm,* ]]; then
  # LightFM (bench/recsys/install_lightfm.sh installs it): one epoch of each loss.
  for loss in bpr warp; do
    OPENBLAS_NUM_THREADS=1 "$PY" bench/recsys/lightfm_fm.py --loss "$loss" --threads "$THREADS"
  done
fi
"$PY" bench/recsys/compare.py
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
