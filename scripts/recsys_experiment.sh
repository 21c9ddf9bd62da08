#!/usr/bin/env bash
# The recommender experiment (thesis §5.3.1, Fig. 5.2) on Last.fm 2K and MovieLens small: trains
# every model type, evaluates nDCG@100 and nDiv@100 on a per-user holdout, writes
# results/recsys/<dataset>.parquet and prints the tables. Models go to results/recsys/models.
# sql/experiments/recsys_<dataset>.sql set the data set's variables and include the shared
# statements (sql/experiments/common/recsys.sql); add --dry-run to a command to list them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --bin trustql
mkdir -p results/recsys
for ds in lastfm movielens; do
  /usr/bin/time -f "recsys_$ds: %e s wall, %M KB max RSS" \
    "${CARGO_TARGET_DIR:-target}"/release/trustql --models results/recsys/models -f "sql/experiments/recsys_$ds.sql"
done
