"""trustql's tsne() table function against scikit-learn's TSNE(method="exact").

Usage, from the repository root (needs scikit-learn and numpy, e.g. in a venv):

    python bench/tsne/compare.py [--bin target/release/trustql]

For each data set it runs scikit-learn TSNE(method="exact", init="pca", perplexity=30,
random_state=0, max_iter=1000) and `SELECT ... FROM tsne(view, 'e', 30, 0)` (the same settings)
through the trustql CLI, then reports: final KL (scikit-learn's `kl_divergence_` and scikit-learn's
objective `_kl_divergence` evaluated on trustql's embedding), `sklearn.manifold.trustworthiness`
(k = 5 and 10) of both embeddings, and wall times (scikit-learn: `fit_transform`; trustql: the
whole CLI process, reading the CSV included).
"""

import argparse
import os
import subprocess
import tempfile
import time

import numpy as np
import sklearn
from sklearn.datasets import load_digits
from sklearn.manifold import TSNE, trustworthiness
from sklearn.manifold._t_sne import _joint_probabilities, _kl_divergence
from sklearn.metrics import pairwise_distances

PERPLEXITY = 30.0


def datasets():
    digits = load_digits().data[:300].astype(np.float64)
    rng = np.random.default_rng(0)
    # "Audio-like": 24 originals in 192-D and 12 small transformations of each (312 points).
    centres = rng.normal(size=(24, 192))
    audio = np.concatenate([c + 0.3 * rng.normal(size=(13, 192)) for c in centres])
    # Three well-separated clusters in 50-D, 30 points each.
    clusters = np.concatenate(
        [rng.normal(size=(30, 50)) + 10.0 * (np.arange(50) % 3 == c) for c in range(3)]
    )
    # Larger audio-like set: 50 originals x 20 noisy copies in 256-D (1000 points).
    rng1 = np.random.default_rng(1)
    centres1 = rng1.normal(size=(50, 256))
    audio1000 = np.concatenate([c + 0.3 * rng1.normal(size=(20, 256)) for c in centres1])
    return {"digits[:300] (64-D)": digits, "audio-like 50x20 (256-D)": audio1000, "audio-like 24x13 (192-D)": audio,
            "3 clusters (50-D)": clusters}


def kl_of(X, emb):
    n = X.shape[0]
    P = _joint_probabilities(pairwise_distances(X, squared=True), PERPLEXITY, 0)
    kl, _ = _kl_divergence(emb.ravel().astype(np.float64), P, 1, n, 2)
    return kl


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/trustql")
    args = ap.parse_args()
    print(f"scikit-learn {sklearn.__version__}, numpy {np.__version__}")
    for name, X in datasets().items():
        with tempfile.TemporaryDirectory() as tmp:
            inp, out = os.path.join(tmp, "in.csv"), os.path.join(tmp, "out.csv")
            d = X.shape[1]
            np.savetxt(inp, np.column_stack([np.arange(X.shape[0]), X]), delimiter=",",
                       fmt="%.17g", header="id," + ",".join(f"v{j}" for j in range(d)), comments="")
            cols = ", ".join(f"v{j}" for j in range(d))
            sql = (f"CREATE EXTERNAL TABLE raw STORED AS CSV LOCATION '{inp}' "
                   f"OPTIONS ('format.has_header' 'true');\n"
                   f"CREATE VIEW e AS SELECT CAST(id AS BIGINT) AS id, make_array({cols}) AS e FROM raw;\n"
                   f"COPY (SELECT id, tsne_x, tsne_y FROM tsne('e', 'e', {PERPLEXITY}, 0) ORDER BY id) "
                   f"TO '{out}' STORED AS CSV OPTIONS ('format.has_header' 'true');\n")
            script = os.path.join(tmp, "run.sql")
            with open(script, "w") as f:
                f.write(sql)
            t0 = time.perf_counter()
            subprocess.run([args.bin, "-q", "-f", script], check=True, capture_output=True, text=True)
            ours_wall = time.perf_counter() - t0
            emb = np.loadtxt(out, delimiter=",", skiprows=1)[:, 1:]
        tsne = TSNE(n_components=2, method="exact", init="pca", perplexity=PERPLEXITY,
                    random_state=0, max_iter=1000)
        t0 = time.perf_counter()
        sk_emb = tsne.fit_transform(X)
        sk_time = time.perf_counter() - t0
        print(f"\n== {name}: n={X.shape[0]}, d={X.shape[1]}")
        print(f"KL   sklearn {tsne.kl_divergence_:.4f} (n_iter_ {tsne.n_iter_})   "
              f"trustql (sklearn's objective on its embedding) {kl_of(X, emb):.4f}")
        for k in (5, 10):
            print(f"trustworthiness k={k}: sklearn {trustworthiness(X, sk_emb, n_neighbors=k):.4f}"
                  f"   trustql {trustworthiness(X, emb, n_neighbors=k):.4f}")
        print(f"time: sklearn fit {sk_time:.2f} s   trustql process {ours_wall:.2f} s   "
              f"ratio {sk_time / ours_wall:.1f}x")


if __name__ == "__main__":
    main()
