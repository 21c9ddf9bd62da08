//! Latent Dirichlet allocation (Blei, Ng & Jordan 2003) fitted by batch variational Bayes, as
//! scikit-learn 1.6.1's `LatentDirichletAllocation(learning_method='batch')`.
//!
//! It exists because the thesis reduces an artist's bag of audio words to 40 topics by LDA to
//! form artist group factors (ch. 3, §3.3.1), with scikit-learn's implementation; this kernel
//! runs the same algorithm, with the same defaults, on the sparse document-term matrix of the
//! pLSA kernel ([`Csr`]).
//!
//! # The model and its variational approximation
//! Documents d have topic proportions θ_d ~ Dirichlet(α) over k topics, topics have word
//! distributions β_z ~ Dirichlet(η) over the W terms, and each of the n(d, w) occurrences of term
//! w in d has a topic z ~ θ_d and the term w ~ β_z. The posterior is approximated by
//! q(θ_d) = Dirichlet(γ_d), q(β_z) = Dirichlet(λ_z) and q(z) = φ_dw; with
//! E[log θ_dz] = ψ(γ_dz) − ψ(Σ_z' γ_dz') and E[log β_zw] = ψ(λ_zw) − ψ(Σ_w' λ_zw'), where ψ is
//! the digamma function ([`digamma`]). α (`doc_topic_prior`) and η (`topic_word_prior`) default
//! to 1/k.
//!
//! # The algorithm (scikit-learn's `fit` with `learning_method='batch'`)
//! 1. λ (k × W) is drawn from Gamma(100, 1/100) ([`initial_components`]).
//! 2. `max_iter` times: an E-step over all documents with a random start, then the M-step.
//!    - **E-step**, per document (independently of the others), with Eβ = exp(E[log β]) fixed:
//!      start from γ_d (random: k draws of Gamma(100, 1/100), [`random_start`]; or all ones),
//!      Eθ = exp(E[log θ_d]), then up to `max_doc_update_iter` times: for each of its terms,
//!      s_w = Σ_z Eθ_z Eβ_zw + ε (ε = 2⁻⁵², NumPy's float64 eps); γ_dz ← α + Eθ_z Σ_w n(d, w)
//!      Eβ_zw / s_w; Eθ ← exp(E[log θ_d]) of the new γ_d; stop once the mean absolute change of
//!      γ_d is below `mean_change_tol`. The document's sufficient statistics are then
//!      Eθ_z n(d, w) / s_w (s_w from the final Eθ) for each of its terms w.
//!    - **M-step**: λ_zw ← η + Eβ_zw Σ_d Eθ_dz n(d, w) / s_dw, then Eβ from the new λ.
//!    - Every `evaluate_every` iterations (when > 0), an E-step from the all-ones start gives the
//!      perplexity; the fit stops once it changes by less than `perp_tol`.
//! 3. A last E-step from the all-ones start gives the document-topic weights γ (scikit-learn's
//!    `transform` without normalising) and the bound and perplexity of the fit (its `bound_`).
//!
//! # The bound and the perplexity (scikit-learn's `_approx_bound`)
//! With the E[log θ] of γ and E[log β] of λ,
//!
//! B = Σ_{d,w} n(d, w) log Σ_z exp(E[log θ_dz] + E[log β_zw])
//!   + Σ_{d,z} [(α − γ_dz) E[log θ_dz] + ln Γ(γ_dz) − ln Γ(α)] + Σ_d [ln Γ(kα) − ln Γ(Σ_z γ_dz)]
//!   + Σ_{z,w} [(η − λ_zw) E[log β_zw] + ln Γ(λ_zw) − ln Γ(η)] + Σ_z [ln Γ(Wη) − ln Γ(Σ_w λ_zw)],
//!
//! a lower bound of the log-likelihood, and the perplexity is exp(−B / N), N = Σ_{d,w} n(d, w).
//!
//! # Determinism and threads
//! scikit-learn draws every random start from one generator; here document d's start in
//! iteration t comes from its own stream `Rng::stream(seed, [t, d])` and λ's from
//! `Rng::new(seed)` (topic by topic, terms in order), so the draws do not depend on which thread
//! handles a document. Documents are processed in parallel (rayon) in fixed chunks of
//! [`CHUNK`] documents, each document by one thread; the M-step's sums over documents are formed
//! per term, over the documents in increasing order (via the transposed matrix), and the bound's
//! per-document terms are added in document order. So a fit is bit-identical whatever the number
//! of threads. It is not bit-identical to scikit-learn's (another generator, other summation
//! orders, and an accurate ψ where scikit-learn's is accurate to about 1e-9).
//!
//! # Tests
//! Beside the kernel: a dense reference of the same updates (loops over documents, terms and
//! topics) from the same initial values; scikit-learn's own fits from given initial values
//! ([`fit_from`], `tests/reference/lda_sklearn.json`, written by `scripts/lda_reference.py`);
//! planted topics; the bound across iterations; thread counts; errors.
//!
//! # Memory
//! O(nnz + (D + W) · k): the matrix, its transpose and the cells' positions, λ and Eβ (W × k,
//! stored term by term so that a document's terms are contiguous), γ and Eθ (D × k) and one
//! number per non-zero cell for the sufficient statistics.

use rayon::prelude::*;

use super::sparse::Csr;
use super::LatentError;
use crate::common::rng::Rng;
use crate::stats::lmm::dist::{digamma, ln_gamma};

/// NumPy's float64 machine epsilon, which scikit-learn adds to every s_w.
const EPS: f64 = f64::EPSILON;

/// Documents per parallel work item of the E-step.
pub const CHUNK: usize = 64;

/// Shape and scale of the gamma distribution of the random starts (scikit-learn's
/// `init_gamma = 100`, `init_var = 1 / init_gamma`).
const INIT_SHAPE: f64 = 100.0;
const INIT_SCALE: f64 = 0.01;

