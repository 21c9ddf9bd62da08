//! The lasso regularisation path by least-angle regression (LARS with the lasso modification).
//!
//! LIME's `lasso_path` feature selection computes scikit-learn's
//! `lars_path(X, y, method='lasso')` on the centred, kernel-weighted data and keeps the last point
//! of the path with at most `ω` non-zero coefficients. This module computes that path: the
//! breakpoints ("knots") `α_0 > α_1 > … ≥ 0` of the piecewise-linear solution of
//!
//! ```text
//! minimise (1 / (2 n)) ‖y − X β‖² + α ‖β‖₁
//! ```
//!
//! together with the solution `β(α_k)` at each knot (Efron, Hastie, Johnstone & Tibshirani 2004).
//! The path starts at `β = 0`, `α_0 = max_j |x_jᵀ y| / n`; at each step the active set moves along
//! the equiangular direction until an inactive variable's correlation catches up (it joins), or,
//! for the lasso, an active coefficient reaches zero (it leaves; its knot has it exactly zero).
//!
//! The step rules, tolerances and stopping rules follow scikit-learn's implementation so that the
//! same knots come out:
//!
//! - the path stops when `α ≤ ε₃₂` (float32 machine epsilon, an absolute threshold on
//!   `max |correlation| / n`), when every variable is active, after `max_iter` steps, or when `α`
//!   increases from one knot to the next (numerical breakdown; the last knot is kept);
//! - a variable whose residual norm, after projection on the active ones, is below `1e-7` is
//!   not added (scikit-learn's "degenerate regressor" rule): its correlation is set to zero and
//!   the step is retried. The variable stays a candidate, so its reset correlation can cut the
//!   next step short, and on exactly collinear columns the path may stop before reaching least
//!   squares, as scikit-learn's does;
//! - step lengths add `f32::MIN_POSITIVE` to the denominators, as scikit-learn does to avoid
//!   division by zero.
//!
//! Known differences from scikit-learn, all at the level of rounding: the Gram matrix is formed
//! once (scikit-learn works on `X` when no Gram matrix is given; same arithmetic, other rounding);
//! the Cholesky factor of the active set is rebuilt from scratch after a variable leaves
//! (scikit-learn downdates it with Givens rotations); a variable that leaves has an exactly zero
//! coefficient at its knot (scikit-learn keeps the rounding residue there, which `nonzero()` may
//! count); and ties in `argmax |correlation|` go to the lowest feature index (scikit-learn's
//! order depends on its internal column swaps).

use nalgebra::{DMatrix, DVector};

use super::{check_finite, invalid, ExplainError};

/// scikit-learn's default `max_iter` for `lars_path`.
pub const DEFAULT_MAX_ITER: usize = 500;

/// The absolute tolerance on `α` below which the path stops (`np.finfo(np.float32).eps`).
const EQUALITY_TOLERANCE: f64 = f32::EPSILON as f64;

/// Added to denominators to avoid division by zero (`np.finfo(np.float32).tiny`).
const TINY32: f64 = f32::MIN_POSITIVE as f64;

/// Residual norm below which a joining variable is considered degenerate.
const DEGENERATE_PIVOT: f64 = 1e-7;

/// The lasso path: knot `k` is `(alphas[k], coefs[k])`.
#[derive(Clone, Debug, PartialEq)]
pub struct LassoPath {
    /// `α` at each knot (`max |correlation| / n`), non-increasing.
    pub alphas: Vec<f64>,
    /// The coefficients at each knot, one vector of length `features` per knot; `coefs[0]` is
    /// all zeros.
    pub coefs: Vec<Vec<f64>>,
    /// How many times a variable left the active set (a lasso step).
    pub drops: usize,
}

/// The smallest strictly positive value of `values`, or `f64::MAX` when there is none
/// (scikit-learn's `min_pos`).
fn min_pos(values: impl Iterator<Item = f64>) -> f64 {
    values.filter(|&v| v > 0.0).fold(f64::MAX, f64::min)
}

/// Lower-triangular Cholesky factor of the active set's Gram matrix, grown one row at a time.
struct ActiveCholesky {
    /// Row `r` holds `L[r, 0..=r]`.
    rows: Vec<Vec<f64>>,
}

impl ActiveCholesky {
    fn new() -> ActiveCholesky {
        ActiveCholesky { rows: Vec::new() }
    }

    /// Solves `L z = b` (forward substitution).
    fn forward(&self, b: &[f64]) -> Vec<f64> {
        let mut z = Vec::with_capacity(b.len());
        for (r, row) in self.rows.iter().enumerate() {
            let s: f64 = row[..r].iter().zip(&z).map(|(l, v)| l * v).sum();
            z.push((b[r] - s) / row[r]);
        }
        z
    }

