//! The thin plate regression spline (`bs = 'tp'`, mgcv's default basis) for one covariate,
//! built as mgcv 1.8-41 builds it, so that smoothing parameters, not only fits, compare.
//!
//! Why this exists: most published GAMs (thesis ch. 4 included, if its authors kept mgcv's
//! defaults) use `s(x)` without a basis, which is this one. The construction follows Wood (2003)
//! and mgcv's `smooth.construct.tp.smooth.spec` and C routine `tprs_setup`:
//!
//! 1. centre the covariate by its mean; the unique values are the knots (above 2,000 unique
//!    values mgcv samples 2,000 of them with `set.seed(1); sample(1:nu, 2000)`, which
//!    [`r_sample`] reproduces bit for bit with R's Mersenne Twister and rejection sampling);
//! 2. E = η(|xᵢ − xⱼ|) with η(r) = r³/12 (penalty order m = 2 in one dimension) and
//!    T = [1, x] (the penalty's null space, M = 2);
//! 3. the k eigenvalues of E largest in magnitude and their eigenvectors U, by Lanczos
//!    iteration with full reorthogonalisation ([`top_eigen`]; mgcv's `Rlanczos`), in descending
//!    order;
//! 4. the constraint TᵀU δ = 0 absorbed by mgcv's Householder `QT` factorisation (TᵀU Q = [0, B]),
//!    Z the first k − M columns of Q;
//! 5. X = [U diag(v) Z, T] (or, with sampled knots, the full basis at each datum times UZ),
//!    S = Zᵀ diag(v) Z padded with zeros for the null space;
//! 6. every column of X rescaled to root mean square 1 (X → XW, S → WSW, UZ → UZW).
//!
//! The eigenvectors' signs are arbitrary (Lanczos' and LAPACK's alike), but a sign flip of a
//! column of U flips the matching columns of X and rows and columns of S only (the Householder
//! steps are sign-equivariant), so mgcv's penalty scale `‖S‖₁ / ‖X‖∞²`, the smoothing
//! parameters, the fitted values, edf and REML score do not depend on them; coefficients of a
//! tp smooth can differ from mgcv's in sign.

use nalgebra::{DMatrix, DVector, SymmetricEigen};
use serde::{Deserialize, Serialize};

use crate::stats::lmm::LmmError;

/// mgcv's `max.knots`: above this many unique values the knots are a sample.
pub const MAX_KNOTS: usize = 2000;

/// Null-space dimension of a one-dimensional tp smooth with mgcv's default penalty (m = 2).
const M: usize = 2;

/// A fitted thin plate regression spline basis: everything needed to evaluate it at new
/// covariate values (mgcv's `shift`, `Xu` and `UZ`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TpBasis {
    /// The covariate's mean (subtracted before anything else).
    pub shift: f64,
    /// The knots (centred, increasing).
    pub xu: Vec<f64>,
    /// UZ ((knots + M) × k, row-major): basis coefficients of the full thin plate basis.
    pub uz: Vec<f64>,
    /// The basis dimension.
    pub k: usize,
}

/// η(r) = r³/12: the one-dimensional thin plate radial function for m = 2 (mgcv's
/// `eta_const(2, 1)` is Γ(−3/2) / (2⁴ √π) = 1/12).
fn eta(r: f64) -> f64 {
    let r = r.abs();
    r * r * r / 12.0
}

