#!/usr/bin/env bash
# trustql's explain_lime against the Python lime package 0.2.0.1 (issue 22, item 6): the same iNN
# (dim 64, Last.fm 2K) and the same seeded (user, training item) pairs, timed with one and two
# threads / processes, and the agreement of the selected tags (bench/explain/lime_vs_python.py
# says how). The model is trained once into target/bench-results/lime_models (about 20 s) and
# reused; a few minutes in all.
#
#   bench/explain/lime_run.sh [extra options of lime_vs_python.py, e.g. --pairs 200 --retrain]
#
# Needs the trustql binary already built (this script does not build it) and lime in the
# Python environment: .venv/bin/pip install -r bench/explain/requirements.txt
# PROFILE (default debug): the cargo profile whose binary is timed, under CARGO_TARGET_DIR
# (default target); TRUSTQL overrides the binary. PYTHON (default .venv/bin/python).
# Results go to target/bench-results/lime/ (results.json, the SQL scripts and CLI logs).
set -euo pipefail
cd "$(dirname "$0")/../.."
PROFILE="${PROFILE:-debug}"
BIN="${TRUSTQL:-${CARGO_TARGET_DIR:-target}/$PROFILE/trustql}"
PY="${PYTHON:-.venv/bin/python}"
[ -x "$BIN" ] || { echo "no trustql binary at $BIN: build it first (cargo build [--release] --bin trustql)" >&2; exit 1; }
# lime's side runs on one BLAS thread per process; trustql's thread counts are set per run by the script.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
exec "$PY" bench/explain/lime_vs_python.py --trustql "$BIN" --profile "$PROFILE" "$@"
