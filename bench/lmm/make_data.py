#!/usr/bin/env python3
"""Writes the data of the mixed-model benchmark: a table shaped like the results of the thesis'
ch. 5 explainer experiment (dataset x recsys x explainer x omega x user, with each user's
mainstreaminess), drawn from the SPEC section 8 model with known parameters, seeded.

2 datasets x 4 recommenders x 4 explainers x 6 omegas x 520 users per dataset = 99,840 rows.
fidelity = fixed part (explainer * log(omega)) + random intercept and explainer effects per
dataset:recsys + intercept per dataset:recsys:explainer + mainstreaminess slope per
dataset:recsys + intercept per dataset:user + noise."""

import argparse
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--users", type=int, default=520)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    datasets = ["Last.fm 2K", "MovieLens"]
    recsys = ["fm", "inn", "ncf", "unn"]
    explainers = ["lime", "pdp", "random", "saliency"]
    omegas = [1, 2, 4, 8, 16, 32]
    beta0 = {"lime": 0.10, "pdp": 0.05, "random": 0.0, "saliency": 0.02}
    beta1 = {"lime": 0.05, "pdp": 0.02, "random": 0.005, "saliency": 0.01}
    rows = []
    for d in datasets:
        ms = rng.uniform(0.0, 1.0, args.users)
        user_icpt = rng.normal(0.0, 0.05, args.users)
        for r in recsys:
            u0 = rng.normal(0.0, 0.08)
            u_expl = dict(zip(explainers, rng.normal(0.0, 0.05, len(explainers))))
            u_ms = rng.normal(0.0, 0.04)
            for e in explainers:
                u_dre = rng.normal(0.0, 0.03)
                for w in omegas:
                    mean = beta0[e] + beta1[e] * np.log(w) + u0 + u_expl[e] + u_dre
                    y = mean + u_ms * ms + user_icpt + rng.normal(0.0, 0.15, args.users)
                    for k in range(args.users):
                        rows.append(f'{d},{r},{e},{w},{k},{ms[k]:.6f},{y[k]:.6f}')
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w") as f:
        f.write("dataset,recsys,explainer,omega,user,mainstreaminess,fidelity\n")
        f.write("\n".join(rows))
        f.write("\n")
    print(f"wrote {len(rows)} rows to {args.out}")


if __name__ == "__main__":
    main()
