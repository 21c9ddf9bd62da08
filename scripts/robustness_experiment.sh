#!/usr/bin/env bash
# The robustness experiment of thesis ch. 4 with deep encoders and its analysis, as resumable
# steps: trains the four encoders and measures consistency (sql/experiments/robustness_deep.sql,
# about half an hour on a 2-core CPU), scores task performance (performance_deep.sql, minutes),
# then fits the chapter's GAMs (robustness_gam.sql, about a minute). A step whose output exists is
# skipped, so a stopped run continues with the first unfinished step; --analysis-only runs the
# last step alone from the committed per-trial responses (experiments/robustness/responses.csv,
# which sql/experiments/robustness_responses.sql computes from the experiment's results).
#
#   scripts/robustness_experiment.sh [--analysis-only] [--debug] [--bin PATH]
#
# Results: results/robustness/ (ignored by git: models, distances, consistency, performance) and
# experiments/robustness/ (committed: the per-trial responses, the GAM fits, joint tests, EMMs,
# figures and the analysis' printed output).
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
bin=
analysis_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --analysis-only) analysis_only=1 ;;
    --debug) profile=debug ;;
    --bin) bin=$2; shift ;;
    *) echo "robustness_experiment: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

if [ -z "$bin" ]; then
  scripts/setup.sh
  if [ "$profile" = release ]; then
    cargo build --release --bin trustql
    bin=${CARGO_TARGET_DIR:-target}/release/trustql
  else
    cargo build --bin trustql
    bin=${CARGO_TARGET_DIR:-target}/debug/trustql
  fi
fi

results=results/robustness
out=experiments/robustness
mkdir -p "$results/models" "$results/gam_models" "$out/figures" figures

step() {
  local output=$1 script=$2
  if [ -f "$output" ]; then
    echo "robustness: $output exists; skipping $script" >&2
    return 0
  fi
  echo "robustness: running $script" >&2
  local start=$SECONDS
  "$bin" -q --models "$results/models" -f "$script"
  echo "robustness: $script finished in $((SECONDS - start)) s" >&2
}

if [ "$analysis_only" -eq 0 ]; then
  step "$results/deep_consistency.parquet" sql/experiments/robustness_deep.sql
  step "$results/deep_performance.parquet" sql/experiments/performance_deep.sql
fi

# The per-trial responses, recomputed whenever the experiment's results are newer than them.
if [ "$analysis_only" -eq 0 ] && [ "$results/deep_distances.parquet" -nt "$out/responses.csv" ]; then
  echo "robustness: computing the per-trial responses" >&2
  "$bin" -q -v "results=$results" -v "out=$out" -f sql/experiments/robustness_responses.sql
fi
echo "robustness: fitting the GAMs (printed output also in $out/analysis_output.txt)" >&2
"$bin" -q --models "$results/gam_models" -v "out=$out" -f sql/experiments/robustness_gam.sql |
  tee "$out/analysis_output.txt"
