#!/usr/bin/env bash
# The transferability experiment of thesis ch. 2 (§2.4.3) on the rendered music21 corpus, as a
# resumable series of SQL runs: builds the corpus when missing (scripts/music21_corpus.py and
# scripts/performances.py), the learning sources and targets (sql/experiments/transfer_data.sql),
# the design (transfer_design.sql), then trains and evaluates each run of the design in order
# (transfer_run.sql), skipping every run whose scores file exists, and finally analyses whatever is
# finished (transfer_analyse.sql). Stop it at any time (Ctrl-C); the next start continues with the
# first unfinished run. Results in results/transfer/quick/ or, committed, experiments/transfer/hours/.
#
#   scripts/transfer_experiment.sh [quick|hours] [--runs N] [--no-analysis] [--debug]
#                                  [--bin PATH] [--dir DIR]
#
# quick: the committed sample (sql/data/music21), tens of clips, tiny networks: checks the whole
#        pipeline in minutes (the test suite's tests/transfer_pipeline.rs runs the same SQL).
# hours: the full corpus (data/corpus), the scale stated in the README.
# --runs N stops after N new runs (for running the experiment in chunks).
# --bin PATH uses that trustql binary (no set-up, no build: the tests do this); --dir DIR writes
# there instead.
set -euo pipefail
cd "$(dirname "$0")/.."

scale=hours
max_new_runs=-1
analysis=1
profile=release
bin=
dir=
while [ $# -gt 0 ]; do
  case "$1" in
    quick | hours) scale=$1 ;;
    --runs) max_new_runs=$2; shift ;;
    --no-analysis) analysis=0 ;;
    --debug) profile=debug ;;
    --bin) bin=$2; shift ;;
    --dir) dir=$2; shift ;;
    *) echo "transfer_experiment: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

case $scale in
  quick)
    corpus=sql/data/music21
    learn_clips=24 target_clips=40 per_class=4 clip_seconds=6 k=8 k_year=3
    ssr_repeats=1 all_repeats=1 design_runs=3
    epochs=1 width=0.125 batch_size=8 mlp_epochs=20 rec_users=100
    ;;
  hours)
    corpus=data/corpus
    learn_clips=1000 target_clips=1200 per_class=60 clip_seconds=10 k=50 k_year=12
    ssr_repeats=2 all_repeats=1 design_runs=30
    epochs=6 width=0.5 batch_size=32 mlp_epochs=200 rec_users=300
    ;;
esac
seed=2017
# The hours scale's results are part of the repository (experiments/transfer/hours: the design, every
# finished run's scores, the analysis and its figures; the regenerable inputs and the models are
# ignored there), so the experiment continues on another machine where it stopped.
case $scale in
  quick) dir=${dir:-results/transfer/quick} ;;
  hours) dir=${dir:-experiments/transfer/hours} ;;
esac
mkdir -p "$dir/scores" "$dir/models" "$dir/figures"

if [ -z "$bin" ]; then
  scripts/setup.sh
  if [ "$profile" = release ]; then
    cargo build --release --bin trustql
    bin=${CARGO_TARGET_DIR:-target}/release/trustql
  else
    cargo build --bin trustql
    bin=${CARGO_TARGET_DIR:-target}/debug/trustql
  fi
fi
tq() { "$bin" -q --models "$dir/models" "$@"; }

if [ ! -f "$corpus/scores.parquet" ]; then
  echo "transfer: building the corpus in $corpus (music21; resumable)" >&2
  .venv/bin/python scripts/music21_corpus.py --out "$corpus/scores.parquet"
fi
if [ ! -f "$corpus/performances.parquet" ]; then
  .venv/bin/python scripts/performances.py --scores "$corpus/scores.parquet" --out-dir "$corpus" --performers 600 --listeners 2000
fi

vars=(-v "dir=$dir" -v "corpus=$corpus" -v "seed=$seed" -v "learn_clips=$learn_clips"
  -v "target_clips=$target_clips" -v "per_class=$per_class" -v "clip_seconds=$clip_seconds"
  -v "k=$k" -v "k_year=$k_year" -v "ssr_repeats=$ssr_repeats" -v "all_repeats=$all_repeats"
  -v "design_runs=$design_runs" -v "epochs=$epochs" -v "width=$width" -v "batch_size=$batch_size"
  -v "mlp_epochs=$mlp_epochs" -v "rec_users=$rec_users" -v "bootstrap=1000")

