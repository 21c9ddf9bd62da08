#!/usr/bin/env bash
# libtorch's OpenMP threads busy-wait (spin) between parallel regions by default. On a machine
# with other work running, the spinning thread takes a core from that work and from the serial
# parts of ours. This trains one FM epoch on Last.fm 2K (dim 64, tags, seed 42; the explainer
# experiment's training split) twice with each of OMP_WAIT_POLICY=passive and libgomp's default,
# alternating, and prints wall and user CPU seconds; the models are compared by their scores
# (the wait policy changes only how threads wait, not what they compute).
#
#   bench/recsys/omp_wait_policy.sh                 # the debug build
#   BIN=target/release/trustql bench/recsys/omp_wait_policy.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN="${BIN:-${CARGO_TARGET_DIR:-target}/debug/trustql}"
[ -x "$BIN" ] || { echo "no trustql binary at $BIN (cargo build, or set BIN)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/fm.sql" <<SQL
\set dataset lastfm
\set data_dir lastfm-2k
\set train_value ln(1 + value)
\i $PWD/sql/experiments/common/explain_data.sql
CREATE MODEL fm_epoch OPTIONS (type = 'fm', dim = 64, tags = 'lastfm_tags', seed = 42, epochs = 1)
  AS SELECT * FROM lastfm_train;
SQL
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
for run in 1 2; do
  for policy in passive default; do
    rm -rf "$tmp/$policy"
    mkdir -p "$tmp/$policy"
    if [ "$policy" = passive ]; then
      OMP_WAIT_POLICY=passive /usr/bin/time -f "run $run, OMP_WAIT_POLICY=passive: %e s wall, %U s user" \
        "$BIN" -q --models "$tmp/$policy" -f "$tmp/fm.sql" >/dev/null
    else
      env -u OMP_WAIT_POLICY /usr/bin/time -f "run $run, libgomp default: %e s wall, %U s user" \
        "$BIN" -q --models "$tmp/$policy" -f "$tmp/fm.sql" >/dev/null
    fi
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
scores() {
  "$BIN" -q --models "$tmp/$1" -c "SELECT score('fm_epoch', u, i) AS s
    FROM (VALUES (2, 51), (2, 52), (3, 60), (5, 100)) AS t(u, i)"
}
if [ "$(scores passive)" = "$(scores default)" ]; then
  echo "the two models give the same scores"
else
  echo "the two models' scores differ" >&2
  exit 1
fi