/// Settings of an LDA fit (scikit-learn's names and defaults are given in the model type).
#[derive(Debug, Clone, PartialEq)]
pub struct LdaOptions {
    /// The number of topics k ≥ 1.
    pub k: usize,
    /// The EM iterations (passes over the corpus).
    pub max_iter: usize,
    /// α; `None`: 1/k.
    pub doc_topic_prior: Option<f64>,
    /// η; `None`: 1/k.
    pub topic_word_prior: Option<f64>,
    /// The most updates of one document's γ in an E-step.
    pub max_doc_update_iter: usize,
    /// A document's updates stop once γ changes by less than this on average.
    pub mean_change_tol: f64,
    /// Evaluate the perplexity every this many iterations; 0: never.
    pub evaluate_every: usize,
    /// Stop once an evaluated perplexity changes by less than this.
    pub perp_tol: f64,
    /// Seed of the random λ and of the documents' random starts.
    pub seed: u64,
}

/// An evaluation during the fit.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// The EM iterations done when it was made.
    pub iteration: usize,
    /// The variational bound B.
    pub bound: f64,
    /// exp(−B / N).
    pub perplexity: f64,
}

/// A fitted LDA model.
#[derive(Debug, Clone, PartialEq)]
pub struct LdaFit {
    pub k: usize,
    /// α used.
    pub doc_topic_prior: f64,
    /// η used.
    pub topic_word_prior: f64,
    /// λ, terms × k, row-major: row w holds λ_zw of every topic (scikit-learn's
    /// `components_`, transposed).
    pub components: Vec<f64>,
    /// γ of the last E-step (all-ones start), documents × k, row-major (scikit-learn's
    /// `transform(X, normalize=False)`).
    pub doc_topics: Vec<f64>,
    /// The EM iterations run.
    pub iterations: usize,
    /// The evaluations every `evaluate_every` iterations.
    pub evaluations: Vec<Evaluation>,
    /// Whether the fit stopped on `perp_tol` before `max_iter` iterations.
    pub stopped_on_perp_tol: bool,
    /// The bound B of the final model and γ.
    pub bound: f64,
    /// exp(−B / N) of the final model (scikit-learn's `bound_`).
    pub perplexity: f64,
}

impl LdaFit {
    /// Document d's topic proportions γ_d / Σ_z γ_dz (scikit-learn's `transform`).
    pub fn mixture(&self, d: usize) -> Option<Vec<f64>> {
        let row = self.doc_topics.get(d * self.k..(d + 1) * self.k)?;
        let sum: f64 = row.iter().sum();
        Some(row.iter().map(|g| g / sum).collect())
    }
}

/// λ's initial value: with `Rng::new(seed)`, k × W draws of Gamma(100, 1/100), topic by topic
/// and terms in order, returned terms × k.
pub fn initial_components(n_terms: usize, k: usize, seed: u64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    let mut lambda = vec![0.0; n_terms * k];
    for z in 0..k {
        for w in 0..n_terms {
            lambda[w * k + z] = rng.gamma(INIT_SHAPE, INIT_SCALE);
        }
    }
    lambda
}

/// Document `d`'s random start γ_d in EM iteration `iteration` (from 1): k draws of
/// Gamma(100, 1/100) from `Rng::stream(seed, [iteration, d])`.
pub fn random_start(seed: u64, iteration: usize, d: usize, out: &mut [f64]) {
    let mut rng = Rng::stream(seed, &[iteration as u64, d as u64]);
    for g in out {
        *g = rng.gamma(INIT_SHAPE, INIT_SCALE);
    }
}

/// A document's random start in an EM iteration: `start(iteration, d, γ_d)` fills γ_d.
pub type RandomStart<'a> = &'a (dyn Fn(usize, usize, &mut [f64]) + Sync);

/// How an E-step starts each document's γ.
#[derive(Clone, Copy)]
enum Start<'a> {
    /// The random start of EM iteration `iteration` (from 1).
    Random(RandomStart<'a>, usize),
    /// All ones.
    Ones,
}

/// `out` = exp(ψ(γ_z) − ψ(Σ_z γ_z)).
fn exp_dirichlet_expectation(gamma: &[f64], out: &mut [f64]) {
    let total: f64 = gamma.iter().sum();
    let psi_total = digamma(total);
    for (o, &g) in out.iter_mut().zip(gamma) {
        *o = (digamma(g) - psi_total).exp();
    }
}

/// exp(E[log β]) of λ (terms × k): each topic's ψ(λ_zw) − ψ(Σ_w λ_zw), exponentiated.
fn exp_beta(lambda: &[f64], k: usize) -> Vec<f64> {
    let psi_totals: Vec<f64> = topic_totals(lambda, k).into_iter().map(digamma).collect();
    let mut out = vec![0.0; lambda.len()];
    out.par_chunks_mut(k)
        .zip(lambda.par_chunks(k))
        .for_each(|(o, l)| {
            for ((o, &l), &p) in o.iter_mut().zip(l).zip(&psi_totals) {
                *o = (digamma(l) - p).exp();
            }
        });
    out
}

/// Σ_w λ_zw for each topic, adding terms in order.
fn topic_totals(lambda: &[f64], k: usize) -> Vec<f64> {
    let mut totals = vec![0.0; k];
    for row in lambda.chunks(k) {
        for (t, &l) in totals.iter_mut().zip(row) {
            *t += l;
        }
    }
    totals
}

/// Σ_z a_z b_z, in a fixed order: four running sums over the topics z ≡ 0, 1, 2, 3 (mod 4) of
/// the first ⌊k/4⌋·4 topics (independent additions the compiler keeps in vector registers), added
/// as (s₀ + s₁) + (s₂ + s₃), then the remaining topics in order.
#[inline]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    let mut s = [0.0f64; 4];
    for (x, y) in ca.zip(cb) {
        for l in 0..4 {
            s[l] += x[l] * y[l];
        }
    }
    let mut total = (s[0] + s[1]) + (s[2] + s[3]);
    for (x, y) in ra.iter().zip(rb) {
        total += x * y;
    }
    total
}

/// The fixed parts of one E-step.
struct EStepInput<'a> {
    x: &'a Csr,
    /// Eβ, terms × k.
    exp_beta: &'a [f64],
    k: usize,
    alpha: f64,
    max_doc_update_iter: usize,
    mean_change_tol: f64,
}

