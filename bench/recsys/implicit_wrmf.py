#!/usr/bin/env python3
"""WRMF with the `implicit` package's CPU ALS on the split written by the Rust bench.

Reads <results>/goodbooks_synth/{train,test}.bin (12-byte little-endian records: u32 user,
u32 item, f32 rating; see udfs/benches/recsys.rs) and meta.json, trains
implicit.cpu.als.AlternatingLeastSquares with the same factors, iterations, regularisation and
threads as trustql's `wrmf`, times every iteration, recommends the top 100 items (already-liked
items filtered) to every user, and computes held-out nDCG@100 exactly as the Rust bench does
(binary relevance, ideal DCG over min(100, #held-out), mean over users with held-out items).

Same problem. trustql minimises  sum_ui c_ui (p_ui - x_u.y_i)^2 + l2 (|X|^2 + |Y|^2)  with
c_ui = 1 + alpha * r_ui on observed pairs and 1 elsewhere. implicit (0.7) multiplies the matrix
it is given by its own `alpha` (only when alpha != 1) and uses the resulting value itself as the
confidence of an observed pair: c_ui = value (its CG solver adds (c - 1) y y^T per stored entry
to Y^T Y + regularization I, and c to the right-hand side). So implicit is given the matrix
1 + alpha * r (alpha and l2 from meta.json) with implicit's alpha = 1.0 and
regularization = l2: both then solve exactly the same least-squares problems. Initial factors
are uniform in [0, 0.01) in both (different random streams).

Writes <results>/implicit_wrmf.json and prints a summary.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

RECORD = np.dtype([("user", "<u4"), ("item", "<u4"), ("value", "<f4")])


def default_results_dir() -> Path:
    root = Path(__file__).resolve().parents[2]
    target = Path(os.environ.get("CARGO_TARGET_DIR", root / "target"))
    return Path(os.environ.get("TRUSTQL_BENCH_OUT", target / "bench-results"))


def read_records(path: Path) -> np.ndarray:
    return np.fromfile(path, dtype=RECORD)


def ndcg_at_k(recommended: np.ndarray, test: np.ndarray, n_users: int, k: int) -> tuple:
    """Mean nDCG@k over users with held-out items. `recommended[u]` holds item ids, best first,
    with -1 (or any id not held out) where there is nothing."""
    discount = 1.0 / np.log2(np.arange(k) + 2.0)
    ideal_prefix = np.concatenate([[0.0], np.cumsum(discount)])
    users = test["user"].astype(np.int64)
    items = test["item"].astype(np.int64)
    order = np.argsort(users, kind="stable")
    users, items = users[order], items[order]
    bounds = np.flatnonzero(np.diff(users)) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [len(users)]])
    total = 0.0
    for s, e in zip(starts, ends):
        u = users[s]
        relevant = items[s:e]
        rec = recommended[u, :k]
        hits = np.isin(rec, relevant)
        dcg = float(discount[: len(rec)][hits].sum())
        total += dcg / ideal_prefix[min(k, e - s)]
    return total / max(len(starts), 1), len(starts)


def wrmf_objective(user_items, x: np.ndarray, y: np.ndarray, l2: float) -> float:
    """trustql's WRMF objective (udfs/src/recsys/kernels/als.rs) of factors x, y, where the stored
    values of `user_items` are the confidences c = 1 + alpha r (p = 1):
    sum_u x_u^T (Y^T Y) x_u + sum_stored [c (1 - s)^2 - s^2] + l2 (|X|^2 + |Y|^2), s = x_u . y_i,
    in float64."""
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    total = float(np.einsum("ij,jk,ik->", x64, y64.T @ y64, x64))
    coo = user_items.tocoo()
    chunk = 1 << 20
    for a in range(0, coo.nnz, chunk):
        u, i = coo.row[a : a + chunk], coo.col[a : a + chunk]
        c = coo.data[a : a + chunk].astype(np.float64)
        s = np.einsum("ij,ij->i", x64[u], y64[i])
        total += float(np.sum(c * (1.0 - s) ** 2 - s * s))
    return total + l2 * float(np.sum(x64 * x64) + np.sum(y64 * y64))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=default_results_dir())
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()

    import implicit
    from implicit.cpu.als import AlternatingLeastSquares

    split = args.results / "goodbooks_synth"
    meta = json.loads((split / "meta.json").read_text())
    w = meta["wrmf"]
    k = int(meta["k"])
    n_users = int(meta["dataset"]["users"])
    n_items = int(meta["dataset"]["items"])
    train = read_records(split / "train.bin")
    test = read_records(split / "test.bin")
    print(
        f"implicit {implicit.__version__}: {n_users} users x {n_items} items, "
        f"{len(train)} train / {len(test)} test, factors {w['factors']}, "
        f"iterations {w['iterations']}, alpha {w['alpha']}, l2 {w['l2']}, "
        f"threads {args.threads}, load average {os.getloadavg()[0]:.2f}",
        file=sys.stderr,
    )

    # Confidence matrix: 1 + alpha * r on observed pairs (see the module docstring).
    confidence = (1.0 + float(w["alpha"]) * train["value"].astype(np.float64)).astype(np.float32)
    user_items = sp.csr_matrix(
        (confidence, (train["user"].astype(np.int64), train["item"].astype(np.int64))),
        shape=(n_users, n_items),
        dtype=np.float32,
    )
    user_items.sum_duplicates()
    user_items.sort_indices()

    model = AlternatingLeastSquares(
        factors=int(w["factors"]),
        regularization=float(w["l2"]),
        alpha=1.0,
        iterations=int(w["iterations"]),
        use_cg=True,
        calculate_training_loss=False,
        num_threads=args.threads,
        random_state=args.seed,
        dtype=np.float32,
    )
    model.cg_steps = int(w.get("cg_steps", 3))  # an attribute in implicit 0.7, default 3
    iteration_s = []

    def on_iteration(iteration, elapsed, loss):
        iteration_s.append(float(elapsed))
        print(f"  implicit ALS iteration {iteration + 1}: {elapsed:.3f} s", file=sys.stderr)

    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    model.fit(user_items, show_progress=False, callback=on_iteration)
    fit_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    userids = np.arange(n_users)
    ids, _scores = model.recommend(
        userids, user_items, N=k, filter_already_liked_items=True
    )
    recommend_s = time.perf_counter() - t0
    load_after = os.getloadavg()[0]
    ndcg, users = ndcg_at_k(np.asarray(ids), test, n_users, k)

    objective = wrmf_objective(
        user_items, np.asarray(model.user_factors), np.asarray(model.item_factors), float(w["l2"])
    )

    steady = iteration_s[1:] if len(iteration_s) > 1 else iteration_s
    result = {
        "implicit_version": implicit.__version__,
        "numpy_version": np.__version__,
        "threads": args.threads,
        "factors": int(w["factors"]),
        "iterations": int(w["iterations"]),
        "regularization": float(w["l2"]),
        "confidence": "1 + alpha * r given as the matrix values, implicit alpha = 1.0",
        "alpha": float(w["alpha"]),
        "iteration_s": iteration_s,
        "mean_iteration_s_2_to_n": float(np.mean(steady)),
        "fit_s": fit_s,
        "top100_all_users_s": recommend_s,
        "ndcg_at_100": ndcg,
        "final_objective_trustql_formula": objective,
        "ndcg_users": users,
        "load_before": load_before,
        "load_after": load_after,
        "dataset": meta["dataset"],
    }
    out = args.results / "implicit_wrmf.json"
    out.write_text(json.dumps(result, indent=2))
    print(
        f"implicit ALS: fit {fit_s:.2f} s, mean iteration {result['mean_iteration_s_2_to_n']:.3f} s "
        f"(iterations 2-{len(iteration_s)}), top-{k} all users {recommend_s:.2f} s, "
        f"nDCG@{k} {ndcg:.4f} over {users} users, final objective {objective:.6e} -> {out}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
