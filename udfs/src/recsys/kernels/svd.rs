//! Truncated SVD of large sparse matrices and implicit products of them.
//!
//! PureSVD-style recommenders and the explainers need the top singular triplets of a users × items
//! matrix (or of a product such as (users × tags)·(tags × items), never materialised) far too
//! large for a dense SVD, and their scores must match a dense SVD to about `1e-6`. This module
//! computes them with randomized block subspace iteration (Halko, Martinsson & Tropp 2011,
//! Algorithm 4.4) plus a Rayleigh–Ritz step, iterated to convergence rather than for a fixed
//! number of passes, touching the matrix only through [`LinearOperator`].
//!
//! One iteration, with `Q` an orthonormal `m × b` block (`b = rank + oversample`):
//!
//! ```text
//! Z = orth(Aᵀ Q)           n × b, thin QR
//! A Z = Q' R               m × b, thin QR
//! R = Ur S Vrᵀ             b × b one-sided Jacobi SVD (Rayleigh–Ritz: R = Q'ᵀ A Z)
//! U = Q' Ur,  V = Z Vr     Ritz vectors; Q ← Q'
//! ```
//!
//! The error in the top-`k` subspace shrinks by about `(σ_{b+1} / σ_k)²` per iteration.

use nalgebra::DMatrix;

use super::sparse::Csr;
use super::KernelError;
use crate::common::rng::Rng;

/// A real matrix known only through products with dense blocks.
pub trait LinearOperator: Sync {
    /// Number of rows `m`.
    fn nrows(&self) -> usize;
    /// Number of columns `n`.
    fn ncols(&self) -> usize;
    /// `A x` for an `n × p` block `x`; returns `m × p`.
    fn apply(&self, x: &DMatrix<f64>) -> DMatrix<f64>;
    /// `Aᵀ y` for an `m × p` block `y`; returns `n × p`.
    fn apply_t(&self, y: &DMatrix<f64>) -> DMatrix<f64>;
}

/// A sparse matrix together with its transpose, so that both products are row-parallel.
#[derive(Clone, Debug)]
pub struct SparseOp {
    a: Csr,
    at: Csr,
}

impl SparseOp {
    /// Validates `a` and computes its transpose.
    pub fn new(a: Csr) -> Result<SparseOp, KernelError> {
        a.validate()?;
        let at = a.transpose();
        Ok(SparseOp { a, at })
    }

    /// The matrix `A`.
    pub fn matrix(&self) -> &Csr {
        &self.a
    }

    /// The transpose `Aᵀ`.
    pub fn transposed(&self) -> &Csr {
        &self.at
    }
}

impl LinearOperator for SparseOp {
    fn nrows(&self) -> usize {
        self.a.n_rows
    }
    fn ncols(&self) -> usize {
        self.a.n_cols
    }
    fn apply(&self, x: &DMatrix<f64>) -> DMatrix<f64> {
        self.a.mul_dense(x)
    }
    fn apply_t(&self, y: &DMatrix<f64>) -> DMatrix<f64> {
        self.at.mul_dense(y)
    }
}

/// The product `A = R · T` of two sparse matrices, applied factor by factor and never formed
/// (`R · T` is often far denser than either factor).
#[derive(Clone, Debug)]
pub struct ProductOp {
    r: SparseOp,
    t: SparseOp,
}

impl ProductOp {
    /// `R · T`; errors when the inner dimensions differ.
    pub fn new(r: SparseOp, t: SparseOp) -> Result<ProductOp, KernelError> {
        if r.ncols() != t.nrows() {
            return Err(KernelError::InvalidInput(format!(
                "cannot multiply {}×{} by {}×{}",
                r.nrows(),
                r.ncols(),
                t.nrows(),
                t.ncols()
            )));
        }
        Ok(ProductOp { r, t })
    }

    /// The left factor `R`.
    pub fn left(&self) -> &SparseOp {
        &self.r
    }

    /// The right factor `T`.
    pub fn right(&self) -> &SparseOp {
        &self.t
    }
}

impl LinearOperator for ProductOp {
    fn nrows(&self) -> usize {
        self.r.nrows()
    }
    fn ncols(&self) -> usize {
        self.t.ncols()
    }
    fn apply(&self, x: &DMatrix<f64>) -> DMatrix<f64> {
        self.r.apply(&self.t.apply(x))
    }
    fn apply_t(&self, y: &DMatrix<f64>) -> DMatrix<f64> {
        self.t.apply_t(&self.r.apply_t(y))
    }
}

