#!/usr/bin/env bash
# holdout_split in bounded memory (issue 22, item 5): splits a generated table of ROWS rows
# (default 60,000,000 (user, item, rating) rows, about 600,000 users) under a DataFusion memory
# pool of LIMIT (default 1G; DataFusion takes K, M and G), writes the split to Parquet, and reports the wall time and the
# maximum RSS (GNU time), beside the RSS of the same binary running `SELECT 1` (what the process
# takes before any work), then checks the result: as many rows as the table, and each user's
# number of test rows equal to the documented count rule computed in SQL from the user's row count.
#
#   bench/recsys/holdout_split_memory.sh                      # 60M rows, 1G pool
#   ROWS=10000000 LIMIT=512M bench/recsys/holdout_split_memory.sh
#   BIN=/path/to/trustql bench/recsys/holdout_split_memory.sh # another build (e.g. an older one)
#   LIMIT=none ...                                            # no pool limit (DataFusion's default)
#
# The generated table and the split are kept in DIR (default target/holdout_split_bench; about
# 1.5 GB for 60M rows) so that a second run skips the generation.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS="${ROWS:-60000000}"
LIMIT="${LIMIT:-1G}"
DIR="${DIR:-target/holdout_split_bench}"
BIN="${BIN:-${CARGO_TARGET_DIR:-target}/debug/trustql}"
[ -x "$BIN" ] || { echo "no trustql binary at $BIN (cargo build, or set BIN)" >&2; exit 1; }
mkdir -p "$DIR"
table="$DIR/ratings_$ROWS.parquet"
if [ ! -f "$table" ]; then
  echo "generating $ROWS rows into $table" >&2
  # Multiplicative hashing of the row number spreads users and items; (user, item) pairs repeat
  # now and then, as duplicate ratings do in real data.
  "$BIN" -q -c "COPY (SELECT CAST((v * 2654435761) % 600011 AS BIGINT) AS \"user\",
                             CAST((v * 40503) % 100003 AS BIGINT) AS item,
                             CAST(v % 5 + 1 AS INT) AS rating
                      FROM generate_series(1, $ROWS) AS t(v))
                TO '$table.tmp' STORED AS PARQUET" >/dev/null
  mv "$table.tmp" "$table"
fi
limit_sql=()
if [ "$LIMIT" != none ]; then
  limit_sql=(-c "SET datafusion.runtime.memory_limit = '$LIMIT'")
fi
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs" >&2
/usr/bin/time -f "the process alone (SELECT 1): %M KiB maximum RSS" "$BIN" -q -c "SELECT 1" >/dev/null
out="$DIR/split.parquet"
rm -rf "$out"
/usr/bin/time -f "holdout_split of $ROWS rows, pool ${LIMIT}: %e s wall, %M KiB maximum RSS" \
  "$BIN" -q "${limit_sql[@]}" \
  -c "CREATE EXTERNAL TABLE ratings STORED AS PARQUET LOCATION '$table'" \
  -c "COPY (SELECT * FROM holdout_split('ratings', 0.2, 42)) TO '$out' STORED AS PARQUET"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
# The check: the split has as many rows as the table, and each user's test count is the rule's
# t = min(round(0.2 n), n - 1) (halves up; n = 1 gives 0).
"$BIN" -q -c "CREATE EXTERNAL TABLE ratings STORED AS PARQUET LOCATION '$table'" \
  -c "CREATE EXTERNAL TABLE split STORED AS PARQUET LOCATION '$out'" \
  -c "SELECT (SELECT count(*) FROM ratings) AS table_rows, count(*) AS split_rows,
             sum(CAST(test AS BIGINT)) AS test_rows,
             (SELECT sum(CASE WHEN n <= 1 THEN 0 ELSE least(CAST(round(0.2 * n) AS BIGINT), n - 1) END)
                FROM (SELECT count(*) AS n FROM ratings GROUP BY \"user\")) AS rule_test_rows,
             (SELECT count(*) FROM (SELECT \"user\", sum(CAST(test AS BIGINT)) AS t, count(*) AS n
                                    FROM split GROUP BY \"user\")
               WHERE t <> CASE WHEN n <= 1 THEN 0 ELSE least(CAST(round(0.2 * n) AS BIGINT), n - 1) END)
               AS users_off_rule
      FROM split"
