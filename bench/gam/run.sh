#!/usr/bin/env bash
# The GAM benchmark in one run (issue 20): trustql's gam and R's mgcv on the same data and
# formulas, side by side — the ch. 4 consistency-shaped model (1,880 rows, 25 factor-by smooths)
# and a 10,000-row additive model (three smooths and a factor), both from
# tests/reference/data/. trustql's fits through the CLI (bench/gam/gam_speed.sql, each CREATE
# MODEL repeated; the time is the fit time the CLI prints), mgcv's by bench/gam/mgcv_speed.R
# (best of the same number of gam() calls), then bench/gam/compare.py. About a minute.
#
#   bench/gam/run.sh
#
# Needs Rscript with mgcv and jsonlite (Debian: r-base-core r-cran-mgcv r-cran-jsonlite).
# PROFILE (default release): the cargo profile of the trustql binary. THREADS (default 2).
# Results go to target/bench-results/.
set -euo pipefail
cd "$(dirname "$0")/../.."
PROFILE="${PROFILE:-release}"
OUT=target/bench-results
mkdir -p "$OUT"
export OMP_NUM_THREADS="${THREADS:-2}" RAYON_NUM_THREADS="${THREADS:-2}" OPENBLAS_NUM_THREADS="${THREADS:-2}"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs" >&2
if [ "$PROFILE" = release ]; then cargo build --release --bin trustql; else cargo build --bin trustql; fi
DIR="${CARGO_TARGET_DIR:-target}/$([ "$PROFILE" = release ] && echo release || echo debug)"
rm -rf "$OUT/gam_models"
"$DIR/trustql" --models "$OUT/gam_models" -f bench/gam/gam_speed.sql > "$OUT/gam_trustql.log" 2>&1
Rscript bench/gam/mgcv_speed.R "$OUT/gam_mgcv.json"
python3 bench/gam/compare.py --results "$OUT" --profile "$PROFILE"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
