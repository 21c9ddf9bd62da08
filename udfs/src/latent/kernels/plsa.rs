//! Probabilistic latent semantic analysis (Hofmann 1999) fitted by expectation–maximisation.
//!
//! It exists because the thesis reduces every count or weight learning source (tags, taste
//! profiles, lyrics, artist tags, CDR genres) to k = 50 topic proportions P(z|d) (§2.2.3,
//! Table 2.1), trained by 100 EM iterations in the authors' code.
//!
//! # The model
//! The asymmetric formulation P(d, w) = P(d) Σ_z P(z|d) P(w|z) over documents d, terms w and
//! k topics z, fitted to weights n(d, w) ≥ 0 by maximising the log-likelihood
//!
//! L = Σ_{d,w} n(d, w) log P(d, w) = Σ_d n(d) log(n(d)/N) + Σ_{d,w} n(d, w) log Σ_z P(z|d) P(w|z),
//!
//! where n(d) = Σ_w n(d, w), N = Σ_d n(d), and P(d) = n(d)/N is its closed-form maximiser. One EM
//! step, with the posterior P(z|d, w) = P(z|d) P(w|z) / Σ_z' P(z'|d) P(w|z') of the current
//! parameters, sets
//!
//! P(z|d) ← Σ_w n(d, w) P(z|d, w) / n(d),   P(w|z) ← Σ_d n(d, w) P(z|d, w) / Σ_{d,w'} n(d, w') P(z|d, w').
//!
//! Only non-zero cells enter the sums, so a step costs O(nnz · k).
//!
//! # Initialisation
//! Seeded and uniform-random, normalised: with [`Rng::new`]`(seed)`, the D × k draws
//! u = 1 − U[0, 1) ∈ (0, 1] of P(z|d) come first (document by document, topics in order), each
//! document's row divided by its sum; then the k × W draws of P(w|z) (topic by topic, terms in
//! order), each topic's column divided by its sum. [`initial`] is that initialisation.
//!
//! # Determinism and threads
//! A step is two passes over the data with the old parameters: a pass over documents (rayon,
//! each document's new P(z|d) and log-likelihood term computed by one thread from its row) and a
//! pass over terms of the transposed matrix (each term's numerator of P(w|z) from its column).
//! Every sum is formed by one thread in a fixed order, and the sums across documents and terms
//! (the log-likelihood, the normalisers of P(w|z)) are added sequentially, so the fit is
//! bit-identical whatever the number of threads. The posterior of a cell is recomputed in the
//! second pass instead of stored (nnz · k numbers), to keep memory at O((D + W) · k + nnz).
//!
//! # Degenerate cells
//! A cell whose Σ_z P(z|d) P(w|z) underflows to 0 (possible only after probabilities underflow)
//! gets the uniform posterior 1/k and contributes log(f64::MIN_POSITIVE) to L, instead of NaN. A
//! topic whose mass vanishes gets the uniform P(w|z) = 1/W.

use rayon::prelude::*;

use super::sparse::Csr;
use super::LatentError;
use crate::common::rng::Rng;

/// Settings of a pLSA fit.
#[derive(Debug, Clone, PartialEq)]
pub struct PlsaOptions {
    /// The number of topics k ≥ 1.
    pub k: usize,
    /// The most EM steps.
    pub iterations: usize,
    /// Stop early once a step changes the log-likelihood by less than this fraction of its
    /// magnitude (|L_t − L_{t−1}| < tolerance · |L_{t−1}|); `None`: always run `iterations` steps.
    pub tolerance: Option<f64>,
    /// Seed of the random initialisation.
    pub seed: u64,
}

/// The parameters of a pLSA model.
#[derive(Debug, Clone, PartialEq)]
pub struct PlsaParams {
    pub k: usize,
    /// P(z|d), documents × k, row-major: row d is document d's topic proportions.
    pub doc_topics: Vec<f64>,
    /// P(w|z), terms × k, row-major: column z (stride k) is topic z's term distribution.
    pub term_topics: Vec<f64>,
}

/// A fitted pLSA model.
#[derive(Debug, Clone, PartialEq)]
pub struct PlsaFit {
    pub params: PlsaParams,
    /// The log-likelihood L of the initial parameters and after each EM step:
    /// `log_likelihood[t]` after t steps, so it has `steps + 1` entries.
    pub log_likelihood: Vec<f64>,
    /// The number of EM steps run.
    pub steps: usize,
    /// Whether the fit stopped on `tolerance` before `iterations` steps.
    pub converged: bool,
}

