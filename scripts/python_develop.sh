#!/usr/bin/env bash
# Installs the Python package `trustql` from this checkout into .venv, with the extension module
# that `cargo build --workspace` (or `cargo test --workspace`) already built: what `maturin
# develop` does, without compiling the engine a second time (a `-p` build unifies other
# features and would rebuild DataFusion). scripts/test.sh runs it before pytest.
#
#   scripts/python_develop.sh [debug|release] [SITE_DIR]
#
# PROFILE (default debug) picks the build; SITE_DIR (default: .venv's site-packages) is where
# the package goes. For a wheel, or an install into another environment, see README "Python".
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-debug}
target=${CARGO_TARGET_DIR:-target}
module="$target/$profile/lib_trustql.so"
if [ ! -f "$module" ]; then
  echo "python_develop.sh: $module is not built: run cargo build --workspace --all-targets$([ "$profile" = release ] && echo " --release")" >&2
  exit 1
fi
site=${2:-$(.venv/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")}
mkdir -p "$site"
tmp=$(mktemp -d "$site/.trustql.XXXXXX")
cp python/trustql/*.py python/trustql/py.typed "$tmp/"
cp "$module" "$tmp/_trustql.abi3.so"
# The new package is complete before it replaces the old one.
rm -rf "$site/trustql.old"
[ -d "$site/trustql" ] && mv "$site/trustql" "$site/trustql.old"
mv "$tmp" "$site/trustql"
rm -rf "$site/trustql.old"
echo "python_develop.sh: trustql ($profile) installed in $site/trustql" >&2