impl TpBasis {
    /// Builds the basis of dimension `k` for covariate values `x` (any order, ties allowed).
    /// Returns the basis, the n × k model matrix at `x` and the k × k penalty (mgcv's `X` and
    /// `S[[1]]` before `smoothCon` scales and constrains them).
    pub fn new(x: &[f64], k: usize) -> Result<(TpBasis, DMatrix<f64>, DMatrix<f64>), LmmError> {
        let n = x.len();
        if k < M + 1 {
            return Err(LmmError::new(format!(
                "a thin plate spline needs k >= {} (got {k})",
                M + 1
            )));
        }
        let shift = r_mean(x);
        let xc: Vec<f64> = x.iter().map(|v| v - shift).collect();
        let mut xu = xc.clone();
        xu.sort_by(|a, b| a.total_cmp(b));
        xu.dedup();
        let sampled = xu.len() > MAX_KNOTS && n > MAX_KNOTS;
        if sampled {
            let ind = r_sample(xu.len(), MAX_KNOTS, 1);
            let mut knots: Vec<f64> = ind.iter().map(|&i| xu[i]).collect();
            knots.sort_by(|a, b| a.total_cmp(b));
            xu = knots;
        }
        let nu = xu.len();
        if nu < k {
            return Err(LmmError::new(format!(
                "a thin plate spline of dimension k = {k} needs at least {k} unique covariate \
                 values (got {nu})"
            )));
        }
        let e = DMatrix::from_fn(nu, nu, |i, j| eta(xu[i] - xu[j]));
        let t = DMatrix::from_fn(nu, M, |i, j| if j == 0 { 1.0 } else { xu[i] });
        // The truncated eigenbasis (or, when k equals the number of knots, the full basis
        // with E as its penalty: mgcv's "pure knot" case).
        let pure_knot = nu == k;
        let (u, pen) = if pure_knot {
            (DMatrix::identity(nu, nu), e.clone())
        } else {
            let (v, u) = top_eigen(&e, k)?;
            (u, DMatrix::from_diagonal(&v))
        };
        // TᵀU δ = 0 by mgcv's QT: Householder vectors h (M × k) with (TᵀU) Q = [0, B].
        let tu = t.transpose() * &u;
        let q = qt_q(&tu);
        // UZ: the truncated coefficients to the full (knots + M) basis.
        let mut uz = DMatrix::<f64>::zeros(nu + M, k);
        let uq = &u * &q;
        for i in 0..nu {
            for j in 0..k - M {
                uz[(i, j)] = uq[(i, j)];
            }
        }
        for j in 0..M {
            uz[(nu + j, k - M + j)] = 1.0;
        }
        // The model matrix at the data.
        let mut xm = if sampled || pure_knot {
            let mut xm = DMatrix::<f64>::zeros(n, k);
            let mut row = vec![0.0; k];
            for (i, &v) in xc.iter().enumerate() {
                full_row(&xu, &uz, v, &mut row);
                for (j, r) in row.iter().enumerate() {
                    xm[(i, j)] = *r;
                }
            }
            xm
        } else {
            // [U diag(v) Z, T] at the unique values, then one row per datum.
            let mut x1 = &u * &pen * &q;
            for i in 0..nu {
                x1[(i, k - M)] = 1.0;
                x1[(i, k - M + 1)] = xu[i];
            }
            let mut xm = DMatrix::<f64>::zeros(n, k);
            for (i, &v) in xc.iter().enumerate() {
                let l = xu.partition_point(|w| *w < v);
                for j in 0..k {
                    xm[(i, j)] = x1[(l, j)];
                }
            }
            xm
        };
        // S = Qᵀ pen Q with the null space's rows and columns zero.
        let mut s = q.transpose() * &pen * &q;
        for i in 0..k {
            for j in k - M..k {
                s[(i, j)] = 0.0;
                s[(j, i)] = 0.0;
            }
        }
        // Columns to root mean square 1.
        for j in 0..k {
            let w = (xm.column(j).iter().map(|v| v * v).sum::<f64>() / n as f64).sqrt();
            if !(w > 0.0 && w.is_finite()) {
                return Err(LmmError::new(
                    "thin plate spline: a basis column is zero on every row",
                ));
            }
            xm.column_mut(j).iter_mut().for_each(|v| *v /= w);
            uz.column_mut(j).iter_mut().for_each(|v| *v /= w);
            s.column_mut(j).iter_mut().for_each(|v| *v /= w);
            s.row_mut(j).iter_mut().for_each(|v| *v /= w);
        }
        let s = (&s + s.transpose()) * 0.5;
        let basis = TpBasis {
            shift,
            xu,
            uz: uz.transpose().iter().copied().collect(),
            k,
        };
        Ok((basis, xm, s))
    }