/// The seeded random initialisation (see the module documentation).
pub fn initial(n_docs: usize, n_terms: usize, k: usize, seed: u64) -> PlsaParams {
    let mut rng = Rng::new(seed);
    let mut doc_topics = Vec::with_capacity(n_docs * k);
    for _ in 0..n_docs {
        let start = doc_topics.len();
        doc_topics.extend((0..k).map(|_| 1.0 - rng.next_f64()));
        let sum: f64 = doc_topics[start..].iter().sum();
        for p in &mut doc_topics[start..] {
            *p /= sum;
        }
    }
    let mut term_topics = vec![0.0; n_terms * k];
    for z in 0..k {
        let mut sum = 0.0;
        for w in 0..n_terms {
            let u = 1.0 - rng.next_f64();
            term_topics[w * k + z] = u;
            sum += u;
        }
        for w in 0..n_terms {
            term_topics[w * k + z] /= sum;
        }
    }
    PlsaParams {
        k,
        doc_topics,
        term_topics,
    }
}

/// Writes P(z|d) P(w|z) into `q` and returns its sum s, or writes 1/k and returns 0 when s is
/// not positive (see *Degenerate cells*).
#[inline]
fn joint(theta: &[f64], phi: &[f64], q: &mut [f64]) -> f64 {
    let mut s = 0.0;
    for ((q, &t), &p) in q.iter_mut().zip(theta).zip(phi) {
        *q = t * p;
        s += *q;
    }
    if s > 0.0 {
        s
    } else {
        let u = 1.0 / q.len() as f64;
        q.iter_mut().for_each(|q| *q = u);
        0.0
    }
}

/// The scale that turns `q` (from [`joint`]) into n · P(z|d, w), and the cell's term of L.
#[inline]
fn scale_and_log(n: f64, s: f64) -> (f64, f64) {
    if s > 0.0 {
        (n / s, n * s.ln())
    } else {
        (n, n * f64::MIN_POSITIVE.ln())
    }
}

/// Σ_d n(d) log(n(d)/N): the part of L that P(d) contributes (constant during the fit).
pub fn document_term(x: &Csr) -> f64 {
    let sums = x.row_sums();
    let total: f64 = sums.iter().sum();
    sums.iter()
        .filter(|&&n| n > 0.0)
        .map(|&n| n * (n / total).ln())
        .sum()
}

/// The pass over documents with parameters `p`: the new P(z|d) (documents × k) and
/// Σ_{d,w} n(d, w) log Σ_z P(z|d) P(w|z) of `p`. A document without weight keeps its P(z|d).
fn document_pass(x: &Csr, p: &PlsaParams) -> (Vec<f64>, f64) {
    let k = p.k;
    let mut doc_topics = vec![0.0; x.n_rows() * k];
    let mut logs = vec![0.0; x.n_rows()];
    doc_topics
        .par_chunks_mut(k)
        .zip(logs.par_iter_mut())
        .enumerate()
        .for_each_init(
            || vec![0.0; k],
            |q, (d, (out, log))| {
                let (terms, weights) = x.row(d);
                let theta = &p.doc_topics[d * k..(d + 1) * k];
                let (mut total, mut l) = (0.0, 0.0);
                for (&w, &n) in terms.iter().zip(weights) {
                    let w = w as usize;
                    let s = joint(theta, &p.term_topics[w * k..(w + 1) * k], q);
                    let (scale, cell) = scale_and_log(n, s);
                    for (o, &q) in out.iter_mut().zip(q.iter()) {
                        *o += scale * q;
                    }
                    l += cell;
                    total += n;
                }
                if total > 0.0 {
                    out.iter_mut().for_each(|o| *o /= total);
                } else {
                    out.copy_from_slice(theta);
                }
                *log = l;
            },
        );
    (doc_topics, logs.iter().sum())
}

/// The pass over terms (`xt`, the transposed matrix) with parameters `p`: the new P(w|z)
/// (terms × k).
fn term_pass(xt: &Csr, p: &PlsaParams) -> Vec<f64> {
    let k = p.k;
    let n_terms = xt.n_rows();
    let mut term_topics = vec![0.0; n_terms * k];
    term_topics.par_chunks_mut(k).enumerate().for_each_init(
        || vec![0.0; k],
        |q, (w, out)| {
            let (docs, weights) = xt.row(w);
            let phi = &p.term_topics[w * k..(w + 1) * k];
            for (&d, &n) in docs.iter().zip(weights) {
                let d = d as usize;
                let s = joint(&p.doc_topics[d * k..(d + 1) * k], phi, q);
                let (scale, _) = scale_and_log(n, s);
                for (o, &q) in out.iter_mut().zip(q.iter()) {
                    *o += scale * q;
                }
            }
        },
    );
    let mut mass = vec![0.0; k];
    for row in term_topics.chunks(k) {
        for (m, &v) in mass.iter_mut().zip(row) {
            *m += v;
        }
    }
    let uniform = 1.0 / n_terms.max(1) as f64;
    term_topics.par_chunks_mut(k).for_each(|row| {
        for (v, &m) in row.iter_mut().zip(&mass) {
            *v = if m > 0.0 { *v / m } else { uniform };
        }
    });
    term_topics
}

