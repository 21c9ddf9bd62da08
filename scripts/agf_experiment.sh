#!/usr/bin/env bash
# The artist-group-factor experiment of thesis ch. 3 (§3.4) on the rendered music21 corpus, as a
# resumable series of SQL steps: builds the corpus when missing (scripts/music21_corpus.py and
# scripts/performances.py), the tracks, split and the four AGF targets (sql/experiments/agf_data.sql),
# then trains the networks and evaluates the representations in the order below, skipping every
# network whose features file exists and every evaluation whose scores file exists, and finally
# prints the tables of §3.5 (sql/experiments/agf_analyse.sql, also written to
# $dir/analysis_output.txt; `--analysis-only` does just that). Stop it at any time (Ctrl-C); the
# next start continues where it stopped.
#
#   scripts/agf_experiment.sh [quick|hours] [--runs N] [--no-analysis | --analysis-only] [--debug]
#                             [--bin PATH] [--dir DIR]
#
# quick: the committed sample (sql/data/music21), a few dozen tracks, tiny networks: checks the
#        whole pipeline in minutes (tests/agf_pipeline.rs runs it).
# hours: the full corpus (data/corpus), the scale stated in the README; results (scores and the
#        analysis, not the models or features) are committed in experiments/agf/hours.
# --runs N stops after N new steps (networks or evaluations), for running in chunks.
#
# What runs (thesis §3.4; g = genre, m, d, e, s = the AGFs):
#   1. five single-task networks (STNs), one per task; the representation of a set of tasks is
#      the concatenation of its STNs' features, so all 31 STN sets are evaluated without retraining;
#   2. the multi-task network (MTN, conv1 shared, a random task per update) of each of the 26 sets
#      of two or more tasks, trained for `epochs` epochs per task (the thesis: 200 per task);
#   3. wide single-task genre networks (wSTNs) for N = 2..5 whose width gives about N times the
#      parameters of the genre STN (the parameters of N STNs).
# Each representation is evaluated by an MLP on the segment features of the training tracks and
# the segment-averaged genre probabilities of the validation tracks (agf_eval.sql).
set -euo pipefail
cd "$(dirname "$0")/.."
# libtorch's OpenMP threads wait passively instead of spinning: the experiment runs for hours,
# often beside builds, and spinning threads then steal the cores (README, "On a busy machine";
# the policy changes how threads wait, not what they compute). An explicit setting wins.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"

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
    --analysis-only) max_new_runs=0 ;;
    --debug) profile=debug ;;
    --bin) bin=$2; shift ;;
    --dir) dir=$2; shift ;;
    *) echo "agf_experiment: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

case $scale in
  quick)
    corpus=sql/data/music21
    tracks=1000 clip_seconds=4 n_words=16 n_words_e=8 n_groups=4 kmeans_batch=0
    epochs=1 iterations=2 width=0.125 batch_size=8 mlp_hidden=32 mlp_epochs=20
    dir=${dir:-results/agf/quick}
    ;;
  hours)
    corpus=data/corpus
    tracks=4000 clip_seconds=10 n_words=256 n_words_e=128 n_groups=40 kmeans_batch=4096
    epochs=20 iterations=0 width=0.5 batch_size=64 mlp_hidden=1024 mlp_epochs=50
    dir=${dir:-experiments/agf/hours}
    ;;
esac
seed=2018
mkdir -p "$dir/scores" "$dir/models" "$dir/features"

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
  echo "agf: building the corpus in $corpus (music21; resumable)" >&2
  .venv/bin/python scripts/music21_corpus.py --out "$corpus/scores.parquet"
fi
if [ ! -f "$corpus/performances.parquet" ]; then
  .venv/bin/python scripts/performances.py --scores "$corpus/scores.parquet" --out-dir "$corpus" --performers 600 --listeners 2000
fi

vars=(-v "dir=$dir" -v "corpus=$corpus" -v "seed=$seed" -v "tracks=$tracks"
  -v "clip_seconds=$clip_seconds" -v "n_words=$n_words" -v "n_words_e=$n_words_e"
  -v "n_groups=$n_groups" -v "kmeans_batch=$kmeans_batch" -v "batch_size=$batch_size"
  -v "mlp_hidden=$mlp_hidden" -v "mlp_epochs=$mlp_epochs")

