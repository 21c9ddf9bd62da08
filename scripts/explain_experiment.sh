#!/usr/bin/env bash
# The explainer experiment (thesis §5.3.2, Fig. 5.3) on Last.fm 2K and MovieLens small for every
# user: reuses (or trains) the models of the recommender experiment in results/recsys/models,
# writes results/explain/<dataset>.parquet and prints the summary tables.
# sql/experiments/explain_<dataset>.sql set the data set's variables and include the shared
# statements (sql/experiments/common/explain.sql); add --dry-run to a command to list them.
#
# Arguments name other variants instead: `scripts/explain_experiment.sh goodbooks_sample` runs
# sql/experiments/explain_goodbooks_sample.sql (the thesis' protocol at Goodbooks scale: 1,000
# users of goodbooks_synthetic's data; hours on two cores: its models are trained on the first run
# and reused after, and each model x explainer's results are kept once done, so a stopped run
# resumes where it stopped),
# `goodbooks_sample_quick` its quick variant, `lastfm_quick` the demo's.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --bin trustql
mkdir -p results/explain
datasets=("$@")
[ ${#datasets[@]} -gt 0 ] || datasets=(lastfm movielens)
for ds in "${datasets[@]}"; do
  if [ ! -f "sql/experiments/explain_$ds.sql" ]; then
    echo "explain_experiment.sh: no sql/experiments/explain_$ds.sql" >&2
    exit 2
  fi
  /usr/bin/time -f "explain_$ds: %e s wall, %M KB max RSS, load $(cut -d' ' -f1-3 /proc/loadavg) before" \
    "${CARGO_TARGET_DIR:-target}"/release/trustql --models results/recsys/models -f "sql/experiments/explain_$ds.sql"
done
