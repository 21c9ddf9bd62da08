#!/usr/bin/env python3
"""The Python side of the mixed-model benchmark: statsmodels' MixedLM on the same data and models
as trustql's bench (bench/lmm/lmm_speed.sql), timed, with its estimates, written as JSON.

Models (the ones MixedLM can express exactly):
- sleepstudy: Reaction ~ Days + (Days | Subject), REML;
- ch5_user: fidelity ~ explainer * log(omega) + (1 | dataset:user), REML, on the 99,840-row
  table of make_data.py.
Each fit is repeated (best of --repeat) after one warm-up."""

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels
import statsmodels.formula.api as smf


def best_time(fit, repeat):
    fit()  # warm-up
    best, result = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fit()
        best = min(best, time.perf_counter() - t)
    return best, result


def summary(res):
    fe = res.fe_params
    return {
        "fixef": {k: float(v) for k, v in fe.items()},
        "se": {k: float(res.bse_fe[k]) for k in fe.index},
        "sigma": float(np.sqrt(res.scale)),
        "llf": float(res.llf),
        "converged": bool(res.converged),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stats", type=Path, default=Path("../shared/data/stats"))
    ap.add_argument("--ch5", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    out = {"statsmodels_version": statsmodels.__version__, "fits": {}}

    sleep = pd.read_csv(args.stats / "sleepstudy.csv")
    secs, res = best_time(
        lambda: smf.mixedlm("Reaction ~ Days", sleep, groups=sleep["Subject"], re_formula="~Days")
        .fit(reml=True, method=["lbfgs"]),
        args.repeat,
    )
    out["fits"]["sleepstudy"] = {"seconds": secs, **summary(res)}
    print(f"statsmodels sleepstudy: {secs * 1000:.1f} ms")

    ch5 = pd.read_csv(args.ch5)
    ch5["group"] = ch5["dataset"] + ":" + ch5["user"].astype(str)
    secs, res = best_time(
        lambda: smf.mixedlm("fidelity ~ explainer * np.log(omega)", ch5, groups=ch5["group"])
        .fit(reml=True, method=["lbfgs"]),
        max(1, args.repeat // 3),
    )
    fits = summary(res)
    # statsmodels names the log term np.log(omega); lme4 and trustql log(omega).
    fits["fixef"] = {k.replace("np.log", "log").replace("[T.", "").replace("]", ""): v
                     for k, v in fits["fixef"].items()}
    fits["se"] = {k.replace("np.log", "log").replace("[T.", "").replace("]", ""): v
                  for k, v in fits["se"].items()}
    out["fits"]["ch5_user"] = {"seconds": secs, "rows": len(ch5), **fits}
    print(f"statsmodels ch5_user ({len(ch5)} rows): {secs:.2f} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