/// Settings of [`truncated_svd`].
#[derive(Clone, Debug, PartialEq)]
pub struct SvdOptions {
    /// Number of singular triplets wanted (clamped to `min(nrows, ncols)`).
    pub rank: usize,
    /// Extra block columns beyond `rank`; more makes each iteration dearer and convergence
    /// faster. Default 10.
    pub oversample: usize,
    /// Iteration limit. Default 100.
    pub max_iter: usize,
    /// Convergence tolerance on the relative change of the singular values and on the change of
    /// the singular subspaces between iterations. Default `1e-10`.
    pub tol: f64,
    /// Seed of the random start block.
    pub seed: u64,
}

impl Default for SvdOptions {
    fn default() -> SvdOptions {
        SvdOptions {
            rank: 10,
            oversample: 10,
            max_iter: 100,
            tol: 1e-10,
            seed: 0,
        }
    }
}

/// A truncated SVD `A ≈ U diag(s) Vᵀ` with `k` components.
#[derive(Clone, Debug)]
pub struct Svd {
    /// Left singular vectors, `nrows × k`, orthonormal columns.
    pub u: DMatrix<f64>,
    /// Singular values, descending, all `> 1e-10 · s[0]`.
    pub s: Vec<f64>,
    /// Right singular vectors, `ncols × k`, orthonormal columns.
    pub v: DMatrix<f64>,
    /// Iterations run.
    pub iterations: usize,
    /// Whether the tolerance was reached before `max_iter`.
    pub converged: bool,
}

/// Singular values at or below this fraction of the largest are numerically zero and dropped.
pub const ZERO_SINGULAR_VALUE: f64 = 1e-10;

/// Absolute noise floor of the singular-value test, in units of `ε · s[0]` (a backward-stable
/// computation cannot resolve singular values more finely than that).
const SINGULAR_VALUE_NOISE: f64 = 64.0 * f64::EPSILON;

/// The top singular triplets of `op`.
///
/// Returns `k ≤ min(rank, nrows, ncols)` components: `rank` is clamped to the matrix size, and
/// trailing components whose singular value is `≤ 1e-10 · s[0]` ([`ZERO_SINGULAR_VALUE`]) are
/// dropped, so every returned `s[j]` is safe to divide by. A zero matrix (or an empty one) gives
/// `k = 0`. Signs are deterministic: each pair `(u_j, v_j)` is flipped so that the entry of
/// largest magnitude of `v_j` (the first, on ties) is positive. The result is bit-identical for
/// the same operator and options, whatever the number of threads (the sparse products are
/// row-parallel, but each output entry is summed by one thread in a fixed order).
///
/// Iteration stops when, between two iterations, every kept singular value changes by at most
/// `tol · s[j]` (plus a floor of `64 ε · s[0]`) and the kept left and right singular subspaces
/// move by at most `tol`, measured as `‖W − W_prev (W_prevᵀ W)‖_F` (at least the sine of the
/// largest principal angle); or after `max_iter` iterations, with `converged = false`. A rank at
/// which the spectrum has no gap (`σ_k ≈ σ_{k+1}`) converges slowly or not at all, because the
/// top-`k` subspace is then ill-determined.
///
/// `progress(iteration, change)` is called after every iteration (1-based) with the largest of
/// the relative changes above (`∞` on the first iteration, and while the number of kept
/// components still changes); an error it returns stops the computation and is returned.
pub fn truncated_svd(
    op: &dyn LinearOperator,
    opts: &SvdOptions,
    progress: &mut dyn FnMut(usize, f64) -> Result<(), KernelError>,
) -> Result<Svd, KernelError> {
    if opts.rank == 0 {
        return Err(KernelError::InvalidInput(
            "the SVD rank must be at least 1".to_string(),
        ));
    }
    if opts.max_iter == 0 {
        return Err(KernelError::InvalidInput(
            "max_iter must be at least 1".to_string(),
        ));
    }
    if !(opts.tol.is_finite() && opts.tol >= 0.0) {
        return Err(KernelError::InvalidInput(format!(
            "the tolerance must be finite and non-negative, not {}",
            opts.tol
        )));
    }
    let (m, n) = (op.nrows(), op.ncols());
    let min_dim = m.min(n);
    if min_dim == 0 {
        return Ok(empty_svd(m, n, 0, true));
    }
    let rank = opts.rank.min(min_dim);
    let block = rank.saturating_add(opts.oversample).min(min_dim);

    let mut rng = Rng::new(opts.seed);
    let omega = DMatrix::from_fn(n, block, |_, _| rng.normal());
    let mut q = orthonormal_basis(checked(op.apply(&omega), m, block, "A·Ω")?);

    let mut prev: Option<Ritz> = None;
    let mut iterations = 0;
    let mut converged = false;
    for it in 1..=opts.max_iter {
        iterations = it;
        let z = orthonormal_basis(checked(op.apply_t(&q), n, block, "Aᵀ·Q")?);
        let az = checked(op.apply(&z), m, block, "A·Z")?;
        let (q_next, r) = thin_qr(az);
        let ritz = rayleigh_ritz(&q_next, &r, &z, rank)?;
        let change = match &prev {
            Some(p) => ritz.change_from(p),
            None => f64::INFINITY,
        };
        progress(it, change)?;
        prev = Some(ritz);
        q = q_next;
        if change <= opts.tol {
            converged = true;
            break;
        }
    }
    match prev {
        Some(ritz) => Ok(ritz.into_svd(iterations, converged)),
        None => Ok(empty_svd(m, n, iterations, converged)),
    }
}

