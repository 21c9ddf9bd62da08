#!/usr/bin/env bash
# Whether two trustql binaries train the same FM: each trains an FM (dim 32, 3 epochs, seed 42)
# on Last.fm 2K with its tags and writes the score of every training pair at full precision
# (shortest round-trip text); the two files must be identical. Used to check that a change to
# FM's training (scheduling, memory layout) kept every bit of the trained model. MODEL=ncf
# checks NCF the same way (its kernel shares FM's batch preparation and row passes).
#
#   bench/recsys/fm_same_bits.sh OLD_BINARY NEW_BINARY
#   MODEL=ncf bench/recsys/fm_same_bits.sh OLD_BINARY NEW_BINARY
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -eq 2 ] || { echo "usage: bench/recsys/fm_same_bits.sh OLD_BINARY NEW_BINARY" >&2; exit 2; }
model="${MODEL:-fm}"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for side in old new; do
  bin=$1; shift
  mkdir -p "$out/$side"
  cat > "$out/$side.sql" <<SQL
CREATE EXTERNAL TABLE inter STORED AS PARQUET LOCATION '../shared/data/recsys/lastfm-2k/interactions.parquet';
CREATE EXTERNAL TABLE itags STORED AS PARQUET LOCATION '../shared/data/recsys/lastfm-2k/item_tags.parquet';
CREATE VIEW tr AS SELECT user_id AS "user", item_id AS item, value FROM inter;
CREATE VIEW tg AS SELECT item_id AS item, tag_id AS tag, weight FROM itags;
CREATE MODEL fm_bits OPTIONS (type = '$model', dim = 32, tags = 'tg', seed = 42, epochs = 3) AS SELECT * FROM tr;
COPY (SELECT "user", item, CAST(score('fm_bits', "user", item) AS VARCHAR) AS s FROM tr
  ORDER BY "user", item) TO '$out/$side/scores.csv' STORED AS CSV;
SQL
  "$bin" -q --models "$out/$side" -f "$out/$side.sql" > /dev/null
done
rows=$(($(wc -l < "$out/old/scores.csv") - 1))
if cmp -s "$out/old/scores.csv" "$out/new/scores.csv"; then
  echo "same scores, bit for bit, on all $rows training pairs"
else
  echo "the scores differ ($rows pairs); first differing line: $(cmp "$out/old/scores.csv" "$out/new/scores.csv" | head -1)"
  exit 1
fi
