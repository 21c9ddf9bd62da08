#!/usr/bin/env python3
"""trustql's `explain_lime` against the reference Python `lime` package (0.2.0.1), on the same
model and the same (user, item) pairs (issue 22, item 6).

Why: trustql's LIME (udfs/src/explain/kernels/lime.rs, udfs/src/explain/engine/lime.rs)
re-implements lime's text explainer over an item's tags so that the thesis' explanations and
fidelities can be reproduced in SQL. This script checks that claim from the outside and times
both, on the iNN recommender at dim 64 on Last.fm 2K:

1. Trains `lastfm_inn64` with the CLI, with the CREATE MODEL statement of
   sql/experiments/common/recsys.sql, into a bench-local model store (once; reused after), and
   exports through SQL what the Python side needs: the training split, the model's tag table,
   and the iNN factors (`factors(model, 'user' | 'tag')`: Q = R Û and W = V Σ⁻¹).
2. Rebuilds iNN's scoring function in numpy, f(u, t) = Q_u · unit(t W) (udfs/src/recsys/inn.rs),
   and checks it against trustql's own scores (`score_tags` on random N-hot subsets of items'
   tags, `score` on items' full weighted tag vectors) before anything is timed; it stops if they
   differ by more than --tolerance (relative to 1 + |score|).
3. Draws seeded (user, training item) pairs (items with at least one tag) and explains each with
   ω tags and M perturbations:
   - trustql: `explain_lime(model, user, item, ω, 'samples = M')` through the CLI, timed by
     the CLI (the statement's time; the model is loaded by an earlier statement), with one and
     with two threads (RAYON/OMP/MKL_NUM_THREADS and datafusion.execution.target_partitions;
     the pairs are two parquet files, so two threads explain one half each);
   - lime: `LimeTextExplainer(kernel_width=25, feature_selection='auto')` with the item's tags
     as the words of a document (one token per tag), `explain_instance(num_features=ω,
     num_samples=M)`, whose classifier_fn scores each perturbed document with the numpy iNN:
     a perturbed tag vector keeps the weights of the tags it keeps, as in explain_lime. One
     process (BLAS threads 1), then two processes over the two halves of the pairs.
4. Agreement per pair: Jaccard index of the selected tag sets and sign agreement on the shared
   tags, for trustql vs lime and, as the baseline, lime vs lime with another seed (and trustql
   vs trustql with another seed).

Prints one markdown table of speeds and one of agreement, with the load average before and
after; writes everything to <out>/results.json. Run through bench/explain/lime_run.sh.
"""

import argparse
import json
import math
import multiprocessing as mp
import os
import re
import subprocess
import sys
import time
from pathlib import Path

# BLAS threads must be fixed before numpy is imported (the wrapper sets them as well).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.compute  # noqa: E402,F401
import pyarrow.parquet as pq  # noqa: E402
from lime.lime_text import LimeTextExplainer  # noqa: E402

MODEL = "lastfm_inn64"
# The tables and the model of sql/experiments/common/recsys.sql (dataset = lastfm).
SETUP = [
    "CREATE EXTERNAL TABLE lastfm_interactions STORED AS PARQUET LOCATION '{data}/interactions.parquet';",
    "CREATE EXTERNAL TABLE lastfm_item_tags STORED AS PARQUET LOCATION '{data}/item_tags.parquet';",
    'CREATE VIEW lastfm_all AS SELECT user_id AS "user", item_id AS item, value FROM lastfm_interactions;',
    "CREATE TABLE lastfm_split AS SELECT * FROM holdout_split('lastfm_all', 0.2, 42);",
    'CREATE VIEW lastfm_train AS SELECT "user", item, ln(1 + value) AS value FROM lastfm_split WHERE NOT test;',
    "CREATE VIEW lastfm_tags AS SELECT item_id AS item, tag_id AS tag, weight FROM lastfm_item_tags;",
]
TRAIN = f"""CREATE OR REPLACE MODEL {MODEL} OPTIONS (type = 'inn', dim = 64, tags = 'lastfm_tags')
  AS SELECT * FROM lastfm_train;"""