fn empty_svd(m: usize, n: usize, iterations: usize, converged: bool) -> Svd {
    Svd {
        u: DMatrix::zeros(m, 0),
        s: Vec::new(),
        v: DMatrix::zeros(n, 0),
        iterations,
        converged,
    }
}

/// Checks that an operator returned a finite block of the expected shape.
fn checked(
    x: DMatrix<f64>,
    rows: usize,
    cols: usize,
    what: &str,
) -> Result<DMatrix<f64>, KernelError> {
    if x.shape() != (rows, cols) {
        return Err(KernelError::InvalidInput(format!(
            "the operator returned {}×{} for {what}, expected {rows}×{cols}",
            x.nrows(),
            x.ncols()
        )));
    }
    if x.iter().any(|v| !v.is_finite()) {
        return Err(KernelError::Numerical(format!(
            "{what} has a non-finite entry"
        )));
    }
    Ok(x)
}

/// Thin QR `X = Q R` of a tall block (`rows ≥ cols`): `Q` with orthonormal columns (even when the
/// block is rank-deficient) and square upper-triangular `R`.
///
/// Tries Cholesky QR twice (CholeskyQR2: `R₁ = chol(XᵀX)`, `Q₁ = X R₁⁻¹`, then once more on
/// `Q₁`), which runs as blocked matrix products and so is faster than `nalgebra`'s unblocked
/// Householder QR on tall blocks; it is accurate for well-conditioned blocks, the usual case
/// here. When a Cholesky factorisation fails, the block looks ill-conditioned, or the result
/// is not orthonormal to [`ORTHONORMAL_TOL`], it falls back to Householder QR.
fn thin_qr(x: DMatrix<f64>) -> (DMatrix<f64>, DMatrix<f64>) {
    if let Some((q1, r1)) = cholesky_qr_step(&x) {
        if let Some((q2, r2)) = cholesky_qr_step(&q1) {
            let b = q2.ncols();
            let gram = q2.transpose() * &q2;
            let off = (gram - DMatrix::<f64>::identity(b, b)).amax();
            if off <= ORTHONORMAL_TOL {
                return (q2, r2 * r1);
            }
        }
    }
    let qr = x.qr();
    (qr.q(), qr.unpack_r())
}

/// Largest `‖QᵀQ − I‖_max` accepted from Cholesky QR.
const ORTHONORMAL_TOL: f64 = 1e-13;

/// Largest ratio of the diagonal entries of a Cholesky factor for which Cholesky QR is tried.
const CHOLESKY_QR_MAX_RATIO: f64 = 1e5;

/// One Cholesky QR step: `XᵀX = L Lᵀ`, `Q = X L⁻ᵀ`, `R = Lᵀ`; `None` when `XᵀX` is not
/// numerically positive definite or `X` looks ill-conditioned.
fn cholesky_qr_step(x: &DMatrix<f64>) -> Option<(DMatrix<f64>, DMatrix<f64>)> {
    let b = x.ncols();
    // `transpose() * x` runs as a blocked matrix product (`tr_mul` would use dot products).
    let l = (x.transpose() * x).cholesky()?.unpack();
    let diag = l.diagonal();
    let (max, min) = (diag.max(), diag.min());
    if !(min > 0.0 && max <= CHOLESKY_QR_MAX_RATIO * min) {
        return None;
    }
    let l_inv = l.solve_lower_triangular(&DMatrix::identity(b, b))?;
    Some((x * l_inv.transpose(), l.transpose()))
}

