#!/usr/bin/env bash
# Runs every test of trustql (formatting, clippy, unit tests, sqllogictest files, CLI tests, doc
# tests, the Python package's tests), after doing whatever set-up is missing. Extra arguments go
# to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Every step builds with the same features (the cluster's too: its tests run here), so that
# nothing compiles twice.
features=(--features trustql/cluster,trustql-python/cluster)
# Style holds by itself: formatting and lints are part of the test.
cargo fmt --all --check
# Lints: `cargo clippy` checks every dependency once more in check mode (minutes of a cold run).
# With TRUSTQL_LINT_IN_BUILD=1 (CI's setting, .ci/run) clippy's driver compiles the workspace's
# own crates in the builds below instead, with `-D warnings`, through the two variables `cargo
# clippy` itself sets, and the dependencies compile once. Not the default: the workspace's test
# binaries it makes are not those of a plain `cargo test` (cargo keys them on the wrapper), so a
# target directory used both ways holds both sets (over 20 GB here).
if [ "${TRUSTQL_LINT_IN_BUILD:-0}" = 1 ] && clippy=$(command -v clippy-driver); then
  export RUSTC_WORKSPACE_WRAPPER=$clippy
  export CLIPPY_ARGS=-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__
else
  cargo clippy --workspace --all-targets "${features[@]}" -- -D warnings
fi
cargo test --workspace --all-targets "${features[@]}" "$@"
cargo test --workspace --doc "${features[@]}" "$@"
# The Python package (python/): its extension module, built with the features of the tests
# (`--all-targets`, so nothing else compiles again; `cargo test` does not build a cdylib), the
# package installed into .venv (scripts/python_develop.sh), then its tests.
cargo build --workspace --all-targets "${features[@]}"
scripts/python_develop.sh debug
TRUSTQL_BIN="${CARGO_TARGET_DIR:-target}/debug/trustql" .venv/bin/python -m pytest python/tests -q -p no:cacheprovider
