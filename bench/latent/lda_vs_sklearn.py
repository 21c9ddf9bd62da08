#!/usr/bin/env python3
"""Times trustql's `lda` against scikit-learn's LatentDirichletAllocation on the same corpus.

The corpus, like the thesis' artist bags of audio words (§3.3.1): `docs` documents over a
`terms`-word vocabulary drawn from `topics` planted topics (seeded NumPy: each topic's word
distribution ~ Dirichlet(0.05), each document's topic proportions ~ Dirichlet(0.1), its length
200 + Poisson(300), its counts one multinomial draw), kept as the non-zero (doc, term, weight)
cells, with documents and terms renumbered so that none is empty (trustql drops empty ones; both
then see the same matrix), written to Parquet. trustql fits through its CLI
(bench/latent/lda_speed.sql); scikit-learn 1.6.1 fits
LatentDirichletAllocation(learning_method='batch') with the same k, max_iter, default priors
(1/k), max_doc_update_iter and mean_change_tol on the same CSR matrix, with n_jobs threads. Each
side runs with 1 thread and with THREADS (RAYON_NUM_THREADS for trustql, n_jobs for
scikit-learn). Prints the fit times, the perplexities on the training set (scikit-learn's
`bound_`, trustql's `perplexity`) and their ratios.
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
import scipy.sparse as sp
import sklearn
from sklearn.decomposition import LatentDirichletAllocation


def make_corpus(docs, terms, topics, seed):
    rng = np.random.default_rng(seed)
    beta = rng.dirichlet(np.full(terms, 0.05), size=topics)
    theta = rng.dirichlet(np.full(topics, 0.1), size=docs)
    lengths = 200 + rng.poisson(300, size=docs)
    counts = np.vstack([rng.multinomial(n, t @ beta) for n, t in zip(lengths, theta)])
    used = np.flatnonzero(counts.sum(axis=0) > 0)
    counts = counts[:, used]
    return sp.csr_matrix(counts.astype(np.float64))


def write(path, x):
    coo = x.tocoo()
    table = pa.table({
        "doc": pa.array(coo.row.astype(np.int64)),
        "term": pa.array(coo.col.astype(np.int64)),
        "weight": pa.array(coo.data),
    })
    pq.write_table(table, path)


def run_trustql(binary, out, k, max_iter, threads):
    models = out / "lda_models"
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    start = time.perf_counter()
    proc = subprocess.run(
        [binary, "--models", str(models), "-v", f"out={out}", "-v", f"k={k}",
         "-v", f"max_iter={max_iter}", "-f", "bench/latent/lda_speed.sql"],
        capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    log = proc.stdout + proc.stderr
    (out / f"lda_trustql_{threads}.log").write_text(log)
    if proc.returncode != 0:
        sys.exit(f"trustql failed:\n{log}")
    facts = dict(re.findall(r"^\|\s*([a-z_: -]+?)\s*\|\s*(\S+)\s*\|$", proc.stdout, re.M))
    try:
        return {"seconds": float(facts["training: training seconds"]),
                "iterations": int(facts["iterations"]),
                "perplexity": float(facts["perplexity"]),
                "bound": float(facts["bound"]),
                "documents": int(facts["documents"]), "terms": int(facts["terms"]),
                "nnz": int(facts["training: non-zero cells"]),
                "cli_wall_seconds": wall}
    except KeyError as e:
        sys.exit(f"no {e} in the trustql output:\n{log}")


def run_sklearn(x, k, max_iter, n_jobs):
    lda = LatentDirichletAllocation(n_components=k, learning_method="batch", max_iter=max_iter,
                                    max_doc_update_iter=100, mean_change_tol=1e-3,
                                    n_jobs=n_jobs, random_state=1)
    start = time.perf_counter()
    lda.fit(x)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "iterations": lda.n_iter_, "perplexity": float(lda.bound_)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trustql", required=True, help="the trustql binary")
    ap.add_argument("--out", type=Path, default=Path("target/bench-results"))
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--terms", type=int, default=2048)
    ap.add_argument("--topics", type=int, default=40, help="planted topics, and k of both fits")
    ap.add_argument("--max-iter", type=int, default=10)
    ap.add_argument("--threads", type=int, default=int(os.environ.get("THREADS", "2")))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    x = make_corpus(args.docs, args.terms, args.topics, args.seed)
    write(args.out / "lda_counts.parquet", x)
    k, it = args.topics, args.max_iter
    results = {"docs": x.shape[0], "terms": x.shape[1], "nnz": x.nnz, "words": float(x.sum()),
               "k": k, "max_iter": it, "sklearn_version": sklearn.__version__}
    thread_counts = sorted({1, args.threads})
    for t in thread_counts:
        results[f"trustql_{t}"] = run_trustql(args.trustql, args.out, k, it, t)
        results[f"sklearn_{t}"] = run_sklearn(x, k, it, t)
    tq = results[f"trustql_{thread_counts[0]}"]
    if (tq["documents"], tq["terms"], tq["nnz"]) != (x.shape[0], x.shape[1], x.nnz):
        sys.exit(f"trustql read another matrix: {tq} vs {x.shape}, {x.nnz}")
    (args.out / "lda_bench.json").write_text(json.dumps(results, indent=2))
    print(f"\nLDA, k = {k}, max_iter = {it}, priors 1/k, on {x.shape[0]} documents × "
          f"{x.shape[1]} terms ({x.nnz} non-zero cells, {x.sum():.0f} words); scikit-learn "
          f"{sklearn.__version__}\n")
    print("| implementation | threads | fit time | time ratio to trustql | perplexity (training set) "
          "| perplexity ratio to trustql |")
    print("|---|---:|---:|---:|---:|---:|")
    for t in thread_counts:
        base = results[f"trustql_{t}"]
        for name in ["trustql", "sklearn"]:
            r = results[f"{name}_{t}"]
            print(f"| {name} | {t} | {r['seconds']:.2f} s | {r['seconds'] / base['seconds']:.2f} | "
                  f"{r['perplexity']:.2f} | {r['perplexity'] / base['perplexity']:.4f} |")
    print("\n(trustql's time is CREATE MODEL's, from reading the rows to the final E-step; "
          "scikit-learn's the fit() call on the CSR matrix, which also ends with that E-step.)")


if __name__ == "__main__":
    main()
