#!/usr/bin/env python3
"""LightFM 1.17 with item features on the split written by the Rust bench: the peer of trustql's `fm`.

Reads <results>/goodbooks_synth/{train,test,tags}.bin (12-byte little-endian records: u32 user,
u32 item, f32 value; see udfs/benches/recsys.rs) and meta.json, and trains
`lightfm.LightFM` (loss BPR or WARP, 64 components, its default learning rate 0.05 with
adagrad, a fixed random_state) for the given number of epochs on the binary interactions, with
item features built from the same tags trustql's `fm` uses: one identity feature per item plus
the item's tag weights, each row scaled to sum 1 (what LightFM's own `Dataset` does by default);
users have LightFM's default identity features. Every epoch is one `fit_partial` call, timed.

After the last epoch: held-out nDCG@100 exactly as the Rust bench computes it (binary relevance,
ideal DCG over min(100, #held-out), mean over users with held-out items), from the top-100 lists
of all users with their training items excluded, scored from LightFM's user and item
representations (bias + dot product) in numpy blocks; that scoring time is reported too.

LightFM does not compute a training loss, so none is reported for it.

Writes <results>/lightfm_<loss>.json and prints a summary.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from implicit_wrmf import default_results_dir, ndcg_at_k, read_records  # noqa: E402


def item_features(tags: np.ndarray, n_items: int, n_tags: int) -> sp.csr_matrix:
    """[I | T] with rows scaled to sum 1 (LightFM Dataset's normalize_item_features)."""
    ident = sp.identity(n_items, dtype=np.float32, format="csr")
    t = sp.csr_matrix(
        (
            tags["value"].astype(np.float32),
            (tags["user"].astype(np.int64), tags["item"].astype(np.int64)),
        ),
        shape=(n_items, n_tags),
        dtype=np.float32,
    )
    f = sp.hstack([ident, t], format="csr", dtype=np.float32)
    sums = np.asarray(f.sum(axis=1)).ravel()
    return sp.diags(1.0 / sums).astype(np.float32) @ f


def top_k(user_emb, user_bias, item_emb, item_bias, seen: sp.csr_matrix, k: int) -> np.ndarray:
    n_users = user_emb.shape[0]
    out = np.empty((n_users, k), dtype=np.int64)
    block = 1024
    for a in range(0, n_users, block):
        b = min(a + block, n_users)
        s = user_emb[a:b] @ item_emb.T + item_bias[None, :] + user_bias[a:b, None]
        rows = seen[a:b]
        s[np.repeat(np.arange(b - a), np.diff(rows.indptr)), rows.indices] = -np.inf
        part = np.argpartition(-s, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(s, part, axis=1), axis=1, kind="stable")
        out[a:b] = np.take_along_axis(part, order, axis=1)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=default_results_dir())
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--loss", choices=["bpr", "warp"], default="bpr")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()

    import lightfm
    from lightfm import LightFM

    split = args.results / "goodbooks_synth"
    meta = json.loads((split / "meta.json").read_text())
    k = int(meta["k"])
    n_users = int(meta["dataset"]["users"])
    n_items = int(meta["dataset"]["items"])
    n_tags = int(meta["dataset"]["tags"])
    train = read_records(split / "train.bin")
    test = read_records(split / "test.bin")
    tags = read_records(split / "tags.bin")
    print(
        f"lightfm {lightfm.__version__} ({args.loss}): {n_users} users x {n_items} items, "
        f"{len(train)} train / {len(test)} test, {n_tags} tags ({len(tags)} item-tag rows), "
        f"dim {args.dim}, {args.epochs} epoch(s), threads {args.threads}, "
        f"load average {os.getloadavg()[0]:.2f}",
        file=sys.stderr,
    )
    interactions = sp.coo_matrix(
        (
            np.ones(len(train), dtype=np.float32),
            (train["user"].astype(np.int32), train["item"].astype(np.int32)),
        ),
        shape=(n_users, n_items),
    )
    features = item_features(tags, n_items, n_tags)

    model = LightFM(no_components=args.dim, loss=args.loss, random_state=args.seed)
    load_before = os.getloadavg()[0]
    epoch_s = []
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        model.fit_partial(interactions, item_features=features, epochs=1, num_threads=args.threads)
        epoch_s.append(time.perf_counter() - t0)
        print(f"  lightfm {args.loss} epoch {epoch + 1}: {epoch_s[-1]:.2f} s", file=sys.stderr)

    t0 = time.perf_counter()
    item_bias, item_emb = model.get_item_representations(features)
    user_bias, user_emb = model.get_user_representations()
    seen = interactions.tocsr()
    lists = top_k(user_emb, user_bias, item_emb, item_bias, seen, k)
    topk_s = time.perf_counter() - t0
    load_after = os.getloadavg()[0]
    ndcg, users = ndcg_at_k(lists, test, n_users, k)

    result = {
        "lightfm_version": lightfm.__version__,
        "numpy_version": np.__version__,
        "loss": args.loss,
        "dim": args.dim,
        "learning_rate": model.learning_rate,
        "learning_schedule": model.learning_schedule,
        "threads": args.threads,
        "epochs": args.epochs,
        "epoch_s": epoch_s,
        "item_features": "identity + tag weights, rows scaled to sum 1",
        "top100_all_users_s": topk_s,
        "ndcg_at_100": ndcg,
        "ndcg_users": users,
        "load_before": load_before,
        "load_after": load_after,
        "dataset": meta["dataset"],
    }
    out = args.results / f"lightfm_{args.loss}.json"
    out.write_text(json.dumps(result, indent=2))
    print(
        f"lightfm {args.loss}: epochs {', '.join(f'{s:.2f}' for s in epoch_s)} s, "
        f"top-{k} all users {topk_s:.2f} s, nDCG@{k} {ndcg:.4f} over {users} users -> {out}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