/// The variational updates of one document (module documentation, E-step): `gamma` holds its
/// start and receives its γ_d, `exp_theta` its final Eθ; `ratios`, when given, receives
/// n(d, w) / s_w for each of its terms.
fn update_document(
    input: &EStepInput<'_>,
    d: usize,
    gamma: &mut [f64],
    exp_theta: &mut [f64],
    last: &mut [f64],
    ratios: Option<&mut [f64]>,
) {
    let k = input.k;
    let (terms, counts) = input.x.row(d);
    exp_dirichlet_expectation(gamma, exp_theta);
    for _ in 0..input.max_doc_update_iter {
        last.copy_from_slice(gamma);
        gamma.iter_mut().for_each(|g| *g = 0.0);
        for (&w, &n) in terms.iter().zip(counts) {
            let beta = &input.exp_beta[w as usize * k..(w as usize + 1) * k];
            let r = n / (dot(exp_theta, beta) + EPS);
            for (g, &b) in gamma.iter_mut().zip(beta) {
                *g += r * b;
            }
        }
        for (g, &e) in gamma.iter_mut().zip(exp_theta.iter()) {
            *g *= e;
            *g += input.alpha;
        }
        exp_dirichlet_expectation(gamma, exp_theta);
        let change: f64 = last
            .iter()
            .zip(gamma.iter())
            .map(|(a, b)| (a - b).abs())
            .sum();
        if change / (k as f64) < input.mean_change_tol {
            break;
        }
    }
    if let Some(ratios) = ratios {
        for ((&w, &n), r) in terms.iter().zip(counts).zip(ratios.iter_mut()) {
            let beta = &input.exp_beta[w as usize * k..(w as usize + 1) * k];
            *r = n / (dot(exp_theta, beta) + EPS);
        }
    }
}

/// What an E-step gives: γ (documents × k), and for the M-step Eθ (documents × k) and
/// n(d, w) / s_dw for every stored cell of the matrix (in its order).
struct EStep {
    gamma: Vec<f64>,
    exp_theta: Vec<f64>,
    ratios: Option<Vec<f64>>,
}

/// An E-step over every document, in parallel chunks of [`CHUNK`] documents.
fn e_step(input: &EStepInput<'_>, start: Start<'_>, sufficient_statistics: bool) -> EStep {
    let (x, k) = (input.x, input.k);
    let n_docs = x.n_rows();
    let mut gamma = vec![0.0; n_docs * k];
    let mut exp_theta = vec![0.0; n_docs * k];
    let mut ratios = vec![0.0; if sufficient_statistics { x.nnz() } else { 0 }];
    // Each chunk's slice of the per-cell ratios (empty without sufficient statistics).
    let indptr = x.indptr();
    let mut ratio_chunks: Vec<&mut [f64]> = Vec::with_capacity(n_docs.div_ceil(CHUNK));
    let mut rest = ratios.as_mut_slice();
    for first in (0..n_docs).step_by(CHUNK) {
        let end = (first + CHUNK).min(n_docs);
        let len = if sufficient_statistics {
            indptr[end] - indptr[first]
        } else {
            0
        };
        let (head, tail) = std::mem::take(&mut rest).split_at_mut(len);
        ratio_chunks.push(head);
        rest = tail;
    }
    gamma
        .par_chunks_mut(CHUNK * k)
        .zip(exp_theta.par_chunks_mut(CHUNK * k))
        .zip(ratio_chunks.into_par_iter())
        .enumerate()
        .for_each(|(c, ((gamma, exp_theta), ratios))| {
            let mut last = vec![0.0; k];
            let first = c * CHUNK;
            let base = indptr[first];
            for (i, (g, e)) in gamma.chunks_mut(k).zip(exp_theta.chunks_mut(k)).enumerate() {
                let d = first + i;
                match start {
                    Start::Random(random, iteration) => random(iteration, d, g),
                    Start::Ones => g.iter_mut().for_each(|g| *g = 1.0),
                }
                let cells = if sufficient_statistics {
                    Some(&mut ratios[indptr[d] - base..indptr[d + 1] - base])
                } else {
                    None
                };
                update_document(input, d, g, e, &mut last, cells);
            }
        });
    EStep {
        gamma,
        exp_theta,
        ratios: sufficient_statistics.then_some(ratios),
    }
}

/// The transposed matrix and, for each of its cells, the position of the same cell in the
/// matrix (where its ratio is), for the M-step's sums over documents.
struct Columns {
    xt: Csr,
    positions: Vec<usize>,
}

/// The M-step: the new λ (terms × k) from Eβ (terms × k) and an E-step's Eθ (documents × k)
/// and ratios (one per cell of the matrix).
fn m_step(
    columns: &Columns,
    exp_theta: &[f64],
    ratios: &[f64],
    exp_beta: &[f64],
    k: usize,
    eta: f64,
) -> Vec<f64> {
    let xt = &columns.xt;
    let indptr = xt.indptr();
    let mut lambda = vec![0.0; exp_beta.len()];
    lambda.par_chunks_mut(k).enumerate().for_each(|(w, out)| {
        let (docs, _) = xt.row(w);
        let positions = &columns.positions[indptr[w]..indptr[w + 1]];
        for (&d, &p) in docs.iter().zip(positions) {
            let r = ratios[p];
            let theta = &exp_theta[d as usize * k..(d as usize + 1) * k];
            for (o, &t) in out.iter_mut().zip(theta) {
                *o += t * r;
            }
        }
        for (o, &b) in out.iter_mut().zip(&exp_beta[w * k..(w + 1) * k]) {
            *o *= b;
            *o += eta;
        }
    });
    lambda
}

/// ln Σ_z exp(v_z), shifted by the largest v_z.
fn log_sum_exp(v: &[f64]) -> f64 {
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return max;
    }
    max + v.iter().map(|&x| (x - max).exp()).sum::<f64>().ln()
}

