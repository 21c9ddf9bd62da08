//! Penalised least squares: the profiled deviance and REML criterion for one θ.
//!
//! The optimiser evaluates the criterion hundreds of times, so this module makes one evaluation
//! independent of the number of rows (Bates et al. 2015, §3.2–3.4). With the sparse model matrix
//! Z, fixed-effect matrix X, response y and block-diagonal relative covariance factor Λ_θ, the
//! PLS problem min_{u,β} ‖y − Xβ − ZΛu‖² + ‖u‖² is solved by the blocked Cholesky factorisation
//!
//! ```text
//! [ ΛᵀZᵀZΛ + I   ΛᵀZᵀX ]   [ L_Z    0  ] [ L_Zᵀ  R_ZX ]
//! [ XᵀZΛ         XᵀX   ] = [ R_ZXᵀ R_Xᵀ] [ 0     R_X  ]
//! ```
//!
//! from the cross-products ZᵀZ, ZᵀX, XᵀX, Zᵀy, Xᵀy and yᵀy accumulated once. Then
//! c_u = L_Z⁻¹ΛᵀZᵀy, R_XᵀR_X β̂ = Xᵀy − R_ZXᵀc_u, r² = yᵀy − ‖c_u‖² − (Xᵀy − R_ZXᵀc_u)ᵀβ̂ and
//!
//! * ML deviance: log|L_Z|² + n (1 + log(2π r²/n)),
//! * REML criterion: log|L_Z|² + log|R_X|² + (n−p)(1 + log(2π r²/(n−p))).
//!
//! **Sparse (blocked) path.** When the first random term (the one with most levels) has many
//! levels, its diagonal block of ΛᵀZᵀZΛ + I is itself block diagonal (one k×k block per level), so
//! its Cholesky factor is computed level by level; the off-diagonal block is kept as a sparse list
//! of small matrices per level and only the Schur complement of the remaining random effects is a
//! dense matrix. This is exactly lme4's fill pattern for that ordering and costs
//! O(levels·k³ + Σ nnz² + q₂³) instead of O(q³). The dense path is the same code with no split.

use std::collections::BTreeMap;

use nalgebra::{Cholesky, DMatrix, DVector, Dyn};

use super::frame::Design;
use super::LmmError;

/// Above this many random effects the first term is factorised block by block.
pub const SPLIT_THRESHOLD: usize = 100;

/// The cross-products of a design, accumulated once.
#[derive(Clone, Debug)]
pub struct CrossProducts {
    k: Vec<usize>,
    nlev: Vec<usize>,
    offset: Vec<usize>,
    q: usize,
    p: usize,
    n: usize,
    q1: usize,
    d11: Vec<DMatrix<f64>>,
    a21: Vec<Vec<(usize, usize, DMatrix<f64>)>>,
    a22: DMatrix<f64>,
    ztx: DMatrix<f64>,
    zty: DVector<f64>,
    xtx: DMatrix<f64>,
    xty: DVector<f64>,
    yty: f64,
}

/// The solution of the PLS problem at one θ.
#[derive(Clone, Debug)]
pub struct Solution {
    /// log|L_Z|².
    pub ldl2: f64,
    /// log|R_X|².
    pub ldrx2: f64,
    /// Penalised residual sum of squares r².
    pub r2: f64,
    /// Conditional estimate of β.
    pub beta: DVector<f64>,
    /// The Cholesky factor L_X of R_XᵀR_X (lower).
    pub lx: DMatrix<f64>,
    cu: DVector<f64>,
    rzx: DMatrix<f64>,
    l11: Vec<DMatrix<f64>>,
    b: Vec<Vec<(usize, DMatrix<f64>)>>,
    l22: DMatrix<f64>,
    t: Vec<DMatrix<f64>>,
}

