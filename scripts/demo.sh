#!/usr/bin/env bash
# Builds trustql (release) after doing whatever set-up is missing, and runs the quickstart
# script over the Last.fm data in ../shared/data.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --bin trustql
exec target/release/trustql -f sql/examples/quickstart.sql "$@"