    /// The basis functions at `x` (mgcv's `predict_tprs`), written into `out` (length k).
    pub fn row(&self, x: f64, out: &mut [f64]) {
        let nu = self.xu.len();
        let k = self.k;
        out.iter_mut().for_each(|v| *v = 0.0);
        let xc = x - self.shift;
        for (l, &knot) in self.xu.iter().enumerate() {
            let b = eta(xc - knot);
            let row = &self.uz[l * k..(l + 1) * k];
            for (o, u) in out.iter_mut().zip(row) {
                *o += b * u;
            }
        }
        for (l, b) in [1.0, xc].into_iter().enumerate() {
            let row = &self.uz[(nu + l) * k..(nu + l + 1) * k];
            for (o, u) in out.iter_mut().zip(row) {
                *o += b * u;
            }
        }
    }
}

/// One row of the full thin plate basis at centred `x` times UZ (before the column rescaling).
fn full_row(xu: &[f64], uz: &DMatrix<f64>, x: f64, out: &mut [f64]) {
    let nu = xu.len();
    out.iter_mut().for_each(|v| *v = 0.0);
    for (l, &knot) in xu.iter().enumerate() {
        let b = eta(x - knot);
        for (j, o) in out.iter_mut().enumerate() {
            *o += b * uz[(l, j)];
        }
    }
    for (l, b) in [1.0, x].into_iter().enumerate() {
        for (j, o) in out.iter_mut().enumerate() {
            *o += b * uz[(nu + l, j)];
        }
    }
}

/// R's `mean` (a second pass corrects the first sum's rounding, as R's long-double mean does
/// to within the last bit).
fn r_mean(x: &[f64]) -> f64 {
    let n = x.len().max(1) as f64;
    let m = x.iter().sum::<f64>() / n;
    m + x.iter().map(|v| v - m).sum::<f64>() / n
}

/// Q (k × k) of mgcv's `QT(Z, A, 0)` applied as `HQmult`: for each row i of A (M × k), a
/// Householder reflection rotates its first k − i elements into element k − i − 1; Q is the
/// product H₀ H₁ ⋯ of the reflections, so A Q = [0, B] with B reverse lower triangular.
fn qt_q(a: &DMatrix<f64>) -> DMatrix<f64> {
    let (ar, ac) = (a.nrows(), a.ncols());
    let mut a = a.clone();
    let mut hs: Vec<Vec<f64>> = Vec::with_capacity(ar);
    for i in 0..ar {
        let len = ac - i;
        let mut p: Vec<f64> = (0..len).map(|j| a[(i, j)]).collect();
        let m = p.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        if m > 0.0 {
            p.iter_mut().for_each(|v| *v /= m);
        }
        let mut lsq = p.iter().map(|v| v * v).sum::<f64>().sqrt();
        if p[len - 1] < 0.0 {
            lsq = -lsq;
        }
        p[len - 1] += lsq;
        let g = if lsq != 0.0 {
            1.0 / (lsq * p[len - 1])
        } else {
            0.0
        };
        // Apply to the remaining rows of A.
        for r in i + 1..ar {
            let x = g * (0..len).map(|c| p[c] * a[(r, c)]).sum::<f64>();
            for c in 0..len {
                a[(r, c)] -= x * p[c];
            }
        }
        let sg = g.sqrt();
        let mut u = vec![0.0; ac];
        for c in 0..len {
            u[c] = p[c] * sg;
        }
        hs.push(u);
    }
    // Q = H₀ H₁ ⋯ (HQmult with p = 0, t = 0 on the identity).
    let mut q = DMatrix::<f64>::identity(ac, ac);
    for u in &hs {
        let uv = DVector::from_column_slice(u);
        let cu = &q * &uv;
        q -= cu * uv.transpose();
    }
    q
}

