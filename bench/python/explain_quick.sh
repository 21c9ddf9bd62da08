#!/usr/bin/env bash
# The explainer experiment's quick variant run from Python (examples/python/explain_experiment.py,
# which also plots it) and by the CLI (`trustql -f`), alternately, with the recommender
# experiment's models already in results/recsys/models (the first run trains any missing one).
# Each round also checks that both wrote byte-identical results/explain/lastfm_quick.parquet.
# Release builds of both (bench/python/build.sh).
#
#   bench/python/explain_quick.sh [ROUNDS]      (default 2)
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-2}
. bench/python/build.sh
mkdir -p figures
times=$(mktemp)
from_python=$(mktemp)
trap 'rm -f "$times" "$from_python"' EXIT
out=results/explain/lastfm_quick.parquet
for i in $(seq "$rounds"); do
  echo "round $i, load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  # The example's progress lines (stderr) are left out; its own timing and table are kept.
  PYTHONPATH="$site" /usr/bin/time -o "$times" -f "python: %e s wall, %M KB max RSS" \
    .venv/bin/python examples/python/explain_experiment.py figures/python_fidelity.png 2>/dev/null |
    grep -E "^experiment:|^wrote"
  cat "$times"
  cp "$out" "$from_python"
  /usr/bin/time -o "$times" -f "cli: %e s wall, %M KB max RSS" \
    "$target/release/trustql" --models results/recsys/models -q \
    -f sql/experiments/explain_lastfm_quick.sql >/dev/null 2>&1
  cat "$times"
  if cmp -s "$out" "$from_python"; then
    echo "$out: byte-identical from Python and from the CLI"
  else
    echo "$out: DIFFERS between Python and the CLI" >&2
    exit 1
  fi
done
