#!/usr/bin/env bash
# A trustql cluster on this machine: a scheduler and N executors as background processes (the
# release build with the `cluster` feature, built first when missing, after scripts/setup.sh).
#
#   scripts/cluster.sh start [N] [MODELS]   N executors (default 2), model store MODELS (default
#                                           results/recsys/models); scheduler on port 50050
#                                           ($TRUSTQL_SCHEDULER_PORT), executors' Arrow Flight
#                                           on 50051, 50061, ... ; logs and pids in .cluster/;
#                                           $TRUSTQL_EXECUTOR_VCORES task slots each (default:
#                                           the machine's cores)
#   scripts/cluster.sh stop                 stops them
#
# Then: target/release/trustql --cluster df://localhost:50050 --models MODELS ...
# On several machines, run `trustql scheduler` and `trustql executor` by hand (README, "Cluster").
set -euo pipefail
cd "$(dirname "$0")/.."
state=.cluster
case "${1:-}" in
  start)
    n=${2:-2}
    models=${3:-results/recsys/models}
    port=${TRUSTQL_SCHEDULER_PORT:-50050}
    if [ -s "$state/pids" ]; then
      echo "cluster.sh: a cluster is already running (pids in $state/pids): scripts/cluster.sh stop" >&2
      exit 1
    fi
    scripts/setup.sh
    cargo build --release --features cluster --bin trustql
    bin="${CARGO_TARGET_DIR:-target}/release/trustql"
    mkdir -p "$state" "$models"
    "$bin" --models "$models" scheduler --bind 127.0.0.1 --port "$port" --log-level info \
      >"$state/scheduler.log" 2>&1 &
    echo $! >>"$state/pids"
    for i in $(seq "$n"); do
      flight=$((port + 10 * (i - 1) + 1))
      "$bin" --models "$models" executor --scheduler "localhost:$port" --bind 127.0.0.1 \
        --external-host localhost --port "$flight" --log-level info \
        ${TRUSTQL_EXECUTOR_VCORES:+--vcores "$TRUSTQL_EXECUTOR_VCORES"} \
        >"$state/executor$i.log" 2>&1 &
      echo $! >>"$state/pids"
    done
    # The executors are ready once they ask the scheduler for work (so it listens too).
    for _ in $(seq 150); do
      polling=$(cat "$state"/executor*.log | grep -c "Starting poll work loop" || true)
      [ "$polling" -ge "$n" ] && break
      sleep 0.2
    done
    if [ "$polling" -lt "$n" ]; then
      echo "cluster.sh: only $polling of $n executors started within 30 s (logs in $state/)" >&2
      exit 1
    fi
    echo "cluster: scheduler df://localhost:$port, $n executor(s), models in $models (logs in $state/)"
    ;;
  stop)
    if [ -s "$state/pids" ]; then
      xargs kill <"$state/pids" 2>/dev/null || true
      rm -f "$state/pids"
      echo "cluster: stopped"
    else
      echo "cluster: none running"
    fi
    ;;
  *)
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
