#!/usr/bin/env python3
"""Times trustql's `kmeans` against scikit-learn's KMeans and MiniBatchKMeans on the same data.

Two data sets, each written as Parquet (`vector`, a list of float32):

- `mixture`: `n` rows of `d` float32 values from a seeded Gaussian mixture of `k` components
  (component means N(0, 1.5²) per value, unit noise, random component sizes), clustered with the
  same `k`, and again with `big_k` words (a dictionary larger than the structure, as audio
  words are);
- `digits`: scikit-learn's bundled handwritten digits (1,797 real 8 × 8 images, 64 values each,
  as float32), clustered with k = 10.

trustql trains both of its algorithms through its CLI (bench/latent/kmeans_speed.sql);
scikit-learn fits KMeans(algorithm="lloyd", init="k-means++", n_init=1, max_iter=300, tol=1e-4)
and MiniBatchKMeans(batch_size, max_iter, n_init=1, its other defaults: tol 0,
max_no_improvement 10, reassignment_ratio 0.01) on the same float32 array. Each side runs
`repeats` times with seeds 1.. (trustql) and random states 0.. (scikit-learn), after one untimed
scikit-learn fit on a small slice (its first fit in a process pays for thread-pool
introspection). Prints the median training times and their ratio, the mean inertias and their
ratio, and the mean iterations; kmeans_bench.json holds every run.
"""

import argparse
import csv
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import sklearn
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.datasets import load_digits


def mixture(n, d, k, seed):
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(k, d)) * 1.5
    weights = rng.dirichlet(np.full(k, 5.0))
    comp = rng.choice(k, size=n, p=weights)
    return (means[comp] + rng.normal(size=(n, d))).astype(np.float32)


def write(path, x):
    vectors = pa.FixedSizeListArray.from_arrays(pa.array(x.ravel(), pa.float32()), x.shape[1])
    pq.write_table(pa.table({"vector": vectors.cast(pa.list_(pa.float32()))}), path)


