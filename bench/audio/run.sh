#!/usr/bin/env bash
# The audio benchmark in one run: trustql's MFCCs, MFCC statistics, exact DTW and SiMPle on the 24
# music clips through the CLI (bench/audio/audio_speed.sql), then librosa, fastdtw and
# dtaidistance on the same clips and the same MFCC frames (bench/audio/python_peers.py), then
# both side by side (bench/audio/compare.py). A few minutes.
#
#   bench/audio/run.sh
#
# PYTHON: the interpreter with bench/audio/requirements.txt installed (default .venv/bin/python).
# THREADS (default 2): trustql's threads (the Python peers use one). Results go to
# target/bench-results/.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY="${PYTHON:-.venv/bin/python}"
OUT=target/bench-results
mkdir -p "$OUT"
export RAYON_NUM_THREADS="${THREADS:-2}"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs; trustql threads: $RAYON_NUM_THREADS" >&2
cargo build --release --bin trustql
"${CARGO_TARGET_DIR:-target}"/release/trustql -f bench/audio/audio_speed.sql > "$OUT/audio_trustql.log" 2>&1
"$PY" bench/audio/python_peers.py --results "$OUT"
"$PY" bench/audio/compare.py --results "$OUT"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
