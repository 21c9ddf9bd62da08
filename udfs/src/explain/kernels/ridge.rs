//! Weighted ridge regression with an intercept, and the weighted coefficient of determination, as
//! scikit-learn computes them.
//!
//! LIME fits its local surrogate, and two of its feature-selection methods score candidate
//! feature sets, with scikit-learn's `Ridge(alpha, fit_intercept=True).fit(X, y, sample_weight=w)`
//! and `.score(X, y, sample_weight=w)`. To reproduce LIME's choices the same estimator is needed:
//!
//! ```text
//! x̄ = Σ_k w_k x_k / Σ_k w_k,   ȳ = Σ_k w_k y_k / Σ_k w_k          (weighted means)
//! (X_cᵀ W X_c + α I) β = X_cᵀ W y_c,   X_c = X − 1 x̄ᵀ,  y_c = y − ȳ    (weights not normalised)
//! intercept = ȳ − x̄ᵀ β
//! R² = 1 − Σ_k w_k (y_k − ŷ_k)² / Σ_k w_k (y_k − ȳ)²
//! ```
//!
//! with scikit-learn's convention for a constant target (zero denominator): `R² = 1` when the fit
//! is exact, `0` otherwise.
//!
//! [`WeightedDesign`] centres and weights the data once (`X_s = √W X_c`, `y_s = √W y_c`) and keeps
//! the Gram matrix `X_sᵀ X_s` and `X_sᵀ y_s`, so that fitting any subset of the columns (as
//! forward selection does many times) costs a `k × k` solve plus one pass for the score.
//!
//! The `k × k` system is solved by Cholesky. When it is singular or nearly so (`α = 0` with
//! collinear columns, or a column constant over the weighted samples), the solution is taken
//! instead from the SVD of `X_s` restricted to the columns: `β = V diag(σ / (σ² + α)) Uᵀ y_s`,
//! with singular values below `σ_max · max(n, k) · ε` dropped; for `α = 0` this is the
//! minimum-norm least-squares solution. scikit-learn does the same when its Cholesky solve
//! raises (it falls back to its SVD solver, which drops singular values below `1e-15`); for a
//! nearly singular system that LAPACK still factorises it keeps the ill-conditioned solution,
//! where this module switches to the SVD earlier (when the smallest squared pivot falls below
//! `1e-10` of the largest diagonal entry), so the two may differ on such degenerate designs.

use nalgebra::{DMatrix, DVector};

use super::{check_finite, invalid, ExplainError};
use crate::common::thin_gemm;
use crate::transfer::kernels::linalg::dot;

/// Pivot ratio below which the Cholesky solve is considered unreliable and the SVD is used.
const PIVOT_RATIO: f64 = 1e-10;

/// A fitted ridge model: `ŷ = intercept + Σ_c coef[c] · x[cols[c]]`.
#[derive(Clone, Debug, PartialEq)]
pub struct RidgeFit {
    /// One coefficient per fitted column, in the order the columns were given.
    pub coef: Vec<f64>,
    /// The intercept `ȳ − x̄ᵀ β`.
    pub intercept: f64,
}

/// A data set centred and weighted once, ready for ridge fits on any subset of its columns.
#[derive(Clone, Debug)]
pub struct WeightedDesign {
    /// Weighted column means `x̄`.
    x_mean: Vec<f64>,
    /// Weighted mean of the labels `ȳ`.
    y_mean: f64,
    /// Number of features (columns).
    d: usize,
    /// `√w_k (x_k − x̄)`, row-major: one row of `d` values per sample.
    xs: Vec<f64>,
    /// `√w_k (y_k − ȳ)`.
    ys: DVector<f64>,
    /// `X_sᵀ X_s`.
    gram: DMatrix<f64>,
    /// `X_sᵀ y_s`.
    xty: DVector<f64>,
    /// `xs` column-major (one column of n values per feature), made by
    /// [`Self::prepare_columns`]: [`Self::r2`]'s residuals then run down contiguous columns.
    columns: std::sync::OnceLock<Vec<f64>>,
}