impl Solution {
    /// The criterion: REML criterion or ML deviance.
    pub fn criterion(&self, n: usize, p: usize, reml: bool) -> f64 {
        let tau = 2.0 * std::f64::consts::PI;
        if reml {
            let m = (n - p) as f64;
            self.ldl2 + self.ldrx2 + m * (1.0 + (tau * self.r2 / m).ln())
        } else {
            let m = n as f64;
            self.ldl2 + m * (1.0 + (tau * self.r2 / m).ln())
        }
    }

    /// The non-profiled criterion at a given σ (lmerTest's deviance of (θ, σ)).
    pub fn criterion_at_sigma(&self, n: usize, p: usize, reml: bool, sigma: f64) -> f64 {
        let s2 = sigma * sigma;
        let tau = 2.0 * std::f64::consts::PI;
        let (m, extra) = if reml {
            ((n - p) as f64, self.ldrx2)
        } else {
            (n as f64, 0.0)
        };
        self.ldl2 + extra + m * (tau * s2).ln() + self.r2 / s2
    }

    /// (R_XᵀR_X)⁻¹.
    pub fn unscaled_vcov(&self) -> DMatrix<f64> {
        let p = self.lx.nrows();
        let mut inv = DMatrix::<f64>::identity(p, p);
        if self.lx.solve_lower_triangular_mut(&mut inv) {
            inv.transpose() * inv
        } else {
            DMatrix::from_element(p, p, f64::NAN)
        }
    }

    /// The relative covariance factors T_t of the terms.
    pub fn factors(&self) -> &[DMatrix<f64>] {
        &self.t
    }
}

/// The k×k lower-triangular factor of each term from θ (column-major lower triangle).
pub fn theta_factors(k: &[usize], theta: &[f64]) -> Vec<DMatrix<f64>> {
    let mut out = Vec::with_capacity(k.len());
    let mut pos = 0;
    for &kt in k {
        let mut t = DMatrix::<f64>::zeros(kt, kt);
        for j in 0..kt {
            for i in j..kt {
                t[(i, j)] = theta.get(pos).copied().unwrap_or(0.0);
                pos += 1;
            }
        }
        out.push(t);
    }
    out
}

/// Lower bounds of θ: 0 on diagonals, −∞ elsewhere.
pub fn theta_lower(k: &[usize]) -> Vec<f64> {
    let mut out = Vec::new();
    for &kt in k {
        for j in 0..kt {
            for i in j..kt {
                out.push(if i == j { 0.0 } else { f64::NEG_INFINITY });
            }
        }
    }
    out
}

/// The start θ: 1 on diagonals, 0 elsewhere.
pub fn theta_start(k: &[usize]) -> Vec<f64> {
    theta_lower(k)
        .into_iter()
        .map(|l| if l == 0.0 { 1.0 } else { 0.0 })
        .collect()
}

fn chol(m: DMatrix<f64>) -> Result<DMatrix<f64>, LmmError> {
    Cholesky::<f64, Dyn>::new(m)
        .map(|c| c.l())
        .ok_or_else(|| LmmError::new("matrix not positive definite in the PLS step"))
}

fn log_det2(l: &DMatrix<f64>) -> f64 {
    2.0 * l.diagonal().iter().map(|d| d.ln()).sum::<f64>()
}

fn solve_lower(l: &DMatrix<f64>, b: &mut DMatrix<f64>) -> Result<(), LmmError> {
    if l.nrows() == 0 || l.solve_lower_triangular_mut(b) {
        Ok(())
    } else {
        Err(LmmError::new("singular triangular factor in the PLS step"))
    }
}

fn solve_lower_vec(l: &DMatrix<f64>, b: &mut DVector<f64>) -> Result<(), LmmError> {
    if l.nrows() == 0 || l.solve_lower_triangular_mut(b) {
        Ok(())
    } else {
        Err(LmmError::new("singular triangular factor in the PLS step"))
    }
}

fn solve_upper_tr_vec(l: &DMatrix<f64>, b: &mut DVector<f64>) -> Result<(), LmmError> {
    if l.nrows() == 0 || l.tr_solve_lower_triangular_mut(b) {
        Ok(())
    } else {
        Err(LmmError::new("singular triangular factor in the PLS step"))
    }
}

