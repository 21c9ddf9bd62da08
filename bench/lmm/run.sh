#!/usr/bin/env bash
# The mixed-model benchmark in one run: the data (bench/lmm/make_data.py, seeded), trustql's fits
# through the CLI (bench/lmm/lmm_speed.sql: each CREATE MODEL timed by the CLI), statsmodels'
# MixedLM on the same data (bench/lmm/statsmodels_mixedlm.py), then both side by side
# (bench/lmm/compare.py). About a minute.
#
#   bench/lmm/run.sh
#
# PYTHON: the interpreter with bench/lmm/requirements.txt installed (default .venv/bin/python).
# THREADS (default 2): threads of both sides. Results go to target/bench-results/.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY="${PYTHON:-.venv/bin/python}"
OUT=target/bench-results
export OMP_NUM_THREADS="${THREADS:-2}" RAYON_NUM_THREADS="${THREADS:-2}" OPENBLAS_NUM_THREADS="${THREADS:-2}"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs" >&2
cargo build --release --bin trustql
"$PY" bench/lmm/make_data.py --out "$OUT/lmm_ch5.csv"
rm -rf "$OUT/lmm_models"
"${CARGO_TARGET_DIR:-target}"/release/trustql --models "$OUT/lmm_models" -f bench/lmm/lmm_speed.sql > "$OUT/lmm_trustql.log" 2>&1
"$PY" bench/lmm/statsmodels_mixedlm.py --ch5 "$OUT/lmm_ch5.csv" --out "$OUT/lmm_statsmodels.json"
"$PY" bench/lmm/compare.py --results "$OUT"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