impl WeightedDesign {
    /// Centres `x` (samples × features) and `y` by their `w`-weighted means and scales each
    /// sample by `√w_k`.
    ///
    /// Errors when the lengths disagree, there is no sample, a value is not finite, a weight is
    /// negative, or the weights sum to zero (the weighted means are then undefined).
    pub fn new(x: &DMatrix<f64>, y: &[f64], w: &[f64]) -> Result<WeightedDesign, ExplainError> {
        let (n, d) = x.shape();
        // The transpose's column-major storage is `x` row by row.
        WeightedDesign::from_rows(x.transpose().as_slice(), n, d, y, w)
    }

    /// [`WeightedDesign::new`] for data given row-major: `x` holds `n` rows of `d` values.
    pub fn from_rows(
        x: &[f64],
        n: usize,
        d: usize,
        y: &[f64],
        w: &[f64],
    ) -> Result<WeightedDesign, ExplainError> {
        if n == 0 {
            return invalid("no samples");
        }
        if x.len() != n * d {
            return invalid(format!("{} data values for {n} samples of {d}", x.len()));
        }
        if y.len() != n || w.len() != n {
            return invalid(format!(
                "{n} samples but {} labels and {} weights",
                y.len(),
                w.len()
            ));
        }
        check_finite(y, "labels")?;
        check_finite(w, "weights")?;
        // The checks of the data and weights come in this order; the passes over the data
        // check it first, and their results are dropped on any error.
        let w_sum: f64 = w.iter().sum();
        let mut x_mean = vec![0.0f64; d];
        let mut xs = vec![0.0f64; n * d];
        if !centre_rows(x, d, w, w_sum, &mut x_mean, &mut xs) {
            let k = x.iter().position(|v| !v.is_finite()).unwrap_or(0);
            return invalid(format!(
                "data value of sample {}, feature {} is not finite",
                k / d,
                k % d
            ));
        }
        if let Some(k) = w.iter().position(|&v| v < 0.0) {
            return invalid(format!("weights[{k}] is negative ({})", w[k]));
        }
        if w_sum <= 0.0 {
            return invalid("the weights sum to zero");
        }
        let y_mean = dot(y, w) / w_sum;
        let ys = DVector::from_iterator(n, y.iter().zip(w).map(|(v, wk)| (v - y_mean) * wk.sqrt()));
        // X_sᵀ X_s and X_sᵀ y_s on this thread (explanations run in parallel), read in place on an
        // AVX-512 CPU.
        let mut gram = DMatrix::zeros(d, d);
        let mut xty = DVector::zeros(d);
        thin_gemm::gram_and_xty(
            &xs,
            n,
            d,
            ys.as_slice(),
            gram.as_mut_slice(),
            xty.as_mut_slice(),
        );
        Ok(WeightedDesign {
            x_mean,
            y_mean,
            d,
            xs,
            ys,
            gram,
            xty,
            columns: std::sync::OnceLock::new(),
        })
    }

    /// Number of samples.
    pub fn samples(&self) -> usize {
        self.ys.len()
    }

    /// Number of features (columns).
    pub fn features(&self) -> usize {
        self.d
    }

    /// The centred, weighted data `√W (X − 1 x̄ᵀ)` (what LIME's `lasso_path` passes to LARS).
    pub fn weighted_data(&self) -> DMatrix<f64> {
        DMatrix::from_row_slice(self.samples(), self.d, &self.xs)
    }

    /// The centred, weighted labels `√W (y − ȳ)`.
    pub fn weighted_labels(&self) -> &DVector<f64> {
        &self.ys
    }

    /// The Gram matrix of the weighted data, `X_sᵀ X_s`.
    pub fn gram(&self) -> &DMatrix<f64> {
        &self.gram
    }

    /// `X_sᵀ y_s`.
    pub fn weighted_xty(&self) -> &DVector<f64> {
        &self.xty
    }

    /// Checks that every column index is in range and appears once.
    fn check_cols(&self, cols: &[usize]) -> Result<(), ExplainError> {
        let d = self.features();
        let mut seen = vec![false; d];
        for &c in cols {
            if c >= d {
                return invalid(format!("column {c} out of range (features: {d})"));
            }
            if seen[c] {
                return invalid(format!("column {c} given twice"));
            }
            seen[c] = true;
        }
        Ok(())
    }

