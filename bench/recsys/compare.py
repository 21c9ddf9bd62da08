#!/usr/bin/env python3
"""Prints trustql's models and their Python peers side by side, from the JSON the benches wrote:
WRMF against implicit's ALS (<results>/recsys.json from `cargo bench --workspace --bench
recsys`, <results>/implicit_wrmf.json from bench/recsys/implicit_wrmf.py) and FM against LightFM
(<results>/lightfm_{bpr,warp}.json from bench/recsys/lightfm_fm.py), each where both exist."""

import argparse
import json
import sys
from pathlib import Path

from implicit_wrmf import default_results_dir


def fm_and_lightfm(ours_all: dict, results: Path) -> bool:
    """FM's epoch against LightFM's (BPR and WARP), same data, dim and threads."""
    ours = ours_all["models"].get("fm")
    peers = {}
    for loss in ("bpr", "warp"):
        path = results / f"lightfm_{loss}.json"
        if path.exists():
            peers[loss] = json.loads(path.read_text())
    if ours is None or not peers:
        return False
    for loss, theirs in peers.items():
        if ours_all["dataset"] != theirs["dataset"]:
            print(f"warning: lightfm {loss} ran on another dataset", file=sys.stderr)
    d = ours_all["dataset"]
    print(
        f"\nFM against LightFM: {d['users']} users x {d['items']} items, {d['train']} train "
        f"interactions, {d['tags']} tags, dim 64, one epoch, "
        f"{next(iter(peers.values()))['threads']} threads\n"
    )
    print("| | one epoch (s) | loss (epoch mean) | nDCG@100 after it | load before | trustql fm epoch / this |")
    print("|---|---:|---:|---:|---:|---:|")
    fm_epoch = ours["epoch_s"]
    opts = ours["options"]
    print(
        f"| trustql fm ({opts.get('negatives', '10')} negatives, Adam, WRMF init "
        f"{ours['wrmf_init_s']:.1f} s not included) | {fm_epoch:.2f} | "
        f"{ours['training_facts'].get('loss per epoch', '')} | "
        f"{ours['ndcg_at_100']:.4f} | {ours['load_before']:.1f} | 1.00 |"
    )
    for loss, theirs in peers.items():
        e = theirs["epoch_s"][0]
        print(
            f"| LightFM {theirs['lightfm_version']} {loss.upper()} (adagrad, lr "
            f"{theirs['learning_rate']}) | {e:.2f} | not computed by LightFM | "
            f"{theirs['ndcg_at_100']:.4f} | "
            f"{theirs['load_before']:.1f} | {fm_epoch / e:.2f} |"
        )
    return True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=default_results_dir())
    args = ap.parse_args()
    ours_all = json.loads((args.results / "recsys.json").read_text())
    printed = fm_and_lightfm(ours_all, args.results)
    implicit_path = args.results / "implicit_wrmf.json"
    ours = ours_all["models"].get("wrmf")
    if ours is None or not implicit_path.exists():
        if not printed:
            print(
                "nothing to compare: run the bench with wrmf (and implicit_wrmf.py) or fm "
                "(and lightfm_fm.py)",
                file=sys.stderr,
            )
        return 0 if printed else 1
    theirs = json.loads(implicit_path.read_text())
    if ours_all["dataset"] != theirs["dataset"]:
        print("warning: the two results are for different datasets", file=sys.stderr)
    als = ours["als"]
    rows = [
        (
            "mean ALS iteration, iterations 2-15 (s)",
            als["mean_iteration_s_2_to_n"],
            theirs["mean_iteration_s_2_to_n"],
        ),
        (
            "  trustql without its per-iteration objective (s)",
            als["mean_iteration_s_2_to_n_without_objective"],
            theirs["mean_iteration_s_2_to_n"],
        ),
        (
            "first iteration (s; trustql's includes reading the data)",
            als["iteration_s"][0],
            theirs["iteration_s"][0],
        ),
        ("training, 15 iterations (s)", ours["train_s"], theirs["fit_s"]),
        ("top-100 for all users (s)", ours["top100_all_users_s"], theirs["top100_all_users_s"]),
        ("nDCG@100 (held out)", ours["ndcg_at_100"], theirs["ndcg_at_100"]),
        (
            "final WRMF objective (same formula)",
            als["final_objective"],
            theirs["final_objective_trustql_formula"],
        ),
        ("load average before", ours["load_before"], theirs["load_before"]),
    ]
    d = ours_all["dataset"]
    print(
        f"\nWRMF side by side: {d['users']} users x {d['items']} items, {d['train']} train "
        f"interactions, 64 factors, 15 iterations, CG 3 steps, alpha {theirs['alpha']}, "
        f"l2 {theirs['regularization']}, {theirs['threads']} threads "
        f"(implicit {theirs['implicit_version']})\n"
    )
    print("| | trustql wrmf | implicit ALS | trustql / implicit |")
    print("|---|---:|---:|---:|")
    for name, a, b in rows:
        if name.startswith("final"):
            fa, fb, ratio = f"{a:.6e}", f"{b:.6e}", f"{a / b:.5f}"
        else:
            digits = 4 if "nDCG" in name else (1 if "load" in name else 3)
            fa, fb = f"{a:.{digits}f}", f"{b:.{digits}f}"
            ratio = f"{a / b:.2f}" if b and "load" not in name else ""
        print(f"| {name} | {fa} | {fb} | {ratio} |")
    per_it = als["mean_iteration_s_2_to_n"] / theirs["mean_iteration_s_2_to_n"]
    verdict = (
        f"trustql is {1 / per_it:.2f}x as fast per iteration"
        if per_it <= 1
        else f"trustql is {per_it:.2f}x SLOWER per iteration"
    )
    dn = ours["ndcg_at_100"] - theirs["ndcg_at_100"]
    print(f"\n{verdict}; nDCG@100 difference (trustql - implicit) {dn:+.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
