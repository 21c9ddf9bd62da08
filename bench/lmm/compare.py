#!/usr/bin/env python3
"""Prints trustql's mixed-model fits and statsmodels' MixedLM side by side: fit times (trustql's
from the fit lines of <results>/lmm_trustql.log that bench/lmm/lmm_speed.sql printed, the best of
its repetitions; statsmodels' from <results>/lmm_statsmodels.json), their ratio, and the largest
differences of the estimates (trustql's from <results>/lmm_trustql_fixed.json and
lmm_trustql_fit.json)."""

import argparse
import json
import re
from pathlib import Path

FIT_LINE = re.compile(r"lmer: fitted (\d+) rows .* in (\d+) evaluations, ([0-9.]+) s")
MODEL = re.compile(r"training 'bench_(\w+)' \(lmer\)")


def read_ndjson(path: Path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def norm(term: str) -> str:
    return "(Intercept)" if term == "Intercept" else term


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, required=True)
    args = ap.parse_args()
    times: dict[str, list[float]] = {}
    evaluations: dict[str, int] = {}
    current = None
    for line in (args.results / "lmm_trustql.log").read_text().splitlines():
        m = MODEL.search(line)
        if m:
            current = {"sleep": "sleepstudy"}.get(m.group(1), m.group(1))
        m = FIT_LINE.search(line)
        if m and current:
            times.setdefault(current, []).append(float(m.group(3)))
            evaluations[current] = int(m.group(2))
    fixed = {}
    for r in read_ndjson(args.results / "lmm_trustql_fixed.json"):
        fixed.setdefault(r["fit"], {})[r["term"]] = (r["estimate"], r["std_error"])
    fit = {r["fit"]: r for r in read_ndjson(args.results / "lmm_trustql_fit.json")}
    theirs_all = json.loads((args.results / "lmm_statsmodels.json").read_text())
    theirs = theirs_all["fits"]
    print(f"\nREML fits, trustql (best of {len(times.get('sleepstudy', []))} / "
          f"{len(times.get('ch5_user', []))}) vs statsmodels {theirs_all['statsmodels_version']} "
          "MixedLM (lbfgs, best of 3 / 1)\n")
    print("| model | rows | trustql | statsmodels | speed-up | max rel. diff. of fixed effects "
          "| max rel. diff. of SEs | logLik trustql | logLik statsmodels |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in ["sleepstudy", "ch5_user"]:
        ours = min(times[name])
        b = theirs[name]
        fe_b = {norm(k): v for k, v in b["fixef"].items()}
        se_b = {norm(k): v for k, v in b["se"].items()}
        a = fixed[name]
        missing = sorted(set(a) ^ set(fe_b))
        if missing:
            print(f"warning: {name}: terms not in both fits: {missing}")
        common = [k for k in a if k in fe_b]
        fe_diff = max(abs(a[k][0] - fe_b[k]) / max(abs(fe_b[k]), 1e-12) for k in common)
        se_diff = max(abs(a[k][1] - se_b[k]) / se_b[k] for k in common)
        print(f"| {name} | {fit[name]['n']:,} | {ours * 1e3:.1f} ms | {b['seconds'] * 1e3:.1f} ms | "
              f"{b['seconds'] / ours:.0f}x | {fe_diff:.1e} | {se_diff:.1e} | "
              f"{fit[name]['log_likelihood']:.4f} | {b['llf']:.4f} |")
    if "ch5_spec" in times:
        s = fit["ch5_spec"]
        print(f"\ntrustql alone, the SPEC section 8 model on the same {s['n']:,} rows: "
              f"{min(times['ch5_spec']) * 1e3:.0f} ms ({evaluations['ch5_spec']} evaluations, "
              f"singular: {s['singular']}, converged: {s['converged']})")
    print("\n(trustql's times are the kernel's fit time printed by CREATE MODEL; statsmodels' the "
          "fit() call. Reading the data is excluded on both sides.)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
