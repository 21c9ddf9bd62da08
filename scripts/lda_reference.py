#!/usr/bin/env python3
"""Writes tests/reference/lda_sklearn.json: small corpora, initial values, and what scikit-learn's
LatentDirichletAllocation(learning_method='batch') fits from them.

Why: trustql's `lda` model type (udfs/src/latent/lda.rs, maths in
udfs/src/latent/kernels/lda.rs) is meant to run scikit-learn 1.6.1's batch variational Bayes.
The two cannot share random numbers (trustql draws from its own seeded generator), so this
script hands scikit-learn fixed "random" values: a RandomState whose gamma() returns, in the
order scikit-learn asks for them, the initial components (k × W) and each EM iteration's
document starts (D × k), all drawn here from Gamma(100, 1/100). The Rust unit test
`latent::kernels::lda::tests::agrees_with_scikit_learn` runs the kernel from the same values
(`fit_from`) and agrees to 1e-6 relative (scikit-learn's digamma is accurate to about 1e-9; the
kernel's to 1e-15). The tests never run Python: this script is run by hand, and its output is
committed.

Install and run (from the repository root; versions of the committed file):

    .venv/bin/pip install -r bench/latent/requirements.txt
    .venv/bin/python scripts/lda_reference.py

The corpora and values are seeded (numpy's PCG64), so a rerun writes the same file.
"""

import json
import platform
import sys
from pathlib import Path

import numpy as np
import scipy
import sklearn
from sklearn.decomposition import LatentDirichletAllocation

OUT = Path(__file__).resolve().parent.parent / "tests" / "reference" / "lda_sklearn.json"


class Scripted(np.random.RandomState):
    """A RandomState whose gamma(100, 0.01, size) returns the given arrays in turn."""

    def __init__(self, arrays):
        super().__init__(0)
        self.arrays = [np.array(a, dtype=np.float64) for a in arrays]
        self.calls = 0

    def gamma(self, shape, scale=1.0, size=None):
        if (shape, scale) != (100.0, 0.01):
            sys.exit(f"unexpected gamma({shape}, {scale})")
        a = self.arrays[self.calls]
        self.calls += 1
        if a.shape != tuple(size):
            sys.exit(f"gamma call {self.calls}: size {size}, scripted {a.shape}")
        return a.copy()


def corpus(rng, docs, terms):
    """Counts 0-6 with about half the cells zero, every row and column non-empty, and one
    document of fractional weights."""
    x = rng.integers(1, 7, size=(docs, terms)) * (rng.random((docs, terms)) < 0.5)
    for d in range(docs):
        x[d, d % terms] = max(x[d, d % terms], 1)
    for w in range(terms):
        x[w % docs, w] = max(x[w % docs, w], 1)
    x = x.astype(np.float64)
    x[docs - 1] *= 0.37
    return x


def case(rng, name, docs, terms, k, max_iter, **options):
    x = corpus(rng, docs, terms)
    components0 = rng.gamma(100.0, 0.01, size=(k, terms))
    starts = [rng.gamma(100.0, 0.01, size=(docs, k)) for _ in range(max_iter)]
    scripted = Scripted([components0, *starts])
    lda = LatentDirichletAllocation(n_components=k, learning_method="batch", max_iter=max_iter,
                                    random_state=scripted, **options)
    lda.fit(x)
    em_iterations = scripted.calls - 1
    return {
        "name": name,
        "counts": x.tolist(),
        "k": k,
        "max_iter": max_iter,
        "options": options,
        "components0": components0.tolist(),
        "starts": [s.tolist() for s in starts],
        "expected": {
            "em_iterations": em_iterations,
            "n_iter_": lda.n_iter_,
            "doc_topic_prior_": lda.doc_topic_prior_,
            "topic_word_prior_": lda.topic_word_prior_,
            "components_": lda.components_.tolist(),
            "transform_unnormalized": lda.transform(x, normalize=False).tolist(),
            "transform": lda.transform(x).tolist(),
            "score": lda.score(x),
            "bound_": lda.bound_,
        },
    }


def main():
    rng = np.random.default_rng(20250131)
    cases = [
        case(rng, "defaults", 9, 12, 3, 5),
        case(rng, "priors_fixed_doc_iterations", 10, 8, 4, 3, doc_topic_prior=0.3,
             topic_word_prior=0.05, max_doc_update_iter=7, mean_change_tol=0.0),
        case(rng, "perp_tol_stop", 12, 10, 2, 30, evaluate_every=2, perp_tol=0.05),
        case(rng, "no_iterations", 6, 7, 3, 0),
    ]
    meta = {"made_by": "scripts/lda_reference.py", "python": platform.python_version(),
            "scikit-learn": sklearn.__version__, "numpy": np.__version__,
            "scipy": scipy.__version__,
            "estimator": "LatentDirichletAllocation(learning_method='batch', random_state="
                         "Scripted([components0, *starts]), **options).fit(counts)"}
    lines = ",\n  ".join(json.dumps(c) for c in cases)
    OUT.write_text(f'{{\n "meta": {json.dumps(meta)},\n "cases": [\n  {lines}\n ]\n}}\n')
    for c in cases:
        e = c["expected"]
        print(f"{c['name']}: {e['em_iterations']} EM iterations (n_iter_ {e['n_iter_']}), "
              f"bound {e['score']:.6f}, perplexity {e['bound_']:.6f}")


if __name__ == "__main__":
    main()
