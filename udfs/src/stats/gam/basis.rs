//! Spline bases exactly as mgcv builds them: the cubic regression spline (`bs = 'cr'`), the
//! sum-to-zero identifiability constraint absorbed by a Householder QR, and mgcv's penalty
//! scaling.
//!
//! A GAM's coefficients, edf and smoothing parameters are comparable with mgcv's only if the
//! basis, its constraint and its penalty are the same matrices, so this module follows mgcv
//! 1.8-41 step by step (`place.knots`, the C routine `crspl`, `smoothCon`'s `colMeans`
//! constraint, `qr(t(C))` by LINPACK's Householder `dqrdc2`, and `S / (||S||_1 / ||X||_∞²)`);
//! the tests check every matrix against the stored mgcv output.

use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

use crate::stats::lmm::LmmError;

/// mgcv's `place.knots`: `nk` knots spread evenly through the sorted unique values `xu`
/// (interpolating between neighbours), the first and last at the extremes.
pub fn place_knots(xu: &[f64], nk: usize) -> Result<Vec<f64>, LmmError> {
    let n = xu.len();
    if nk > n {
        return Err(LmmError::new(format!(
            "more knots ({nk}) than unique data values ({n})"
        )));
    }
    if nk < 2 || n < 2 {
        return Err(LmmError::new("too few knots"));
    }
    let mut knots = vec![0.0; nk];
    knots[0] = xu[0];
    knots[nk - 1] = xu[n - 1];
    let delta = (n - 1) as f64 / (nk - 1) as f64;
    for (i, knot) in knots.iter_mut().enumerate().take(nk - 1).skip(1) {
        // R: lbi = floor(delta * i) + 1 (1-based), frac = delta * i + 1 - lbi.
        let lbi = (delta * i as f64).floor() as usize + 1;
        let frac = delta * i as f64 + 1.0 - lbi as f64;
        let lo = xu[lbi - 1];
        let hi = xu[(lbi).min(n - 1)];
        *knot = lo * (1.0 - frac) + hi * frac;
    }
    Ok(knots)
}

/// A cubic regression spline in mgcv's "value at the knots" parametrisation.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CrBasis {
    /// The knots, increasing.
    pub knots: Vec<f64>,
    /// mgcv's F (k × k, row-major): second derivatives at the knots per coefficient (first and
    /// last rows zero: a natural spline).
    pub f: Vec<f64>,
}

impl CrBasis {
    /// The basis and its (unscaled) penalty ∫ f''² = Dᵀ B⁻¹ D on `knots`.
    pub fn new(knots: Vec<f64>) -> Result<(CrBasis, DMatrix<f64>), LmmError> {
        let k = knots.len();
        let h: Vec<f64> = knots.windows(2).map(|w| w[1] - w[0]).collect();
        if k < 3 || h.iter().any(|v| v.is_nan() || *v <= 0.0) {
            return Err(LmmError::new(
                "a cubic regression spline needs at least 3 distinct increasing knots",
            ));
        }
        let mut d = DMatrix::<f64>::zeros(k - 2, k);
        let mut b = DMatrix::<f64>::zeros(k - 2, k - 2);
        for i in 0..k - 2 {
            d[(i, i)] = 1.0 / h[i];
            d[(i, i + 1)] = -1.0 / h[i] - 1.0 / h[i + 1];
            d[(i, i + 2)] = 1.0 / h[i + 1];
            b[(i, i)] = (h[i] + h[i + 1]) / 3.0;
            if i + 1 < k - 2 {
                b[(i, i + 1)] = h[i + 1] / 6.0;
                b[(i + 1, i)] = h[i + 1] / 6.0;
            }
        }
        let chol = b
            .cholesky()
            .ok_or_else(|| LmmError::new("cubic regression spline: singular knot spacing"))?;
        let fm = chol.solve(&d);
        let mut f = vec![0.0; k * k];
        for i in 0..k - 2 {
            for j in 0..k {
                f[(i + 1) * k + j] = fm[(i, j)];
            }
        }
        let s = d.transpose() * fm;
        let s = (&s + s.transpose()) * 0.5;
        Ok((CrBasis { knots, f }, s))
    }

    /// The basis dimension.
    pub fn k(&self) -> usize {
        self.knots.len()
    }