impl CrossProducts {
    /// The number of random effects q of `design` and the order of the dense block that
    /// [`CrossProducts::new`] allocates (q², or (q − q₁)² on the blocked path), before allocating.
    pub fn dense_size(design: &Design) -> (usize, usize) {
        let sizes: Vec<(usize, usize)> = design.terms.iter().map(|t| (t.k(), t.nlev())).collect();
        let q: usize = sizes.iter().map(|(k, l)| k.saturating_mul(*l)).sum();
        let q1 = match sizes.first() {
            Some(&(k, l)) if q > SPLIT_THRESHOLD && l > 1 => k.saturating_mul(l),
            _ => 0,
        };
        (q, q - q1)
    }

    /// Accumulates the cross-products of `design`; `force_dense` disables the blocked path.
    pub fn new(design: &Design, force_dense: bool) -> Self {
        let k: Vec<usize> = design.terms.iter().map(|t| t.k()).collect();
        let nlev: Vec<usize> = design.terms.iter().map(|t| t.nlev()).collect();
        let mut offset = Vec::with_capacity(k.len());
        let mut q = 0;
        for (kt, lt) in k.iter().zip(&nlev) {
            offset.push(q);
            q += kt * lt;
        }
        let p = design.p();
        let n = design.n;
        let split = !force_dense && q > SPLIT_THRESHOLD && nlev[0] > 1;
        let q1 = if split { k[0] * nlev[0] } else { 0 };
        let q2 = q - q1;
        let mut d11 = if split {
            vec![DMatrix::<f64>::zeros(k[0], k[0]); nlev[0]]
        } else {
            Vec::new()
        };
        let mut a21_maps: Vec<BTreeMap<usize, (usize, DMatrix<f64>)>> = if split {
            vec![BTreeMap::new(); nlev[0]]
        } else {
            Vec::new()
        };
        let mut a22 = DMatrix::<f64>::zeros(q2, q2);
        let mut ztx = DMatrix::<f64>::zeros(q, p);
        let mut xtx = DMatrix::<f64>::zeros(p, p);
        // (column, value, term, component, block start)
        let mut ents: Vec<(usize, f64, usize, usize, usize)> = Vec::new();
        let mut xrow = vec![0.0; p];
        for i in 0..n {
            ents.clear();
            for (t, term) in design.terms.iter().enumerate() {
                let kt = k[t];
                let start = offset[t] + term.index[i] * kt;
                for j in 0..kt {
                    ents.push((start + j, term.values[i * kt + j], t, j, start));
                }
            }
            for (c, xr) in xrow.iter_mut().enumerate() {
                *xr = design.x_at(i, c);
            }
            for a in 0..p {
                for b in 0..p {
                    xtx[(a, b)] += xrow[a] * xrow[b];
                }
            }
            for &(ca, va, _, ja, _) in &ents {
                for (c, xr) in xrow.iter().enumerate() {
                    ztx[(ca, c)] += va * xr;
                }
                for &(cb, vb, tb, jb, sb) in &ents {
                    if ca >= q1 && cb >= q1 {
                        a22[(ca - q1, cb - q1)] += va * vb;
                    } else if ca < q1 && cb < q1 {
                        let lev = design.terms[0].index[i];
                        d11[lev][(ja, jb)] += va * vb;
                    } else if ca < q1 {
                        let lev = design.terms[0].index[i];
                        let entry = a21_maps[lev]
                            .entry(sb - q1)
                            .or_insert_with(|| (tb, DMatrix::zeros(k[tb], k[0])));
                        entry.1[(jb, ja)] += va * vb;
                    }
                }
            }
        }
        let a21 = a21_maps
            .into_iter()
            .map(|m| m.into_iter().map(|(r, (s, mat))| (r, s, mat)).collect())
            .collect();
        let mut cp = CrossProducts {
            k,
            nlev,
            offset,
            q,
            p,
            n,
            q1,
            d11,
            a21,
            a22,
            ztx,
            zty: DVector::zeros(q),
            xtx,
            xty: DVector::zeros(p),
            yty: 0.0,
        };
        cp.set_response(design, &design.y);
        cp
    }