fn orthonormal_basis(x: DMatrix<f64>) -> DMatrix<f64> {
    thin_qr(x).0
}

/// The Ritz approximation of one iteration, cut to the kept components.
struct Ritz {
    u: DMatrix<f64>,
    s: Vec<f64>,
    v: DMatrix<f64>,
}

/// Ritz triplets from `A Z = Q R`: the SVD of `R = Qᵀ A Z` gives `U = Q Ur`, `V = Z Vr`.
fn rayleigh_ritz(
    q: &DMatrix<f64>,
    r: &DMatrix<f64>,
    z: &DMatrix<f64>,
    rank: usize,
) -> Result<Ritz, KernelError> {
    let b = r.ncols();
    let (ur, sv, vr) = jacobi_svd(r.clone())?;
    let mut order: Vec<usize> = (0..sv.len()).collect();
    // Descending, stable, so ties keep a deterministic order.
    order.sort_by(|&i, &j| sv[j].total_cmp(&sv[i]));
    let s0 = order.first().map_or(0.0, |&i| sv[i]);
    let kept: Vec<usize> = order
        .iter()
        .copied()
        .take(rank)
        .take_while(|&i| sv[i] > ZERO_SINGULAR_VALUE * s0)
        .collect();
    let k = kept.len();
    let mut ur_k = DMatrix::zeros(ur.nrows(), k);
    let mut vr_k = DMatrix::zeros(b, k);
    for (j, &i) in kept.iter().enumerate() {
        ur_k.set_column(j, &ur.column(i));
        vr_k.set_column(j, &vr.column(i));
    }
    let mut u = q * ur_k;
    let mut v = z * vr_k;
    for j in 0..k {
        let mut col = v.column_mut(j);
        let lead = col.iter().fold(
            0.0f64,
            |best, &x| if x.abs() > best.abs() { x } else { best },
        );
        if lead < 0.0 {
            col.neg_mut();
            u.column_mut(j).neg_mut();
        }
    }
    Ok(Ritz {
        u,
        s: kept.iter().map(|&i| sv[i]).collect(),
        v,
    })
}

/// `(U, s, V)` of a small dense SVD.
type DenseSvd = (DMatrix<f64>, Vec<f64>, DMatrix<f64>);

/// Sweep limit of [`jacobi_svd`]; it converges quadratically, typically in under 10 sweeps.
const JACOBI_MAX_SWEEPS: usize = 100;

/// SVD `A = U diag(s) Vᵀ` of a small dense `m × n` matrix (`m ≥ n`) by one-sided Jacobi
/// rotations (Hestenes; Demmel & Veselić 1992), unsorted.
///
/// Used for the Rayleigh–Ritz step instead of `nalgebra`'s bidiagonal QR SVD, which loses
/// accuracy on matrices with zero or tiny singular values (nalgebra issue #1172) — exactly the
/// rank-deficient blocks that arise here. One-sided Jacobi computes every singular value to high
/// relative accuracy. Columns of `U` for zero singular values are zero.
fn jacobi_svd(mut w: DMatrix<f64>) -> Result<DenseSvd, KernelError> {
    let n = w.ncols();
    let mut v = DMatrix::<f64>::identity(n, n);
    let mut converged = false;
    // Rotations preserve the Frobenius norm. A column whose squared norm is below ε² of it is
    // numerically zero: rotating it against another column only stirs rounding noise and can
    // keep the sweeps from ever ending, so such pairs are skipped, as are pairs whose cosine is
    // within n·ε of zero.
    let negligible = f64::EPSILON * f64::EPSILON * w.norm_squared();
    let orthogonal = f64::EPSILON * n.max(1) as f64;
    for _ in 0..JACOBI_MAX_SWEEPS {
        let mut rotated = false;
        for p in 0..n {
            for q in p + 1..n {
                let (alpha, beta, gamma) = {
                    let (cp, cq) = (w.column(p), w.column(q));
                    (cp.norm_squared(), cq.norm_squared(), cp.dot(&cq))
                };
                if gamma == 0.0
                    || alpha.min(beta) <= negligible
                    || gamma.abs() <= orthogonal * (alpha * beta).sqrt()
                {
                    continue;
                }
                rotated = true;
                let zeta = (beta - alpha) / (2.0 * gamma);
                let t = zeta.signum() / (zeta.abs() + zeta.hypot(1.0));
                let c = 1.0 / t.hypot(1.0);
                let s = c * t;
                rotate_columns(&mut w, p, q, c, s);
                rotate_columns(&mut v, p, q, c, s);
            }
        }
        if !rotated {
            converged = true;
            break;
        }
    }
    if !converged {
        return Err(KernelError::Numerical(
            "the Rayleigh–Ritz SVD did not converge".to_string(),
        ));
    }
    let mut s = Vec::with_capacity(n);
    for j in 0..n {
        let norm = w.column(j).norm();
        s.push(norm);
        if norm > 0.0 {
            w.column_mut(j).unscale_mut(norm);
        }
    }
    Ok((w, s, v))
}

