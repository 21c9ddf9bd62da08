#!/usr/bin/env bash
# One FM or NCF epoch (Goodbooks-shaped data, dim 64, 10 negatives, 2 threads) through the CPU
# kernel, then through libtorch's autograd (the CPU path before the kernel), then the kernel
# again, each in its own run of the release recommender bench, so that the autograd epoch is
# bracketed by two kernel epochs on the same machine; prints each epoch and the ratios.
#
#   bench/recsys/kernel_vs_autograd.sh [ncf|fm]     # NCF: about 15 minutes on 2 cores
#
# SCALE (default 1) scales users and interactions as TRUSTQL_BENCH_SCALE does. Results go to
# <target>/bench-results/kernel_vs_autograd/<run>/recsys.json.
set -euo pipefail
cd "$(dirname "$0")/../.."
model="${1:-ncf}"
case "$model" in fm | ncf) ;; *) echo "model must be fm or ncf" >&2; exit 2 ;; esac
target="${CARGO_TARGET_DIR:-target}"
bin=$(cargo bench --workspace --no-run --bench recsys --message-format=json 2>/dev/null |
  sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)
[ -x "$bin" ] || { echo "could not build the recsys bench" >&2; exit 1; }
out="$target/bench-results/kernel_vs_autograd"
export RAYON_NUM_THREADS="${THREADS:-2}" OMP_NUM_THREADS="${THREADS:-2}"
n=0
for m in "$model" "${model}_autograd" "$model"; do
  n=$((n + 1))
  mkdir -p "$out/$n"
  echo "$m: load $(cut -d' ' -f1-3 /proc/loadavg)"
  TRUSTQL_BENCH_OUT="$out/$n" TRUSTQL_BENCH_SCALE="${SCALE:-1}" TRUSTQL_BENCH_MODELS="$m" \
    TRUSTQL_BENCH_TOPK_USERS=64 "$bin" --bench 2>&1 | grep -E "epoch [0-9]+/|== ${model}_autograd:" |
    sed "s/^/$m: /"
done
python3 - "$out" "$model" <<'PY'
import json, sys
out, model = sys.argv[1], sys.argv[2]
epoch = lambda run, name: json.load(open(f"{out}/{run}/recsys.json"))["models"][name]["epoch_s"]
k1, a, k2 = epoch(1, model), epoch(2, f"{model}_autograd"), epoch(3, model)
print(f"{model} epoch: kernel {k1:.1f} s, autograd {a:.1f} s, kernel {k2:.1f} s; "
      f"autograd / kernel {a / k1:.2f} and {a / k2:.2f}")
PY
