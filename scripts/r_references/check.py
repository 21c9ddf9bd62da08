#!/usr/bin/env python3
"""Reads tests/reference/lmm_r.json and gam_r.json back, prints a short summary, and compares the
lme4 fits with the older Python reference shared/reference/lmm.json where the formula is the same.

Why it exists: a check that the files parse with a strict JSON parser, hold no non-finite
numbers, and agree with the earlier reference (issue 20, point 3). Run from the repository root
(run.sh does); the shared folder is found as the Rust tests find it, or from $TRUSTQL_SHARED.
"""
import json
import math
import os
import sys

ROOT = os.getcwd()


def find_shared():
    cands = [os.environ.get("TRUSTQL_SHARED", ""), os.path.join(ROOT, "../shared"),
             os.path.join(ROOT, "../../shared"), "/work/shared"]
    for c in cands:
        if c and os.path.exists(os.path.join(c, "reference/lmm.json")):
            return c
    return None


def walk_numbers(x, path=""):
    if isinstance(x, dict):
        for k, v in x.items():
            yield from walk_numbers(v, f"{path}/{k}")
    elif isinstance(x, list):
        for i, v in enumerate(x):
            yield from walk_numbers(v, f"{path}[{i}]")
    else:
        yield path, x


def non_finite(doc):
    bad = []
    for p, v in walk_numbers(doc):
        if v is None or v in ("Inf", "-Inf", "NaN") or (isinstance(v, float) and not math.isfinite(v)):
            bad.append(p)
    return bad


def rel(a, b):
    a, b = float(a), float(b)
    if a == b:
        return 0.0
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def flat(x):
    if isinstance(x, list):
        out = []
        for v in x:
            out.extend(flat(v))
        return out
    return [x]


def maxrel(a, b):
    a, b = flat(a), flat(b)
    assert len(a) == len(b), (a, b)
    return max((rel(u, v) for u, v in zip(a, b)), default=0.0)


def lookup(doc, key):
    node = doc
    for part in key.split("/"):
        node = node[part]
    return node


def compare_fit(r, old):
    """Per quantity, the max relative difference between an lme4 fit (r) and lmm.json's pls fit."""
    out = {}
    names = r["fixef"]["names"]
    out["fixef"] = maxrel(r["fixef"]["estimate"], [old["fixef"][n] for n in names])
    out["se"] = maxrel(r["fixef"]["se"], [old["se"][n] for n in names])
    out["vcov"] = maxrel(r["vcov"], old["vcov"])
    out["theta"] = maxrel(r["theta"]["values"], old["theta"])
    out["sigma"] = rel(r["sigma"], old["sigma"])
    for k in ("logLik", "AIC", "BIC", "REML_criterion", "deviance"):
        if k in r and k in old:
            out[k] = rel(r[k], old[k])
    # VarCorr: lmm.json names groups by its own keys (batch:cask for lme4's cask:batch) and a
    # `||` term as one block; compare variances in lme4's term order.
    var_r = [v for vc in r["varcorr"] for i, v in enumerate(flat(vc["cov"])) if True]
    var_old = []
    for g in old["varcorr"].values():
        var_old.extend(flat(g["cov"]))
    if len(var_r) == len(var_old):
        out["varcorr_cov"] = maxrel(var_r, var_old)
    else:
        # split `||`: lmm.json stores one diagonal block; lme4 one block per term
        diag_old = []
        for g in old["varcorr"].values():
            c = g["cov"]
            diag_old.extend(c[i][i] for i in range(len(c)))
        out["varcorr_var"] = maxrel([vc["cov"][0][0] for vc in r["varcorr"]], diag_old)
    return out


def main():
    lmm = json.load(open(os.path.join(ROOT, "tests/reference/lmm_r.json")))
    gam = json.load(open(os.path.join(ROOT, "tests/reference/gam_r.json")))
    ok = True
    for name, doc in (("lmm_r.json", lmm), ("gam_r.json", gam)):
        bad = non_finite(doc)
        print(f"{name}: {sum(1 for _ in walk_numbers(doc))} leaves, non-finite/null: {len(bad)}")
        for p in bad[:20]:
            print("   ", p)
        ok &= not bad
    print("\nlmm_r.json fits (REML): n, p, ntheta, sigma, logLik, singular, warnings")
    for ds, models in lmm["fits"].items():
        for mid, e in models.items():
            r = e["REML"]
            w = len(r.get("warnings", [])) + len(r["convergence_messages"]) + \
                len(e["ML"].get("warnings", [])) + len(e["ML"]["convergence_messages"])
            print(f"  {ds}/{mid}: {e['formula']}  n={r['n']} p={r['p']} ntheta={r['ntheta']} "
                  f"sigma={r['sigma']:.6g} logLik={r['logLik']:.8g} singular={r['singular']} warnings={w}")
    print("\ngam_r.json fits: n, method, coefficients, edf total, score, r.sq, dev.expl")
    for mid, m in gam["fits"].items():
        print(f"  {mid}: {m['formula']}  n={m['n']} {m['method']} ncoef={len(m['coefficients']['names'])} "
              f"edf={m['edf_total']:.6g} score={m['gcv_ubre']:.10g} r.sq={m['r_sq']:.6g} "
              f"dev.expl={m['dev_expl']:.6g} converged={m['converged']}")

    shared = find_shared()
    if shared is None:
        print("\nshared/reference/lmm.json not found: no comparison")
        return 0 if ok else 1
    old_doc = json.load(open(os.path.join(shared, "reference/lmm.json")))
    print("\nlme4 (lmm_r.json) vs Python PLS (shared/reference/lmm.json): max relative difference")
    for ds, models in lmm["fits"].items():
        for mid, e in models.items():
            key = e.get("lmm_json_key")
            if not key:
                continue
            old = lookup(old_doc, key)
            for fit in ("REML", "ML"):
                if "pls" in old:
                    o = old["pls"].get(fit)
                elif fit == "REML" and "fixef" in old:
                    o = old  # the wrong-crossed Pastes entry is a bare REML fit
                else:
                    o = None
                if o is None:
                    continue
                diffs = compare_fit(e[fit], o)
                worst = max(diffs.values())
                detail = ", ".join(f"{k} {v:.1e}" for k, v in diffs.items())
                print(f"  {ds}/{mid} {fit}: max {worst:.1e}  ({detail})")
    # Oats EMMs
    e = lmm["fits"]["Oats"]["subset63"]["REML"]["emmeans"]["nitro"]
    old = old_doc["Oats"]["emmeans_nitro_pls"]
    d = {
        "emmean": maxrel(e["satterthwaite"]["emmean"], [r["emmean"] for r in old]),
        "SE": maxrel(e["satterthwaite"]["SE"], [r["SE"] for r in old]),
        "satt_df": maxrel(e["satterthwaite"]["df"], [r["satt_df"] for r in old]),
        "satt_CL": maxrel(e["satterthwaite"]["lower_CL"] + e["satterthwaite"]["upper_CL"],
                          [r["satt_LCL"] for r in old] + [r["satt_UCL"] for r in old]),
        "asymp_CL": maxrel(e["asymptotic"]["lower_CL"] + e["asymptotic"]["upper_CL"],
                           [r["asymp_LCL"] for r in old] + [r["asymp_UCL"] for r in old]),
    }
    print("  Oats emmeans(~nitro) REML: " + ", ".join(f"{k} {v:.1e}" for k, v in d.items()))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