/// Replaces columns `p` and `q` of `m` by `c·m_p − s·m_q` and `s·m_p + c·m_q`.
fn rotate_columns(m: &mut DMatrix<f64>, p: usize, q: usize, c: f64, s: f64) {
    let rows = m.nrows();
    let data = m.as_mut_slice();
    let (left, right) = data.split_at_mut(q * rows);
    let (Some(cp), Some(cq)) = (
        left.get_mut(p * rows..(p + 1) * rows),
        right.get_mut(..rows),
    ) else {
        return;
    };
    for (x, y) in cp.iter_mut().zip(cq.iter_mut()) {
        let (a, b) = (*x, *y);
        *x = c * a - s * b;
        *y = s * a + c * b;
    }
}

impl Ritz {
    /// The largest relative change from the previous iteration's approximation (see
    /// [`truncated_svd`]), or `∞` when the number of kept components differs.
    fn change_from(&self, prev: &Ritz) -> f64 {
        if self.s.len() != prev.s.len() {
            return f64::INFINITY;
        }
        let Some(&s0) = self.s.first() else {
            return 0.0;
        };
        let floor = SINGULAR_VALUE_NOISE * s0;
        let sv_change = self
            .s
            .iter()
            .zip(&prev.s)
            .map(|(&s, &p)| ((s - p).abs() - floor).max(0.0) / s)
            .fold(0.0, f64::max);
        let u_change = subspace_change(&self.u, &prev.u);
        let v_change = subspace_change(&self.v, &prev.v);
        sv_change.max(u_change).max(v_change)
    }

    fn into_svd(self, iterations: usize, converged: bool) -> Svd {
        Svd {
            u: self.u,
            s: self.s,
            v: self.v,
            iterations,
            converged,
        }
    }
}

