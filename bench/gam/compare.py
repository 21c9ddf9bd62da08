#!/usr/bin/env python3
"""Prints trustql's GAM fits and mgcv's side by side: fit times (trustql's from the fit lines of
<results>/gam_trustql.log that bench/gam/gam_speed.sql printed, mgcv's from
<results>/gam_mgcv.json; the best of five each), their ratio, and both fits' REML score, total
edf and adjusted R² (trustql's from <results>/gam_trustql_fit.json)."""

import argparse
import json
import re
from pathlib import Path

FIT_LINE = re.compile(r"gam: fitted (\d+) rows .* in (\d+) iterations, ([0-9.]+) s")
MODEL = re.compile(r"training 'bench_(\w+)' \(gam\)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, required=True)
    ap.add_argument("--profile", default="release")
    args = ap.parse_args()
    times: dict[str, list[float]] = {}
    current = None
    for line in (args.results / "gam_trustql.log").read_text().splitlines():
        m = MODEL.search(line)
        if m:
            current = m.group(1)
        m = FIT_LINE.search(line)
        if m and current:
            times.setdefault(current, []).append(float(m.group(3)))
    ours = {}
    for line in (args.results / "gam_trustql_fit.json").read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            ours[r["fit"]] = r
    theirs = json.loads((args.results / "gam_mgcv.json").read_text())
    print(f"\nREML fits, trustql ({args.profile} build) vs mgcv {theirs['mgcv_version']} "
          f"({theirs['R_version']}), best of five each\n")
    print("| model | rows | trustql | mgcv | speed-up | REML score trustql | mgcv "
          "| total edf trustql | mgcv | adj. R² trustql | mgcv |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in ["consistency", "consistency_tp", "additive", "additive_tp"]:
        a = min(times[name])
        b = theirs["fits"][name]
        bt = min(b["times"])
        o = ours[name]
        print(f"| {name} | {b['n']:,} | {a * 1000:.1f} ms | {bt * 1000:.1f} ms | "
              f"{bt / a:.1f}× | {o['score']:.4f} | {b['score']:.4f} | {o['edf_total']:.3f} | "
              f"{b['edf_total']:.3f} | {o['r_squared_adj']:.5f} | {b['r_sq']:.5f} |")
    print(f"\ntrustql fit times (s): { {k: v for k, v in times.items()} }")
    print(f"mgcv fit times (s): { {k: v['times'] for k, v in theirs['fits'].items()} }")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