# A statement's own time, as the CLI prints it on stderr (progress lines start otherwise).
TIMING = re.compile(r"^(?:\d+ rows?|OK) in ([0-9.]+) s$")
KERNEL_WIDTH = 25.0  # trustql's default (udfs/src/explain/kernels/lime.rs) and lime's


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# --------------------------------------------------------------------------------- trustql CLI
class Cli:
    def __init__(self, binary: Path, models: Path, work: Path):
        self.binary, self.models, self.work = binary, models, work

    def run(self, name: str, statements: list[str], threads: int | None = None):
        """Runs `statements` as one script; returns (each statement's time, wall s, CPU s)."""
        script = self.work / f"{name}.sql"
        script.write_text("\n".join(s.strip() for s in statements) + "\n")
        env = dict(os.environ)
        if threads is not None:
            for var in ("RAYON_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
                env[var] = str(threads)
        before = os.times()
        start = time.perf_counter()
        proc = subprocess.run(
            [str(self.binary), "--models", str(self.models), "--format", "csv", "-f", str(script)],
            env=env, capture_output=True, text=True, cwd=self.work,
        )
        wall = time.perf_counter() - start
        after = os.times()
        (self.work / f"{name}.log").write_text(proc.stdout + "\n--- stderr\n" + proc.stderr)
        if proc.returncode != 0:
            sys.exit(f"trustql failed on {script} (log: {self.work / name}.log):\n{proc.stderr[-2000:]}")
        times = [float(m.group(1)) for line in proc.stderr.splitlines() if (m := TIMING.match(line))]
        if len(times) != len(statements):
            sys.exit(f"{script}: {len(statements)} statements but {len(times)} timing lines")
        cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
        return times, wall, cpu


def sql_path(p: Path) -> str:
    return str(p.resolve()).replace("'", "''")


# ---------------------------------------------------------------------------------- numpy iNN
class Inn:
    """iNN's f(u, t) = Q_u · unit(t W), unit(x) = x / sqrt(|x|² + 1e-30) (udfs/src/recsys/inn.rs,
    udfs/src/common/tensors.rs `unit_rows`), from the factors the model exports."""

    def __init__(self, users: pa.Table, tags: pa.Table, item_tags: pa.Table):
        def matrix(t: pa.Table):
            ids = t.column(0).to_numpy().astype(np.int64)
            values = np.asarray(t.column(1).combine_chunks().flatten().to_numpy(), dtype=np.float64)
            return {int(x): k for k, x in enumerate(ids)}, values.reshape(len(ids), -1)

        self.user_row, self.q = matrix(users)
        self.tag_row, self.w = matrix(tags)
        order = np.lexsort((item_tags["tag"].to_numpy(), item_tags["item"].to_numpy()))
        items = item_tags["item"].to_numpy()[order].astype(np.int64)
        tag_ids = item_tags["tag"].to_numpy()[order].astype(np.int64)
        weights = item_tags["weight"].to_numpy()[order].astype(np.float64)
        if np.any((items[1:] == items[:-1]) & (tag_ids[1:] == tag_ids[:-1])):
            sys.exit("the tag table repeats an (item, tag) pair; the comparison assumes it does not")
        starts = np.flatnonzero(np.r_[True, items[1:] != items[:-1]])
        ends = np.r_[starts[1:], len(items)]
        unknown = set(tag_ids.tolist()) - set(self.tag_row)
        if unknown:
            sys.exit(f"{len(unknown)} tags of the model's items have no tag factors")
        # item -> (tag ids, weights) in increasing tag id
        self.tags = {int(items[s]): (tag_ids[s:e], weights[s:e]) for s, e in zip(starts, ends)}

    def score_masks(self, user: int, tag_ids: np.ndarray, weights: np.ndarray, masks: np.ndarray):
        """Scores of `masks` (samples × d, 1 = tag kept with its weight) over the tags `tag_ids`."""
        z = (masks * weights) @ self.w[[self.tag_row[int(t)] for t in tag_ids]]
        z /= np.sqrt(np.einsum("ij,ij->i", z, z) + 1e-30)[:, None]
        return z @ self.q[self.user_row[user]]

    def score(self, user: int, tag_ids, weights) -> float:
        tag_ids, weights = np.asarray(tag_ids), np.asarray(weights, dtype=np.float64)
        return float(self.score_masks(user, tag_ids, weights, np.ones((1, len(tag_ids))))[0])


# ------------------------------------------------------------------------------------ lime side
INN: Inn | None = None  # the scorer of this process (inherited by forked workers)


def token(tag: int) -> str:
    return f"t{tag}"


def lime_explain(pair, seed: int, omega: int, samples: int):
    """lime's text explainer over the item's tags; returns [(tag, θ)] with θ the surrogate's
    coefficient divided by the tag's weight (explain_lime's convention; the sign is lime's)."""
    user, item = pair
    tag_ids, weights = INN.tags[item]
    position = {token(t): k for k, t in enumerate(tag_ids)}

    def classifier_fn(documents):
        masks = np.zeros((len(documents), len(tag_ids)))
        for row, doc in enumerate(documents):
            for word in doc.split():
                masks[row, position[word]] = 1.0
        return INN.score_masks(user, tag_ids, weights, masks)[:, None]

    state = np.random.RandomState(np.random.SeedSequence([seed, user, item]).generate_state(1)[0])
    explainer = LimeTextExplainer(kernel_width=KERNEL_WIDTH, feature_selection="auto", random_state=state)
    exp = explainer.explain_instance(
        " ".join(token(t) for t in tag_ids), classifier_fn,
        labels=(0,), num_features=omega, num_samples=samples,
    )
    weight_of = dict(zip((int(t) for t in tag_ids), weights))
    return [(int(word[1:]), float(c) / weight_of[int(word[1:])]) for word, c in exp.as_list(label=0)]


def lime_many(args):
    pairs, seed, omega, samples = args
    return [lime_explain(p, seed, omega, samples) for p in pairs]


def time_lime(halves, seed: int, omega: int, samples: int, processes: int):
    """Explains every pair with `processes` workers (1: this process); returns (explanations by
    pair, seconds)."""
    pairs = [p for half in halves for p in half]
    if processes == 1:
        start = time.perf_counter()
        out = lime_many((pairs, seed, omega, samples))
        return dict(zip(pairs, out)), time.perf_counter() - start
    with mp.get_context("fork").Pool(processes) as pool:
        pool.map(lime_many, [([h[0]], seed, omega, samples) for h in halves], chunksize=1)  # warm up
        start = time.perf_counter()
        parts = pool.map(lime_many, [(h, seed, omega, samples) for h in halves], chunksize=1)
        seconds = time.perf_counter() - start
    return dict(zip(pairs, [e for part in parts for e in part])), seconds


# ------------------------------------------------------------------------------------ agreement
def agreement(a: dict, b: dict, pairs, n_tags: dict, omega: int):
    jac, jac_big, signs_same, signs_all, xa, xb = [], [], 0, 0, [], []
    for p in pairs:
        ea, eb = dict(a[p]), dict(b[p])
        sa, sb = set(ea), set(eb)
        j = len(sa & sb) / len(sa | sb) if sa | sb else 1.0
        jac.append(j)
        if n_tags[p] > omega:
            jac_big.append(j)
        for t in sa & sb:
            signs_all += 1
            signs_same += np.sign(ea[t]) == np.sign(eb[t])
            xa.append(ea[t])
            xb.append(eb[t])
    jac = np.array(jac)
    return {
        "pairs": len(jac),
        "jaccard_mean": float(jac.mean()),
        "jaccard_ci95": float(1.96 * jac.std(ddof=1) / math.sqrt(len(jac))),
        "jaccard_exact_share": float(np.mean(jac == 1.0)),
        "pairs_more_than_omega_tags": len(jac_big),
        "jaccard_mean_more_than_omega_tags": float(np.mean(jac_big)) if jac_big else float("nan"),
        "shared_tags": signs_all,
        "sign_agreement": float(signs_same / signs_all) if signs_all else float("nan"),
        "theta_correlation_shared": float(np.corrcoef(xa, xb)[0, 1]) if len(xa) > 1 else float("nan"),
        "per_pair_jaccard": jac.tolist(),
    }


# ----------------------------------------------------------------------------------------- main
def main() -> int:
    root = Path(__file__).resolve().parents[2]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trustql", type=Path, required=True, help="the trustql CLI binary")
    ap.add_argument("--profile", default="debug", help="cargo profile of --trustql (reported only)")
    ap.add_argument("--models", type=Path, default=root / "target/bench-results/lime_models")
    ap.add_argument("--out", type=Path, default=root / "target/bench-results/lime")
    ap.add_argument("--data", type=Path, default=root.parent / "shared/data/recsys/lastfm-2k")
    ap.add_argument("--pairs", type=int, default=200)
    ap.add_argument("--omega", type=int, default=8)
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=42, help="pairs, checks, trustql's and lime's first seed")
    ap.add_argument("--other-seed", type=int, default=7, help="the second seed of each explainer")
    ap.add_argument("--checks", type=int, default=300, help="random cases of the scorer check")
    ap.add_argument("--tolerance", type=float, default=1e-6)
    ap.add_argument("--repeat", type=int, default=3, help="timed trustql runs per thread count (best)")
    ap.add_argument("--retrain", action="store_true")
    args = ap.parse_args()
    load_before = loadavg()
    args.out.mkdir(parents=True, exist_ok=True)
    cli = Cli(args.trustql.resolve(), args.models.resolve(), args.out.resolve())
    setup = [s.format(data=sql_path(args.data)) for s in SETUP]

    # 1. model and exports
    model_file = args.models / f"{MODEL}.tqm"
    train = [TRAIN] if args.retrain or not model_file.exists() else []
    exports = {
        "train_pairs": 'SELECT "user", item FROM lastfm_split WHERE NOT test',
        "item_tags": "SELECT * FROM lastfm_tags",
        "user_factors": f"SELECT * FROM factors('{MODEL}', 'user')",
        "tag_factors": f"SELECT * FROM factors('{MODEL}', 'tag')",
    }
    files = {k: args.out / f"{k}.parquet" for k in exports}
    cli.run("export", setup + train + [
        f"COPY ({q}) TO '{sql_path(files[k])}' STORED AS PARQUET;" for k, q in exports.items()])
    # The model's tag matrix has the tag rows of the items it was trained on (udfs/src/recsys/data.rs).
    train_pairs = pq.read_table(files["train_pairs"])
    item_tags = pq.read_table(files["item_tags"])
    item_tags = item_tags.filter(pa.compute.is_in(item_tags["item"], value_set=pa.compute.unique(
        train_pairs["item"].cast(item_tags.schema.field("item").type))))
    global INN
    INN = Inn(pq.read_table(files["user_factors"]), pq.read_table(files["tag_factors"]), item_tags)

    # 2. the numpy scorer against trustql's own scores
    rng = np.random.default_rng(args.seed)
    users = np.array(sorted(INN.user_row))
    tagged = np.array(sorted(INN.tags))
    cases = []
    for c in range(args.checks):
        u, i = int(rng.choice(users)), int(rng.choice(tagged))
        tag_ids, _ = INN.tags[i]
        kept = rng.choice(len(tag_ids), size=int(rng.integers(1, len(tag_ids) + 1)), replace=False)
        cases.append((c, u, i, sorted(int(t) for t in tag_ids[kept])))
    check_file = args.out / "checks.parquet"
    pq.write_table(pa.table({
        "case": [c[0] for c in cases], "user": [c[1] for c in cases], "item": [c[2] for c in cases],
        "tags": pa.array([c[3] for c in cases], type=pa.list_(pa.int64()))}), check_file)
    checked_file = args.out / "checks_scored.parquet"
    cli.run("check", [
        f"CREATE EXTERNAL TABLE checks STORED AS PARQUET LOCATION '{sql_path(check_file)}';",
        f"COPY (SELECT \"case\", score_tags('{MODEL}', \"user\", tags) AS nhot, "
        f"score('{MODEL}', \"user\", item) AS own FROM checks ORDER BY \"case\") "
        f"TO '{sql_path(checked_file)}' STORED AS PARQUET;"])
    scored = pq.read_table(checked_file).to_pydict()
    errors = {"nhot": [], "own": []}
    for (c, u, i, tags), nhot, own in zip(cases, scored["nhot"], scored["own"]):
        ours_nhot = INN.score(u, tags, np.ones(len(tags)))
        ours_own = INN.score(u, *INN.tags[i])
        errors["nhot"].append(abs(ours_nhot - nhot) / (1 + abs(nhot)))
        errors["own"].append(abs(ours_own - own) / (1 + abs(own)))
    check = {k: float(max(v)) for k, v in errors.items()}
    print(f"numpy iNN vs trustql on {args.checks} random (user, item, tags), |Δ|/(1+|s|): "
          f"score_tags on N-hot subsets of the item's tags: largest {check['nhot']:.1e}, median "
          f"{np.median(errors['nhot']):.1e}; score on the item's weighted tag vector: largest "
          f"{check['own']:.1e}, median {np.median(errors['own']):.1e} (the factors are exported "
          f"as float32)", file=sys.stderr)
    if max(check.values()) > args.tolerance:
        sys.exit(f"the numpy iNN does not reproduce trustql's scores (tolerance {args.tolerance})")

    # 3. pairs: seeded (user, training item), items with tags; two halves (two parquet files)
    train_pairs = train_pairs.to_pydict()
    candidates = sorted({(int(u), int(i)) for u, i in zip(train_pairs["user"], train_pairs["item"])
                         if int(i) in INN.tags and int(u) in INN.user_row})
    pick = np.random.default_rng(args.seed).choice(len(candidates), size=args.pairs, replace=False)
    pairs = [candidates[k] for k in sorted(pick)]
    halves = [pairs[: len(pairs) // 2], pairs[len(pairs) // 2:]]
    pair_dir = args.out / "pairs"
    pair_dir.mkdir(exist_ok=True)
    for old in pair_dir.glob("*.parquet"):
        old.unlink()
    for k, half in enumerate(halves):
        pq.write_table(pa.table({"user": [p[0] for p in half], "item": [p[1] for p in half]}),
                       pair_dir / f"part-{k}.parquet")
    n_tags = {p: len(INN.tags[p[1]][0]) for p in pairs}

    # 4. trustql, 1 and 2 threads
    def lime_sql(seed: int) -> str:
        options = f"samples = {args.samples}, seed = {seed}"
        return f"explain_lime('{MODEL}', \"user\", item, {args.omega}, '{options}')"

    trustql = {}
    for threads in (1, 2):
        statements = [
            f"SET datafusion.execution.target_partitions = {threads};",
            f"CREATE EXTERNAL TABLE pairs STORED AS PARQUET LOCATION '{sql_path(pair_dir)}/';",
            f"SELECT score('{MODEL}', {pairs[0][0]}, {pairs[0][1]}) AS warm_up;",
        ] + [f"SELECT count({lime_sql(args.seed)}) AS n FROM pairs;"] * args.repeat
        outputs = {}
        if threads == 1:
            for seed in (args.seed, args.other_seed):
                outputs[seed] = args.out / f"trustql_seed{seed}.parquet"
                statements.append(f"COPY (SELECT \"user\", item, {lime_sql(seed)} AS e FROM pairs) "
                                  f"TO '{sql_path(outputs[seed])}' STORED AS PARQUET;")
        times, wall, cpu = cli.run(f"trustql_{threads}threads", statements, threads)
        timed = times[3:3 + args.repeat]
        trustql[threads] = {"seconds": timed, "best": min(timed), "process_wall": wall, "process_cpu": cpu}
        for seed, path in outputs.items():
            t = pq.read_table(path).to_pydict()
            trustql[f"seed{seed}"] = {
                (int(u), int(i)): [(int(x["tag"]), float(x["weight"])) for x in e]
                for u, i, e in zip(t["user"], t["item"], t["e"])}

    # 5. lime: one process (seed, then the other seed), two processes (seed)
    lime_a, lime_1 = time_lime(halves, args.seed, args.omega, args.samples, 1)
    lime_b, lime_1b = time_lime(halves, args.other_seed, args.omega, args.samples, 1)
    lime_a2, lime_2 = time_lime(halves, args.seed, args.omega, args.samples, 2)
    same_split = all(lime_a2[p] == lime_a[p] for p in pairs)

    # 6. agreement
    t_a, t_b = trustql[f"seed{args.seed}"], trustql[f"seed{args.other_seed}"]
    missing = [p for p in pairs if p not in t_a or p not in t_b]
    if missing:
        sys.exit(f"trustql gave no explanation for {missing[:5]}")
    comparisons = {
        f"trustql (seed {args.seed}) vs lime (seed {args.seed})": agreement(t_a, lime_a, pairs, n_tags, args.omega),
        f"trustql (seed {args.seed}) vs lime (seed {args.other_seed})": agreement(t_a, lime_b, pairs, n_tags, args.omega),
        f"lime (seed {args.seed}) vs lime (seed {args.other_seed}) — baseline": agreement(lime_a, lime_b, pairs, n_tags, args.omega),
        f"trustql (seed {args.seed}) vs trustql (seed {args.other_seed})": agreement(t_a, t_b, pairs, n_tags, args.omega),
    }
    keys = list(comparisons)
    paired = np.array(comparisons[keys[0]]["per_pair_jaccard"]) - np.array(comparisons[keys[2]]["per_pair_jaccard"])
    load_after = loadavg()

    # 7. report
    n = len(pairs)
    print(f"\nLIME, iNN dim 64 on Last.fm 2K: {n} seeded (user, training item) pairs "
          f"({sum(v > args.omega for v in n_tags.values())} with more than ω tags; tags per item: "
          f"median {int(np.median(list(n_tags.values())))}, max {max(n_tags.values())}), "
          f"ω = {args.omega}, {args.samples} samples, kernel width {KERNEL_WIDTH:g}, "
          f"feature_selection 'auto'. trustql {args.profile} build ({args.trustql}), best of "
          f"{args.repeat} statement times; lime 0.2.0.1 (LimeTextExplainer), one run each.\n")
    print(f"load average before: {load_before}; after: {load_after} ({os.cpu_count()} CPUs)\n")
    print("| explainer | threads / processes | seconds for all pairs | explanations/s | trustql's rate ÷ lime's |")
    print("|---|---|---:|---:|---:|")
    for w, lime_s in ((1, lime_1), (2, lime_2)):
        t_s = trustql[w]["best"]
        print(f"| trustql explain_lime ({args.profile}) | {w} thread{'s' if w > 1 else ''} | "
              f"{t_s:.3f} | {n / t_s:,.0f} | {lime_s / t_s:.1f}× |")
        kind = "1 process" if w == 1 else "2 processes (one half of the pairs each)"
        print(f"| lime 0.2.0.1 | {kind} | {lime_s:.3f} | {n / lime_s:,.1f} | |")
    print(f"\n(lime, 1 process, seed {args.other_seed}: {lime_1b:.3f} s; trustql statement times "
          f"1 thread {trustql[1]['seconds']}, 2 threads {trustql[2]['seconds']}; lime's 2-process "
          f"explanations equal its 1-process ones: {same_split})\n")
    print("| comparison | pairs | mean Jaccard (95 % CI) | identical tag sets | mean Jaccard, items with > ω tags (n) | shared tags | sign agreement | corr. of θ on shared tags |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, a in comparisons.items():
        print(f"| {name} | {a['pairs']} | {a['jaccard_mean']:.3f} ± {a['jaccard_ci95']:.3f} | "
              f"{a['jaccard_exact_share']:.1%} | {a['jaccard_mean_more_than_omega_tags']:.3f} "
              f"({a['pairs_more_than_omega_tags']}) | {a['shared_tags']} | {a['sign_agreement']:.3f} | "
              f"{a['theta_correlation_shared']:.4f} |")
    ci = 1.96 * paired.std(ddof=1) / math.sqrt(len(paired))
    print(f"\nPaired difference of Jaccard, (trustql vs lime) − (lime vs lime), both against lime "
          f"seed {args.seed}: {paired.mean():+.3f} ± {ci:.3f} (95 % CI).")

    results = {
        "args": {k: str(v) for k, v in vars(args).items()},
        "load_before": load_before, "load_after": load_after,
        "scorer_check_max_rel_error": check,
        "pairs": pairs,
        "trustql": {str(k): v for k, v in trustql.items() if isinstance(k, int)},
        "lime": {"one_process": lime_1, "one_process_other_seed": lime_1b, "two_processes": lime_2,
                 "two_process_equals_one_process": same_split},
        "agreement": comparisons,
        "paired_jaccard_difference": {"mean": float(paired.mean()), "ci95": float(ci)},
        "explanations": {
            "trustql": {str(p): t_a[p] for p in pairs},
            "lime": {str(p): lime_a[p] for p in pairs},
        },
    }
    (args.out / "results.json").write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
