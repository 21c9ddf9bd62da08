#!/usr/bin/env bash
# Runs every test of trustql (formatting, clippy, unit tests, sqllogictest files, CLI tests, doc
# tests), after doing whatever set-up is missing. Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Style holds by itself: formatting and lints are part of the test.
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace --all-targets "$@"
cargo test --workspace --doc "$@"