    /// Fits ridge regression with penalty `alpha ≥ 0` and an intercept on the columns `cols`
    /// (distinct, in range; may be empty, which fits the weighted mean).
    pub fn fit(&self, cols: &[usize], alpha: f64) -> Result<RidgeFit, ExplainError> {
        if !(alpha.is_finite() && alpha >= 0.0) {
            return invalid(format!(
                "ridge penalty must be finite and >= 0, got {alpha}"
            ));
        }
        self.check_cols(cols)?;
        let k = cols.len();
        let coef: Vec<f64> = if k == 0 {
            Vec::new()
        } else {
            let a = DMatrix::from_fn(k, k, |r, c| {
                self.gram[(cols[r], cols[c])] + if r == c { alpha } else { 0.0 }
            });
            let b = DVector::from_fn(k, |r, _| self.xty[cols[r]]);
            match self.solve_cholesky(&a, &b) {
                Some(beta) => beta,
                None => self.solve_svd(cols, alpha)?,
            }
        };
        if let Some(c) = coef.iter().position(|v| !v.is_finite()) {
            return Err(ExplainError::Numerical(format!(
                "ridge coefficient {c} is not finite"
            )));
        }
        let intercept = self.y_mean
            - cols
                .iter()
                .zip(&coef)
                .map(|(&c, b)| self.x_mean[c] * b)
                .sum::<f64>();
        Ok(RidgeFit { coef, intercept })
    }

    /// Solves `a β = b` by Cholesky; `None` when `a` is not (numerically) positive definite.
    fn solve_cholesky(&self, a: &DMatrix<f64>, b: &DVector<f64>) -> Option<Vec<f64>> {
        let max_diag = a.diagonal().iter().fold(0.0f64, |m, v| m.max(*v));
        let chol = a.clone().cholesky()?;
        let l = chol.l_dirty();
        let min_pivot = (0..a.nrows())
            .map(|i| l[(i, i)] * l[(i, i)])
            .fold(f64::INFINITY, f64::min);
        if min_pivot.is_nan() || min_pivot <= PIVOT_RATIO * max_diag {
            return None;
        }
        let beta = chol.solve(b);
        if beta.iter().all(|v| v.is_finite()) {
            Some(beta.iter().copied().collect())
        } else {
            None
        }
    }

    /// The ridge solution from the SVD of `X_s[:, cols]` (minimum-norm least squares when
    /// `alpha = 0`).
    fn solve_svd(&self, cols: &[usize], alpha: f64) -> Result<Vec<f64>, ExplainError> {
        let n = self.samples();
        let k = cols.len();
        let sub = DMatrix::from_fn(n, k, |r, c| self.xs[r * self.d + cols[c]]);
        let svd = sub.svd(true, true);
        let (u, v_t) = match (&svd.u, &svd.v_t) {
            (Some(u), Some(v_t)) => (u, v_t),
            _ => return Err(ExplainError::Numerical("SVD did not converge".into())),
        };
        let sigma = &svd.singular_values;
        let s_max = sigma.iter().fold(0.0f64, |m, v| m.max(*v));
        let tol = s_max * (n.max(k) as f64) * f64::EPSILON;
        let uty = u.tr_mul(&self.ys);
        let scaled = DVector::from_fn(sigma.len(), |r, _| {
            let s = sigma[r];
            if s > tol {
                uty[r] * s / (s * s + alpha)
            } else {
                0.0
            }
        });
        let beta = v_t.tr_mul(&scaled);
        Ok(beta.iter().copied().collect())
    }

    /// Makes the column-major copy of the weighted data that [`Self::r2`] then reads: worth it
    /// before many R²s (forward selection's), not before one (it costs a pass over all the
    /// data).
    pub fn prepare_columns(&self) {
        let n = self.samples();
        self.columns.get_or_init(|| {
            let mut t = vec![0.0f64; self.xs.len()];
            for (k, row) in self.xs.chunks_exact(self.d.max(1)).enumerate() {
                for (c, &v) in row.iter().enumerate() {
                    t[c * n + k] = v;
                }
            }
            t
        });
    }

