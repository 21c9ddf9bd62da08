#!/usr/bin/env bash
# Where one explainer's fidelity time goes: runs the statement of the explainer experiment for one
# model and explainer on every 10th Last.fm user (as the quick variant: 187 users x 6 omegas x
# 20 candidates) under `perf record`, then prints the hottest symbols (`perf report`). The models
# must exist (scripts/recsys_experiment.sh trains them into results/recsys/models).
#
#   bench/explain/profile.sh MODEL EXPLAINER      e.g. bench/explain/profile.sh lastfm_ncf64 lime
#
# PROFILE (default release) picks the binary under CARGO_TARGET_DIR (default target); TRUSTQL
# overrides it. Needs perf (Debian: linux-perf). Output under target/bench-results/profile/.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -eq 2 ] || { echo "usage: bench/explain/profile.sh MODEL EXPLAINER" >&2; exit 2; }
model=$1 explainer=$2
case "$model$explainer" in *[!A-Za-z0-9_]*) echo "profile: model and explainer are plain names" >&2; exit 2 ;; esac
PROFILE="${PROFILE:-release}"
BIN="${TRUSTQL:-${CARGO_TARGET_DIR:-target}/$PROFILE/trustql}"
[ -x "$BIN" ] || { echo "no trustql binary at $BIN: build it first" >&2; exit 1; }
command -v perf >/dev/null || { echo "perf is not installed (apt-get install linux-perf)" >&2; exit 1; }
out=target/bench-results/profile
mkdir -p "$out"
sql="$out/${model}_$explainer.sql"
cat > "$sql" <<SQL
CREATE TABLE users AS SELECT DISTINCT user_id AS "user"
  FROM '../shared/data/recsys/lastfm-2k/interactions.parquet' WHERE user_id % 10 = 0;
CREATE TABLE tasks AS SELECT "user", unnest(make_array(1, 2, 4, 8, 16, 32)) AS omega
  FROM users ORDER BY "user", omega;
SELECT count(*) AS n, avg(f) AS mean_fidelity FROM (
  SELECT fidelity('$model', '$explainer', "user", omega, 20, 'samples = 1000') AS f FROM tasks);
SQL
data="$out/${model}_$explainer.perf.data"
perf record -F 499 -g -o "$data" "$BIN" --models results/recsys/models -f "$sql"
perf report -i "$data" --no-children --sort dso,symbol --stdio 2>/dev/null |
  grep -v '^#' | grep '%' | grep -v -- '--' | head -25 | cut -c1-160