def run_trustql(binary, out, data, k, batch, mini_iter, seed, algorithms):
    options = {"lloyd": "init = 'k-means++', max_iter = 300, tolerance = 1e-4",
               "minibatch": f"batch_size = {batch}, max_iter = {mini_iter}"}
    out_runs = {}
    for run in algorithms:
        cmd = [binary, "--format", "csv", "--models", str(out / "kmeans_models"),
               "-v", f"out={out}", "-v", f"data={data}", "-v", f"k={k}", "-v", f"seed={seed}",
               "-v", f"options={options[run]}", "-f", "bench/latent/kmeans_speed.sql"]
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - start
        (out / f"kmeans_{data}_{k}_{run}_{seed}_trustql.log").write_text(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            sys.exit(f"trustql failed:\n{proc.stdout}\n{proc.stderr}")
        p = {}
        for row in csv.reader(io.StringIO(proc.stdout)):
            if len(row) == 2:
                p[row[0]] = row[1]
        if "inertia" not in p:
            sys.exit(f"no model_info rows for {run} in the trustql output:\n{proc.stdout}")
        out_runs[run] = {"seconds": float(p["training: training seconds"]),
                         "inertia": float(p["inertia"]), "iterations": int(p["iterations"]),
                         "steps": int(p.get("mini-batch steps", p["iterations"])),
                         "stopped": p["stopped by"], "cli_wall_seconds": wall}
    return out_runs


def run_sklearn(x, k, batch, mini_iter, seed, algorithms):
    out = {}
    if "lloyd" in algorithms:
        lloyd = KMeans(n_clusters=k, init="k-means++", n_init=1, max_iter=300, tol=1e-4,
                       algorithm="lloyd", random_state=seed)
        start = time.perf_counter()
        lloyd.fit(x)
        out["lloyd"] = {"seconds": time.perf_counter() - start, "inertia": float(lloyd.inertia_),
                        "iterations": int(lloyd.n_iter_), "steps": int(lloyd.n_iter_)}
    if "minibatch" not in algorithms:
        return out
    mini = MiniBatchKMeans(n_clusters=k, batch_size=batch, max_iter=mini_iter, n_init=1,
                           random_state=seed)
    start = time.perf_counter()
    mini.fit(x)
    out["minibatch"] = {"seconds": time.perf_counter() - start, "inertia": float(mini.inertia_),
                        "iterations": int(mini.n_iter_), "steps": int(mini.n_steps_)}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trustql", required=True, help="the trustql binary")
    ap.add_argument("--out", type=Path, default=Path("target/bench-results"))
    ap.add_argument("--profile", default="release", help="the cargo profile (for the table)")
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--d", type=int, default=20)
    ap.add_argument("--k", type=int, default=64)
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--mini-iter", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--big-k", type=int, default=256, help="0: no second run on the mixture")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--skip-digits", action="store_true")
    ap.add_argument("--algorithms", default="lloyd,minibatch",
                    help="comma-separated: lloyd, minibatch (the scale run: minibatch only)")
    args = ap.parse_args()
    algorithms = args.algorithms.split(",")
    if not algorithms or any(a not in ("lloyd", "minibatch") for a in algorithms):
        sys.exit(f"--algorithms: lloyd and/or minibatch, not {args.algorithms!r}")
    args.out.mkdir(parents=True, exist_ok=True)
    x = mixture(args.n, args.d, args.k, args.seed)
    sets = [("mixture", x, args.k)]
    if args.big_k:
        sets.append(("mixture", x, args.big_k))
    if not args.skip_digits:
        sets.append(("digits", load_digits().data.astype(np.float32), 10))
    results = {"sklearn_version": sklearn.__version__, "profile": args.profile,
               "threads": os.environ.get("RAYON_NUM_THREADS"), "sets": {}}
    # Warm-up: scikit-learn's first fits in a process introspect the thread pools.
    warm = sets[0][1][:2000]
    KMeans(n_clusters=4, n_init=1, random_state=0).fit(warm)
    MiniBatchKMeans(n_clusters=4, n_init=1, batch_size=256, random_state=0).fit(warm)
    for name, x, k in sets:
        write(args.out / f"kmeans_{name}.parquet", x)
        runs = {"trustql": [], "sklearn": []}
        for r in range(args.repeats):
            runs["trustql"].append(
                run_trustql(args.trustql, args.out, name, k, args.batch, args.mini_iter, r + 1,
                            algorithms))
            runs["sklearn"].append(run_sklearn(x, k, args.batch, args.mini_iter, r, algorithms))
        results["sets"][f"{name}, k = {k}"] = {"n": x.shape[0], "d": x.shape[1], "k": k,
                                               "runs": runs}
    (args.out / "kmeans_bench.json").write_text(json.dumps(results, indent=2))
    print(f"\nk-means, trustql ({args.profile} profile) against scikit-learn "
          f"{sklearn.__version__}, {results['threads']} threads each, {args.repeats} seeds each "
          "(median time, mean inertia and iterations)\n")
    print("| data (n × d, k) | algorithm | trustql | scikit-learn | time ratio (trustql / sklearn) "
          "| trustql inertia | sklearn inertia | inertia ratio | iterations (trustql / sklearn) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in results["sets"].items():
        label = f"{name.split(',')[0]} ({r['n']:,} × {r['d']}, k = {r['k']})"
        for run, title in [("lloyd", "Lloyd"), ("minibatch", f"mini-batch ({args.batch})")]:
            if run not in algorithms:
                continue
            t = [x[run] for x in r["runs"]["trustql"]]
            s = [x[run] for x in r["runs"]["sklearn"]]
            tt = float(np.median([x["seconds"] for x in t]))
            st = float(np.median([x["seconds"] for x in s]))
            ti = float(np.mean([x["inertia"] for x in t]))
            si = float(np.mean([x["inertia"] for x in s]))
            mean = lambda runs, key: float(np.mean([x[key] for x in runs]))
            iters = f"{mean(t, 'iterations'):.1f} / {mean(s, 'iterations'):.1f}"
            if run == "minibatch":
                iters += f" ({mean(t, 'steps'):.0f} / {mean(s, 'steps'):.0f} steps)"
            print(f"| {label} | {title} | {tt:.3g} s | {st:.3g} s | {tt / st:.2f} | {ti:.6g} | "
                  f"{si:.6g} | {ti / si:.4f} | {iters} |")
    print("\n(trustql's time is the model's 'training seconds': reading the vectors from the "
          "table, sorting them and the fit; scikit-learn's the fit() call on a float32 array. "
          "The two start from different random draws.)")


if __name__ == "__main__":
    main()