/// The log-likelihood L of parameters `p` on `x` (see the module documentation).
pub fn log_likelihood(x: &Csr, p: &PlsaParams) -> f64 {
    document_pass(x, p).1 + document_term(x)
}

/// Fits pLSA to `x` (documents × terms) from [`initial`]. `on_step(t, L)` is called with the
/// log-likelihood after t steps (t = 0 for the initial parameters) and stops the fit with its
/// error (for Ctrl-C).
pub fn fit(
    x: &Csr,
    options: &PlsaOptions,
    on_step: &mut dyn FnMut(usize, f64) -> Result<(), LatentError>,
) -> Result<PlsaFit, LatentError> {
    if options.k == 0 {
        return Err(LatentError::Shape("pLSA needs k ≥ 1 topics".to_string()));
    }
    if x.nnz() == 0 {
        return Err(LatentError::Empty(
            "the document-term matrix has no positive weight".to_string(),
        ));
    }
    let xt = x.transpose();
    let constant = document_term(x);
    let mut params = initial(x.n_rows(), x.n_cols(), options.k, options.seed);
    let mut trace: Vec<f64> = Vec::with_capacity(options.iterations + 1);
    let mut converged = false;
    // Each pass over documents gives L of the current parameters and the next P(z|d); the last
    // one only L (its P(z|d) is discarded), so L is known after every step without extra work.
    loop {
        let (doc_topics, l) = document_pass(x, &params);
        let l = l + constant;
        let steps = trace.len();
        if let (Some(&prev), Some(tol)) = (trace.last(), options.tolerance) {
            if (l - prev).abs() < tol * prev.abs() {
                converged = true;
            }
        }
        trace.push(l);
        on_step(steps, l)?;
        if converged || steps >= options.iterations {
            break;
        }
        let term_topics = term_pass(&xt, &params);
        params = PlsaParams {
            k: options.k,
            doc_topics,
            term_topics,
        };
    }
    Ok(PlsaFit {
        params,
        steps: trace.len() - 1,
        log_likelihood: trace,
        converged,
    })
}

#[cfg(test)]
// The references index dense arrays as the formulas do.
#[allow(clippy::needless_range_loop)]
mod tests {
    use super::*;

    /// A random sparse matrix with about `density` of its cells non-zero (weights in (0, 5]),
    /// every row and column non-empty.
    fn random_matrix(n_docs: usize, n_terms: usize, density: f64, seed: u64) -> Csr {
        let mut rng = Rng::new(seed);
        let (mut r, mut c, mut v) = (vec![], vec![], vec![]);
        for d in 0..n_docs {
            for w in 0..n_terms {
                if rng.next_f64() < density || w == d % n_terms || d == w % n_docs {
                    r.push(d as u32);
                    c.push(w as u32);
                    v.push(5.0 * (1.0 - rng.next_f64()));
                }
            }
        }
        Csr::from_triplets(n_docs, n_terms, &r, &c, &v).unwrap()
    }

    fn to_dense(x: &Csr) -> Vec<Vec<f64>> {
        let mut out = vec![vec![0.0; x.n_cols()]; x.n_rows()];
        for (d, row) in out.iter_mut().enumerate() {
            let (cols, vals) = x.row(d);
            for (&w, &n) in cols.iter().zip(vals) {
                row[w as usize] = n;
            }
        }
        out
    }