if [ ! -f "$dir/agf.parquet" ] && [ "$max_new_runs" -ne 0 ]; then
  echo "agf: tracks, split and artist group factors" >&2
  tq "${vars[@]}" -f sql/experiments/agf_data.sql
fi

# One value from a query.
value() { tq "${vars[@]}" --format csv -c "$1" | tail -n 1; }
# Parameters of a trained network.
parameters() {
  value "SELECT value FROM model_info('$1') WHERE property = 'parameters'" | tr -d '",'
}

interrupted=0
trap 'interrupted=1' INT
# Runs a step unless its output exists; a failed step stops the experiment, as does Ctrl-C.
step() {
  local out=$1 what=$2
  shift 2
  if [ -f "$out" ]; then return 0; fi
  if [ "$max_new_runs" -eq 0 ]; then return 1; fi
  echo "agf: $what" >&2
  local start=$SECONDS
  if ! "$@"; then
    if [ "$interrupted" -eq 1 ]; then
      echo "agf: stopped during $what (Ctrl-C); start again to continue (finished steps are kept)" >&2
      exit 130
    fi
    echo "agf: $what failed; fix the cause and start again (finished steps are kept)" >&2
    exit 1
  fi
  echo "agf: $what finished in $((SECONDS - start)) s" >&2
  max_new_runs=$((max_new_runs - 1))
}

with_commas() { echo "$1" | sed 's/./&, /g; s/, $//'; }
iterations_option=
if [ "$iterations" -gt 0 ]; then iterations_option=", iterations_per_epoch = $iterations"; fi
# A network: trained (if not in the model store) and its segment features written.
net() {
  local name=$1 set=$2 options=$3 net_seed=$4
  step "$dir/features/$name.parquet" "network $name ($options)" \
    tq "${vars[@]}" -v "net=$name" -v "options=tasks = '$(with_commas "$set")', $options$iterations_option" \
      -v "columns=$(with_commas "$set")" -v "net_seed=$net_seed" -f sql/experiments/agf_train.sql
}
# An evaluation of a representation: the networks whose features it reads (their files become
# tables f_<network>) and the query that gives (track, seg, features).
evaluate() {
  local run=$1 architecture=$2 tasks=$3 n_tasks=$4 params=$5 nets=$6 features=$7 tables=() n
  for n in $nets; do
    tables+=(-c "CREATE EXTERNAL TABLE f_$n STORED AS PARQUET LOCATION '$dir/features/$n.parquet'")
  done
  step "$dir/scores/$run.parquet" "evaluation $run" \
    tq "${vars[@]}" "${tables[@]}" -v "run=$run" -v "architecture=$architecture" -v "tasks=$tasks" \
      -v "n_tasks=$n_tasks" -v "parameters=$params" -v "features=$features" -f sql/experiments/agf_eval.sql
}

# The 31 sets of tasks in the order of thesis Table 3.4.
sets="g m d e s gs ge gd gm se sd sm ed em dm gse gsd gsm ged gem gdm sed sem sdm edm gsed gsem gsdm gedm sedm gsedm"

