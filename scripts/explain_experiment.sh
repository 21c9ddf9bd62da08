#!/usr/bin/env bash
# The explainer experiment (thesis §5.3.2, Fig. 5.3) on Last.fm 2K and MovieLens small for every
# user: reuses (or trains) the models of the recommender experiment in results/recsys/models,
# writes results/explain/<dataset>.parquet and prints the summary tables.
# sql/experiments/explain_<dataset>.sql set the data set's variables and include the shared
# statements (sql/experiments/common/explain.sql); add --dry-run to a command to list them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --bin trustql
mkdir -p results/explain
for ds in lastfm movielens; do
  /usr/bin/time -f "explain_$ds: %e s wall, %M KB max RSS" \
    "${CARGO_TARGET_DIR:-target}"/release/trustql --models results/recsys/models -f "sql/experiments/explain_$ds.sql"
done