    /// The basis functions at `x` (mgcv's `crspl`, with its linear extrapolation outside the
    /// knots), written into `out` (length k).
    pub fn row(&self, x: f64, out: &mut [f64]) {
        let k = self.k();
        let xk = &self.knots;
        let f = |j: usize, l: usize| self.f[j * k + l];
        out.iter_mut().for_each(|v| *v = 0.0);
        if x < xk[0] {
            let h = xk[1] - xk[0];
            let xik = x - xk[0];
            let cjm = -xik * h / 3.0;
            let cjp = -xik * h / 6.0;
            for (l, o) in out.iter_mut().enumerate() {
                *o = cjm * f(0, l) + cjp * f(1, l);
            }
            out[0] += 1.0 - xik / h;
            out[1] += xik / h;
        } else if x > xk[k - 1] {
            let h = xk[k - 1] - xk[k - 2];
            let xik = x - xk[k - 1];
            let cjm = xik * h / 6.0;
            let cjp = xik * h / 3.0;
            for (l, o) in out.iter_mut().enumerate() {
                *o = cjm * f(k - 2, l) + cjp * f(k - 1, l);
            }
            out[k - 2] += -xik / h;
            out[k - 1] += 1.0 + xik / h;
        } else {
            // The interval [xk[j], xk[j+1]] holding x.
            let j = match xk.partition_point(|v| *v <= x) {
                0 => 0,
                p => (p - 1).min(k - 2),
            };
            let h = xk[j + 1] - xk[j];
            let a = xk[j + 1] - x;
            let b = x - xk[j];
            let cjm = (a * a / h - h) * a / 6.0;
            let cjp = (b * b / h - h) * b / 6.0;
            for (l, o) in out.iter_mut().enumerate() {
                *o = cjm * f(j, l) + cjp * f(j + 1, l);
            }
            out[j] += a / h;
            out[j + 1] += b / h;
        }
    }

    /// The n × k model matrix at `x`.
    pub fn matrix(&self, x: &[f64]) -> DMatrix<f64> {
        let k = self.k();
        let mut m = DMatrix::zeros(x.len(), k);
        let mut row = vec![0.0; k];
        for (i, &v) in x.iter().enumerate() {
            self.row(v, &mut row);
            for (j, r) in row.iter().enumerate() {
                m[(i, j)] = *r;
            }
        }
        m
    }
}

/// The null-space basis Z (k × (k − 1)) of the constraint `c` as R's `qr(t(C))` gives it:
/// LINPACK's Householder reflection H = I − u uᵀ / u₁ with u = c / ±‖c‖ (sign of c₁) and
/// u₁ += 1; Z is H without its first column. A basis times Z sums to zero over the rows when
/// `c` is its column means.
pub fn constraint_z(c: &[f64]) -> Result<DMatrix<f64>, LmmError> {
    let k = c.len();
    let norm = c.iter().map(|v| v * v).sum::<f64>().sqrt();
    if norm.is_nan() || norm <= 0.0 || !norm.is_finite() {
        return Err(LmmError::new(
            "the smooth's basis is zero on every row, so it cannot be centred",
        ));
    }
    let nrm = if c[0] < 0.0 { -norm } else { norm };
    let mut u: Vec<f64> = c.iter().map(|v| v / nrm).collect();
    u[0] += 1.0;
    let mut z = DMatrix::zeros(k, k - 1);
    for i in 0..k {
        for j in 1..k {
            let delta = if i == j { 1.0 } else { 0.0 };
            z[(i, j - 1)] = delta - u[i] * u[j] / u[0];
        }
    }
    Ok(z)
}

/// mgcv's penalty scale `maS = ‖S‖₁ / ‖X‖∞²` (one-norm of the penalty over the squared
/// infinity-norm of the unconstrained model matrix); the fitted penalty is `S / maS`.
pub fn penalty_scale(s: &DMatrix<f64>, x: &DMatrix<f64>) -> f64 {
    let one_norm = (0..s.ncols())
        .map(|j| s.column(j).iter().map(|v| v.abs()).sum::<f64>())
        .fold(0.0, f64::max);
    let inf_norm = (0..x.nrows())
        .map(|i| x.row(i).iter().map(|v| v.abs()).sum::<f64>())
        .fold(0.0, f64::max);
    one_norm / (inf_norm * inf_norm)
}

/// Column means of `x`.
pub fn col_means(x: &DMatrix<f64>) -> Vec<f64> {
    let n = x.nrows().max(1) as f64;
    (0..x.ncols()).map(|j| x.column(j).sum() / n).collect()
}

/// The sorted distinct values of `x`.
pub fn unique_sorted(x: &[f64]) -> Vec<f64> {
    let mut u = x.to_vec();
    u.sort_by(|a, b| a.total_cmp(b));
    u.dedup();
    u
}

/// `DVector` from a slice (small helper for the tests and the fit).
pub fn dvec(v: &[f64]) -> DVector<f64> {
    DVector::from_column_slice(v)
}