    /// Replaces the response-dependent cross-products (Zᵀy, Xᵀy, yᵀy) for a new response.
    pub fn set_response(&mut self, design: &Design, y: &[f64]) {
        self.zty.fill(0.0);
        self.xty.fill(0.0);
        self.yty = y.iter().map(|v| v * v).sum();
        for (c, xc) in self.xty.iter_mut().enumerate() {
            *xc = (0..self.n).map(|i| design.x_at(i, c) * y[i]).sum();
        }
        for (t, term) in design.terms.iter().enumerate() {
            let kt = self.k[t];
            for (i, yi) in y.iter().enumerate() {
                let start = self.offset[t] + term.index[i] * kt;
                for j in 0..kt {
                    self.zty[start + j] += term.values[i * kt + j] * yi;
                }
            }
        }
    }

    /// Number of random effects.
    pub fn q(&self) -> usize {
        self.q
    }

    /// Whether the blocked (sparse) path is used.
    pub fn is_blocked(&self) -> bool {
        self.q1 > 0
    }

    /// Term sizes k.
    pub fn k(&self) -> &[usize] {
        &self.k
    }

    /// The block starts (column, term) of the random effects after the split.
    fn rest_blocks(&self) -> Vec<(usize, usize)> {
        let first = usize::from(self.q1 > 0);
        let mut out = Vec::new();
        for t in first..self.k.len() {
            for m in 0..self.nlev[t] {
                out.push((self.offset[t] + m * self.k[t] - self.q1, t));
            }
        }
        out
    }

    /// Λᵀ applied to a q-row matrix, block by block.
    fn lambda_t_rows(&self, t: &[DMatrix<f64>], m: &mut DMatrix<f64>) {
        for (ti, tm) in t.iter().enumerate() {
            let kt = self.k[ti];
            if kt == 1 {
                let th = tm[(0, 0)];
                let rows = self.offset[ti]..self.offset[ti] + self.nlev[ti];
                for c in 0..m.ncols() {
                    for r in rows.clone() {
                        m[(r, c)] *= th;
                    }
                }
                continue;
            }
            for lev in 0..self.nlev[ti] {
                let start = self.offset[ti] + lev * kt;
                let blk = tm.transpose() * m.rows(start, kt);
                m.rows_mut(start, kt).copy_from(&blk);
            }
        }
    }

