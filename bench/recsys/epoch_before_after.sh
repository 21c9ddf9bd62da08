#!/usr/bin/env bash
# One training epoch of a model type on the Goodbooks-shaped data, with two builds of the
# recommender bench run alternately (new, old, new, ...), so that both see the same machine:
#
#   bench/recsys/epoch_before_after.sh OLD_BENCH NEW_BENCH [MODEL] [ROUNDS]
#
# OLD_BENCH and NEW_BENCH are executables of `cargo bench --workspace --no-run --bench recsys`
# (copied aside before and after a change). MODEL defaults to ncf, ROUNDS (of new + old) to 1;
# a last run of NEW follows. SCALE (default 1) scales users and interactions as
# TRUSTQL_BENCH_SCALE does. Prints each run's epoch line (time and loss) and the load average;
# results go to <target>/bench-results/before_after/{old,new}.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -ge 2 ] || { sed -n '2,11p' "$0" >&2; exit 2; }
old="$1" new="$2" model="${3:-ncf}" rounds="${4:-1}"
for b in "$old" "$new"; do
  [ -x "$b" ] || { echo "not an executable: $b" >&2; exit 1; }
done
out="${CARGO_TARGET_DIR:-target}/bench-results/before_after"
mkdir -p "$out/old" "$out/new"
export RAYON_NUM_THREADS="${THREADS:-2}" OMP_NUM_THREADS="${THREADS:-2}"
run() {
  local label="$1" bin="$2"
  echo "$label: load $(cut -d' ' -f1-3 /proc/loadavg)"
  TRUSTQL_BENCH_OUT="$out/$label" TRUSTQL_BENCH_SCALE="${SCALE:-1}" TRUSTQL_BENCH_MODELS="$model" \
    TRUSTQL_BENCH_TOPK_USERS=64 "$bin" --bench 2>&1 | grep -E "epoch [0-9]+/" | sed "s/^/$label: /"
}
for _ in $(seq "$rounds"); do
  run new "$new"
  run old "$old"
done
run new "$new"