    /// Solves `L Lᵀ x = b`.
    fn solve(&self, b: &[f64]) -> Vec<f64> {
        let mut x = self.forward(b);
        let m = self.rows.len();
        for r in (0..m).rev() {
            let s: f64 = ((r + 1)..m).map(|c| self.rows[c][r] * x[c]).sum();
            x[r] = (x[r] - s) / self.rows[r][r];
        }
        x
    }

    /// The new row for a variable with Gram column `g_active` (its inner products with the
    /// active variables) and squared norm `c`, and its diagonal entry, without appending it.
    fn candidate_row(&self, g_active: &[f64], c: f64) -> (Vec<f64>, f64) {
        let w = self.forward(g_active);
        let v: f64 = w.iter().map(|x| x * x).sum();
        let diag = (c - v).abs().sqrt().max(f64::EPSILON);
        (w, diag)
    }

    fn push(&mut self, mut w: Vec<f64>, diag: f64) {
        w.push(diag);
        self.rows.push(w);
    }

    /// Rebuilds the factor for the variables `active` (in order).
    fn rebuild(gram: &DMatrix<f64>, active: &[usize]) -> ActiveCholesky {
        let mut chol = ActiveCholesky::new();
        for (m, &j) in active.iter().enumerate() {
            let g: Vec<f64> = active[..m].iter().map(|&a| gram[(a, j)]).collect();
            let (w, diag) = chol.candidate_row(&g, gram[(j, j)]);
            chol.push(w, diag);
        }
        chol
    }

    /// A copy with `jitter` added to the diagonal.
    fn jittered(&self, jitter: f64) -> ActiveCholesky {
        let rows = self
            .rows
            .iter()
            .enumerate()
            .map(|(r, row)| {
                let mut row = row.clone();
                row[r] += jitter;
                row
            })
            .collect();
        ActiveCholesky { rows }
    }
}

/// Computes the LARS-lasso path of `y` on the columns of `x` (samples × features), as
/// scikit-learn's `lars_path(x, y, method='lasso', max_iter=max_iter)`.
///
/// The caller centres the data if it wants an intercept (LIME does). Errors when the lengths
/// disagree, there is no sample or no feature, or a value is not finite.
pub fn lasso_path(x: &DMatrix<f64>, y: &[f64], max_iter: usize) -> Result<LassoPath, ExplainError> {
    let (n, d) = x.shape();
    if n == 0 || d == 0 {
        return invalid(format!("empty data ({n} samples, {d} features)"));
    }
    if y.len() != n {
        return invalid(format!("{n} samples but {} labels", y.len()));
    }
    check_finite(y, "labels")?;
    if x.iter().any(|v| !v.is_finite()) {
        return invalid("data contains a non-finite value");
    }
    let y = DVector::from_column_slice(y);
    let gram = x.tr_mul(x);
    let xy: Vec<f64> = x.tr_mul(&y).iter().copied().collect();
    lasso_path_gram(&gram, &xy, n, max_iter)
}

