#!/usr/bin/env python3
"""Writes tests/reference/quantile_normal.json: inputs and scikit-learn's normal scores for them.

Why: trustql's `quantile_normal(x) OVER (...)` window function (udfs/src/latent/quantile_normal.rs,
maths in udfs/src/latent/kernels/quantile.rs) is meant to give what scikit-learn's
`QuantileTransformer(n_quantiles=..., output_distribution='normal', subsample=None)` gives when it
is fitted and applied to the same column (thesis §3.3.1, feature set e). The Rust unit test
`latent::kernels::quantile::tests::agrees_with_scikit_learn` reads this file and agrees to 1e-9
absolute; `normal_quantile_agrees_with_scipy` checks Φ⁻¹ against scipy's `norm.ppf`. The tests
never run Python: this script is run by hand, and its output is committed.

Install and run (from the repository root; versions of the committed file):

    python3 -m venv /tmp/skl && /tmp/skl/bin/pip install scikit-learn==1.6.1 numpy==2.4.6 scipy==1.17.1
    /tmp/skl/bin/python scripts/quantile_reference.py

The cases are seeded (numpy's PCG64), so a rerun writes the same file.
"""

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import scipy
import sklearn
from scipy.stats import norm
from sklearn.preprocessing import QuantileTransformer

OUT = Path(__file__).resolve().parent.parent / "tests" / "reference" / "quantile_normal.json"


def short(values):
    """The values to 6 significant digits, so that the file stays small (the inputs are then
    exactly the numbers written)."""
    return np.array([float(f"{v:.6g}") for v in values])


def cases():
    rng = np.random.default_rng(20240521)
    yield "n1", 1000, np.array([3.5])
    yield "n2", 1000, rng.normal(size=2)
    yield "n5", 1000, rng.normal(size=5)
    yield "n5_nq10", 10, rng.normal(size=5)
    yield "n5_nq2", 2, rng.normal(size=5)
    yield "ties_n50", 1000, rng.integers(0, 5, size=50).astype(float)
    yield "ties_n50_nq10", 10, rng.integers(0, 5, size=50).astype(float)
    yield "ties_n5000", 1000, rng.integers(0, 20, size=5000).astype(float)
    yield "n999", 1000, rng.normal(2.0, 3.0, size=999)
    yield "n1000", 1000, rng.lognormal(size=1000)
    yield "n1001", 1000, rng.normal(size=1001)
    yield "n5000", 1000, rng.lognormal(0.0, 2.0, size=5000)
    yield "n5000_nq10", 10, rng.standard_t(3, size=5000)
    yield "n237_nq10", 10, rng.uniform(-50.0, 50.0, size=237)
    yield "constant", 1000, np.full(7, 2.0)
    yield "constant_nq10", 10, np.full(30, -1.25)
    # Spread over about 1e-6: scikit-learn's absolute 1e-7 bounds matter.
    yield "tiny_scale", 1000, rng.normal(0.0, 1e-6, size=100)
    # A block of ties inside otherwise distinct values, more values than quantiles.
    mixed = np.concatenate([rng.normal(size=1500), np.full(400, 0.25), np.full(100, -1.0)])
    rng.shuffle(mixed)
    yield "mixed_ties_n2000", 1000, mixed
    yield "mixed_ties_n2000_nq37", 37, mixed


def main():
    out = {
        "meta": {
            "made_by": "scripts/quantile_reference.py",
            "python": sys.version.split()[0],
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "transformer": "QuantileTransformer(n_quantiles, output_distribution='normal', "
            "subsample=None).fit_transform(values[:, None])",
        },
        "cases": [],
        "normal_ppf": [],
    }
    for name, n_quantiles, values in cases():
        values = short(values)
        qt = QuantileTransformer(
            n_quantiles=n_quantiles, output_distribution="normal", subsample=None
        )
        with warnings.catch_warnings():
            # n_quantiles > n_samples: scikit-learn warns and uses n_samples.
            warnings.simplefilter("ignore", UserWarning)
            z = qt.fit_transform(values.reshape(-1, 1)).ravel()
        out["cases"].append(
            {
                "name": name,
                "n_quantiles": n_quantiles,
                "values": [float(v) for v in values],
                "expected": [float(v) for v in z],
            }
        )
    ps = [1e-300, 1e-100, 1e-20, 1e-12, 1e-10, 1e-7 - np.spacing(1), 1e-7, 1e-5, 0.001,
          0.02425, 0.05, 0.074999, 0.075, 0.075001, 0.1, 0.25, 0.3, 0.5, 0.6, 0.7, 0.9,
          0.925, 0.975, 0.999, 1 - 1e-7, 1 - (1e-7 - np.spacing(1)), 1 - 1e-12, 1 - 2**-52]
    ps += [float(p) for p in np.exp(-np.linspace(0.1, 690.0, 40))]
    # p as text (repr, exact): JSON readers may round a number next to 1 by an ulp.
    out["normal_ppf"] = [[repr(float(p)), float(norm.ppf(p))] for p in ps]
    # One line per case and per ppf value: small, and a rerun's diff shows which case changed.
    lines = ["{", f' "meta": {json.dumps(out["meta"])},', ' "cases": [']
    lines += [f"  {json.dumps(c)}," for c in out["cases"]]
    lines[-1] = lines[-1].rstrip(",")
    lines += [" ],", ' "normal_ppf": [']
    lines += [f"  {json.dumps(pair)}," for pair in out["normal_ppf"]]
    lines[-1] = lines[-1].rstrip(",")
    lines += [" ]", "}"]
    text = "\n".join(lines) + "\n"
    assert json.loads(text) == out
    OUT.write_text(text)
    print(f"wrote {OUT}: {len(out['cases'])} cases, {len(out['normal_ppf'])} ppf values")


if __name__ == "__main__":
    main()