    /// Solves the PLS problem at θ.
    pub fn solve(&self, theta: &[f64]) -> Result<Solution, LmmError> {
        let t = theta_factors(&self.k, theta);
        let q1 = self.q1;
        let q2 = self.q - q1;
        let rest = self.rest_blocks();
        // Block-diagonal part.
        let mut l11 = Vec::with_capacity(self.d11.len());
        let mut bl = Vec::with_capacity(self.d11.len());
        let mut s22 = self.a22.clone();
        for (start, ti) in &rest {
            let kt = self.k[*ti];
            let blk = s22.columns(*start, kt) * &t[*ti];
            s22.columns_mut(*start, kt).copy_from(&blk);
        }
        for (start, ti) in &rest {
            let kt = self.k[*ti];
            let blk = t[*ti].transpose() * s22.rows(*start, kt);
            s22.rows_mut(*start, kt).copy_from(&blk);
        }
        for i in 0..q2 {
            s22[(i, i)] += 1.0;
        }
        if q1 > 0 && self.k[0] == 1 {
            // A scalar term (e.g. (1 | g)): each diagonal block is the number θ² d + 1, so its
            // Cholesky factor is a square root and nothing needs a matrix per level.
            let th = t[0][(0, 0)];
            for (lev, d) in self.d11.iter().enumerate() {
                let l = (th * th * d[(0, 0)] + 1.0).sqrt();
                let mut blocks = Vec::with_capacity(self.a21[lev].len());
                for (roff, s, m) in &self.a21[lev] {
                    blocks.push((*roff, (t[*s].transpose() * m) * (th / l)));
                }
                for (r1, b1) in &blocks {
                    for (r2, b2) in &blocks {
                        if r2 > r1 {
                            continue;
                        }
                        for a in 0..b1.nrows() {
                            for c in 0..b2.nrows() {
                                s22[(r1 + a, r2 + c)] -= b1[(a, 0)] * b2[(c, 0)];
                            }
                        }
                    }
                }
                l11.push(DMatrix::from_element(1, 1, l));
                bl.push(blocks);
            }
        } else if q1 > 0 {
            let t0 = &t[0];
            let k0 = self.k[0];
            for (lev, d) in self.d11.iter().enumerate() {
                let a = t0.transpose() * d * t0 + DMatrix::<f64>::identity(k0, k0);
                let l = chol(a)?;
                let mut blocks = Vec::with_capacity(self.a21[lev].len());
                for (roff, s, m) in &self.a21[lev] {
                    let sm = t[*s].transpose() * m * t0;
                    let mut bt = sm.transpose();
                    solve_lower(&l, &mut bt)?;
                    blocks.push((*roff, bt.transpose()));
                }
                // Schur update, lower triangle only (the Cholesky reads only that).
                for (r1, b1) in &blocks {
                    for (r2, b2) in &blocks {
                        if r2 > r1 {
                            continue;
                        }
                        for a in 0..b1.nrows() {
                            for c in 0..b2.nrows() {
                                let mut acc = 0.0;
                                for j in 0..k0 {
                                    acc += b1[(a, j)] * b2[(c, j)];
                                }
                                s22[(r1 + a, r2 + c)] -= acc;
                            }
                        }
                    }
                }
                l11.push(l);
                bl.push(blocks);
            }
        }
        let l22 = if q2 > 0 {
            chol(s22)?
        } else {
            DMatrix::zeros(0, 0)
        };

        // Right-hand sides.
        let mut cu = DMatrix::from_column_slice(self.q, 1, self.zty.as_slice());
        self.lambda_t_rows(&t, &mut cu);
        let mut rzx = self.ztx.clone();
        self.lambda_t_rows(&t, &mut rzx);
        let mut cu = DVector::from_column_slice(cu.as_slice());
        if q1 > 0 && self.k[0] == 1 {
            let p = rzx.ncols();
            for (lev, l) in l11.iter().enumerate() {
                let lv = l[(0, 0)];
                cu[lev] /= lv;
                let c = cu[lev];
                for j in 0..p {
                    rzx[(lev, j)] /= lv;
                }
                for (roff, b) in &bl[lev] {
                    for a in 0..b.nrows() {
                        let (row, ba) = (q1 + roff + a, b[(a, 0)]);
                        cu[row] -= ba * c;
                        for j in 0..p {
                            let r = rzx[(lev, j)];
                            rzx[(row, j)] -= ba * r;
                        }
                    }
                }
            }
        } else if q1 > 0 {
            let k0 = self.k[0];
            for (lev, l) in l11.iter().enumerate() {
                let start = lev * k0;
                let mut c = DVector::from_column_slice(cu.rows(start, k0).as_slice());
                solve_lower_vec(l, &mut c)?;
                cu.rows_mut(start, k0).copy_from(&c);
                let mut r = rzx.rows(start, k0).into_owned();
                solve_lower(l, &mut r)?;
                rzx.rows_mut(start, k0).copy_from(&r);
                for (roff, b) in &bl[lev] {
                    let upd = b * &c;
                    let mut v = cu.rows_mut(q1 + roff, b.nrows());
                    v -= &upd;
                    let updx = b * &r;
                    let mut vx = rzx.rows_mut(q1 + roff, b.nrows());
                    vx -= &updx;
                }
            }
        }
        if q2 > 0 {
            let mut c2 = DVector::from_column_slice(cu.rows(q1, q2).as_slice());
            solve_lower_vec(&l22, &mut c2)?;
            cu.rows_mut(q1, q2).copy_from(&c2);
            let mut r2m = rzx.rows(q1, q2).into_owned();
            solve_lower(&l22, &mut r2m)?;
            rzx.rows_mut(q1, q2).copy_from(&r2m);
        }
        let rxtrx = &self.xtx - rzx.transpose() * &rzx;
        let lx = chol(rxtrx)?;
        let rhs = &self.xty - rzx.transpose() * &cu;
        let mut beta = rhs.clone();
        solve_lower_vec(&lx, &mut beta)?;
        solve_upper_tr_vec(&lx, &mut beta)?;
        let r2 = (self.yty - cu.dot(&cu) - rhs.dot(&beta)).max(f64::MIN_POSITIVE);
        let ldl2 = l11.iter().map(log_det2).sum::<f64>() + log_det2(&l22);
        let ldrx2 = log_det2(&lx);
        Ok(Solution {
            ldl2,
            ldrx2,
            r2,
            beta,
            lx,
            cu,
            rzx,
            l11,
            b: bl,
            l22,
            t,
        })
    }

