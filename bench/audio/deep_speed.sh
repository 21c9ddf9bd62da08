#!/usr/bin/env bash
# Deep audio encoder throughput: runs bench/audio/deep_speed.sql with the release CLI and prints
# training crops per second per task and embedded clips per second (best of three) for a vgg
# encoder and the MFCC encoder. Results go to target/bench-results/deep_speed.log.
#
#   bench/audio/deep_speed.sh            # the session's default device (CUDA when visible)
#   DEVICE=cpu bench/audio/deep_speed.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=target/bench-results
mkdir -p "$OUT"
cargo build --release --bin trustql
SQL=bench/audio/deep_speed.sql
if [ -n "${DEVICE:-}" ]; then
  SQL=$(mktemp)
  { echo "SET trustql.device = '$DEVICE';"; cat bench/audio/deep_speed.sql; } > "$SQL"
fi
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs" >&2
"${CARGO_TARGET_DIR:-target}"/release/trustql --models target/bench-models -f "$SQL" > "$OUT/deep_speed.log" 2>&1
python3 - "$OUT/deep_speed.log" <<'PY'
import re, sys
mark = re.compile(r"^\| (train \w+|embed \w+|done)\s*\|")
time = re.compile(r"(?:OK|rows?) in ([0-9.]+) s")
current, times, skip = None, {}, False
for line in open(sys.argv[1]):
    m = mark.search(line)
    if m:
        # The marker's own SELECT prints the next time line.
        current, skip = m.group(1), True
        continue
    m = time.search(line)
    if m and current and current != "done":
        if skip:
            skip = False
            continue
        times.setdefault(current, []).append(float(m.group(1)))
print("| work | time | rate |")
print("|---|---:|---:|")
for k, v in times.items():
    if k.startswith("train"):
        # 12 clips x 4 crops x 5 epochs of 128 frames; the first statement's time includes the
        # spectrograms of the 12 clips.
        print(f"| {k} (240 crops) | {v[0]:.2f} s | {240 / v[0]:.1f} crops/s |")
    else:
        best = min(v)
        crops = ", 144 crops of 128 frames" if k == "embed vgg" else ""
        print(f"| {k} (24 clips of 10 s{crops}) | {best * 1e3:.0f} ms | {24 / best:.0f} clips/s |")
PY
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
