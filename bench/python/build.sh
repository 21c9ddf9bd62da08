#!/usr/bin/env bash
# Sourced by the Python benchmarks (run.sh, explain_quick.sh): set-up, release builds of the CLI
# and the Python package from one cargo invocation whose features are those of `pip install
# ./python` (a target directory that built the wheel is reused), and the package installed in
# <target>/python-bench/site. Leaves $target (the cargo target directory) and $site set.
scripts/setup.sh
cargo build --release -p trustql -p trustql-python --lib --bins
target=${CARGO_TARGET_DIR:-target}
site="$target/python-bench/site"
scripts/python_develop.sh release "$site"