    /// The weighted `R²` of `fit` (fitted on `cols`) on this data set, as scikit-learn's
    /// `score(X, y, sample_weight)`: `1 − SSE / SST`, or, when `SST = 0`, `1` for an exact fit and
    /// `0` otherwise.
    pub fn r2(&self, cols: &[usize], fit: &RidgeFit) -> Result<f64, ExplainError> {
        self.check_cols(cols)?;
        if fit.coef.len() != cols.len() {
            return invalid(format!(
                "{} coefficients for {} columns",
                fit.coef.len(),
                cols.len()
            ));
        }
        // y − ŷ = (y − ȳ) − (x − x̄)ᵀβ exactly, because the intercept is ȳ − x̄ᵀβ; each residual
        // subtracts the columns' terms in the order of `cols`: column by column over all samples
        // where the column-major copy exists (see [`Self::prepare_columns`]), which is the same
        // sequence of operations for each sample as row by row.
        let mut e = self.ys.clone();
        // As a slice: nalgebra's iterator steps by a stride and does not vectorise.
        let residuals = e.as_mut_slice();
        match self.columns.get() {
            Some(columns) => {
                let n = self.samples();
                for (&c, &b) in cols.iter().zip(&fit.coef) {
                    let column = &columns[c * n..(c + 1) * n];
                    for (ek, x) in residuals.iter_mut().zip(column) {
                        *ek -= b * x;
                    }
                }
            }
            None => {
                for (ek, row) in residuals
                    .iter_mut()
                    .zip(self.xs.chunks_exact(self.d.max(1)))
                {
                    for (&c, &b) in cols.iter().zip(&fit.coef) {
                        *ek -= b * row[c];
                    }
                }
            }
        }
        let sse = e.norm_squared();
        let sst: f64 = self.ys.iter().map(|v| v * v).sum();
        Ok(r2_from_sums(sse, sst))
    }
}

/// [`WeightedDesign::from_rows`]'s passes over the data (`x`: rows of `d` values, weights `w`
/// summing to `w_sum > 0`): the weighted column means `x̄` into `x_mean` (each column's sum taken
/// row by row) and the rows `√w_k (x_k − x̄)` into `xs`. Returns `false`, leaving the outputs
/// unspecified, when a value of `x` is not finite. (The caller rejects weights that are negative
/// or sum to zero, after this.)
///
/// The operations are elementwise across a row's columns, so the wider registers of the
/// AVX-512 copy compute the same values as the portable loop, bit for bit (no fused
/// multiply-adds: Rust never contracts `a * b + c`).
fn centre_rows(
    x: &[f64],
    d: usize,
    w: &[f64],
    w_sum: f64,
    x_mean: &mut [f64],
    xs: &mut [f64],
) -> bool {
    #[cfg(target_arch = "x86_64")]
    if crate::common::simd::level().has_avx512() {
        // SAFETY: the CPU reported AVX-512F, AVX-512VL, AVX2 and FMA.
        return unsafe { centre_rows_avx512(x, d, w, w_sum, x_mean, xs) };
    }
    centre_rows_portable(x, d, w, w_sum, x_mean, xs)
}

/// # Safety
/// The CPU must support AVX-512F and AVX-512VL.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,avx512f,avx512vl")]
unsafe fn centre_rows_avx512(
    x: &[f64],
    d: usize,
    w: &[f64],
    w_sum: f64,
    x_mean: &mut [f64],
    xs: &mut [f64],
) -> bool {
    centre_rows_portable(x, d, w, w_sum, x_mean, xs)
}

#[inline(always)]
fn centre_rows_portable(
    x: &[f64],
    d: usize,
    w: &[f64],
    w_sum: f64,
    x_mean: &mut [f64],
    xs: &mut [f64],
) -> bool {
    // Not finite: all exponent bits set. Or-ed over blocks without a branch per value.
    const EXPONENT: u64 = 0x7ff0_0000_0000_0000;
    let finite = x.chunks(256).all(|block| {
        block.iter().fold(0u64, |bad, v| {
            bad | u64::from(v.to_bits() & EXPONENT == EXPONENT)
        }) == 0
    });
    if !finite {
        return false;
    }
    let d = d.max(1);
    x_mean.fill(0.0);
    for (row, wk) in x.chunks_exact(d).zip(w) {
        for (m, v) in x_mean.iter_mut().zip(row) {
            *m += v * wk;
        }
    }
    x_mean.iter_mut().for_each(|m| *m /= w_sum);
    for ((row, out), wk) in x.chunks_exact(d).zip(xs.chunks_exact_mut(d)).zip(w) {
        let s = wk.sqrt();
        for ((o, v), m) in out.iter_mut().zip(row).zip(&*x_mean) {
            *o = (v - m) * s;
        }
    }
    true
}

