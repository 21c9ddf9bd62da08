#!/usr/bin/env python3
"""Prints trustql's mixed-model fits and statsmodels' MixedLM side by side, from the JSON the two
benches wrote (<results>/lmm.json from `cargo bench -p trustql-udfs --bench lmm`, and
<results>/lmm_statsmodels.json from bench/lmm/statsmodels_mixedlm.py): fit times, their ratio,
and the largest differences of the estimates."""

import argparse
import json
from pathlib import Path


def norm(term: str) -> str:
    return "(Intercept)" if term == "Intercept" else term


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, required=True)
    args = ap.parse_args()
    ours = json.loads((args.results / "lmm.json").read_text())["fits"]
    theirs_all = json.loads((args.results / "lmm_statsmodels.json").read_text())
    theirs = theirs_all["fits"]
    print(f"\nREML fits, trustql vs statsmodels {theirs_all['statsmodels_version']} MixedLM (lbfgs)\n")
    print("| model | rows | trustql | statsmodels | speed-up | max rel. diff. of fixed effects "
          "| max rel. diff. of SEs | logLik trustql | logLik statsmodels |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in ["sleepstudy", "ch5_user"]:
        a, b = ours[name], theirs[name]
        fe_b = {norm(k): v for k, v in b["fixef"].items()}
        se_b = {norm(k): v for k, v in b["se"].items()}
        missing = sorted(set(a["fixef"]) ^ set(fe_b))
        if missing:
            print(f"warning: {name}: terms not in both fits: {missing}")
        common = [k for k in a["fixef"] if k in fe_b]
        fe_diff = max(abs(a["fixef"][k] - fe_b[k]) / max(abs(fe_b[k]), 1e-12) for k in common)
        se_diff = max(abs(a["se"][k] - se_b[k]) / se_b[k] for k in common)
        rows = a["rows"]
        print(f"| {name} | {rows:,} | {a['seconds'] * 1e3:.1f} ms | {b['seconds'] * 1e3:.1f} ms | "
              f"{b['seconds'] / a['seconds']:.0f}x | {fe_diff:.1e} | {se_diff:.1e} | "
              f"{a['llf']:.4f} | {b['llf']:.4f} |")
    spec = ours.get("ch5_spec")
    if spec:
        print(f"\ntrustql alone, the SPEC section 8 model on the same {spec['rows']:,} rows: "
              f"{spec['seconds'] * 1e3:.1f} ms ({spec['evaluations']} evaluations, singular: "
              f"{spec['singular']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
