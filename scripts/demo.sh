#!/usr/bin/env bash
# The project's main job, quickly: builds trustql (release) after doing whatever set-up is
# missing, and runs the quick variant of the explainer experiment (thesis §5.3.2, Fig. 5.3) on
# Last.fm 2K from ../shared/data: iNN, uNN, FM and NCF at dim 64 (trained into
# results/recsys/models unless already there) × Random, PDP, Saliency and LIME × ω ∈ {1, …, 32}
# × every 10th user, fidelity to results/explain/lastfm_quick.parquet and a summary table.
# scripts/explain_experiment.sh runs the full experiment (every user, three dims, both datasets).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --bin trustql
mkdir -p results/explain
exec "${CARGO_TARGET_DIR:-target}"/release/trustql --models results/recsys/models -f sql/experiments/explain_lastfm_quick.sql "$@"
