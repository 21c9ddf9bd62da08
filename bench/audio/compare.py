#!/usr/bin/env python3
"""Prints the audio benchmark side by side: trustql's statement times (the best of the repeated
statements of bench/audio/audio_speed.sql, from <results>/audio_trustql.log) against the Python
peers' (<results>/audio_python.json), with their ratios."""

import argparse
import os
import json
import re
from pathlib import Path

MARK = re.compile(r"^\| (mfcc|mfcc_stats|dtw|simple|done)\s*\|")
TIME = re.compile(r"(?:OK|rows?) in ([0-9.]+) s")
FEATURE_COPIES = 10


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, required=True)
    args = ap.parse_args()
    times, current = {}, None
    for line in (args.results / "audio_trustql.log").read_text().splitlines():
        m = MARK.search(line)
        if m:
            current = m.group(1)
            continue
        m = TIME.search(line)
        if m and current and current != "done" and not line.startswith("1 row"):
            times.setdefault(current, []).append(float(m.group(1)))
    py = json.loads((args.results / "audio_python.json").read_text())
    n = py["clips"]
    ours = {k: min(v) for k, v in times.items()}
    # audio_speed.sql times the features on ten copies of the clips.
    for key in ("mfcc", "mfcc_stats"):
        ours[key] /= FEATURE_COPIES
    print(f"\n24 clips of 10 s at 22,050 Hz; trustql with {os.environ.get('RAYON_NUM_THREADS', 'all')} thread(s), "
          f"librosa {py['librosa']} / dtaidistance {py['dtaidistance']} / fastdtw with one thread\n")
    print("| work | trustql | Python | ratio |")
    print("|---|---|---|---|")
    for key, label, theirs in [
        ("mfcc", "MFCC (25 × frames), all clips", py["mfcc_seconds"]),
        ("mfcc_stats", "144-d MFCC statistics (librosa variant), all clips", py["mfcc_stats_seconds"]),
    ]:
        print(f"| {label} | {ours[key] * 1e3:.1f} ms | {theirs * 1e3:.1f} ms (librosa) | "
              f"{theirs / ours[key]:.1f}x |")
    per_pair = ours["dtw"] / (n * n)
    print(f"| exact DTW per pair of clips | {per_pair * 1e3:.2f} ms | "
          f"{py['fastdtw_seconds_per_pair'] * 1e3:.1f} ms (fastdtw radius 1, approximate) | "
          f"{py['fastdtw_seconds_per_pair'] / per_pair:.0f}x |")
    print(f"| exact DTW per pair of clips | {per_pair * 1e3:.2f} ms | "
          f"{py['dtaidistance_seconds_per_pair'] * 1e3:.2f} ms (dtaidistance C, its own cost) | "
          f"{py['dtaidistance_seconds_per_pair'] / per_pair:.1f}x |")
    if "simple" in ours:
        print(f"| SiMPle (window 50) per pair | {ours['simple'] / (n * n) * 1e3:.2f} ms | — | — |")
    r = py["fastdtw_over_exact"]
    print(f"\nfastdtw / exact DTW on {py['fastdtw_pairs']} pairs: min {r['min']:.4f}, "
          f"median {r['median']:.4f}, max {r['max']:.4f} (fastdtw is an upper bound)")


if __name__ == "__main__":
    main()
