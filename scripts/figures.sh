#!/usr/bin/env bash
# Redraws every experiment's figures into figures/ from the results the experiments saved under
# results/, without rerunning them: runs the "-- Figures" section at the end of each script of
# sql/experiments that has one and whose results exist. Run from the repository root:
#   scripts/figures.sh            (uses target/release/trustql, built if missing)
#   TRUSTQL=path/to/trustql scripts/figures.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${TRUSTQL:-${CARGO_TARGET_DIR:-target}/release/trustql}"
if [ ! -x "$bin" ]; then
  LIBTORCH_USE_PYTORCH=1 cargo build --release --workspace >&2
fi
mkdir -p figures
tmp=$(mktemp --suffix=.sql)
trap 'rm -f "$tmp"' EXIT
status=0
for script in sql/experiments/*.sql; do
  grep -q '^-- Figures' "$script" || continue
  section=$(sed -n '/^-- Figures/,$p' "$script")
  # Skip an experiment whose results are missing (it has not been run here).
  missing=""
  for f in $(grep -o "results/[A-Za-z0-9_/.-]*\.parquet" <<<"$section" | sort -u); do
    [ -e "$f" ] || missing="$missing $f"
  done
  if [ -n "$missing" ]; then
    echo "skip $script: results missing:$missing" >&2
    continue
  fi
  echo "== $script" >&2
  printf '%s\n' "$section" > "$tmp"
  if ! "$bin" -f "$tmp" >/dev/null; then
    status=1
  fi
done
ls -l figures >&2
exit $status
