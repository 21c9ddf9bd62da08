#!/usr/bin/env bash
# Whether two trustql binaries give the same explainer fidelities: runs the demo experiment
# (sql/experiments/explain_lastfm_quick.sql: 187 Last.fm users, the four dim-64 models, four
# explainers, six ω) with each, on models trained once by the first binary into a fresh store,
# and joins the two outputs on (recsys, dim, explainer, ω, user). For changes that must keep the
# results (e.g. the LIME kernels of 2026-12-07). About a minute.
#
#   bench/explain/same_fidelities.sh BEFORE_BINARY AFTER_BINARY
#
# Prints each run's time and the count of rows and of equal fidelities; outputs and logs go to
# target/bench-results/same_fidelities/. Exits 1 when any fidelity differs or is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -eq 2 ] || { echo "usage: bench/explain/same_fidelities.sh BEFORE AFTER" >&2; exit 2; }
out=target/bench-results/same_fidelities
models=$(mktemp -d)
trap 'rm -rf "$models"' EXIT
mkdir -p "$out"
for side in before after; do
  bin=$1; [ "$side" = after ] && bin=$2
  /usr/bin/time -f "$side: %e s wall, %M KB max RSS" \
    "$bin" --models "$models" -f sql/experiments/explain_lastfm_quick.sql > "$out/$side.log" 2>&1
  tail -1 "$out/$side.log"
  cp results/explain/lastfm_quick.parquet "$out/$side.parquet"
done
"$2" -q -c "SELECT count(*) AS rows, count(*) FILTER (WHERE a.fidelity = b.fidelity) AS equal
  FROM '$out/before.parquet' a FULL JOIN '$out/after.parquet' b
  ON a.recsys = b.recsys AND a.dim = b.dim AND a.explainer = b.explainer
  AND a.omega = b.omega AND a.\"user\" = b.\"user\"" | tee "$out/compare.txt"
# The second column equals the first only when every row matched and was equal.
awk -F'|' '/^\| *[0-9]/ { gsub(/ /, ""); exit !($2 == $3 && $2 > 0) }' "$out/compare.txt"
