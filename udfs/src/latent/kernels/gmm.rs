//! A one-dimensional Gaussian mixture fitted by expectation–maximisation.
//!
//! It exists because the thesis turns each scalar learning source (BPM, release year) into a
//! categorical distribution over k = 50 Gaussian components, the posterior P(component | value)
//! (§2.2.3, Table 2.1), fitted with scikit-learn's `GaussianMixture` in the authors' code. This
//! kernel follows scikit-learn's M-step, E-step and stopping rule; its start differs, and its
//! fits are checked against direct computations of the likelihood, not against scikit-learn's:
//!
//! - **Initialisation**: k centres chosen by greedy k-means++ as scikit-learn's
//!   `kmeans_plusplus` chooses them (the first with probability ∝ weight, each next one as the
//!   best, by the resulting potential Σ weight·D², of 2 + ⌊ln k⌋ candidates drawn with
//!   probability ∝ weight·D²), every value assigned wholly to its nearest centre, then one
//!   M-step. (scikit-learn's `init_params='k-means++'` gives responsibility to the k centres
//!   only, and its default `'kmeans'` runs k-means to convergence before assigning.)
//! - **M-step** with nₖ = Σᵢ rᵢₖ + 10·ε (ε the f64 machine epsilon, as scikit-learn), weights
//!   nₖ / Σ nₖ, means Σᵢ rᵢₖ xᵢ / nₖ, variances Σᵢ rᵢₖ (xᵢ − μₖ)² / nₖ + `reg_covar` (two-pass,
//!   centred).
//! - **E-step** in logs: log wₖ + log N(x | μₖ, σₖ²), responsibilities by log-sum-exp; the lower
//!   bound is the mean log-likelihood per value, (1/n) Σᵢ log Σₖ wₖ N(xᵢ | μₖ, σₖ²).
//! - **Stopping** when the lower bound changes by less than `tolerance` between two successive
//!   steps, or after `iterations` steps.
//!
//! Values are first reduced to their distinct values with counts (every sum weights a distinct
//! value by its count, which is the same likelihood): a source such as release year has a few
//! dozen distinct values among 10⁵ tracks. k must not exceed the number of distinct values: with
//! more components than values, some components could only be empty or duplicates.
//!
//! # Determinism
//! The distinct values are sorted, so the fit does not depend on the order of the input; the
//! E-step runs in parallel (rayon) with each value's responsibilities computed by one thread,
//! and every sum over values is added sequentially in sorted order, so the fit is bit-identical
//! whatever the number of threads.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::LatentError;
use crate::common::rng::Rng;

/// Settings of a Gaussian mixture fit.
#[derive(Debug, Clone, PartialEq)]
pub struct GmmOptions {
    /// The number of components k ≥ 1.
    pub k: usize,
    /// The most EM steps.
    pub iterations: usize,
    /// Stop when the lower bound changes by less than this between two steps.
    pub tolerance: f64,
    /// Added to every variance (scikit-learn's `reg_covar`), ≥ 0.
    pub reg_covar: f64,
    /// Seed of the k-means++ initialisation.
    pub seed: u64,
}

/// A mixture of one-dimensional Gaussians.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gmm {
    pub weights: Vec<f64>,
    pub means: Vec<f64>,
    pub variances: Vec<f64>,
}

/// A fitted mixture and how the fit went.
#[derive(Debug, Clone, PartialEq)]
pub struct GmmFit {
    pub gmm: Gmm,
    /// The lower bound (mean log-likelihood per value) of the initial parameters and after each
    /// EM step: `lower_bound[t]` after t steps.
    pub lower_bound: Vec<f64>,
    /// The number of EM steps run after the initialisation.
    pub steps: usize,
    /// Whether the fit stopped on `tolerance`.
    pub converged: bool,
    /// The number of values and of distinct values fitted.
    pub n: usize,
    pub distinct: usize,
}

const LN_2PI: f64 = 1.837_877_066_409_345_3;

impl Gmm {
    /// The number of components.
    pub fn k(&self) -> usize {
        self.weights.len()
    }

    /// log wₖ + log N(x | μₖ, σₖ²) for each component, into `out`.
    pub fn weighted_log_prob(&self, x: f64, out: &mut [f64]) {
        for (k, o) in out.iter_mut().enumerate() {
            let (m, v) = (self.means[k], self.variances[k]);
            let d = x - m;
            *o = self.weights[k].ln() - 0.5 * (LN_2PI + v.ln() + d * d / v);
        }
    }