/// The `k` eigenvalues of the symmetric `a` largest in magnitude, in descending order, with
/// their unit eigenvectors as columns, by Lanczos iteration with full reorthogonalisation
/// (mgcv's `Rlanczos` with its start vector and tolerance ε^0.7 relative to ‖T‖); a small
/// matrix is decomposed densely.
pub fn top_eigen(a: &DMatrix<f64>, k: usize) -> Result<(DVector<f64>, DMatrix<f64>), LmmError> {
    let n = a.nrows();
    if k > n || k == 0 {
        return Err(LmmError::new(format!(
            "{k} eigenvalues requested of a {n} x {n} matrix"
        )));
    }
    if n <= 64 {
        let eig = SymmetricEigen::new(a.clone());
        return Ok(select(&eig.eigenvalues, &eig.eigenvectors, k));
    }
    let tol = f64::EPSILON.powf(0.7);
    // mgcv's "somewhat randomized" start vector.
    let (ia, ic, im) = (106u64, 1283u64, 6075u64);
    let mut jran = 1u64;
    let mut q0: Vec<f64> = (0..n)
        .map(|_| {
            jran = (jran * ia + ic) % im;
            jran as f64 / im as f64 - 0.5
        })
        .collect();
    let norm = q0.iter().map(|v| v * v).sum::<f64>().sqrt();
    q0.iter_mut().for_each(|v| *v /= norm);
    let mut qs: Vec<DVector<f64>> = vec![DVector::from_vec(q0)];
    let mut alpha: Vec<f64> = Vec::new();
    let mut beta: Vec<f64> = Vec::new();
    loop {
        let j = qs.len() - 1;
        let mut z = a * &qs[j];
        let aj = qs[j].dot(&z);
        alpha.push(aj);
        z.axpy(-aj, &qs[j], 1.0);
        if j > 0 {
            z.axpy(-beta[j - 1], &qs[j - 1], 1.0);
        }
        // Full reorthogonalisation, twice.
        for _ in 0..2 {
            for q in &qs {
                let d = q.dot(&z);
                z.axpy(-d, q, 1.0);
            }
        }
        let bj = z.norm();
        let steps = j + 1;
        let exhausted =
            steps == n || bj <= f64::EPSILON * alpha.iter().fold(1.0_f64, |m, v| m.max(v.abs()));
        if steps >= k {
            let tri = DMatrix::from_fn(steps, steps, |r, c| {
                if r == c {
                    alpha[r]
                } else if r + 1 == c {
                    beta[r]
                } else if c + 1 == r {
                    beta[c]
                } else {
                    0.0
                }
            });
            let eig = SymmetricEigen::new(tri);
            let norm_t = eig.eigenvalues.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
            let (vals, vecs) = select(&eig.eigenvalues, &eig.eigenvectors, k);
            let converged =
                exhausted || (0..k).all(|c| (bj * vecs[(steps - 1, c)]).abs() <= tol * norm_t);
            if converged {
                let mut u = DMatrix::<f64>::zeros(n, k);
                for c in 0..k {
                    for (l, q) in qs.iter().enumerate() {
                        u.column_mut(c).axpy(vecs[(l, c)], q, 1.0);
                    }
                }
                return Ok((vals, u));
            }
        }
        if exhausted {
            return Err(LmmError::new(
                "thin plate spline: the Lanczos iteration broke down",
            ));
        }
        beta.push(bj);
        qs.push(z / bj);
    }
}

/// The `k` eigenpairs largest in magnitude, sorted by eigenvalue, descending.
fn select(vals: &DVector<f64>, vecs: &DMatrix<f64>, k: usize) -> (DVector<f64>, DMatrix<f64>) {
    let mut idx: Vec<usize> = (0..vals.len()).collect();
    idx.sort_by(|&a, &b| vals[b].abs().total_cmp(&vals[a].abs()));
    idx.truncate(k);
    idx.sort_by(|&a, &b| vals[b].total_cmp(&vals[a]));
    let v = DVector::from_iterator(k, idx.iter().map(|&i| vals[i]));
    let u = DMatrix::from_fn(vecs.nrows(), k, |r, c| vecs[(r, idx[c])]);
    (v, u)
}