if [ ! -f "$dir/targets.parquet" ]; then
  echo "transfer: learning sources and targets" >&2
  tq "${vars[@]}" -f sql/experiments/transfer_data.sql
fi
if [ ! -f "$dir/design.csv" ]; then
  tq "${vars[@]}" -f sql/experiments/transfer_design.sql
fi

interrupted=0

# The SS-R models an MSS-CR run concatenates live in the model store, which is not committed: on
# another machine, retrain each missing one from its design row (seeded: the same model).
ensure_models() {
  local m r src run_seed
  for m in ${1//,/ }; do
    [ -f "$dir/models/$m.tqm" ] && continue
    r=${m#rep_}
    IFS=, read -r _ _ _ _ _ src _ _ run_seed _ < <(awk -F, -v r="$r" '$1 == r' "$dir/design.csv")
    if [ -z "$src" ]; then
      echo "transfer: model $m is missing and $r is not a run of $dir/design.csv" >&2
      return 1
    fi
    echo "transfer: retraining $m (run $r, SS-R on ${src//+/,}), which is not in the model store" >&2
    "$bin" -q --models "$dir/models" "${vars[@]}" -v "run=$r" -v "run_seed=$run_seed" \
      -v "options=strategy = 'ss_r', sources = '${src//+/,}', epochs = $epochs" \
      -c "CREATE EXTERNAL TABLE learn STORED AS PARQUET LOCATION '$dir/learn.parquet'" \
      -f sql/experiments/common/transfer_train_model.sql || return 1
  done
}

# One run: its name, the training include, its options and seed.
run_one() {
  local run=$1 train=$2 options=$3 models=$4 run_seed=$5
  if [ -f "$dir/scores/$run.parquet" ]; then return 0; fi
  if [ "$max_new_runs" -eq 0 ]; then return 1; fi
  echo "transfer: run $run ($train: $options$models)" >&2
  local start=$SECONDS
  # Set here, as the design loop runs in a subshell (where traps are reset).
  trap 'interrupted=1' INT
  if [ "$train" = concat ] && ! ensure_models "$models"; then
    [ "$interrupted" -eq 1 ] && exit 130
    exit 1
  fi
  # A failed run stops the experiment (exit 1, also from the design loop's subshell: pipefail);
  # so does Ctrl-C, which cancels the run's statement (trustql then exits 1) and is told apart here.
  if ! "$bin" -q --models "$dir/models" "${vars[@]}" -v "run=$run" -v "train=$train" \
      -v "options=$options" -v "models=$models" -v "run_seed=$run_seed" \
      -f sql/experiments/transfer_run.sql; then
    if [ "$interrupted" -eq 1 ]; then
      echo "transfer: stopped during run $run (Ctrl-C); start again to continue (finished runs are kept)" >&2
      exit 130
    fi
    echo "transfer: run $run failed; fix the cause and start again (finished runs are kept)" >&2
    exit 1
  fi
  echo "transfer: run $run finished in $((SECONDS - start)) s" >&2
  max_new_runs=$((max_new_runs - 1))
}

# Baselines (thesis §2.4.2): the 120-d MFCC vector and an untrained network (Rand).
run_one b_mfcc mfcc "" "" "$seed" || exit 0
run_one b_rand net "strategy = 'ss_r', sources = 'tag', epochs = 0" "" "$seed" || exit 0

tail -n +2 "$dir/design.csv" | while IFS=, read -r run phase strategy level branch_at sources n repeat run_seed models; do
  sources=${sources//+/,}
  models=${models//+/,}
  case $strategy in
    mss_cr) run_one "$run" concat "" "$models" "$run_seed" || break ;;
    ms_cr) run_one "$run" net "strategy = 'ms_cr', branch_at = $branch_at, sources = '$sources', epochs = $epochs" "" "$run_seed" || break ;;
    *) run_one "$run" net "strategy = '$strategy', sources = '$sources', epochs = $epochs" "" "$run_seed" || break ;;
  esac
done

done_runs=$(ls "$dir/scores" | wc -l)
echo "transfer: $done_runs runs finished (design: $(($(wc -l < "$dir/design.csv") - 1)) + 2 baselines)" >&2
if [ "$analysis" -eq 1 ]; then
  tq "${vars[@]}" -f sql/experiments/transfer_analyse.sql
fi
