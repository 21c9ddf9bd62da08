#!/usr/bin/env python3
"""Times trustql's `mlp` against scikit-learn's MLPClassifier on the same seeded data.

The data: `n` training and `n_test` test rows of `d` float32 features in `k` classes (a seeded
Gaussian mixture: class means N(0, 1)·0.15 per feature, unit noise), written as Parquet
(`features` a list of float32, `label` text). trustql trains through its CLI
(bench/transfer/mlp_speed.sql); scikit-learn trains MLPClassifier with the same
hyper-parameters (hidden (256, 256), ReLU, Adam, lr 0.001, alpha 1e-4, batch 200, 200 epochs
with the tol stop turned off) on StandardScaler'd inputs, once in float64 (its default) and once
in float32. Prints the training times, their ratio and both test accuracies.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import sklearn
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler


def make_data(n, n_test, d, k, seed):
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(k, d)) * 0.15
    y = rng.integers(k, size=n + n_test)
    x = (means[y] + rng.normal(size=(n + n_test, d))).astype(np.float32)
    labels = np.array([f"c{c}" for c in y])
    return x[:n], labels[:n], x[n:], labels[n:]


def write(path, x, labels):
    features = pa.FixedSizeListArray.from_arrays(pa.array(x.ravel(), pa.float32()), x.shape[1])
    table = pa.table({"features": features.cast(pa.list_(pa.float32())), "label": labels})
    pq.write_table(table, path)


def run_trustql(binary, out):
    models = out / "transfer_models"
    env = dict(os.environ)
    start = time.perf_counter()
    proc = subprocess.run(
        [binary, "--models", str(models), "-v", f"out={out}", "-f", "bench/transfer/mlp_speed.sql"],
        capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    log = proc.stdout + proc.stderr
    (out / "transfer_trustql.log").write_text(log)
    if proc.returncode != 0:
        sys.exit(f"trustql failed:\n{log}")
    epochs = re.findall(r"epoch (\d+)/(\d+)\s+loss ([0-9.]+)\s+([0-9.]+) s", log)
    if not epochs:
        sys.exit(f"no progress lines in the trustql log:\n{log}")
    last = epochs[-1]
    accuracy = float(re.findall(r"\|\s*(0\.\d+|1\.0)\s*\|", log)[-1])
    return {"seconds": float(last[3]), "epochs": int(last[0]), "loss": float(last[2]),
            "accuracy": accuracy, "cli_wall_seconds": wall}


def run_sklearn(x, y, xt, yt, dtype, epochs):
    scaler = StandardScaler().fit(x.astype(dtype))
    xs, xts = scaler.transform(x.astype(dtype)), scaler.transform(xt.astype(dtype))
    clf = MLPClassifier(hidden_layer_sizes=(256, 256), activation="relu", solver="adam",
                        alpha=1e-4, batch_size=200, learning_rate_init=1e-3, max_iter=epochs,
                        n_iter_no_change=epochs, random_state=1)
    start = time.perf_counter()
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(xs, y)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "epochs": clf.n_iter_, "loss": float(clf.loss_),
            "accuracy": float((clf.predict(xts) == yt).mean())}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trustql", required=True, help="the trustql binary")
    ap.add_argument("--out", type=Path, default=Path("target/bench-results"))
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--n-test", type=int, default=1000)
    ap.add_argument("--d", type=int, default=512)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    x, y, xt, yt = make_data(args.n, args.n_test, args.d, args.k, args.seed)
    write(args.out / "transfer_train.parquet", x, y)
    write(args.out / "transfer_test.parquet", xt, yt)
    results = {"n": args.n, "d": args.d, "k": args.k, "sklearn_version": sklearn.__version__,
               "threads": os.environ.get("RAYON_NUM_THREADS")}
    results["trustql"] = run_trustql(args.trustql, args.out)
    results["sklearn_float64"] = run_sklearn(x, y, xt, yt, np.float64, args.epochs)
    results["sklearn_float32"] = run_sklearn(x, y, xt, yt, np.float32, args.epochs)
    (args.out / "transfer_bench.json").write_text(json.dumps(results, indent=2))
    t = results["trustql"]["seconds"]
    print(f"\nMLP (256, 256) on n = {args.n}, d = {args.d}, {args.k} classes, {args.epochs} epochs; "
          f"scikit-learn {sklearn.__version__}\n")
    print("| implementation | epochs | training time | ratio to trustql | final loss | test accuracy |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in ["trustql", "sklearn_float64", "sklearn_float32"]:
        r = results[name]
        print(f"| {name} | {r['epochs']} | {r['seconds']:.1f} s | {r['seconds'] / t:.2f} | "
              f"{r['loss']:.4f} | {r['accuracy']:.3f} |")
    print("\n(trustql's time is CREATE MODEL's, reading the table and standardising included; "
          "scikit-learn's the fit() call on standardised arrays.)")


if __name__ == "__main__":
    main()