    /// The textbook EM of pLSA on dense arrays: the full D × W × K posterior, then the
    /// re-estimates, written independently of the sparse kernel.
    fn dense_em(
        n: &[Vec<f64>],
        pzd: &[Vec<f64>],
        pwz: &[Vec<f64>],
    ) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
        let (dn, wn, kn) = (n.len(), n[0].len(), pzd[0].len());
        let mut post = vec![vec![vec![0.0; kn]; wn]; dn];
        for d in 0..dn {
            for w in 0..wn {
                let denom: f64 = (0..kn).map(|z| pzd[d][z] * pwz[z][w]).sum();
                for z in 0..kn {
                    post[d][w][z] = pzd[d][z] * pwz[z][w] / denom;
                }
            }
        }
        let mut new_pzd = vec![vec![0.0; kn]; dn];
        for d in 0..dn {
            let nd: f64 = n[d].iter().sum();
            for z in 0..kn {
                new_pzd[d][z] = (0..wn).map(|w| n[d][w] * post[d][w][z]).sum::<f64>() / nd;
            }
        }
        let mut new_pwz = vec![vec![0.0; wn]; kn];
        for z in 0..kn {
            let total: f64 = (0..dn)
                .flat_map(|d| (0..wn).map(move |w| (d, w)))
                .map(|(d, w)| n[d][w] * post[d][w][z])
                .sum();
            for w in 0..wn {
                new_pwz[z][w] = (0..dn).map(|d| n[d][w] * post[d][w][z]).sum::<f64>() / total;
            }
        }
        (new_pzd, new_pwz)
    }

    fn dense_log_likelihood(n: &[Vec<f64>], pzd: &[Vec<f64>], pwz: &[Vec<f64>]) -> f64 {
        let total: f64 = n.iter().flatten().sum();
        let mut l = 0.0;
        for d in 0..n.len() {
            let nd: f64 = n[d].iter().sum();
            for w in 0..n[d].len() {
                if n[d][w] > 0.0 {
                    let p: f64 = (0..pzd[d].len()).map(|z| pzd[d][z] * pwz[z][w]).sum();
                    l += n[d][w] * (nd / total * p).ln();
                }
            }
        }
        l
    }

    #[test]
    fn sparse_em_equals_the_dense_reference() {
        let x = random_matrix(9, 13, 0.3, 3);
        let n = to_dense(&x);
        let k = 4;
        let init = initial(9, 13, k, 11);
        let mut pzd: Vec<Vec<f64>> = init.doc_topics.chunks(k).map(|r| r.to_vec()).collect();
        let mut pwz: Vec<Vec<f64>> = (0..k)
            .map(|z| (0..13).map(|w| init.term_topics[w * k + z]).collect())
            .collect();
        // The initialisation is normalised.
        for row in &pzd {
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
        for col in &pwz {
            assert!((col.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
        let mut trace = vec![dense_log_likelihood(&n, &pzd, &pwz)];
        for _ in 0..7 {
            (pzd, pwz) = dense_em(&n, &pzd, &pwz);
            trace.push(dense_log_likelihood(&n, &pzd, &pwz));
        }
        let opts = PlsaOptions {
            k,
            iterations: 7,
            tolerance: None,
            seed: 11,
        };
        let fit = fit(&x, &opts, &mut |_, _| Ok(())).unwrap();
        assert_eq!(fit.steps, 7);
        for (d, row) in pzd.iter().enumerate().take(9) {
            for (z, want) in row.iter().enumerate().take(k) {
                let got = fit.params.doc_topics[d * k + z];
                assert!((got - want).abs() < 1e-10, "P(z|d) {d} {z}");
            }
        }
        for w in 0..13 {
            for (z, topic) in pwz.iter().enumerate().take(k) {
                let got = fit.params.term_topics[w * k + z];
                assert!((got - topic[w]).abs() < 1e-10, "P(w|z) {w} {z}");
            }
        }
        for (a, b) in fit.log_likelihood.iter().zip(&trace) {
            assert!((a - b).abs() < 1e-9 * b.abs(), "{a} {b}");
        }
        assert!(
            (log_likelihood(&x, &fit.params) - trace[7]).abs() < 1e-9 * trace[7].abs(),
            "final log-likelihood"
        );
    }

    #[test]
    fn log_likelihood_never_decreases() {
        let x = random_matrix(40, 30, 0.2, 5);
        let opts = PlsaOptions {
            k: 6,
            iterations: 60,
            tolerance: None,
            seed: 2,
        };
        let fit = fit(&x, &opts, &mut |_, _| Ok(())).unwrap();
        assert_eq!(fit.log_likelihood.len(), 61);
        for w in fit.log_likelihood.windows(2) {
            assert!(w[1] >= w[0] - 1e-9 * w[0].abs(), "{} then {}", w[0], w[1]);
        }
        assert!(fit.log_likelihood[60] > fit.log_likelihood[0]);
    }

    #[test]
    fn tolerance_stops_early_and_callback_can_stop() {
        let x = random_matrix(30, 20, 0.3, 8);
        let opts = PlsaOptions {
            k: 3,
            iterations: 10_000,
            tolerance: Some(1e-6),
            seed: 1,
        };
        let fit = fit(&x, &opts, &mut |_, _| Ok(())).unwrap();
        assert!(fit.converged && fit.steps < 10_000);
        let l = &fit.log_likelihood;
        let (a, b) = (l[l.len() - 2], l[l.len() - 1]);
        assert!((b - a).abs() < 1e-6 * a.abs());
        let (c, d) = (l[l.len() - 3], l[l.len() - 2]);
        assert!((d - c).abs() >= 1e-6 * c.abs());
        let mut seen = 0;
        let e = super::fit(
            &x,
            &PlsaOptions {
                tolerance: None,
                ..opts
            },
            &mut |t, _| {
                seen = t;
                if t == 3 {
                    Err(LatentError::Cancelled)
                } else {
                    Ok(())
                }
            },
        )
        .unwrap_err();
        assert_eq!(e, LatentError::Cancelled);
        assert_eq!(seen, 3);
    }

    /// Documents drawn from k planted topics with disjoint vocabularies: pLSA recovers them (each
    /// fitted topic concentrates on one planted vocabulary, and each document's P(z|d) puts its
    /// mass on the topics of its planted mixture).
    #[test]
    fn recovers_planted_topics() {
        let (k, words_per_topic, n_docs) = (3, 8, 60);
        let n_terms = k * words_per_topic;
        let mut rng = Rng::new(99);
        let (mut r, mut c, mut v) = (vec![], vec![], vec![]);
        let mut truth = vec![];
        for d in 0..n_docs {
            // Mostly one topic (0.9), a little of the next (0.1).
            let main = d % k;
            let mix: Vec<f64> = (0..k)
                .map(|z| {
                    if z == main {
                        0.9
                    } else if z == (main + 1) % k {
                        0.1
                    } else {
                        0.0
                    }
                })
                .collect();
            for _ in 0..200 {
                let u = rng.next_f64();
                let z = if u < mix[main] { main } else { (main + 1) % k };
                let w = z * words_per_topic + rng.below(words_per_topic as u64) as usize;
                r.push(d as u32);
                c.push(w as u32);
                v.push(1.0);
            }
            truth.push(mix);
        }
        let x = Csr::from_triplets(n_docs, n_terms, &r, &c, &v).unwrap();
        let fit = fit(
            &x,
            &PlsaOptions {
                k,
                iterations: 300,
                tolerance: None,
                seed: 4,
            },
            &mut |_, _| Ok(()),
        )
        .unwrap();
        let p = &fit.params;
        // Match each fitted topic to the planted vocabulary where it has most mass.
        let mut planted_of = vec![0; k];
        for (z, slot) in planted_of.iter_mut().enumerate() {
            let mass: Vec<f64> = (0..k)
                .map(|t| {
                    (t * words_per_topic..(t + 1) * words_per_topic)
                        .map(|w| p.term_topics[w * k + z])
                        .sum()
                })
                .collect();
            let best = (0..k).max_by(|&a, &b| mass[a].total_cmp(&mass[b])).unwrap();
            assert!(mass[best] > 0.97, "topic {z}: {mass:?}");
            *slot = best;
        }
        let mut sorted = planted_of.clone();
        sorted.sort();
        assert_eq!(sorted, vec![0, 1, 2], "topics are a permutation");
        for (d, mix) in truth.iter().enumerate() {
            for z in 0..k {
                let got = p.doc_topics[d * k + z];
                let want = mix[planted_of[z]];
                assert!(
                    (got - want).abs() < 0.08,
                    "doc {d} topic {z}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn same_bits_whatever_the_thread_count() {
        let x = random_matrix(300, 120, 0.05, 21);
        let opts = PlsaOptions {
            k: 7,
            iterations: 15,
            tolerance: None,
            seed: 9,
        };
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| fit(&x, &opts, &mut |_, _| Ok(())).unwrap())
        };
        let (a, b, c) = (run(1), run(2), run(3));
        let bits = |f: &PlsaFit| -> Vec<u64> {
            f.params
                .doc_topics
                .iter()
                .chain(&f.params.term_topics)
                .chain(&f.log_likelihood)
                .map(|v| v.to_bits())
                .collect()
        };
        assert_eq!(bits(&a), bits(&b));
        assert_eq!(bits(&a), bits(&c));
        // Another seed starts elsewhere.
        let other = fit(
            &x,
            &PlsaOptions {
                seed: 10,
                ..opts.clone()
            },
            &mut |_, _| Ok(()),
        )
        .unwrap();
        assert_ne!(bits(&a), bits(&other));
    }
}
