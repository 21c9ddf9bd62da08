#!/usr/bin/env bash
# The mixed-model benchmark in one run: the data (bench/lmm/make_data.py, seeded), trustql's fits
# (udfs/benches/lmm.rs), statsmodels' MixedLM on the same data, then both side by side.
#
#   bench/lmm/run.sh
#
# PYTHON: the interpreter with statsmodels (default .venv/bin/python; install with
# .venv/bin/pip install -r bench/lmm/requirements.txt). Results go to target/bench-results/.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY="${PYTHON:-.venv/bin/python}"
OUT=target/bench-results
export OMP_NUM_THREADS="${THREADS:-2}" RAYON_NUM_THREADS="${THREADS:-2}"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs" >&2
"$PY" bench/lmm/make_data.py --out "$OUT/lmm_ch5.csv"
cargo bench -j2 -p trustql-udfs --bench lmm
"$PY" bench/lmm/statsmodels_mixedlm.py --ch5 "$OUT/lmm_ch5.csv" --out "$OUT/lmm_statsmodels.json"
"$PY" bench/lmm/compare.py --results "$OUT"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