/// The variational bound B of λ (terms × k) and γ (documents × k) on `x`, with priors α and η
/// (module documentation).
pub fn bound(x: &Csr, lambda: &[f64], gamma: &[f64], k: usize, alpha: f64, eta: f64) -> f64 {
    let n_terms = x.n_cols();
    let totals = topic_totals(lambda, k);
    let psi_totals: Vec<f64> = totals.iter().map(|&t| digamma(t)).collect();
    let elog_beta: Vec<f64> = lambda
        .par_chunks(k)
        .flat_map_iter(|row| {
            row.iter()
                .zip(&psi_totals)
                .map(|(&l, &p)| digamma(l) - p)
                .collect::<Vec<f64>>()
        })
        .collect();
    let (ln_gamma_alpha, ln_gamma_k_alpha) = (ln_gamma(alpha), ln_gamma(k as f64 * alpha));
    let per_document: Vec<f64> = gamma
        .par_chunks(k)
        .enumerate()
        .map_init(
            || (vec![0.0; k], vec![0.0; k]),
            |(elog_theta, v), (d, g)| {
                let total: f64 = g.iter().sum();
                let psi_total = digamma(total);
                for (e, &g) in elog_theta.iter_mut().zip(g) {
                    *e = digamma(g) - psi_total;
                }
                let (terms, counts) = x.row(d);
                let mut score = 0.0;
                for (&w, &n) in terms.iter().zip(counts) {
                    let eb = &elog_beta[w as usize * k..(w as usize + 1) * k];
                    for ((v, &a), &b) in v.iter_mut().zip(elog_theta.iter()).zip(eb) {
                        *v = a + b;
                    }
                    score += n * log_sum_exp(v);
                }
                for (&g, &e) in g.iter().zip(elog_theta.iter()) {
                    score += (alpha - g) * e + ln_gamma(g) - ln_gamma_alpha;
                }
                score + ln_gamma_k_alpha - ln_gamma(total)
            },
        )
        .collect();
    let per_term: Vec<f64> = lambda
        .par_chunks(k)
        .zip(elog_beta.par_chunks(k))
        .map(|(l, e)| {
            l.iter()
                .zip(e)
                .map(|(&l, &e)| (eta - l) * e + ln_gamma(l) - ln_gamma(eta))
                .sum::<f64>()
        })
        .collect();
    let ln_gamma_w_eta = ln_gamma(n_terms as f64 * eta);
    let topics: f64 = totals.iter().map(|&t| ln_gamma_w_eta - ln_gamma(t)).sum();
    per_document.iter().sum::<f64>() + per_term.iter().sum::<f64>() + topics
}

/// exp(−B / N) for bound B on `x`.
pub fn perplexity(x: &Csr, bound: f64) -> f64 {
    (-bound / x.total()).exp()
}

/// Checks that a prior is a positive finite number.
fn prior(name: &'static str, value: Option<f64>, k: usize) -> Result<f64, LatentError> {
    let v = value.unwrap_or(1.0 / k as f64);
    if v > 0.0 && v.is_finite() {
        Ok(v)
    } else {
        Err(LatentError::OutOfRange {
            what: name,
            need: "positive and finite",
            value: v,
        })
    }
}

/// Fits LDA to `x` (documents × terms) by batch variational Bayes (module documentation),
/// from [`initial_components`] and [`random_start`]. `on_iteration(t, perplexity)` is called
/// after EM iteration t (from 1) with the perplexity when it was evaluated, and stops the fit
/// with its error (for Ctrl-C).
pub fn fit(
    x: &Csr,
    options: &LdaOptions,
    on_iteration: &mut dyn FnMut(usize, Option<f64>) -> Result<(), LatentError>,
) -> Result<LdaFit, LatentError> {
    if options.k == 0 {
        return Err(LatentError::Shape("LDA needs k ≥ 1 topics".to_string()));
    }
    let lambda = initial_components(x.n_cols(), options.k, options.seed);
    let seed = options.seed;
    let start = move |t: usize, d: usize, g: &mut [f64]| random_start(seed, t, d, g);
    fit_from(x, options, lambda, &start, on_iteration)
}

/// [`fit`] from a given initial λ (terms × k, positive) and random starts (`options.seed` is
/// not used): how the tests run the algorithm from scikit-learn's own initial values.
pub fn fit_from(
    x: &Csr,
    options: &LdaOptions,
    initial: Vec<f64>,
    start: RandomStart<'_>,
    on_iteration: &mut dyn FnMut(usize, Option<f64>) -> Result<(), LatentError>,
) -> Result<LdaFit, LatentError> {
    let k = options.k;
    if k == 0 {
        return Err(LatentError::Shape("LDA needs k ≥ 1 topics".to_string()));
    }
    if x.nnz() == 0 {
        return Err(LatentError::Empty(
            "the document-term matrix has no positive weight".to_string(),
        ));
    }
    let alpha = prior("doc_topic_prior", options.doc_topic_prior, k)?;
    let eta = prior("topic_word_prior", options.topic_word_prior, k)?;
    for (what, v) in [
        ("mean_change_tol", options.mean_change_tol),
        ("perp_tol", options.perp_tol),
    ] {
        if !(v >= 0.0 && v.is_finite()) {
            return Err(LatentError::OutOfRange {
                what,
                need: "non-negative and finite",
                value: v,
            });
        }
    }
    if initial.len() != x.n_cols() * k || !initial.iter().all(|&l| l > 0.0 && l.is_finite()) {
        return Err(LatentError::Shape(format!(
            "the initial topics must be {} positive numbers ({} terms × k = {k})",
            x.n_cols() * k,
            x.n_cols()
        )));
    }
    let (xt, positions) = x.transpose_with_positions();
    let columns = Columns { xt, positions };
    let mut lambda = initial;
    let mut eb = exp_beta(&lambda, k);
    let step = |exp_beta: &[f64], start: Start<'_>, sufficient: bool| {
        let input = EStepInput {
            x,
            exp_beta,
            k,
            alpha,
            max_doc_update_iter: options.max_doc_update_iter,
            mean_change_tol: options.mean_change_tol,
        };
        e_step(&input, start, sufficient)
    };
    let mut evaluations = Vec::new();
    let mut stopped = false;
    let mut iterations = 0;
    for t in 1..=options.max_iter {
        let e = step(&eb, Start::Random(start, t), true);
        let ratios = e.ratios.as_deref().unwrap_or(&[]);
        lambda = m_step(&columns, &e.exp_theta, ratios, &eb, k, eta);
        eb = exp_beta(&lambda, k);
        iterations = t;
        let mut evaluated = None;
        if options.evaluate_every > 0 && t % options.evaluate_every == 0 {
            let g = step(&eb, Start::Ones, false).gamma;
            let b = bound(x, &lambda, &g, k, alpha, eta);
            let p = perplexity(x, b);
            if let Some(last) = evaluations.last().map(|e: &Evaluation| e.perplexity) {
                stopped = (last - p).abs() < options.perp_tol;
            }
            evaluations.push(Evaluation {
                iteration: t,
                bound: b,
                perplexity: p,
            });
            evaluated = Some(p);
        }
        on_iteration(t, evaluated)?;
        if stopped {
            break;
        }
    }
    let gamma = step(&eb, Start::Ones, false).gamma;
    let b = bound(x, &lambda, &gamma, k, alpha, eta);
    Ok(LdaFit {
        k,
        doc_topic_prior: alpha,
        topic_word_prior: eta,
        components: lambda,
        doc_topics: gamma,
        iterations,
        evaluations,
        stopped_on_perp_tol: stopped,
        bound: b,
        perplexity: perplexity(x, b),
    })
}

