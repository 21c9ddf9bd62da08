#!/usr/bin/env bash
# The explainer experiment's quick variant (sql/experiments/explain_lastfm_quick.sql) embedded and
# on a local cluster of 1 and of 2 executors (scripts/cluster.sh; separate processes on this
# machine, talking gRPC and Arrow Flight on localhost), alternately, with the same number of task
# slots in all (the machine's cores: one executor with all of them, two with half each). Each
# cluster run's results are checked against the embedded run's (every row, every value). The
# models are those of the recommender experiment in results/recsys/models (the first embedded
# run trains any missing one, untimed). Release build with the `cluster` feature.
#
#   bench/cluster/explain_quick.sh [ROUNDS]      (default 2)
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-2}
scripts/setup.sh
cargo build --release --features cluster --bin trustql
bin="${CARGO_TARGET_DIR:-target}/release/trustql"
models=results/recsys/models
experiment=sql/experiments/explain_lastfm_quick.sql
out=results/explain/lastfm_quick.parquet
cores=$(nproc)
reference=$(mktemp --suffix=.parquet)
trap 'rm -f "$reference"; scripts/cluster.sh stop >/dev/null' EXIT
"$bin" -q --models "$models" -f "$experiment" >/dev/null
seconds() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }
same() {
  "$bin" -q --format csv -c "SELECT (SELECT count(*) FROM '$1') AS rows,
    (SELECT count(*) FROM (SELECT * FROM '$1' EXCEPT ALL SELECT * FROM '$2'))
    + (SELECT count(*) FROM (SELECT * FROM '$2' EXCEPT ALL SELECT * FROM '$1')) AS differing" |
    tail -1
}
for i in $(seq "$rounds"); do
  echo "round $i, load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "embedded: $(seconds "$bin" -q --models "$models" -f "$experiment") s"
  cp "$out" "$reference"
  for n in 1 2; do
    TRUSTQL_EXECUTOR_VCORES=$((cores / n)) scripts/cluster.sh start "$n" "$models" >/dev/null
    t=$(seconds "$bin" -q --cluster df://localhost:50050 --models "$models" -f "$experiment")
    scripts/cluster.sh stop >/dev/null
    IFS=, read -r rows differing <<<"$(same "$out" "$reference")"
    echo "cluster, $n executor(s) × $((cores / n)) slots: $t s; $rows rows, $differing differing from the embedded run"
    [ "$differing" = 0 ] || exit 1
  done
done