    /// log p(x) = log Σₖ wₖ N(x | μₖ, σₖ²), computed with log-sum-exp.
    pub fn log_density(&self, x: f64) -> f64 {
        let mut lp = vec![0.0; self.k()];
        self.weighted_log_prob(x, &mut lp);
        log_sum_exp(&lp)
    }

    /// The responsibilities P(component k | x) into `out` (summing to 1), computed with
    /// log-sum-exp so that values far from every component still get a distribution.
    pub fn posterior(&self, x: f64, out: &mut [f64]) {
        self.weighted_log_prob(x, out);
        let lse = log_sum_exp(out);
        out.iter_mut().for_each(|v| *v = (*v - lse).exp());
    }
}

/// log Σ exp(vᵢ), stable for large and very negative vᵢ.
pub fn log_sum_exp(v: &[f64]) -> f64 {
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return max;
    }
    max + v.iter().map(|x| (x - max).exp()).sum::<f64>().ln()
}

/// The distinct values of `values` in increasing order, with how often each occurs. Every value
/// must be finite.
pub fn distinct(values: &[f64]) -> Result<(Vec<f64>, Vec<f64>), LatentError> {
    if let Some(&bad) = values.iter().find(|v| !v.is_finite()) {
        return Err(LatentError::NotFinite {
            what: "a value",
            value: bad,
        });
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let (mut xs, mut counts): (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
    for v in sorted {
        match xs.last() {
            // −0.0 and 0.0 sort next to each other and are one value.
            Some(&last) if last == v => {
                if let Some(c) = counts.last_mut() {
                    *c += 1.0;
                }
            }
            _ => {
                xs.push(v);
                counts.push(1.0);
            }
        }
    }
    Ok((xs, counts))
}

/// Greedy k-means++ centres (scikit-learn's `_kmeans_plusplus` with sample weights) of the
/// values `x` weighted by `w`. Needs k ≤ `x.len()` distinct values; the centres are distinct
/// values of `x`.
pub fn kmeans_plus_plus(x: &[f64], w: &[f64], k: usize, rng: &mut Rng) -> Vec<f64> {
    let n = x.len();
    if n == 0 || k == 0 {
        return Vec::new();
    }
    let trials = 2 + (k as f64).ln() as usize;
    // Draws an index with probability ∝ p (first i whose cumulative sum exceeds u · total).
    let draw = |p: &[f64], total: f64, rng: &mut Rng| -> usize {
        let target = rng.next_f64() * total;
        let mut acc = 0.0;
        for (i, &v) in p.iter().enumerate() {
            acc += v;
            if acc > target {
                return i;
            }
        }
        // Rounding: the last index with positive probability.
        p.iter().rposition(|&v| v > 0.0).unwrap_or(n - 1)
    };
    let total_w: f64 = w.iter().sum();
    let first = draw(w, total_w, rng);
    let mut centres = vec![x[first]];
    let mut closest: Vec<f64> = x.iter().map(|&v| (v - x[first]).powi(2)).collect();
    let mut candidate = vec![0.0; n];
    let mut best_closest = vec![0.0; n];
    while centres.len() < k {
        let pot: Vec<f64> = closest.iter().zip(w).map(|(d, w)| d * w).collect();
        let total: f64 = pot.iter().sum();
        if total <= 0.0 {
            break;
        }
        let mut best: Option<(f64, usize)> = None;
        for _ in 0..trials {
            let c = draw(&pot, total, rng);
            let mut potential = 0.0;
            for i in 0..n {
                candidate[i] = closest[i].min((x[i] - x[c]).powi(2));
                potential += candidate[i] * w[i];
            }
            if best.is_none_or(|(p, _)| potential < p) {
                best = Some((potential, c));
                best_closest.copy_from_slice(&candidate);
            }
        }
        let Some((_, c)) = best else { break };
        centres.push(x[c]);
        closest.copy_from_slice(&best_closest);
    }
    centres
}

/// The M-step from responsibilities `resp` (values × k, row-major) of the distinct values `x`
/// with counts `w`. An error when a variance is not above ε·μ² (a component on one value with
/// `reg_covar` = 0).
pub fn m_step(
    x: &[f64],
    w: &[f64],
    resp: &[f64],
    k: usize,
    reg_covar: f64,
) -> Result<Gmm, LatentError> {
    let tiny = 10.0 * f64::EPSILON;
    let mut nk = vec![tiny; k];
    let mut sx = vec![0.0; k];
    for (i, row) in resp.chunks(k).enumerate() {
        for j in 0..k {
            let r = w[i] * row[j];
            nk[j] += r;
            sx[j] += r * x[i];
        }
    }
    let means: Vec<f64> = sx.iter().zip(&nk).map(|(s, n)| s / n).collect();
    let mut ss = vec![0.0; k];
    for (i, row) in resp.chunks(k).enumerate() {
        for j in 0..k {
            let d = x[i] - means[j];
            ss[j] += w[i] * row[j] * d * d;
        }
    }
    let variances: Vec<f64> = ss.iter().zip(&nk).map(|(s, n)| s / n + reg_covar).collect();
    // A variance at or below the resolution of f64 at the mean (ε·μ²) is a component on a
    // single value: its density is not a number worth having.
    let degenerate = |j: usize| {
        let v = variances[j];
        !(v.is_finite() && v > 0.0 && v > f64::EPSILON * means[j] * means[j])
    };
    if let Some(j) = (0..k).find(|&j| degenerate(j)) {
        return Err(LatentError::IllDefined(format!(
            "component {} has variance {:e} around mean {} (it holds a single value); use fewer \
             components or a larger reg_covar",
            j + 1,
            variances[j],
            means[j]
        )));
    }
    let total: f64 = nk.iter().sum();
    Ok(Gmm {
        weights: nk.iter().map(|n| n / total).collect(),
        means,
        variances,
    })
}

/// The E-step: responsibilities of every distinct value into `resp` (values × k) and the lower
/// bound (the mean log-likelihood per value, counts as weights).
pub fn e_step(gmm: &Gmm, x: &[f64], w: &[f64], resp: &mut [f64]) -> f64 {
    let k = gmm.k();
    let mut lse = vec![0.0; x.len()];
    resp.par_chunks_mut(k)
        .zip(lse.par_iter_mut())
        .enumerate()
        .for_each(|(i, (row, l))| {
            gmm.weighted_log_prob(x[i], row);
            *l = log_sum_exp(row);
            row.iter_mut().for_each(|v| *v = (*v - *l).exp());
        });
    let n: f64 = w.iter().sum();
    lse.iter().zip(w).map(|(l, w)| l * w).sum::<f64>() / n
}

/// The initial mixture: k-means++ centres, each value assigned wholly to its nearest centre
/// (the lower one on a tie), one M-step.
pub fn initial(
    x: &[f64],
    w: &[f64],
    k: usize,
    reg_covar: f64,
    seed: u64,
) -> Result<Gmm, LatentError> {
    let mut rng = Rng::new(seed);
    let centres = kmeans_plus_plus(x, w, k, &mut rng);
    if centres.len() < k {
        return Err(LatentError::TooManyComponents {
            k,
            distinct: centres.len(),
        });
    }
    let mut resp = vec![0.0; x.len() * k];
    for (i, row) in resp.chunks_mut(k).enumerate() {
        let mut best = 0;
        for j in 1..k {
            let (dj, db) = ((x[i] - centres[j]).abs(), (x[i] - centres[best]).abs());
            if dj < db || (dj == db && centres[j] < centres[best]) {
                best = j;
            }
        }
        row[best] = 1.0;
    }
    m_step(x, w, &resp, k, reg_covar)
}

/// Fits a k-component mixture to `values` (finite numbers). `on_step(t, lower bound)` is called
/// after each step (t = 0 for the initial mixture) and stops the fit with its error.
pub fn fit(
    values: &[f64],
    options: &GmmOptions,
    on_step: &mut dyn FnMut(usize, f64) -> Result<(), LatentError>,
) -> Result<GmmFit, LatentError> {
    let k = options.k;
    if k == 0 {
        return Err(LatentError::Shape(
            "a Gaussian mixture needs k ≥ 1 components".to_string(),
        ));
    }
    if values.is_empty() {
        return Err(LatentError::Empty("there are no values".to_string()));
    }
    let (x, w) = distinct(values)?;
    if k > x.len() {
        return Err(LatentError::TooManyComponents {
            k,
            distinct: x.len(),
        });
    }
    let mut gmm = initial(&x, &w, k, options.reg_covar, options.seed)?;
    let mut resp = vec![0.0; x.len() * k];
    let mut trace: Vec<f64> = Vec::with_capacity(options.iterations + 1);
    let mut converged = false;
    loop {
        let lb = e_step(&gmm, &x, &w, &mut resp);
        let steps = trace.len();
        if let Some(&prev) = trace.last() {
            if (lb - prev).abs() < options.tolerance {
                converged = true;
            }
        }
        trace.push(lb);
        on_step(steps, lb)?;
        if converged || steps >= options.iterations {
            break;
        }
        gmm = m_step(&x, &w, &resp, k, options.reg_covar)?;
    }
    Ok(GmmFit {
        gmm,
        steps: trace.len() - 1,
        lower_bound: trace,
        converged,
        n: values.len(),
        distinct: x.len(),
    })
}

#[cfg(test)]
// The references index dense arrays as the formulas do.
#[allow(clippy::needless_range_loop)]
mod tests {
    use super::*;

    /// `n` draws from the mixture (weights, means, standard deviations).
    fn sample(n: usize, mix: &[(f64, f64, f64)], seed: u64) -> Vec<f64> {
        let mut rng = Rng::new(seed);
        (0..n)
            .map(|_| {
                let mut u = rng.next_f64();
                let mut c = mix.len() - 1;
                for (j, &(w, _, _)) in mix.iter().enumerate() {
                    if u < w {
                        c = j;
                        break;
                    }
                    u -= w;
                }
                mix[c].1 + mix[c].2 * rng.normal()
            })
            .collect()
    }

    /// The log-likelihood Σᵢ log Σₖ wₖ N(xᵢ | μₖ, σₖ²) computed directly from the density
    /// formula, value by value (no distinct values, no logs until the end).
    fn brute_log_likelihood(g: &Gmm, values: &[f64]) -> f64 {
        values
            .iter()
            .map(|&x| {
                let p: f64 = (0..g.k())
                    .map(|j| {
                        let v = g.variances[j];
                        g.weights[j] * (-(x - g.means[j]).powi(2) / (2.0 * v)).exp()
                            / (2.0 * std::f64::consts::PI * v).sqrt()
                    })
                    .sum();
                p.ln()
            })
            .sum()
    }

    fn options(k: usize) -> GmmOptions {
        GmmOptions {
            k,
            iterations: 200,
            tolerance: 1e-9,
            reg_covar: 1e-6,
            seed: 1,
        }
    }

    #[test]
    fn recovers_a_planted_three_component_mixture() {
        let planted = [(0.5, -4.0, 1.0), (0.3, 3.0, 0.5), (0.2, 10.0, 2.0)];
        let values = sample(6000, &planted, 7);
        let fit = fit(&values, &options(3), &mut |_, _| Ok(())).unwrap();
        let g = &fit.gmm;
        let mut order: Vec<usize> = (0..3).collect();
        order.sort_by(|&a, &b| g.means[a].total_cmp(&g.means[b]));
        for (j, &(w, m, s)) in order.iter().zip(&planted) {
            assert!(
                (g.weights[*j] - w).abs() < 0.03,
                "weight {} vs {w}",
                g.weights[*j]
            );
            assert!(
                (g.means[*j] - m).abs() < 0.15,
                "mean {} vs {m}",
                g.means[*j]
            );
            let sd = g.variances[*j].sqrt();
            assert!((sd - s).abs() < 0.15 * s, "sd {sd} vs {s}");
        }
        // The reported lower bound of the final mixture is the directly computed
        // log-likelihood per value.
        let direct = brute_log_likelihood(g, &values) / values.len() as f64;
        let last = *fit.lower_bound.last().unwrap();
        assert!(
            (direct - last).abs() < 1e-10 * direct.abs(),
            "{direct} vs {last}"
        );
        let by_density: f64 = values.iter().map(|&x| g.log_density(x)).sum();
        assert!((by_density / values.len() as f64 - direct).abs() < 1e-10 * direct.abs());
        assert!(fit.converged);
    }

    #[test]
    fn em_never_decreases_the_likelihood() {
        let values = sample(800, &[(0.6, 0.0, 1.0), (0.4, 2.5, 0.7)], 3);
        let opts = GmmOptions {
            k: 5,
            iterations: 150,
            tolerance: 0.0,
            reg_covar: 0.0,
            seed: 5,
        };
        let fit = fit(&values, &opts, &mut |_, _| Ok(())).unwrap();
        assert_eq!(fit.steps, 150);
        for w in fit.lower_bound.windows(2) {
            assert!(w[1] >= w[0] - 1e-12, "{} then {}", w[0], w[1]);
        }
        // Each entry is the direct log-likelihood of the mixture after that many steps:
        // rerun with fewer steps and compare.
        for t in [0, 1, 7] {
            let f = super::fit(
                &values,
                &GmmOptions {
                    iterations: t,
                    ..opts.clone()
                },
                &mut |_, _| Ok(()),
            )
            .unwrap();
            let direct = brute_log_likelihood(&f.gmm, &values) / values.len() as f64;
            assert!((direct - fit.lower_bound[t]).abs() < 1e-10 * direct.abs());
        }
    }

    #[test]
    fn posterior_sums_to_one_and_matches_bayes_rule() {
        let values = sample(500, &[(0.5, 0.0, 1.0), (0.5, 6.0, 1.0)], 9);
        let g = fit(&values, &options(4), &mut |_, _| Ok(())).unwrap().gmm;
        let mut post = vec![0.0; 4];
        for x in [-3.0, 0.0, 2.9, 6.0, 1e3, -1e6] {
            g.posterior(x, &mut post);
            let s: f64 = post.iter().sum();
            assert!((s - 1.0).abs() < 1e-12, "x = {x}: sum {s}");
            assert!(post.iter().all(|p| p.is_finite() && *p >= 0.0));
            if x.abs() < 100.0 {
                // Bayes' rule on the densities, directly.
                let dens: Vec<f64> = (0..4)
                    .map(|j| {
                        let v = g.variances[j];
                        g.weights[j] * (-(x - g.means[j]).powi(2) / (2.0 * v)).exp()
                            / (2.0 * std::f64::consts::PI * v).sqrt()
                    })
                    .collect();
                let total: f64 = dens.iter().sum();
                for j in 0..4 {
                    assert!((post[j] - dens[j] / total).abs() < 1e-12);
                }
            }
        }
    }

    #[test]
    fn too_many_components_and_bad_values_are_errors() {
        let values = [1990.0, 1991.0, 1990.0, 2001.0];
        let e = fit(&values, &options(4), &mut |_, _| Ok(())).unwrap_err();
        assert_eq!(
            e.to_string(),
            "k = 4 components exceed the 3 distinct values of the data; choose k ≤ 3"
        );
        let fit3 = fit(&values, &options(3), &mut |_, _| Ok(())).unwrap();
        let mut means = fit3.gmm.means.clone();
        means.sort_by(f64::total_cmp);
        // One component per value (up to scikit-learn's 10·ε added to each nₖ).
        for (m, want) in means.iter().zip([1990.0, 1991.0, 2001.0]) {
            assert!((m - want).abs() < 1e-9, "{means:?}");
        }
        assert!((fit3.gmm.weights.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let e = fit(&[1.0, f64::NAN], &options(1), &mut |_, _| Ok(())).unwrap_err();
        assert!(e.to_string().contains("must be finite"), "{e}");
        let e = fit(
            &values,
            &GmmOptions {
                reg_covar: 0.0,
                ..options(3)
            },
            &mut |_, _| Ok(()),
        )
        .unwrap_err();
        assert!(e.to_string().contains("reg_covar"), "{e}");
    }

    #[test]
    fn kmeans_plus_plus_picks_distinct_values() {
        let (x, w) = distinct(&[5.0, 5.0, 1.0, -0.0, 0.0, 3.0, 9.0]).unwrap();
        assert_eq!(x, vec![-0.0, 1.0, 3.0, 5.0, 9.0]);
        assert_eq!(w, vec![2.0, 1.0, 1.0, 2.0, 1.0]);
        for seed in 0..20 {
            let mut c = kmeans_plus_plus(&x, &w, 5, &mut Rng::new(seed));
            c.sort_by(f64::total_cmp);
            assert_eq!(c, x);
        }
    }

    #[test]
    fn same_bits_whatever_the_thread_count_and_input_order() {
        let values = sample(3000, &[(0.3, 100.0, 10.0), (0.7, 130.0, 15.0)], 2);
        let mut reversed = values.clone();
        reversed.reverse();
        let opts = options(6);
        let run = |threads: usize, v: &[f64]| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| fit(v, &opts, &mut |_, _| Ok(())).unwrap())
        };
        let bits = |f: &GmmFit| -> Vec<u64> {
            f.gmm
                .weights
                .iter()
                .chain(&f.gmm.means)
                .chain(&f.gmm.variances)
                .chain(&f.lower_bound)
                .map(|v| v.to_bits())
                .collect()
        };
        let a = run(1, &values);
        assert_eq!(bits(&a), bits(&run(2, &values)));
        assert_eq!(bits(&a), bits(&run(3, &reversed)));
    }
}