/// [`lasso_path`] from the sufficient statistics `gram = XᵀX`, `xy = Xᵀy` and the number of
/// samples `n_samples` (which scales `α`), as scikit-learn's `lars_path_gram`.
///
/// Errors when `gram` is not square, `xy` does not match it, there is no feature or sample, or a
/// value is not finite.
pub fn lasso_path_gram(
    gram: &DMatrix<f64>,
    xy: &[f64],
    n_samples: usize,
    max_iter: usize,
) -> Result<LassoPath, ExplainError> {
    let d = xy.len();
    if d == 0 || n_samples == 0 {
        return invalid(format!("empty data ({n_samples} samples, {d} features)"));
    }
    if gram.shape() != (d, d) {
        return invalid(format!(
            "Gram matrix is {:?} for {d} features",
            gram.shape()
        ));
    }
    check_finite(xy, "Xᵀy")?;
    if gram.iter().any(|v| !v.is_finite()) {
        return invalid("Gram matrix contains a non-finite value");
    }
    let n_samples = n_samples as f64;

    let mut cov: Vec<f64> = xy.to_vec();
    let mut is_active = vec![false; d];
    let mut active: Vec<usize> = Vec::new();
    let mut sign: Vec<f64> = Vec::new();
    let mut chol = ActiveCholesky::new();
    let mut coef = vec![0.0; d];
    let mut alphas: Vec<f64> = Vec::new();
    let mut coefs: Vec<Vec<f64>> = Vec::new();
    let mut drops = 0usize;
    let mut drop = false;
    let mut n_iter = 0usize;

    loop {
        // The largest correlation among the inactive variables (lowest index on ties).
        let mut c_idx: Option<usize> = None;
        let mut c_signed: f64 = 0.0;
        for j in (0..d).filter(|&j| !is_active[j]) {
            if c_idx.is_none() || cov[j].abs() > c_signed.abs() {
                c_idx = Some(j);
                c_signed = cov[j];
            }
        }
        let c = c_signed.abs();
        let alpha = c / n_samples;
        if alpha <= EQUALITY_TOLERANCE || n_iter >= max_iter || active.len() >= d {
            alphas.push(alpha);
            coefs.push(coef);
            break;
        }

        if !drop {
            let Some(j) = c_idx else {
                alphas.push(alpha);
                coefs.push(coef);
                break;
            };
            let g: Vec<f64> = active.iter().map(|&a| gram[(a, j)]).collect();
            let (w, diag) = chol.candidate_row(&g, gram[(j, j)]);
            if diag < DEGENERATE_PIVOT {
                // Degenerate regressor: scikit-learn zeroes its correlation and tries again.
                cov[j] = 0.0;
                continue;
            }
            chol.push(w, diag);
            active.push(j);
            is_active[j] = true;
            sign.push(if c_signed > 0.0 {
                1.0
            } else if c_signed < 0.0 {
                -1.0
            } else {
                0.0
            });
        }

        if let Some(&prev_alpha) = alphas.last() {
            if prev_alpha < alpha {
                // α increased: rounding now dominates the remaining correlations.
                alphas.push(alpha);
                coefs.push(coef);
                break;
            }
        }

        // Equiangular direction: least_squares = AA · G_A⁻¹ s, AA = (sᵀ G_A⁻¹ s)^(-1/2).
        let mut least_squares = chol.solve(&sign);
        let aa;
        if least_squares.len() == 1 && least_squares[0] == 0.0 {
            least_squares[0] = 1.0;
            aa = 1.0;
        } else {
            let s: f64 = least_squares.iter().zip(&sign).map(|(a, b)| a * b).sum();
            let mut a = 1.0 / s.sqrt();
            let mut attempt = 0i32;
            while !a.is_finite() {
                if attempt > 60 {
                    return Err(ExplainError::Numerical(
                        "LARS: the active set is too ill-conditioned".into(),
                    ));
                }
                let jittered = chol.jittered(2f64.powi(attempt) * f64::EPSILON);
                least_squares = jittered.solve(&sign);
                let s: f64 = least_squares.iter().zip(&sign).map(|(a, b)| a * b).sum();
                a = 1.0 / s.max(f64::EPSILON).sqrt();
                attempt += 1;
            }
            aa = a;
            for v in least_squares.iter_mut() {
                *v *= aa;
            }
        }

        // Correlation of each inactive variable with the equiangular direction.
        let corr_eq_dir: Vec<f64> = (0..d)
            .map(|j| {
                if is_active[j] {
                    0.0
                } else {
                    active
                        .iter()
                        .zip(&least_squares)
                        .map(|(&a, l)| gram[(j, a)] * l)
                        .sum()
                }
            })
            .collect();
        let inactive = || (0..d).filter(|&j| !is_active[j]);
        let g1 = min_pos(inactive().map(|j| (c - cov[j]) / (aa - corr_eq_dir[j] + TINY32)));
        let g2 = min_pos(inactive().map(|j| (c + cov[j]) / (aa + corr_eq_dir[j] + TINY32)));
        let mut gamma = g1.min(g2).min(c / aa);

        // Lasso modification: stop where an active coefficient would change sign.
        let z: Vec<f64> = active
            .iter()
            .zip(&least_squares)
            .map(|(&a, l)| -coef[a] / (l + TINY32))
            .collect();
        let z_pos = min_pos(z.iter().copied());
        let mut dropped: Vec<usize> = Vec::new();
        drop = false;
        if z_pos < gamma {
            dropped = (0..active.len()).filter(|&m| z[m] == z_pos).collect();
            gamma = z_pos;
            drop = true;
        }

        n_iter += 1;
        alphas.push(alpha);
        let mut next = vec![0.0; d];
        for (&a, l) in active.iter().zip(&least_squares) {
            next[a] = coef[a] + gamma * l;
        }
        for j in 0..d {
            if !is_active[j] {
                cov[j] -= gamma * corr_eq_dir[j];
            }
        }
        coefs.push(std::mem::replace(&mut coef, next));

        if drop {
            drops += 1;
            let leaving: Vec<usize> = dropped.iter().map(|&m| active[m]).collect();
            // Remove from the back so that the positions stay valid.
            for &m in dropped.iter().rev() {
                active.remove(m);
                sign.remove(m);
            }
            for &j in &leaving {
                is_active[j] = false;
                coef[j] = 0.0;
            }
            for &j in &leaving {
                // The leaving variable's correlation with the current residual.
                let fitted: f64 = active.iter().map(|&a| gram[(j, a)] * coef[a]).sum();
                cov[j] = xy[j] - fitted;
            }
            chol = ActiveCholesky::rebuild(gram, &active);
        }
    }

    for (k, v) in coefs.iter().enumerate() {
        if v.iter().any(|c| !c.is_finite()) {
            return Err(ExplainError::Numerical(format!(
                "LARS: knot {k} has a non-finite coefficient"
            )));
        }
    }
    Ok(LassoPath {
        alphas,
        coefs,
        drops,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::common::rng::Rng;

    /// Independent lasso solver: cyclic coordinate descent on
    /// (1 / (2n)) ‖y − Xβ‖² + α ‖β‖₁, run to a tight tolerance.
    pub(crate) fn lasso_cd(x: &DMatrix<f64>, y: &[f64], alpha: f64) -> Vec<f64> {
        let (n, d) = x.shape();
        let nf = n as f64;
        let norms: Vec<f64> = (0..d).map(|j| x.column(j).norm_squared() / nf).collect();
        let mut beta = vec![0.0; d];
        let mut resid = y.to_vec();
        for _ in 0..200_000 {
            let mut max_change: f64 = 0.0;
            for j in 0..d {
                let rho: f64 =
                    (0..n).map(|k| x[(k, j)] * resid[k]).sum::<f64>() / nf + norms[j] * beta[j];
                let new = rho.signum() * (rho.abs() - alpha).max(0.0) / norms[j];
                let delta = new - beta[j];
                if delta != 0.0 {
                    for (k, r) in resid.iter_mut().enumerate() {
                        *r -= x[(k, j)] * delta;
                    }
                    beta[j] = new;
                    max_change = max_change.max(delta.abs());
                }
            }
            if max_change < 1e-15 {
                break;
            }
        }
        beta
    }

    /// A random problem; `mixing > 0` correlates the columns (which makes lasso drops likely).
    fn problem(n: usize, d: usize, mixing: f64, rng: &mut Rng) -> (DMatrix<f64>, Vec<f64>) {
        let g = DMatrix::from_fn(n, d, |_, _| rng.normal());
        let shared: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
        let x = DMatrix::from_fn(n, d, |k, j| {
            g[(k, j)] + mixing * shared[k] * (1.0 + j as f64 * 0.1)
        });
        let beta: Vec<f64> = (0..d)
            .map(|j| if j % 2 == 0 { rng.normal() * 2.0 } else { 0.0 })
            .collect();
        let y: Vec<f64> = (0..n)
            .map(|k| (0..d).map(|j| x[(k, j)] * beta[j]).sum::<f64>() + rng.normal())
            .collect();
        (x, y)
    }

    pub(crate) fn check_path_against_cd(x: &DMatrix<f64>, y: &[f64], path: &LassoPath) {
        let scale = path
            .coefs
            .iter()
            .flatten()
            .fold(1.0f64, |m, v| m.max(v.abs()));
        for (k, (alpha, coefs)) in path.alphas.iter().zip(&path.coefs).enumerate() {
            if *alpha <= 1e-6 {
                continue;
            }
            let cd = lasso_cd(x, y, *alpha);
            for (j, (a, b)) in coefs.iter().zip(&cd).enumerate() {
                assert!(
                    (a - b).abs() < 1e-7 * scale,
                    "knot {k} (alpha {alpha}), coefficient {j}: lars {a} vs cd {b}"
                );
            }
        }
    }

    #[test]
    fn knots_agree_with_coordinate_descent() {
        let mut rng = Rng::new(1);
        let mut drops = 0;
        for trial in 0..60 {
            let d = 2 + trial % 7;
            let n = d + 5 + (trial * 7) % 30;
            let mixing = [0.0, 1.0, 3.0][trial % 3];
            let (x, y) = problem(n, d, mixing, &mut rng);
            let path = lasso_path(&x, &y, DEFAULT_MAX_ITER).unwrap();
            drops += path.drops;
            check_path_against_cd(&x, &y, &path);
        }
        // The lasso modification (a coefficient leaving the active set) was exercised.
        assert!(drops > 0, "no drop in any test problem");
    }

    #[test]
    fn path_shape_and_endpoints() {
        let mut rng = Rng::new(2);
        for trial in 0..30 {
            let d = 1 + trial % 6;
            let n = d + 10;
            let (x, y) = problem(n, d, (trial % 3) as f64, &mut rng);
            let path = lasso_path(&x, &y, DEFAULT_MAX_ITER).unwrap();
            assert_eq!(path.alphas.len(), path.coefs.len());
            assert!(path.coefs[0].iter().all(|&c| c == 0.0));
            let yv = DVector::from_column_slice(&y);
            let xty = x.tr_mul(&yv);
            let alpha0 = xty.iter().fold(0.0f64, |m, v| m.max(v.abs())) / n as f64;
            assert!((path.alphas[0] - alpha0).abs() < 1e-12 * alpha0);
            for w in path.alphas.windows(2) {
                assert!(w[1] <= w[0] + 1e-12, "alphas increase: {:?}", path.alphas);
            }
            // Without drops, knot k has exactly k active variables.
            if path.drops == 0 {
                for (k, c) in path.coefs.iter().enumerate().take(d + 1) {
                    assert_eq!(c.iter().filter(|&&v| v != 0.0).count(), k);
                }
            }
            // With more samples than features the path ends at least squares.
            let ols = (x.tr_mul(&x)).lu().solve(&xty).unwrap();
            let last = path.coefs.last().unwrap();
            for (a, b) in last.iter().zip(ols.iter()) {
                assert!((a - b).abs() < 1e-8 * (1.0 + b.abs()), "{a} vs ols {b}");
            }
            assert!(*path.alphas.last().unwrap() <= EQUALITY_TOLERANCE);
        }
    }

    #[test]
    fn zero_labels_give_a_single_knot() {
        let x = DMatrix::from_fn(5, 3, |k, j| (k * 3 + j) as f64);
        let path = lasso_path(&x, &[0.0; 5], DEFAULT_MAX_ITER).unwrap();
        assert_eq!(path.alphas, vec![0.0]);
        assert_eq!(path.coefs, vec![vec![0.0; 3]]);
    }

    #[test]
    fn duplicate_column_is_never_added() {
        // Columns 0 and 1 are identical: when column 1 would join it is degenerate, so (as in
        // scikit-learn) its correlation is set to zero and column 2 joins instead. Its zeroed
        // correlation then limits the next step (to C / (2 AA)), after which column 1 ties with
        // the active set, is rejected again, and the path stops with α = 0 short of least
        // squares: scikit-learn's path on this problem stops at the same place.
        let mut rng = Rng::new(8);
        let n = 20;
        let base: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
        let other: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
        let x = DMatrix::from_fn(n, 3, |k, j| if j < 2 { base[k] } else { other[k] });
        let y: Vec<f64> = (0..n).map(|k| 3.0 * base[k] - other[k]).collect();
        let path = lasso_path(&x, &y, DEFAULT_MAX_ITER).unwrap();
        assert!(path.coefs.iter().all(|c| c[1] == 0.0), "{path:?}");
        assert_eq!(path.coefs.len(), 3, "{path:?}");
        assert_eq!(*path.alphas.last().unwrap(), 0.0);
        // The knots before the degenerate rejection are still lasso solutions (the lasso on
        // this design is solved by putting all of the shared effect on column 0).
        for k in 0..2 {
            let cd = lasso_cd(&x, &y, path.alphas[k]);
            let c = &path.coefs[k];
            assert!((c[0] - (cd[0] + cd[1])).abs() < 1e-8 && (c[2] - cd[2]).abs() < 1e-8);
        }
    }

    #[test]
    fn max_iter_truncates_the_path() {
        let mut rng = Rng::new(3);
        let (x, y) = problem(30, 6, 0.0, &mut rng);
        let path = lasso_path(&x, &y, 2).unwrap();
        assert_eq!(path.coefs.len(), 3);
        let full = lasso_path(&x, &y, DEFAULT_MAX_ITER).unwrap();
        assert_eq!(path.coefs[..], full.coefs[..3]);
    }

    #[test]
    fn rejects_bad_input() {
        let x = DMatrix::from_element(3, 2, 1.0);
        assert!(lasso_path(&x, &[1.0, 2.0], 10).is_err());
        assert!(lasso_path(&x, &[1.0, f64::NAN, 2.0], 10).is_err());
        assert!(lasso_path(&DMatrix::zeros(3, 0), &[1.0, 2.0, 3.0], 10).is_err());
        assert!(lasso_path(&DMatrix::zeros(0, 2), &[], 10).is_err());
    }
}
