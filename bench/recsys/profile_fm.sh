#!/usr/bin/env bash
# Where one FM epoch's time goes: runs the recommender bench's FM epoch (the Goodbooks-shaped data
# of udfs/benches/recsys.rs, dim 64, 10 negatives, 2 threads) under `perf record`, then prints
# the share of the samples per thread (the main thread, the sampling thread, the rayon workers;
# data generation and the WRMF initialisation are in the main and worker threads too) and the
# hottest symbols per thread.
#
#   bench/recsys/profile_fm.sh          # full scale (about 3 minutes)
#   SCALE=0.1 bench/recsys/profile_fm.sh
#   MODEL=ncf SCALE=0.1 bench/recsys/profile_fm.sh   # NCF's epoch instead
#
# Builds the bench with the release profile (`cargo bench --workspace --no-run`). Needs perf
# (Debian: linux-perf). Output under <target>/bench-results/profile_fm/.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v perf >/dev/null || { echo "perf is not installed (apt-get install linux-perf)" >&2; exit 1; }
target="${CARGO_TARGET_DIR:-target}"
bin=$(cargo bench --workspace --no-run --bench recsys --message-format=json 2>/dev/null |
  sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)
[ -x "$bin" ] || { echo "could not build the recsys bench" >&2; exit 1; }
out="$target/bench-results/profile_fm"
mkdir -p "$out"
export RAYON_NUM_THREADS=2 OMP_NUM_THREADS=2
TRUSTQL_BENCH_OUT="$out" TRUSTQL_BENCH_SCALE="${SCALE:-1}" TRUSTQL_BENCH_MODELS="${MODEL:-fm}" \
  TRUSTQL_BENCH_TOPK_USERS=64 perf record -F 499 -o "$out/perf.data" "$bin" --bench 2>&1 |
  grep -E "epoch|perf record"
echo "share of the samples per thread:"
perf report -i "$out/perf.data" --no-children --sort pid -g none --stdio 2>/dev/null |
  grep -v '^#' | grep '%' | head -6
echo "hottest symbols per thread:"
perf report -i "$out/perf.data" --no-children --sort pid,symbol -g none --stdio 2>/dev/null |
  grep -v '^#' | grep '%' | head -25 | cut -c1-150
