#!/bin/sh
# Regenerates tests/reference/lmm_r.json, gam_r.json and tests/reference/data/*.csv from real R
# packages, then checks them (scripts/r_references/README.md). Run by hand from anywhere; needs
# Rscript with lme4, lmerTest, emmeans, mgcv, jsonlite (Debian: r-base-core r-cran-lme4
# r-cran-lmertest r-cran-emmeans r-cran-mgcv r-cran-jsonlite) and python3 for the check.
# The shared data folder is found as the Rust tests find it (../shared, ../../shared,
# /work/shared) or given by TRUSTQL_SHARED.
set -eu
cd "$(dirname "$0")/../.."
Rscript scripts/r_references/lmm_references.R
Rscript scripts/r_references/gam_references.R
python3 scripts/r_references/check.py
