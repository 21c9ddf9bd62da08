#!/usr/bin/env bash
# Runs the fuzz suites for longer than the test suite does and reports how many cases were
# tried: generated calls of every SQL function (tests/fuzz_functions.rs), the property tests of
# the engine's parsers (tests/parser_properties.rs, PROPTEST_CASES cases each) and the library's
# own property tests of lmer formulas and the audio decoder (their fixed case counts).
#
#   scripts/fuzz.sh [CALLS_PER_FUNCTION [SEED [PROPTEST_CASES]]]     (defaults 200, 1, 20000)
#
# Every run is reproducible from its seed; a failure prints the SQL of each failing call, and
# the script exits non-zero. Full output goes to results/fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
calls=${1:-200}
seed=${2:-1}
props=${3:-20000}
mkdir -p results/fuzz
log=results/fuzz/fuzz-seed$seed.log
start=$(date +%s)
status=0
TRUSTQL_FUZZ_CASES=$calls TRUSTQL_FUZZ_SEED=$seed \
  cargo test --test fuzz_functions -- --nocapture >"$log" 2>&1 || status=1
PROPTEST_CASES=$props cargo test --test parser_properties >>"$log" 2>&1 || status=1
cargo test --workspace --lib -- fuzz never_panic >>"$log" 2>&1 || status=1
grep -E "^fuzz:|^test result|FAILED|failures:" "$log" || true
echo "fuzz.sh: $calls calls per function (seed $seed), $props cases per property, $(( $(date +%s) - start )) s; log $log"
exit $status
