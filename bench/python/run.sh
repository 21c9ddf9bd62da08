#!/usr/bin/env bash
# The cost of crossing into Python (issue 23): a 10-million-row (user, item, score) result of a
# real scoring cross (Last.fm 2K listeners x artists, `score` of a most-popular model) returned
# to pandas by the Python package, against the same query written to Parquet by the CLI (and by
# COPY in the Python session). Release builds of both (bench/python/build.sh).
#
#   bench/python/run.sh [ROWS] [REPEATS]      (defaults 10000000 3)
#
# Run from the repository root with nothing else running; it prints each run and a summary.
set -euo pipefail
cd "$(dirname "$0")/../.."
rows=${1:-10000000}
repeats=${2:-3}
. bench/python/build.sh
models="$target/python-bench/models"
data="${TRUSTQL_SHARED:-../shared}/data/recsys/lastfm-2k"
"$target/release/trustql" --models "$models" -q -c "
  CREATE EXTERNAL TABLE plays STORED AS PARQUET LOCATION '$data/interactions.parquet';
  CREATE MODEL IF NOT EXISTS lastfm_pop OPTIONS (type = 'mostpop')
    AS SELECT user_id AS \"user\", item_id AS item, value FROM plays;" >/dev/null
q="SELECT u.user_id AS \"user\", i.item_id AS item, score('lastfm_pop', u.user_id, i.item_id) AS score
   FROM (SELECT DISTINCT user_id FROM plays) u
   CROSS JOIN (SELECT item_id FROM artists ORDER BY item_id LIMIT 6000) i LIMIT $rows"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq "$repeats"); do
  # The CLI's whole run: start, libtorch, planning, scoring, Parquet; as a user would time it.
  /usr/bin/time -f "cli run $i: COPY to Parquet %e s wall, %M KB max RSS" \
    "$target/release/trustql" --models "$models" -q -c "
      CREATE EXTERNAL TABLE plays STORED AS PARQUET LOCATION '$data/interactions.parquet';
      CREATE EXTERNAL TABLE artists STORED AS PARQUET LOCATION '$data/items.parquet';
      COPY ($q) TO '$out/scores.parquet' STORED AS PARQUET;" >/dev/null
done
PYTHONPATH="$site" .venv/bin/python bench/python/crossing.py "$models" "$rows" "$repeats"