#[cfg(test)]
// The reference indexes dense arrays as the formulas do.
#[allow(clippy::needless_range_loop)]
mod tests {
    use super::*;

    fn options(k: usize) -> LdaOptions {
        LdaOptions {
            k,
            max_iter: 10,
            doc_topic_prior: None,
            topic_word_prior: None,
            max_doc_update_iter: 100,
            mean_change_tol: 1e-3,
            evaluate_every: 0,
            perp_tol: 0.1,
            seed: 1,
        }
    }

    /// A random sparse matrix with about `density` of its cells non-zero (integer counts 1–6,
    /// and some fractional weights), every row and column non-empty.
    fn random_matrix(n_docs: usize, n_terms: usize, density: f64, seed: u64) -> Csr {
        let mut rng = Rng::new(seed);
        let (mut r, mut c, mut v) = (vec![], vec![], vec![]);
        for d in 0..n_docs {
            for w in 0..n_terms {
                if rng.next_f64() < density || w == d % n_terms || d == w % n_docs {
                    r.push(d as u32);
                    c.push(w as u32);
                    let count = 1 + rng.below(6);
                    v.push(if d % 5 == 4 {
                        count as f64 * 0.37
                    } else {
                        count as f64
                    });
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

    /// ψ(v_i) − ψ(Σ v) for each i.
    fn dense_elog(v: &[f64]) -> Vec<f64> {
        let total: f64 = v.iter().sum();
        v.iter().map(|&x| digamma(x) - digamma(total)).collect()
    }

    /// The dense reference: scikit-learn's batch variational Bayes written out with loops over
    /// documents, every term (zero counts included) and topics, on λ as k × W, independently
    /// of the sparse kernel's layout, chunks and passes. Returns λ (k × W), the final γ, the
    /// evaluated bounds and the final bound.
    struct Dense {
        n: Vec<Vec<f64>>,
        k: usize,
        alpha: f64,
        eta: f64,
        max_doc_update_iter: usize,
        tol: f64,
    }

    impl Dense {
        /// γ of every document from `start(d)`, and the sufficient statistics (k × W).
        fn e_step(
            &self,
            lambda: &[Vec<f64>],
            start: &dyn Fn(usize) -> Vec<f64>,
        ) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
            let (k, w_n) = (self.k, self.n[0].len());
            let eb: Vec<Vec<f64>> = lambda
                .iter()
                .map(|row| dense_elog(row).iter().map(|v| v.exp()).collect())
                .collect();
            let mut gammas = vec![];
            let mut sstats = vec![vec![0.0; w_n]; k];
            for d in 0..self.n.len() {
                let mut g = start(d);
                let mut et: Vec<f64> = dense_elog(&g).iter().map(|v| v.exp()).collect();
                for _ in 0..self.max_doc_update_iter {
                    let mut new = vec![0.0; k];
                    for z in 0..k {
                        let mut acc = 0.0;
                        for w in 0..w_n {
                            let s: f64 = (0..k).map(|y| et[y] * eb[y][w]).sum::<f64>() + EPS;
                            acc += self.n[d][w] * eb[z][w] / s;
                        }
                        new[z] = self.alpha + et[z] * acc;
                    }
                    et = dense_elog(&new).iter().map(|v| v.exp()).collect();
                    let change = (0..k).map(|z| (g[z] - new[z]).abs()).sum::<f64>() / k as f64;
                    g = new;
                    if change < self.tol {
                        break;
                    }
                }
                for w in 0..w_n {
                    let s: f64 = (0..k).map(|y| et[y] * eb[y][w]).sum::<f64>() + EPS;
                    for z in 0..k {
                        sstats[z][w] += et[z] * self.n[d][w] / s;
                    }
                }
                gammas.push(g);
            }
            for z in 0..k {
                for w in 0..w_n {
                    sstats[z][w] *= eb[z][w];
                }
            }
            (gammas, sstats)
        }

        fn bound(&self, lambda: &[Vec<f64>], gamma: &[Vec<f64>]) -> f64 {
            let (k, w_n) = (self.k, self.n[0].len());
            let elog_beta: Vec<Vec<f64>> = lambda.iter().map(|r| dense_elog(r)).collect();
            let mut score = 0.0;
            for d in 0..self.n.len() {
                let elog_theta = dense_elog(&gamma[d]);
                for w in 0..w_n {
                    if self.n[d][w] > 0.0 {
                        let s: f64 = (0..k)
                            .map(|z| (elog_theta[z] + elog_beta[z][w]).exp())
                            .sum();
                        score += self.n[d][w] * s.ln();
                    }
                }
                for z in 0..k {
                    score += (self.alpha - gamma[d][z]) * elog_theta[z] + ln_gamma(gamma[d][z])
                        - ln_gamma(self.alpha);
                }
                score += ln_gamma(self.alpha * k as f64) - ln_gamma(gamma[d].iter().sum());
            }
            for z in 0..k {
                for w in 0..w_n {
                    score += (self.eta - lambda[z][w]) * elog_beta[z][w] + ln_gamma(lambda[z][w])
                        - ln_gamma(self.eta);
                }
                score += ln_gamma(self.eta * w_n as f64) - ln_gamma(lambda[z].iter().sum());
            }
            score
        }

        /// `max_iter` EM iterations from the kernel's initialisation, evaluating every
        /// iteration: (λ, final γ, bound of each evaluation, final bound).
        fn fit(&self, max_iter: usize, seed: u64) -> DenseFit {
            let (k, w_n) = (self.k, self.n[0].len());
            let init = initial_components(w_n, k, seed);
            let mut lambda: Vec<Vec<f64>> = (0..k)
                .map(|z| (0..w_n).map(|w| init[w * k + z]).collect())
                .collect();
            let ones = |_: usize| vec![1.0; k];
            let mut bounds = vec![];
            for t in 1..=max_iter {
                let random = |d: usize| {
                    let mut g = vec![0.0; k];
                    random_start(seed, t, d, &mut g);
                    g
                };
                let (_, sstats) = self.e_step(&lambda, &random);
                for z in 0..k {
                    for w in 0..w_n {
                        lambda[z][w] = self.eta + sstats[z][w];
                    }
                }
                let (g, _) = self.e_step(&lambda, &ones);
                bounds.push(self.bound(&lambda, &g));
            }
            let (gamma, _) = self.e_step(&lambda, &ones);
            let b = self.bound(&lambda, &gamma);
            (lambda, gamma, bounds, b)
        }
    }

    /// λ (k × W), the final γ, the bound of each evaluation and the final bound.
    type DenseFit = (Vec<Vec<f64>>, Vec<Vec<f64>>, Vec<f64>, f64);

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * a.abs().max(b.abs()).max(1.0)
    }

    #[test]
    fn sparse_fit_equals_the_dense_reference() {
        let x = random_matrix(11, 14, 0.3, 3);
        let total = x.total();
        for (k, max_iter, max_doc, tol, alpha, eta) in [
            (3, 6, 100, 1e-3, None, None),
            (4, 3, 7, 0.0, Some(0.3), Some(0.05)),
            (2, 0, 100, 1e-3, None, Some(0.9)),
        ] {
            let dense = Dense {
                n: to_dense(&x),
                k,
                alpha: alpha.unwrap_or(1.0 / k as f64),
                eta: eta.unwrap_or(1.0 / k as f64),
                max_doc_update_iter: max_doc,
                tol,
            };
            let (lambda, gamma, bounds, b) = dense.fit(max_iter, 17);
            let opts = LdaOptions {
                max_iter,
                doc_topic_prior: alpha,
                topic_word_prior: eta,
                max_doc_update_iter: max_doc,
                mean_change_tol: tol,
                evaluate_every: 1,
                perp_tol: 0.0,
                seed: 17,
                ..options(k)
            };
            let fit = fit(&x, &opts, &mut |_, _| Ok(())).unwrap();
            assert_eq!(fit.iterations, max_iter);
            assert_eq!(
                (fit.doc_topic_prior, fit.topic_word_prior),
                (dense.alpha, dense.eta)
            );
            for z in 0..k {
                for w in 0..14 {
                    let got = fit.components[w * k + z];
                    assert!(
                        close(got, lambda[z][w], 1e-10),
                        "λ {z} {w}: {got} {}",
                        lambda[z][w]
                    );
                }
            }
            for d in 0..11 {
                for z in 0..k {
                    let got = fit.doc_topics[d * k + z];
                    assert!(
                        close(got, gamma[d][z], 1e-10),
                        "γ {d} {z}: {got} {}",
                        gamma[d][z]
                    );
                }
            }
            assert_eq!(fit.evaluations.len(), max_iter);
            for (e, want) in fit.evaluations.iter().zip(&bounds) {
                assert!(close(e.bound, *want, 1e-10), "{} {want}", e.bound);
                assert!(close(e.perplexity, (-want / total).exp(), 1e-10));
            }
            assert!(close(fit.bound, b, 1e-10), "{} {b}", fit.bound);
            assert!(close(fit.perplexity, (-b / total).exp(), 1e-10));
            // The normalised mixture sums to 1.
            let m = fit.mixture(4).unwrap();
            assert!((m.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
    }

    /// Documents drawn from k planted topics with disjoint vocabularies (two in three from one
    /// topic, the others from two, with a random share of 50–90 % for the first): each fitted
    /// topic's λ concentrates on one planted vocabulary, and each document's topic proportions
    /// are the shares of its words drawn from each topic (within 0.03), so its largest is its
    /// main planted topic (when more than 55 % of its words are from it).
    #[test]
    fn recovers_planted_topics() {
        let (k, words_per_topic, n_docs) = (4, 10, 90);
        let n_terms = k * words_per_topic;
        let mut rng = Rng::new(99);
        let (mut r, mut c, mut v) = (vec![], vec![], vec![]);
        let mut truth = vec![];
        for d in 0..n_docs {
            let main = (d * 7) % k;
            let share = if d % 3 == 0 {
                0.5 + 0.4 * rng.next_f64()
            } else {
                1.0
            };
            let mut from_main = 0;
            for _ in 0..200 {
                let z = if rng.next_f64() < share {
                    from_main += 1;
                    main
                } else {
                    (main + 1) % k
                };
                let w = z * words_per_topic + rng.below(words_per_topic as u64) as usize;
                r.push(d as u32);
                c.push(w as u32);
                v.push(1.0);
            }
            // The share of the words actually drawn from the main topic.
            truth.push((main, from_main as f64 / 200.0));
        }
        let x = Csr::from_triplets(n_docs, n_terms, &r, &c, &v).unwrap();
        let fit = fit(
            &x,
            &LdaOptions {
                max_iter: 30,
                seed: 5,
                ..options(k)
            },
            &mut |_, _| Ok(()),
        )
        .unwrap();
        let mut planted_of = vec![0; k];
        for (z, slot) in planted_of.iter_mut().enumerate() {
            let mass: Vec<f64> = (0..k)
                .map(|t| {
                    (t * words_per_topic..(t + 1) * words_per_topic)
                        .map(|w| fit.components[w * k + z])
                        .sum()
                })
                .collect();
            let total: f64 = mass.iter().sum();
            let best = (0..k).max_by(|&a, &b| mass[a].total_cmp(&mass[b])).unwrap();
            assert!(mass[best] / total > 0.98, "topic {z}: {mass:?}");
            *slot = best;
        }
        let mut sorted = planted_of.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            (0..k).collect::<Vec<_>>(),
            "topics are a permutation"
        );
        for (d, &(main, share)) in truth.iter().enumerate() {
            let m = fit.mixture(d).unwrap();
            for (z, &got) in m.iter().enumerate() {
                let want = if planted_of[z] == main {
                    share
                } else if planted_of[z] == (main + 1) % k {
                    1.0 - share
                } else {
                    0.0
                };
                assert!(
                    (got - want).abs() < 0.05,
                    "doc {d} topic {z}: {m:?} vs {share}"
                );
            }
            if share > 0.55 {
                let top = (0..k).max_by(|&a, &b| m[a].total_cmp(&m[b])).unwrap();
                assert_eq!(planted_of[top], main, "doc {d}: {m:?}");
            }
        }
    }

    /// The bound evaluated after each iteration rises (every step, when each document's updates
    /// run to convergence; overall with scikit-learn's defaults), and the perplexity falls.
    #[test]
    fn the_bound_rises_across_iterations() {
        let x = random_matrix(60, 40, 0.15, 8);
        let tight = LdaOptions {
            max_iter: 25,
            max_doc_update_iter: 2_000,
            mean_change_tol: 1e-10,
            evaluate_every: 1,
            perp_tol: 0.0,
            ..options(5)
        };
        let fit = fit(&x, &tight, &mut |_, _| Ok(())).unwrap();
        let b: Vec<f64> = fit.evaluations.iter().map(|e| e.bound).collect();
        assert_eq!(b.len(), 25);
        for w in b.windows(2) {
            assert!(w[1] >= w[0] - 1e-9 * w[0].abs(), "{} then {}", w[0], w[1]);
        }
        let defaults = LdaOptions {
            max_iter: 25,
            evaluate_every: 1,
            perp_tol: 0.0,
            ..options(5)
        };
        let fit = super::fit(&x, &defaults, &mut |_, _| Ok(())).unwrap();
        let e = &fit.evaluations;
        assert!(
            e[24].bound > e[0].bound + 1.0,
            "{} {}",
            e[0].bound,
            e[24].bound
        );
        assert!(e[24].perplexity < e[0].perplexity);
        // The final bound is that of the last evaluation (same λ, same all-ones E-step).
        assert_eq!(fit.bound.to_bits(), e[24].bound.to_bits());
    }

    #[test]
    fn perp_tol_stops_and_the_callback_can_stop() {
        let x = random_matrix(30, 20, 0.3, 8);
        let opts = LdaOptions {
            max_iter: 50,
            evaluate_every: 2,
            perp_tol: 1e9,
            ..options(3)
        };
        let mut seen = vec![];
        let fit = fit(&x, &opts, &mut |t, p| {
            seen.push((t, p.is_some()));
            Ok(())
        })
        .unwrap();
        // Evaluated after iterations 2 and 4; the second evaluation is within perp_tol.
        assert!(fit.stopped_on_perp_tol);
        assert_eq!(fit.iterations, 4);
        assert_eq!(seen, vec![(1, false), (2, true), (3, false), (4, true)]);
        assert_eq!(fit.evaluations.len(), 2);
        let fit = super::fit(
            &x,
            &LdaOptions {
                perp_tol: 0.0,
                ..opts.clone()
            },
            &mut |_, _| Ok(()),
        )
        .unwrap();
        assert!(!fit.stopped_on_perp_tol);
        assert_eq!(fit.iterations, 50);
        let mut last = 0;
        let e = super::fit(&x, &opts, &mut |t, _| {
            last = t;
            if t == 3 {
                Err(LatentError::Cancelled)
            } else {
                Ok(())
            }
        })
        .unwrap_err();
        assert_eq!(e, LatentError::Cancelled);
        assert_eq!(last, 3);
    }

    #[test]
    fn same_bits_whatever_the_thread_count() {
        // 300 documents: five chunks of CHUNK = 64.
        let x = random_matrix(300, 120, 0.05, 21);
        let opts = LdaOptions {
            max_iter: 6,
            evaluate_every: 2,
            perp_tol: 0.0,
            seed: 9,
            ..options(7)
        };
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| fit(&x, &opts, &mut |_, _| Ok(())).unwrap())
        };
        let bits = |f: &LdaFit| -> Vec<u64> {
            f.components
                .iter()
                .chain(&f.doc_topics)
                .chain(f.evaluations.iter().map(|e| &e.bound))
                .chain([&f.bound, &f.perplexity])
                .map(|v| v.to_bits())
                .collect()
        };
        let one = run(1);
        assert_eq!(bits(&one), bits(&run(2)));
        assert_eq!(bits(&one), bits(&run(3)));
        let other = fit(
            &x,
            &LdaOptions {
                seed: 10,
                ..opts.clone()
            },
            &mut |_, _| Ok(()),
        )
        .unwrap();
        assert_ne!(bits(&one), bits(&other));
    }

    #[test]
    fn errors() {
        let x = random_matrix(5, 4, 0.5, 1);
        let e = fit(&x, &options(0), &mut |_, _| Ok(())).unwrap_err();
        assert_eq!(e.to_string(), "inconsistent input: LDA needs k ≥ 1 topics");
        let empty = Csr::from_triplets(2, 3, &[], &[], &[]).unwrap();
        let e = fit(&empty, &options(2), &mut |_, _| Ok(())).unwrap_err();
        assert!(matches!(e, LatentError::Empty(_)), "{e}");
        // A matrix of only zero weights stores nothing: the same error.
        let zeros = Csr::from_triplets(1, 1, &[0], &[0], &[0.0]).unwrap();
        assert!(matches!(
            fit(&zeros, &options(2), &mut |_, _| Ok(())).unwrap_err(),
            LatentError::Empty(_)
        ));
        // Negative weights never reach the kernel: the matrix refuses them.
        let e = Csr::from_triplets(1, 2, &[0, 0], &[0, 1], &[1.0, -2.0]).unwrap_err();
        assert_eq!(e, LatentError::NegativeWeight(-2.0));
        for bad in [
            LdaOptions {
                doc_topic_prior: Some(0.0),
                ..options(2)
            },
            LdaOptions {
                topic_word_prior: Some(-1.0),
                ..options(2)
            },
            LdaOptions {
                mean_change_tol: f64::NAN,
                ..options(2)
            },
            LdaOptions {
                perp_tol: -1.0,
                ..options(2)
            },
        ] {
            let e = fit(&x, &bad, &mut |_, _| Ok(())).unwrap_err();
            assert!(matches!(e, LatentError::OutOfRange { .. }), "{e}");
        }
        let e = fit(
            &x,
            &LdaOptions {
                doc_topic_prior: Some(0.0),
                ..options(2)
            },
            &mut |_, _| Ok(()),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "doc_topic_prior must be positive and finite, got 0"
        );
    }

    /// The kernel from scikit-learn's own initial values (`tests/reference/lda_sklearn.json`,
    /// written by `scripts/lda_reference.py` with scikit-learn 1.6.1, whose gamma draws were
    /// replaced by the values in the file) against what scikit-learn fitted: λ
    /// (`components_`), γ (`transform(normalize=False)`) and the normalised mixtures, the bound
    /// (`score`) and perplexity (`bound_`), and the EM iterations run (with `perp_tol` too).
    #[test]
    fn agrees_with_scikit_learn() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/reference/lda_sklearn.json"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        let matrix = |v: &serde_json::Value| -> Vec<Vec<f64>> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    r.as_array()
                        .unwrap()
                        .iter()
                        .map(|x| x.as_f64().unwrap())
                        .collect()
                })
                .collect()
        };
        let cases = json["cases"].as_array().unwrap();
        assert_eq!(cases.len(), 4);
        for case in cases {
            let name = case["name"].as_str().unwrap();
            let counts = matrix(&case["counts"]);
            let (n_docs, n_terms) = (counts.len(), counts[0].len());
            let (mut r, mut c, mut v) = (vec![], vec![], vec![]);
            for (d, row) in counts.iter().enumerate() {
                for (w, &n) in row.iter().enumerate() {
                    r.push(d as u32);
                    c.push(w as u32);
                    v.push(n);
                }
            }
            let x = Csr::from_triplets(n_docs, n_terms, &r, &c, &v).unwrap();
            let k = case["k"].as_u64().unwrap() as usize;
            let o = &case["options"];
            let opts = LdaOptions {
                max_iter: case["max_iter"].as_u64().unwrap() as usize,
                doc_topic_prior: o["doc_topic_prior"].as_f64(),
                topic_word_prior: o["topic_word_prior"].as_f64(),
                max_doc_update_iter: o["max_doc_update_iter"].as_u64().unwrap_or(100) as usize,
                mean_change_tol: o["mean_change_tol"].as_f64().unwrap_or(1e-3),
                evaluate_every: o["evaluate_every"].as_u64().unwrap_or(0) as usize,
                perp_tol: o["perp_tol"].as_f64().unwrap_or(0.1),
                seed: 0,
                ..options(k)
            };
            let components0 = matrix(&case["components0"]);
            let initial: Vec<f64> = (0..n_terms)
                .flat_map(|w| components0.iter().map(move |row| row[w]))
                .collect();
            let starts: Vec<Vec<Vec<f64>>> = case["starts"]
                .as_array()
                .unwrap()
                .iter()
                .map(matrix)
                .collect();
            let start = |t: usize, d: usize, g: &mut [f64]| g.copy_from_slice(&starts[t - 1][d]);
            let fit = fit_from(&x, &opts, initial, &start, &mut |_, _| Ok(())).unwrap();
            let e = &case["expected"];
            assert_eq!(
                fit.iterations as u64,
                e["em_iterations"].as_u64().unwrap(),
                "{name}"
            );
            assert_eq!(fit.doc_topic_prior, e["doc_topic_prior_"].as_f64().unwrap());
            assert_eq!(
                fit.topic_word_prior,
                e["topic_word_prior_"].as_f64().unwrap()
            );
            let tol = 1e-6;
            for (z, row) in matrix(&e["components_"]).iter().enumerate() {
                for (w, &want) in row.iter().enumerate() {
                    let got = fit.components[w * k + z];
                    assert!(close(got, want, tol), "{name} λ {z} {w}: {got} vs {want}");
                }
            }
            let mixtures = matrix(&e["transform"]);
            for (d, row) in matrix(&e["transform_unnormalized"]).iter().enumerate() {
                let m = fit.mixture(d).unwrap();
                for (z, &want) in row.iter().enumerate() {
                    let got = fit.doc_topics[d * k + z];
                    assert!(close(got, want, tol), "{name} γ {d} {z}: {got} vs {want}");
                    assert!(
                        (m[z] - mixtures[d][z]).abs() < tol,
                        "{name} mixture {d} {z}"
                    );
                }
            }
            let (b, p) = (e["score"].as_f64().unwrap(), e["bound_"].as_f64().unwrap());
            assert!(
                close(fit.bound, b, tol),
                "{name} bound {} vs {b}",
                fit.bound
            );
            assert!(
                close(fit.perplexity, p, tol),
                "{name} perplexity {} vs {p}",
                fit.perplexity
            );
        }
    }

    /// The random starts: Gamma(100, 1/100) draws (mean 1, sd 0.1) that differ between
    /// documents and iterations and repeat for the same ones.
    #[test]
    fn random_starts_are_per_document_streams() {
        let draw = |t: usize, d: usize| {
            let mut g = vec![0.0; 5];
            random_start(3, t, d, &mut g);
            g
        };
        assert_eq!(draw(1, 2), draw(1, 2));
        assert_ne!(draw(1, 2), draw(1, 3));
        assert_ne!(draw(1, 2), draw(2, 2));
        let all: Vec<f64> = (0..400).flat_map(|d| draw(1, d)).collect();
        let mean = all.iter().sum::<f64>() / all.len() as f64;
        let sd = (all.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / all.len() as f64).sqrt();
        assert!(
            (mean - 1.0).abs() < 0.01 && (sd - 0.1).abs() < 0.01,
            "{mean} {sd}"
        );
        let lambda = initial_components(50, 4, 3);
        assert_eq!(lambda.len(), 200);
        assert!(lambda.iter().all(|&l| l > 0.4 && l < 1.6));
    }
}