/// R's `set.seed(seed); sample(1:n, size)` (R ≥ 3.6 defaults: Mersenne Twister, rejection
/// sampling), as 0-based indices.
pub fn r_sample(n: usize, size: usize, seed: u32) -> Vec<usize> {
    let mut rng = RMersenne::new(seed);
    let mut pool: Vec<usize> = (0..n).collect();
    let mut left = n;
    let mut out = Vec::with_capacity(size);
    for _ in 0..size.min(n) {
        let j = rng.unif_index(left as f64) as usize;
        out.push(pool[j]);
        left -= 1;
        pool[j] = pool[left];
    }
    out
}

/// R's Mersenne Twister (`RNG.c`: `set.seed`'s scrambling, `MT_genrand`, `fixup`).
struct RMersenne {
    mt: [u32; 624],
    mti: usize,
}

impl RMersenne {
    fn new(seed: u32) -> RMersenne {
        let mut s = seed;
        for _ in 0..50 {
            s = s.wrapping_mul(69069).wrapping_add(1);
        }
        // R fills 625 integers: the first is the position (reset to 624), then the state.
        s = s.wrapping_mul(69069).wrapping_add(1);
        let mut mt = [0u32; 624];
        for v in mt.iter_mut() {
            s = s.wrapping_mul(69069).wrapping_add(1);
            *v = s;
        }
        RMersenne { mt, mti: 624 }
    }

    fn genrand(&mut self) -> f64 {
        const UPPER: u32 = 0x8000_0000;
        const LOWER: u32 = 0x7fff_ffff;
        const MATRIX_A: u32 = 0x9908_b0df;
        let mag01 = [0u32, MATRIX_A];
        if self.mti >= 624 {
            let mt = &mut self.mt;
            for kk in 0..624 - 397 {
                let y = (mt[kk] & UPPER) | (mt[kk + 1] & LOWER);
                mt[kk] = mt[kk + 397] ^ (y >> 1) ^ mag01[(y & 1) as usize];
            }
            for kk in 624 - 397..623 {
                let y = (mt[kk] & UPPER) | (mt[kk + 1] & LOWER);
                mt[kk] = mt[kk + 397 - 624] ^ (y >> 1) ^ mag01[(y & 1) as usize];
            }
            let y = (mt[623] & UPPER) | (mt[0] & LOWER);
            mt[623] = mt[396] ^ (y >> 1) ^ mag01[(y & 1) as usize];
            self.mti = 0;
        }
        let mut y = self.mt[self.mti];
        self.mti += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^= y >> 18;
        y as f64 * 2.328_306_436_538_696_3e-10
    }

    fn unif_rand(&mut self) -> f64 {
        const I2_32M1: f64 = 2.328_306_437_080_797e-10;
        let x = self.genrand();
        if x <= 0.0 {
            0.5 * I2_32M1
        } else if 1.0 - x <= 0.0 {
            1.0 - 0.5 * I2_32M1
        } else {
            x
        }
    }

    /// R's `rbits`: `bits` random bits from 16-bit chunks.
    fn rbits(&mut self, bits: u32) -> f64 {
        let mut v: i64 = 0;
        let mut n = 0;
        while n <= bits {
            let v1 = (self.unif_rand() * 65536.0).floor() as i64;
            v = 65536 * v + v1;
            n += 16;
        }
        (v & ((1i64 << bits) - 1)) as f64
    }