/// scikit-learn's `r2_score` from the weighted residual and total sums of squares.
fn r2_from_sums(sse: f64, sst: f64) -> f64 {
    if sst != 0.0 {
        1.0 - sse / sst
    } else if sse == 0.0 {
        1.0
    } else {
        0.0
    }
}

/// Weighted ridge regression with an intercept on all the columns of `x` (samples × features).
pub fn weighted_ridge(
    x: &DMatrix<f64>,
    y: &[f64],
    w: &[f64],
    alpha: f64,
) -> Result<RidgeFit, ExplainError> {
    let design = WeightedDesign::new(x, y, w)?;
    let cols: Vec<usize> = (0..design.features()).collect();
    design.fit(&cols, alpha)
}

/// The weighted coefficient of determination of predictions `pred` for labels `y`, as
/// scikit-learn's `r2_score(y, pred, sample_weight=w)` (see [`WeightedDesign::r2`] for the
/// zero-variance convention).
pub fn weighted_r2(y: &[f64], pred: &[f64], w: &[f64]) -> Result<f64, ExplainError> {
    if y.is_empty() {
        return invalid("no samples");
    }
    if pred.len() != y.len() || w.len() != y.len() {
        return invalid(format!(
            "{} labels, {} predictions and {} weights",
            y.len(),
            pred.len(),
            w.len()
        ));
    }
    check_finite(y, "labels")?;
    check_finite(pred, "predictions")?;
    check_finite(w, "weights")?;
    let w_sum: f64 = w.iter().sum();
    if w_sum <= 0.0 || w.iter().any(|&v| v < 0.0) {
        return invalid("weights must be >= 0 with a positive sum");
    }
    let mean = y.iter().zip(w).map(|(v, wk)| v * wk).sum::<f64>() / w_sum;
    let mut sse = 0.0;
    let mut sst = 0.0;
    for ((yk, pk), wk) in y.iter().zip(pred).zip(w) {
        sse += wk * (yk - pk) * (yk - pk);
        sst += wk * (yk - mean) * (yk - mean);
    }
    Ok(r2_from_sums(sse, sst))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::common::rng::Rng;

    /// A random matrix with standard-normal entries.
    fn random_matrix(n: usize, d: usize, rng: &mut Rng) -> DMatrix<f64> {
        DMatrix::from_fn(n, d, |_, _| rng.normal())
    }

    /// Independent closed form: augment X with a column of ones and solve the weighted normal
    /// equations (Aᵀ W A + α diag(1, …, 1, 0)) [β; b] = Aᵀ W y by Gaussian elimination. The
    /// intercept is not penalised, which is what centring achieves.
    #[allow(clippy::needless_range_loop)]
    pub(crate) fn closed_form(
        x: &DMatrix<f64>,
        y: &[f64],
        w: &[f64],
        alpha: f64,
    ) -> (Vec<f64>, f64) {
        let (n, d) = x.shape();
        let m = d + 1;
        let col = |k: usize, j: usize| if j < d { x[(k, j)] } else { 1.0 };
        let mut a = vec![vec![0.0; m + 1]; m];
        for (i, row) in a.iter_mut().enumerate() {
            for j in 0..m {
                row[j] = (0..n).map(|k| w[k] * col(k, i) * col(k, j)).sum();
            }
            if i < d {
                row[i] += alpha;
            }
            row[m] = (0..n).map(|k| w[k] * col(k, i) * y[k]).sum();
        }
        // Gaussian elimination with partial pivoting.
        for p in 0..m {
            let piv = (p..m)
                .max_by(|&r, &s| a[r][p].abs().total_cmp(&a[s][p].abs()))
                .unwrap();
            a.swap(p, piv);
            for r in 0..m {
                if r != p {
                    let f = a[r][p] / a[p][p];
                    for c in p..=m {
                        a[r][c] -= f * a[p][c];
                    }
                }
            }
        }
        let sol: Vec<f64> = (0..m).map(|i| a[i][m] / a[i][i]).collect();
        (sol[..d].to_vec(), sol[d])
    }

    #[test]
    fn row_major_data_gives_the_same_design() {
        let mut rng = Rng::new(31);
        for &(n, d) in &[(1, 1), (5, 3), (40, 9), (300, 70)] {
            let x = random_matrix(n, d, &mut rng);
            let y: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
            let w: Vec<f64> = (0..n).map(|_| rng.next_f64()).collect();
            let rows: Vec<f64> = (0..n)
                .flat_map(|k| (0..d).map(move |j| (k, j)))
                .map(|(k, j)| x[(k, j)])
                .collect();
            let a = WeightedDesign::new(&x, &y, &w).unwrap();
            let b = WeightedDesign::from_rows(&rows, n, d, &y, &w).unwrap();
            assert_eq!(a.gram(), b.gram());
            assert_eq!(a.weighted_xty(), b.weighted_xty());
            assert_eq!(a.weighted_data(), b.weighted_data());
            let cols: Vec<usize> = (0..d).collect();
            assert_eq!(a.fit(&cols, 0.5).unwrap(), b.fit(&cols, 0.5).unwrap());
            // The Gram matrix is that of the centred, weighted data, and symmetric.
            let xs = a.weighted_data();
            let want = xs.transpose() * &xs;
            for (g, v) in a.gram().iter().zip(want.iter()) {
                assert!((g - v).abs() <= 1e-10 * v.abs().max(1.0), "{g} vs {v}");
            }
            assert_eq!(a.gram(), &a.gram().transpose());
        }
        assert!(WeightedDesign::from_rows(&[1.0; 5], 2, 3, &[1.0; 2], &[1.0; 2]).is_err());
    }

    #[test]
    fn centring_passes_equal_the_written_out_sums_bit_for_bit() {
        // The dispatched passes (AVX-512 where the CPU has it) and the portable ones against the
        // means and rows written out one value at a time, in the same order of operations.
        let mut rng = Rng::new(77);
        for &(n, d) in &[(1, 1), (3, 7), (50, 8), (200, 27), (30, 329)] {
            let x: Vec<f64> = (0..n * d)
                .map(|_| {
                    if rng.next_f64() < 0.5 {
                        0.0
                    } else {
                        rng.normal()
                    }
                })
                .collect();
            let w: Vec<f64> = (0..n).map(|_| rng.next_f64()).collect();
            let w_sum: f64 = w.iter().sum();
            let mut want_mean = vec![0.0f64; d];
            for j in 0..d {
                for k in 0..n {
                    want_mean[j] += x[k * d + j] * w[k];
                }
                want_mean[j] /= w_sum;
            }
            let want_xs: Vec<f64> = (0..n * d)
                .map(|i| (x[i] - want_mean[i % d]) * w[i / d].sqrt())
                .collect();
            let (mut mean, mut xs) = (vec![f64::NAN; d], vec![f64::NAN; n * d]);
            assert!(centre_rows(&x, d, &w, w_sum, &mut mean, &mut xs));
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&mean), bits(&want_mean), "n = {n}, d = {d}");
            assert_eq!(bits(&xs), bits(&want_xs), "n = {n}, d = {d}");
            let (mut mean, mut xs) = (vec![f64::NAN; d], vec![f64::NAN; n * d]);
            assert!(centre_rows_portable(&x, d, &w, w_sum, &mut mean, &mut xs));
            assert_eq!(bits(&xs), bits(&want_xs), "n = {n}, d = {d}");
            // A value that is not finite, anywhere (the blocks of the check included), is
            // reported by position.
            for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                for at in [0, n * d / 2, n * d - 1] {
                    let mut x = x.clone();
                    x[at] = bad;
                    assert!(!centre_rows(&x, d, &w, w_sum, &mut mean, &mut xs));
                    let e = WeightedDesign::from_rows(&x, n, d, &w, &w).unwrap_err();
                    let want = format!("sample {}, feature {} is not finite", at / d, at % d);
                    assert!(e.to_string().contains(&want), "{e}");
                }
            }
        }
    }

    #[test]
    fn gram_and_xty_are_the_packed_products_bits() {
        // Whichever way the design computes them (in place on an AVX-512 CPU), the Gram matrix
        // and X_sᵀ y_s are the bits of the packed products, across the depth blocks and the
        // Gram's block split at 48 columns.
        let mut rng = Rng::new(32);
        for &(n, d) in &[(1000, 1), (1000, 27), (257, 49), (1000, 100), (300, 329)] {
            let x: Vec<f64> = (0..n * d)
                .map(|_| f64::from(u8::from(rng.next_f64() < 0.5)))
                .collect();
            let y: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
            let w: Vec<f64> = (0..n).map(|_| rng.next_f64()).collect();
            let design = WeightedDesign::from_rows(&x, n, d, &y, &w).unwrap();
            let xs = design.weighted_data().transpose();
            let (mut gram, mut xty) = (vec![0.0; d * d], vec![0.0; d]);
            let ys = design.weighted_labels().as_slice();
            thin_gemm::gram_and_xty_packed(xs.as_slice(), n, d, ys, &mut gram, &mut xty);
            let bits = |m: &[f64]| m.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(design.gram().as_slice()), bits(&gram), "n {n}, d {d}");
            assert_eq!(bits(design.weighted_xty().as_slice()), bits(&xty));
        }
    }

    #[test]
    fn r2_is_the_same_with_and_without_the_column_copy() {
        // Row by row or down the column-major copy: the same operations per sample, so the same
        // bits, for any subset and order of columns.
        let mut rng = Rng::new(47);
        for &(n, d) in &[(1, 1), (7, 3), (300, 40)] {
            let x = random_matrix(n, d, &mut rng);
            let y: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
            let w: Vec<f64> = (0..n).map(|_| rng.next_f64()).collect();
            let design = WeightedDesign::new(&x, &y, &w).unwrap();
            let subsets: Vec<Vec<usize>> = vec![
                vec![0],
                (0..d).rev().collect(),
                (0..d).filter(|c| c % 3 == 1).collect(),
            ];
            let rowwise: Vec<f64> = subsets
                .iter()
                .map(|cols| design.r2(cols, &design.fit(cols, 0.0).unwrap()).unwrap())
                .collect();
            design.prepare_columns();
            for (cols, r) in subsets.iter().zip(&rowwise) {
                let by_column = design.r2(cols, &design.fit(cols, 0.0).unwrap()).unwrap();
                assert_eq!(by_column.to_bits(), r.to_bits(), "n = {n}, cols {cols:?}");
            }
        }
    }

    #[test]
    fn ridge_matches_closed_form() {
        let mut rng = Rng::new(11);
        for trial in 0..20 {
            let n = 5 + trial * 3;
            let d = 1 + trial % 5;
            let x = random_matrix(n, d, &mut rng);
            let y: Vec<f64> = (0..n).map(|_| rng.normal() * 3.0 + 1.0).collect();
            let w: Vec<f64> = (0..n).map(|_| rng.next_f64() + 0.01).collect();
            for &alpha in &[0.0, 0.01, 1.0, 10.0] {
                let fit = weighted_ridge(&x, &y, &w, alpha).unwrap();
                let (beta, b0) = closed_form(&x, &y, &w, alpha);
                for (a, b) in fit.coef.iter().zip(&beta) {
                    assert!((a - b).abs() < 1e-9 * (1.0 + b.abs()), "{a} vs {b}");
                }
                assert!((fit.intercept - b0).abs() < 1e-9 * (1.0 + b0.abs()));
            }
        }
    }

    #[test]
    fn r2_matches_direct_computation() {
        let mut rng = Rng::new(3);
        let (n, d) = (40, 4);
        let x = random_matrix(n, d, &mut rng);
        let y: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
        let w: Vec<f64> = (0..n).map(|_| rng.next_f64()).collect();
        let design = WeightedDesign::new(&x, &y, &w).unwrap();
        let cols = [2, 0];
        let fit = design.fit(&cols, 0.5).unwrap();
        let pred: Vec<f64> = (0..n)
            .map(|k| fit.intercept + fit.coef[0] * x[(k, 2)] + fit.coef[1] * x[(k, 0)])
            .collect();
        let direct = weighted_r2(&y, &pred, &w).unwrap();
        let fast = design.r2(&cols, &fit).unwrap();
        assert!((direct - fast).abs() < 1e-12, "{direct} vs {fast}");
        assert!(fast > 0.0 && fast < 1.0);
    }

    #[test]
    fn r2_conventions_for_constant_labels() {
        let y = [2.0, 2.0, 2.0];
        let w = [1.0, 0.5, 0.25];
        assert_eq!(weighted_r2(&y, &[2.0, 2.0, 2.0], &w).unwrap(), 1.0);
        assert_eq!(weighted_r2(&y, &[2.0, 1.0, 2.0], &w).unwrap(), 0.0);
        assert_eq!(
            weighted_r2(&[1.0, 3.0], &[1.0, 3.0], &[1.0, 1.0]).unwrap(),
            1.0
        );
    }

    #[test]
    fn collinear_columns_fall_back_to_minimum_norm() {
        // Column 1 duplicates column 0: with alpha = 0 the system is singular; the minimum-norm
        // solution splits the effect equally.
        let mut rng = Rng::new(5);
        let n = 30;
        let base: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
        let x = DMatrix::from_fn(n, 2, |k, _| base[k]);
        let y: Vec<f64> = base.iter().map(|v| 4.0 * v + 1.0).collect();
        let w = vec![1.0; n];
        let fit = weighted_ridge(&x, &y, &w, 0.0).unwrap();
        assert!((fit.coef[0] - 2.0).abs() < 1e-9, "{:?}", fit.coef);
        assert!((fit.coef[1] - 2.0).abs() < 1e-9, "{:?}", fit.coef);
        assert!((fit.intercept - 1.0).abs() < 1e-9);
        // A column constant over the samples gets a zero coefficient.
        let x = DMatrix::from_fn(n, 2, |k, j| if j == 0 { base[k] } else { 1.0 });
        let fit = weighted_ridge(&x, &y, &w, 0.0).unwrap();
        assert!((fit.coef[0] - 4.0).abs() < 1e-9);
        assert!(fit.coef[1].abs() < 1e-12);
        assert!((fit.intercept - 1.0).abs() < 1e-9);
    }

    #[test]
    fn empty_column_set_fits_the_weighted_mean() {
        let x = DMatrix::from_element(3, 2, 1.0);
        let design = WeightedDesign::new(&x, &[1.0, 2.0, 4.0], &[1.0, 1.0, 2.0]).unwrap();
        let fit = design.fit(&[], 1.0).unwrap();
        assert!(fit.coef.is_empty());
        assert!((fit.intercept - 11.0 / 4.0).abs() < 1e-15);
        assert_eq!(design.r2(&[], &fit).unwrap(), 0.0);
    }

    #[test]
    fn rejects_bad_input() {
        let x = DMatrix::from_element(3, 2, 1.0);
        let ok_y = [1.0, 2.0, 3.0];
        let ok_w = [1.0, 1.0, 1.0];
        assert!(WeightedDesign::new(&x, &ok_y[..2], &ok_w).is_err());
        assert!(WeightedDesign::new(&x, &ok_y, &[1.0, -1.0, 1.0]).is_err());
        assert!(WeightedDesign::new(&x, &ok_y, &[0.0, 0.0, 0.0]).is_err());
        assert!(WeightedDesign::new(&x, &[1.0, f64::NAN, 3.0], &ok_w).is_err());
        assert!(WeightedDesign::new(&DMatrix::zeros(0, 2), &[], &[]).is_err());
        let design = WeightedDesign::new(&x, &ok_y, &ok_w).unwrap();
        assert!(design.fit(&[2], 1.0).is_err());
        assert!(design.fit(&[0, 0], 1.0).is_err());
        assert!(design.fit(&[0], -1.0).is_err());
        assert!(weighted_r2(&[], &[], &[]).is_err());
    }
}