    /// The criterion at θ (REML criterion or ML deviance); +∞ when the PLS step fails.
    pub fn criterion(&self, theta: &[f64], reml: bool) -> f64 {
        match self.solve(theta) {
            Ok(s) => s.criterion(self.n, self.p, reml),
            Err(_) => f64::INFINITY,
        }
    }

    /// The spherical random effects u at the solution (b = Λu).
    pub fn modes(&self, sol: &Solution) -> Result<DVector<f64>, LmmError> {
        let q1 = self.q1;
        let q2 = self.q - q1;
        let mut w = &sol.cu - &sol.rzx * &sol.beta;
        if q2 > 0 {
            let mut w2 = DVector::from_column_slice(w.rows(q1, q2).as_slice());
            solve_upper_tr_vec(&sol.l22, &mut w2)?;
            w.rows_mut(q1, q2).copy_from(&w2);
        }
        if q1 > 0 {
            let k0 = self.k[0];
            for (lev, l) in sol.l11.iter().enumerate() {
                let start = lev * k0;
                let mut c = DVector::from_column_slice(w.rows(start, k0).as_slice());
                for (roff, b) in &sol.b[lev] {
                    let u2 = w.rows(q1 + roff, b.nrows());
                    c -= b.transpose() * u2;
                }
                solve_upper_tr_vec(l, &mut c)?;
                w.rows_mut(start, k0).copy_from(&c);
            }
        }
        Ok(w)
    }

    /// b = Λu.
    pub fn lambda_times(&self, t: &[DMatrix<f64>], u: &DVector<f64>) -> DVector<f64> {
        let mut b = u.clone();
        for (ti, tm) in t.iter().enumerate() {
            let kt = self.k[ti];
            for lev in 0..self.nlev[ti] {
                let start = self.offset[ti] + lev * kt;
                let blk = tm * u.rows(start, kt);
                b.rows_mut(start, kt).copy_from(&blk);
            }
        }
        b
    }

    /// The block start of term `t`.
    pub fn offset(&self, t: usize) -> usize {
        self.offset[t]
    }
}

/// Z b for a design (n values).
pub fn z_times(design: &Design, b: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; design.n];
    let mut off = 0;
    for term in &design.terms {
        let k = term.k();
        for (i, o) in out.iter_mut().enumerate() {
            let start = off + term.index[i] * k;
            for j in 0..k {
                *o += term.values[i * k + j] * b[start + j];
            }
        }
        off += k * term.nlev();
    }
    out
}

/// X β for a design (n values).
pub fn x_times(design: &Design, beta: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; design.n];
    for (c, bc) in beta.iter().enumerate() {
        for (i, o) in out.iter_mut().enumerate() {
            *o += design.x_at(i, c) * bc;
        }
    }
    out
}