    /// R's `R_unif_index` with rejection sampling: uniform on 0..dn.
    fn unif_index(&mut self, dn: f64) -> f64 {
        if dn <= 0.0 {
            return 0.0;
        }
        let bits = dn.log2().ceil() as u32;
        loop {
            let dv = self.rbits(bits);
            if dn > dv {
                return dv;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanczos_matches_a_dense_decomposition() {
        // E of 300 scattered points: indefinite, as a thin plate E is.
        let x: Vec<f64> = (0..300)
            .map(|i| ((i * 37 % 300) as f64 / 299.0).powf(1.3))
            .collect();
        let e = DMatrix::from_fn(300, 300, |i, j| eta(x[i] - x[j]));
        let (v, u) = top_eigen(&e, 10).unwrap();
        let dense = SymmetricEigen::new(e.clone());
        let (dv, du) = select(&dense.eigenvalues, &dense.eigenvectors, 10);
        for c in 0..10 {
            assert!(
                (v[c] - dv[c]).abs() <= 1e-9 * dv[0].abs(),
                "{} {}",
                v[c],
                dv[c]
            );
            let dot = u.column(c).dot(&du.column(c)).abs();
            assert!((dot - 1.0).abs() < 1e-8, "eigenvector {c}: |cos| {dot}");
            let resid = (&e * u.column(c) - u.column(c) * v[c]).norm();
            assert!(resid <= 1e-8 * dv[0].abs(), "residual {resid}");
        }
        // Descending, and the largest in magnitude (E has negative eigenvalues among them).
        assert!(v.iter().zip(v.iter().skip(1)).all(|(a, b)| a >= b));
        assert!(v.iter().any(|l| *l < 0.0));
    }

    #[test]
    fn qt_rotates_rows_into_the_last_columns() {
        let a =
            DMatrix::from_row_slice(2, 5, &[1.0, -2.0, 0.5, 3.0, 1.5, 0.3, 0.7, -1.1, 0.2, 2.0]);
        let q = qt_q(&a);
        let aq = &a * &q;
        // Orthogonal, and A Q = [0, B] with B reverse lower triangular.
        assert!((q.transpose() * &q - DMatrix::identity(5, 5)).norm() < 1e-14);
        for j in 0..3 {
            assert!(aq[(0, j)].abs() < 1e-14 && aq[(1, j)].abs() < 1e-14, "{aq}");
        }
        assert!(aq[(0, 3)].abs() < 1e-14);
        // A sign flip of a column of A flips Q's row and column alike (sign equivariance,
        // which makes the penalty scale independent of eigenvector signs).
        let mut a2 = a.clone();
        a2.column_mut(4).neg_mut();
        let q2 = qt_q(&a2);
        let d = DMatrix::from_diagonal(&DVector::from_vec(vec![1.0, 1.0, 1.0, 1.0, -1.0]));
        assert!((&d * &q * &d - q2).norm() < 1e-14);
    }

    #[test]
    fn r_sample_is_rs() {
        // set.seed(1); sample(1:10000, 8) and set.seed(1); sample(1:5, 5).
        let s: Vec<usize> = r_sample(10000, 8, 1).iter().map(|i| i + 1).collect();
        assert_eq!(s, R_SAMPLE_10000);
        let s: Vec<usize> = r_sample(5, 5, 1).iter().map(|i| i + 1).collect();
        assert_eq!(s, R_SAMPLE_5);
        let s: Vec<usize> = r_sample(10000, 2000, 1).iter().map(|i| i + 1).collect();
        assert_eq!(s[1994..], R_SAMPLE_TAIL);
    }

    // Printed by R 4.2.2 (Debian's r-base-core), not by this code.
    const R_SAMPLE_10000: [usize; 8] = [1017, 8004, 4775, 9725, 8462, 4050, 8789, 1301];
    const R_SAMPLE_5: [usize; 5] = [1, 4, 3, 5, 2];
    // set.seed(1); sample(1:10000, 2000)[1995:2000]: mgcv's knot sample for 10,000 values.
    const R_SAMPLE_TAIL: [usize; 6] = [1517, 637, 6310, 7034, 6539, 1391];
}