/// `‖W − P (Pᵀ W)‖_F` for orthonormal `W` and `P`: zero when they span the same subspace, and an
/// upper bound on the sine of the largest principal angle between the spans.
fn subspace_change(w: &DMatrix<f64>, p: &DMatrix<f64>) -> f64 {
    let proj = p.transpose() * w;
    (w - p * proj).norm()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng as _, SeedableRng};

    fn random_csr(rng: &mut StdRng, m: usize, n: usize, density: f64) -> Csr {
        let (mut r, mut c, mut v) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..m {
            for j in 0..n {
                if rng.random_bool(density) {
                    r.push(i as u32);
                    c.push(j as u32);
                    v.push(rng.random_range(-1.0..1.0f32) + 0.2);
                }
            }
        }
        Csr::from_triplets(m, n, &r, &c, &v).unwrap()
    }

    fn dense_of(a: &Csr) -> DMatrix<f64> {
        let mut d = DMatrix::zeros(a.n_rows, a.n_cols);
        for i in 0..a.n_rows {
            let (c, v) = a.row(i);
            for (&c, &v) in c.iter().zip(v) {
                d[(i, c as usize)] = f64::from(v);
            }
        }
        d
    }

    /// Dense full SVD by nalgebra, sorted descending: (U, s, V).
    fn dense_svd(a: &DMatrix<f64>) -> (DMatrix<f64>, Vec<f64>, DMatrix<f64>) {
        let svd = a.clone().svd(true, true);
        let (u, vt) = (svd.u.unwrap(), svd.v_t.unwrap());
        let s = svd.singular_values;
        let mut order: Vec<usize> = (0..s.len()).collect();
        order.sort_by(|&i, &j| s[j].total_cmp(&s[i]));
        let mut us = DMatrix::zeros(u.nrows(), order.len());
        let mut vs = DMatrix::zeros(vt.ncols(), order.len());
        for (j, &i) in order.iter().enumerate() {
            us.set_column(j, &u.column(i));
            vs.set_column(j, &vt.row(i).transpose());
        }
        (us, order.iter().map(|&i| s[i]).collect(), vs)
    }

    /// Eigenvectors of a symmetric PSD matrix, sorted by descending eigenvalue.
    fn sorted_eigen(g: DMatrix<f64>) -> (Vec<f64>, DMatrix<f64>) {
        let eig = g.symmetric_eigen();
        let mut order: Vec<usize> = (0..eig.eigenvalues.len()).collect();
        order.sort_by(|&i, &j| eig.eigenvalues[j].total_cmp(&eig.eigenvalues[i]));
        let mut vecs = DMatrix::zeros(eig.eigenvectors.nrows(), order.len());
        for (j, &i) in order.iter().enumerate() {
            vecs.set_column(j, &eig.eigenvectors.column(i));
        }
        (
            order.iter().map(|&i| eig.eigenvalues[i].max(0.0)).collect(),
            vecs,
        )
    }

    /// Reference SVD from the symmetric eigendecompositions of `AᵀA` (`s`, `V`) and `AAᵀ`
    /// (`U`), sorted descending. nalgebra's dense SVD (`dense_svd`) is not used as the reference
    /// because it loses accuracy on rank-deficient matrices (nalgebra issue #1172: on the
    /// rank-deficient test matrix it is off in the 6th digit). The Gram matrices square the
    /// condition number, which costs nothing for the well-separated top values compared here
    /// but turns exact zeros into values up to about `1e-7 · s[0]`.
    fn reference_svd(a: &DMatrix<f64>) -> (DMatrix<f64>, Vec<f64>, DMatrix<f64>) {
        let (lambda, v) = sorted_eigen(a.transpose() * a);
        let (_, u) = sorted_eigen(a * a.transpose());
        let s = lambda.iter().map(|l| l.sqrt()).collect();
        (u, s, v)
    }

    /// Below this fraction of `s[0]`, reference singular values are zero (see `reference_svd`).
    const REFERENCE_ZERO: f64 = 1e-6;

    fn no_progress() -> impl FnMut(usize, f64) -> Result<(), KernelError> {
        |_, _| Ok(())
    }

    /// Compares the truncated SVD of `op` (dense form `d`) at `rank` with a dense SVD.
    fn check_against_dense(op: &dyn LinearOperator, d: &DMatrix<f64>, rank: usize) -> Svd {
        let (du, ds, dv) = reference_svd(d);
        let opts = SvdOptions {
            rank,
            seed: 11,
            ..SvdOptions::default()
        };
        let mut calls = 0;
        let svd = truncated_svd(op, &opts, &mut |it, _| {
            calls += 1;
            assert_eq!(it, calls);
            Ok(())
        })
        .unwrap();
        assert!(
            svd.converged,
            "not converged in {} iterations",
            svd.iterations
        );
        assert_eq!(calls, svd.iterations);
        let expected_k = ds
            .iter()
            .take(rank)
            .filter(|&&s| s > REFERENCE_ZERO * ds[0])
            .count();
        let k = svd.s.len();
        assert_eq!(k, expected_k);
        assert_eq!(svd.u.shape(), (d.nrows(), k));
        assert_eq!(svd.v.shape(), (d.ncols(), k));
        for (j, (&got, &want)) in svd.s.iter().zip(&ds).enumerate() {
            let rel = (got - want).abs() / want;
            assert!(rel < 1e-9, "s[{j}] = {got} vs {want}: {rel:e}");
        }
        assert!(svd.s.windows(2).all(|w| w[1] <= w[0]));
        // The top-k subspaces are well defined only with a gap after k.
        if let Some(&next) = ds.get(k) {
            assert!(
                next < ds[k - 1] * (1.0 - 1e-3),
                "no spectral gap at k = {k}: {} vs {next}",
                ds[k - 1]
            );
        }
        let pu = &svd.u * svd.u.transpose();
        let pv = &svd.v * svd.v.transpose();
        let du_k = du.columns(0, k);
        let dv_k = dv.columns(0, k);
        let err_u = (pu - du_k * du_k.transpose()).amax();
        let err_v = (pv - dv_k * dv_k.transpose()).amax();
        assert!(err_u < 1e-8, "U projector error {err_u:e}");
        assert!(err_v < 1e-8, "V projector error {err_v:e}");
        // Orthonormal columns, and A v_j = s_j u_j.
        assert!((svd.u.tr_mul(&svd.u) - DMatrix::identity(k, k)).amax() < 1e-12);
        assert!((svd.v.tr_mul(&svd.v) - DMatrix::identity(k, k)).amax() < 1e-12);
        let av = d * &svd.v;
        for j in 0..k {
            let resid = (av.column(j) - svd.u.column(j) * svd.s[j]).amax();
            assert!(resid < 1e-8 * ds[0], "residual {resid:e}");
            // Sign convention: the largest-magnitude entry of v_j is positive.
            let lead = svd
                .v
                .column(j)
                .iter()
                .fold(0.0f64, |b, &x| if x.abs() > b.abs() { x } else { b });
            assert!(lead > 0.0);
        }
        svd
    }

    /// The rank in `lo..=hi` with the largest relative gap `(s_k − s_{k+1}) / s_k`.
    fn rank_with_gap(d: &DMatrix<f64>, lo: usize, hi: usize) -> usize {
        let (_, s, _) = reference_svd(d);
        (lo..=hi)
            .max_by(|&a, &b| {
                let ga = (s[a - 1] - s[a]) / s[a - 1];
                let gb = (s[b - 1] - s[b]) / s[b - 1];
                ga.total_cmp(&gb)
            })
            .unwrap()
    }

    #[test]
    fn random_sparse_matches_dense() {
        let mut rng = StdRng::seed_from_u64(1);
        let a = random_csr(&mut rng, 60, 40, 0.15);
        let d = dense_of(&a);
        let op = SparseOp::new(a.clone()).unwrap();
        let k = rank_with_gap(&d, 4, 10);
        let svd = check_against_dense(&op, &d, k);
        // On this full-rank matrix nalgebra's dense SVD is accurate too.
        let (_, ds, _) = dense_svd(&d);
        for (&got, &want) in svd.s.iter().zip(&ds) {
            assert!((got - want).abs() < 1e-9 * want);
        }
        // Also a rank where the block is the whole matrix, and the wide orientation.
        check_against_dense(&op, &d, 30);
        let opt = SparseOp::new(a.transpose()).unwrap();
        check_against_dense(&opt, &d.transpose(), k);
    }

    #[test]
    fn rank_deficient_drops_zero_components() {
        // Columns repeat a 60×12 sparse block three times (plus a scaled partial copy): rank ≤ 12.
        let mut rng = StdRng::seed_from_u64(2);
        let base = random_csr(&mut rng, 60, 12, 0.3);
        let (mut r, mut c, mut v) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..60 {
            let (cols, vals) = base.row(i);
            for (&cc, &vv) in cols.iter().zip(vals) {
                for copy in 0..3u32 {
                    r.push(i as u32);
                    c.push(cc + 12 * copy);
                    v.push(vv);
                }
                if cc < 4 {
                    r.push(i as u32);
                    c.push(cc + 36);
                    v.push(2.0 * vv);
                }
            }
        }
        let a = Csr::from_triplets(60, 40, &r, &c, &v).unwrap();
        let d = dense_of(&a);
        let (_, ds, _) = dense_svd(&d);
        let numerical_rank = ds.iter().filter(|&&s| s > 1e-10 * ds[0]).count();
        assert!(numerical_rank <= 12);
        // No singular value between the two zero thresholds.
        assert_eq!(
            numerical_rank,
            ds.iter().filter(|&&s| s > REFERENCE_ZERO * ds[0]).count()
        );
        let op = SparseOp::new(a).unwrap();
        let svd = check_against_dense(&op, &d, 25);
        assert_eq!(svd.s.len(), numerical_rank);
        // A rank larger than the matrix itself is clamped, then zero components dropped.
        let svd = check_against_dense(&op, &d, 500);
        assert_eq!(svd.s.len(), numerical_rank);
    }

    #[test]
    fn product_operator_matches_dense_product() {
        let mut rng = StdRng::seed_from_u64(3);
        let r = random_csr(&mut rng, 50, 30, 0.15);
        let t = random_csr(&mut rng, 30, 45, 0.15);
        let d = dense_of(&r) * dense_of(&t);
        let op = ProductOp::new(SparseOp::new(r).unwrap(), SparseOp::new(t).unwrap()).unwrap();
        assert_eq!((op.nrows(), op.ncols()), (50, 45));
        let k = rank_with_gap(&d, 3, 8);
        check_against_dense(&op, &d, k);
        check_against_dense(&op, &d, 40);
    }

    #[test]
    fn thin_qr_is_a_qr_decomposition() {
        let mut rng = StdRng::seed_from_u64(7);
        let well = DMatrix::from_fn(200, 12, |_, _| rng.random_range(-1.0..1.0));
        // Rank 5: Cholesky QR fails and Householder takes over.
        let left = DMatrix::from_fn(200, 5, |_, _| rng.random_range(-1.0..1.0));
        let right = DMatrix::from_fn(5, 12, |_, _| rng.random_range(-1.0..1.0));
        // Badly conditioned: columns scaled over 12 orders of magnitude.
        let graded = DMatrix::from_fn(200, 12, |i, j| {
            ((i * 7 + j * 13) % 17) as f64 * 10f64.powi(-(j as i32))
        });
        for x in [well, left * right, graded] {
            let (q, r) = thin_qr(x.clone());
            assert_eq!((q.shape(), r.shape()), ((200, 12), (12, 12)));
            assert!((q.transpose() * &q - DMatrix::identity(12, 12)).amax() < 1e-12);
            assert!((&q * &r - &x).amax() < 1e-12 * x.amax());
            for i in 0..12 {
                for j in 0..i {
                    assert!(r[(i, j)].abs() < 1e-12 * x.amax());
                }
            }
        }
    }

    #[test]
    fn product_operator_rejects_mismatch() {
        let mut rng = StdRng::seed_from_u64(4);
        let r = SparseOp::new(random_csr(&mut rng, 5, 4, 0.5)).unwrap();
        let t = SparseOp::new(random_csr(&mut rng, 3, 4, 0.5)).unwrap();
        assert!(ProductOp::new(r, t).is_err());
    }

    #[test]
    fn deterministic_for_a_seed() {
        let mut rng = StdRng::seed_from_u64(5);
        let op = SparseOp::new(random_csr(&mut rng, 80, 50, 0.1)).unwrap();
        let opts = SvdOptions {
            rank: 6,
            seed: 99,
            ..SvdOptions::default()
        };
        let a = truncated_svd(&op, &opts, &mut no_progress()).unwrap();
        let b = truncated_svd(&op, &opts, &mut no_progress()).unwrap();
        assert_eq!(a.u.as_slice(), b.u.as_slice());
        assert_eq!(a.v.as_slice(), b.v.as_slice());
        assert_eq!(a.s, b.s);
        assert_eq!(a.iterations, b.iterations);
    }

    #[test]
    fn callback_error_stops() {
        let mut rng = StdRng::seed_from_u64(6);
        let op = SparseOp::new(random_csr(&mut rng, 30, 20, 0.2)).unwrap();
        let mut seen = Vec::new();
        let err = truncated_svd(&op, &SvdOptions::default(), &mut |it, change| {
            seen.push(change);
            if it == 2 {
                Err(KernelError::Cancelled)
            } else {
                Ok(())
            }
        })
        .unwrap_err();
        assert_eq!(err, KernelError::Cancelled);
        assert_eq!(seen.len(), 2);
        assert!(seen[0].is_infinite());
    }

    #[test]
    fn degenerate_inputs() {
        let zero = SparseOp::new(Csr::zeros(7, 5)).unwrap();
        let svd = truncated_svd(&zero, &SvdOptions::default(), &mut no_progress()).unwrap();
        assert!(svd.s.is_empty());
        assert_eq!(svd.u.shape(), (7, 0));
        assert_eq!(svd.v.shape(), (5, 0));
        let empty = SparseOp::new(Csr::zeros(0, 5)).unwrap();
        let svd = truncated_svd(&empty, &SvdOptions::default(), &mut no_progress()).unwrap();
        assert!(svd.s.is_empty() && svd.converged);
        let opts = SvdOptions {
            rank: 0,
            ..SvdOptions::default()
        };
        assert!(truncated_svd(&zero, &opts, &mut no_progress()).is_err());
        // A single entry.
        let one = Csr::from_triplets(3, 4, &[1], &[2], &[-3.0]).unwrap();
        let svd = truncated_svd(
            &SparseOp::new(one).unwrap(),
            &SvdOptions::default(),
            &mut no_progress(),
        )
        .unwrap();
        assert_eq!(svd.s.len(), 1);
        assert!((svd.s[0] - 3.0).abs() < 1e-14);
        assert!((svd.v[(2, 0)] - 1.0).abs() < 1e-14);
        assert!((svd.u[(1, 0)] + 1.0).abs() < 1e-14);
    }
}