# The steps, in order; stops (returns) when --runs is used up.
run_all() {
  # 1. STNs and the 31 STN sets.
  for t in g m d e s; do
    # Trained only while an STN set holding t waits for its evaluation (the models and features
    # are not committed, so a new machine with all 31 sets evaluated skips them).
    local pending=0 set
    for set in $sets; do
      case $set in *$t*) [ -f "$dir/scores/stn_$set.parquet" ] || pending=1 ;; esac
    done
    [ $pending -eq 1 ] || continue
    net "stn_$t" "$t" "shared = 'none', width = $width, epochs = $epochs" "$seed" || return 0
  done
  for set in $sets; do
    [ -f "$dir/scores/stn_$set.parquet" ] && continue
    params=0 nets= from= select= i=0
    for t in $(echo "$set" | grep -o .); do
      i=$((i + 1))
      params=$((params + $(parameters "stn_$t")))
      nets="$nets stn_$t"
      if [ $i -eq 1 ]; then
        from="f_stn_$t f1"
        select="f1.features"
      else
        from="$from JOIN f_stn_$t f$i ON f1.track = f$i.track AND f1.seg = f$i.seg"
        select="$select, f$i.features"
      fi
    done
    if [ $i -eq 1 ]; then
      features="SELECT track, seg, features FROM f_stn_$set"
    else
      features="SELECT f1.track, f1.seg, array_concat($select) AS features FROM $from"
    fi
    evaluate "stn_$set" stn "$set" "$i" "$params" "$nets" "$features" || return 0
  done

  # 2 and 3. MTNs (the five-task one first) and wSTNs, interleaved so that Table 3.5's rows fill in
  # together.
  # The parameters of an untrained genre network of width w (seconds; the same count as a
  # trained one, so the genre STN's own model is not needed).
  genre_parameters() {
    tq -c "CREATE EXTERNAL TABLE agf STORED AS PARQUET LOCATION '$dir/agf.parquet'" \
      -c "CREATE OR REPLACE MODEL probe_width OPTIONS (type = 'agf_cnn', tasks = 'g', epochs = 0, width = $1)
          AS SELECT track, array_repeat(CAST(0.0 AS REAL), 30000) AS audio, g FROM agf LIMIT 2" >/dev/null
    parameters probe_width
  }
  genre_params=$(genre_parameters "$width")
  wide() {
    # The width whose genre network has about n times the genre STN's parameters (bisection).
    local n=$1 lo=$width hi target w p k
    target=$((n * genre_params))
    hi=$(awk -v w="$width" -v n="$n" 'BEGIN { print w * n }')
    for k in $(seq 1 14); do
      w=$(awk -v a="$lo" -v b="$hi" 'BEGIN { printf "%.6f", (a + b) / 2 }')
      p=$(genre_parameters "$w")
      if [ "$p" -lt "$target" ]; then lo=$w; else hi=$w; fi
    done
    echo "$hi"
  }
  mtn() {
    local set=$1
    # Evaluated already: its network (not committed) is not needed again.
    [ -f "$dir/scores/mtn_$set.parquet" ] && return 0
    net "mtn_$set" "$set" "shared = 'conv1', width = $width, epochs = $epochs" "$seed" || return 1
    evaluate "mtn_$set" mtn "$set" "${#set}" "$(parameters "mtn_$set")" "mtn_$set" \
      "SELECT track, seg, features FROM f_mtn_$set"
  }
  wstn() {
    local n=$1 w
    [ -f "$dir/scores/wstn_$n.parquet" ] && return 0
    if [ ! -f "$dir/features/wstn_$n.parquet" ]; then
      w=$(wide "$n")
      net "wstn_$n" g "shared = 'none', width = $w, epochs = $epochs" "$seed" || return 1
    fi
    evaluate "wstn_$n" wstn g "$n" "$(parameters "wstn_$n")" "wstn_$n" \
      "SELECT track, seg, features FROM f_wstn_$n"
  }
  mtn gsedm || return 0
  wstn 5 || return 0
  for set in gsed gsem gsdm gedm; do mtn $set || return 0; done
  for n in 2 3 4; do wstn $n || return 0; done
  for set in gse gsd gsm ged gem gdm gs ge gd gm; do mtn $set || return 0; done
  for set in sedm sed sem sdm edm se sd sm ed em dm; do mtn $set || return 0; done
}
if [ "$max_new_runs" -ne 0 ]; then run_all; fi

echo "agf: $(ls "$dir/scores" | wc -l) of 61 evaluations finished (31 STN sets, 26 MTNs, 4 wSTNs)" >&2
if [ "$analysis" -eq 1 ]; then
  # Written atomically beside the scores (the committed record of what the tables showed).
  tq "${vars[@]}" -f sql/experiments/agf_analyse.sql > "$dir/analysis_output.txt.tmp"
  mv "$dir/analysis_output.txt.tmp" "$dir/analysis_output.txt"
  cat "$dir/analysis_output.txt"
fi
