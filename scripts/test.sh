#!/usr/bin/env bash
# Runs every test of trustql (unit tests, sqllogictest files, CLI tests, doc tests), after doing
# whatever set-up is missing. Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo test --workspace --all-targets "$@"
cargo test --workspace --doc "$@"
