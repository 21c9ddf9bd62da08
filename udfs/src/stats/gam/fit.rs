//! Penalised least squares with smoothing parameters chosen by REML or GCV.
//!
//! A Gaussian additive model is β̂ = (XᵀX + S_λ)⁻¹Xᵀy for penalties S_λ = Σ λⱼ Sⱼ; what makes it
//! mgcv's fit is the choice of λ. This module minimises Wood's (2011) Laplace-approximate REML
//! criterion (with the scale profiled out, which has the same optimum and value as mgcv's joint
//! optimisation over log λ and log φ) or the GCV score n·RSS/(n − tr F)², by Newton's method on
//! ρ = log λ with analytic gradients (REML: analytic Hessian; GCV: the Hessian by central
//! differences of the analytic gradient), and then forms mgcv's edf, Vp and scale.

use nalgebra::{DMatrix, DVector};

use crate::stats::lmm::LmmError;

/// How smoothing parameters are chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Method {
    /// Restricted maximum likelihood (mgcv's `method = "REML"`).
    Reml,
    /// Generalised cross-validation (mgcv's `method = "GCV.Cp"` with unknown scale).
    Gcv,
}

/// One penalty: a block of coefficients starting at `start`, its matrix and its rank.
#[derive(Clone, Debug)]
pub struct Penalty {
    /// First coefficient of the block.
    pub start: usize,
    /// The (scaled, constrained) penalty matrix of the block.
    pub s: DMatrix<f64>,
    /// Its rank.
    pub rank: usize,
    /// log of the product of its `rank` largest eigenvalues.
    pub log_det: f64,
}

impl Penalty {
    /// A penalty with its rank and log pseudo-determinant from its eigenvalues.
    pub fn new(start: usize, s: DMatrix<f64>, rank: usize) -> Penalty {
        let mut ev: Vec<f64> = s
            .clone()
            .symmetric_eigen()
            .eigenvalues
            .iter()
            .copied()
            .collect();
        ev.sort_by(|a, b| b.total_cmp(a));
        let log_det = ev
            .iter()
            .take(rank)
            .map(|v| v.max(f64::MIN_POSITIVE).ln())
            .sum();
        Penalty {
            start,
            s,
            rank,
            log_det,
        }
    }

    fn size(&self) -> usize {
        self.s.nrows()
    }
}

/// The fit at the chosen smoothing parameters.
#[derive(Clone, Debug)]
pub struct PlsFit {
    /// Coefficients.
    pub beta: Vec<f64>,
    /// Smoothing parameters, one per penalty.
    pub sp: Vec<f64>,
    /// (XᵀX + S_λ)⁻¹ (p × p).
    pub a_inv: DMatrix<f64>,
    /// The scale estimate φ̂.
    pub scale: f64,
    /// The minimised criterion (REML: mgcv's negative restricted log-likelihood; GCV: score).
    pub score: f64,
    /// Residual sum of squares.
    pub rss: f64,
    /// Fitted values.
    pub fitted: Vec<f64>,
    /// edf per coefficient: diag(F), F = (XᵀX + S_λ)⁻¹XᵀX.
    pub edf: Vec<f64>,
    /// mgcv's alternative edf: diag(2F − FF).
    pub edf1: Vec<f64>,
    /// Newton iterations.
    pub iterations: usize,
    /// Whether the gradient criterion was met.
    pub converged: bool,
}

struct Eval {
    value: f64,
    grad: Vec<f64>,
    hess: Option<DMatrix<f64>>,
}

struct Problem<'a> {
    x: &'a DMatrix<f64>,
    y: &'a DVector<f64>,
    xtx: DMatrix<f64>,
    xty: DVector<f64>,
    pens: &'a [Penalty],
    method: Method,
}

struct Solved {
    beta: DVector<f64>,
    a_inv: DMatrix<f64>,
    log_det_a: f64,
    rss: f64,
    bsb: f64,
}

impl Problem<'_> {
    fn solve(&self, rho: &[f64]) -> Result<Solved, LmmError> {
        let mut a = self.xtx.clone();
        for (pen, r) in self.pens.iter().zip(rho) {
            let lam = r.exp();
            let m = pen.size();
            for i in 0..m {
                for j in 0..m {
                    a[(pen.start + i, pen.start + j)] += lam * pen.s[(i, j)];
                }
            }
        }
        let chol = a.cholesky().ok_or_else(|| {
            LmmError::new(
                "the penalised model matrix is singular: some coefficients are not identifiable \
                 (a smooth of a covariate that is also a parametric term, or an empty level)",
            )
        })?;
        let log_det_a = 2.0
            * chol
                .l_dirty()
                .diagonal()
                .iter()
                .map(|v| v.ln())
                .sum::<f64>();
        let beta = chol.solve(&self.xty);
        let a_inv = chol.inverse();
        let r = self.y - self.x * &beta;
        let rss = r.norm_squared();
        let mut bsb = 0.0;
        for (pen, rr) in self.pens.iter().zip(rho) {
            let b = beta.rows(pen.start, pen.size());
            bsb += rr.exp() * (b.transpose() * &pen.s * b)[(0, 0)];
        }
        Ok(Solved {
            beta,
            a_inv,
            log_det_a,
            rss,
            bsb,
        })
    }

    fn n(&self) -> f64 {
        self.x.nrows() as f64
    }

    fn mp(&self) -> f64 {
        (self.x.ncols() - self.pens.iter().map(|p| p.rank).sum::<usize>()) as f64
    }

    /// A⁻¹ S_j restricted to its nonzero columns (p × m_j).
    fn a_inv_s(&self, s: &Solved, j: usize) -> DMatrix<f64> {
        let pen = &self.pens[j];
        s.a_inv.columns(pen.start, pen.size()) * &pen.s
    }

    fn eval(&self, rho: &[f64], hessian: bool) -> Result<Eval, LmmError> {
        let s = self.solve(rho)?;
        let m = rho.len();
        let lam: Vec<f64> = rho.iter().map(|r| r.exp()).collect();
        let b: Vec<DMatrix<f64>> = (0..m).map(|j| self.a_inv_s(&s, j)).collect();
        // tr(A⁻¹S_j) and β̂ᵀS_jβ̂.
        let tr: Vec<f64> = (0..m)
            .map(|j| {
                let st = self.pens[j].start;
                (0..self.pens[j].size()).map(|i| b[j][(st + i, i)]).sum()
            })
            .collect();
        let sb: Vec<DVector<f64>> = (0..m)
            .map(|j| {
                let pen = &self.pens[j];
                &pen.s * s.beta.rows(pen.start, pen.size())
            })
            .collect();
        let bsjb: Vec<f64> = (0..m)
            .map(|j| {
                s.beta
                    .rows(self.pens[j].start, self.pens[j].size())
                    .dot(&sb[j])
            })
            .collect();
        match self.method {
            Method::Reml => {
                let n = self.n();
                let nm = n - self.mp();
                let dp = s.rss + s.bsb;
                let ld_s: f64 = self
                    .pens
                    .iter()
                    .zip(rho)
                    .map(|(p, r)| p.rank as f64 * r + p.log_det)
                    .sum();
                let phi = dp / nm;
                let value = nm / 2.0 * ((2.0 * std::f64::consts::PI * phi).ln() + 1.0)
                    + 0.5 * s.log_det_a
                    - 0.5 * ld_s;
                let dj: Vec<f64> = (0..m).map(|j| lam[j] * bsjb[j]).collect();
                let grad: Vec<f64> = (0..m)
                    .map(|j| {
                        nm / 2.0 * dj[j] / dp + 0.5 * lam[j] * tr[j]
                            - 0.5 * self.pens[j].rank as f64
                    })
                    .collect();
                let hess = if hessian {
                    let mut h = DMatrix::zeros(m, m);
                    for j in 0..m {
                        for k in 0..=j {
                            // β̂ᵀS_j A⁻¹ S_k β̂ and tr(A⁻¹S_j A⁻¹S_k).
                            let pj = &self.pens[j];
                            let pk = &self.pens[k];
                            let ainv_jk =
                                s.a_inv.view((pj.start, pk.start), (pj.size(), pk.size()));
                            let sjask = sb[j].dot(&(ainv_jk * &sb[k]));
                            let mut trjk = 0.0;
                            for a in 0..pk.size() {
                                for c in 0..pj.size() {
                                    trjk += b[j][(pk.start + a, c)] * b[k][(pj.start + c, a)];
                                }
                            }
                            let djk =
                                if j == k { dj[j] } else { 0.0 } - 2.0 * lam[j] * lam[k] * sjask;
                            let v = nm / 2.0 * (djk / dp - dj[j] * dj[k] / (dp * dp))
                                + 0.5
                                    * (if j == k { lam[j] * tr[j] } else { 0.0 }
                                        - lam[j] * lam[k] * trjk);
                            h[(j, k)] = v;
                            h[(k, j)] = v;
                        }
                    }
                    Some(h)
                } else {
                    None
                };
                Ok(Eval { value, grad, hess })
            }
            Method::Gcv => {
                let n = self.n();
                let p = self.x.ncols() as f64;
                let trf = p - (0..m).map(|j| lam[j] * tr[j]).sum::<f64>();
                let den = n - trf;
                let value = n * s.rss / (den * den);
                // dβ/dρ_j = −λ_j A⁻¹S_jβ; dRSS/dρ_j = −2 (Xᵀy − XᵀXβ)ᵀ dβ.
                let resid_xt = &self.xty - &self.xtx * &s.beta;
                let grad: Vec<f64> = (0..m)
                    .map(|j| {
                        let pen = &self.pens[j];
                        let dbeta = -lam[j] * (s.a_inv.columns(pen.start, pen.size()) * &sb[j]);
                        let drss = -2.0 * resid_xt.dot(&dbeta);
                        // d tr(F)/dρ_j = −λ_j tr(A⁻¹ S_j A⁻¹ XᵀX)
                        let m_j = &b[j];
                        let axx = &s.a_inv * &self.xtx;
                        let mut t = 0.0;
                        for c in 0..pen.size() {
                            for a in 0..self.x.ncols() {
                                t += m_j[(a, c)] * axx[(pen.start + c, a)];
                            }
                        }
                        let dtr = -lam[j] * t;
                        n * drss / (den * den) + 2.0 * n * s.rss * dtr / (den * den * den)
                    })
                    .collect();
                Ok(Eval {
                    value,
                    grad,
                    hess: None,
                })
            }
        }
    }

    fn hessian(&self, rho: &[f64], e: &Eval) -> Result<DMatrix<f64>, LmmError> {
        if let Some(h) = &e.hess {
            return Ok(h.clone());
        }
        let m = rho.len();
        let mut h = DMatrix::zeros(m, m);
        let step = 1e-5;
        for j in 0..m {
            let mut up = rho.to_vec();
            up[j] += step;
            let mut dn = rho.to_vec();
            dn[j] -= step;
            let gu = self.eval(&up, false)?.grad;
            let gd = self.eval(&dn, false)?.grad;
            for k in 0..m {
                h[(k, j)] = (gu[k] - gd[k]) / (2.0 * step);
            }
        }
        Ok((&h + h.transpose()) * 0.5)
    }
}

/// mgcv's starting smoothing parameters (`initial.sp`, the Gaussian case of `initial.spg`):
/// per penalty, the mean of diag(XᵀX) over the columns it really penalises divided by the mean
/// of its diagonal there; then all scaled by powers of ten until the penalised columns' mean
/// diag(XᵀX) / (diag(XᵀX) + Σ λ diag(S)) is about 0.4. Starting where mgcv starts makes the
/// Newton iteration find the optimum mgcv finds where the criterion has several.
fn initial_rho(xtx: &DMatrix<f64>, pens: &[Penalty]) -> Vec<f64> {
    let p = xtx.nrows();
    let ldxx: Vec<f64> = (0..p).map(|i| xtx[(i, i)]).collect();
    let mut ldss = vec![0.0; p];
    let mut penalised = vec![false; p];
    let mut def = vec![1.0; pens.len()];
    for (d, pen) in def.iter_mut().zip(pens) {
        let s = &pen.s;
        let k = s.nrows();
        let ma = s.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        let thresh = f64::EPSILON.powf(0.8) * ma;
        let ind: Vec<usize> = (0..k)
            .filter(|&j| {
                let rs = s.row(j).iter().map(|v| v.abs()).sum::<f64>() / k as f64;
                let cs = s.column(j).iter().map(|v| v.abs()).sum::<f64>() / k as f64;
                rs > thresh && cs > thresh && s[(j, j)].abs() > thresh
            })
            .collect();
        if ind.is_empty() {
            continue;
        }
        let size_xx = ind.iter().map(|&j| ldxx[pen.start + j]).sum::<f64>() / ind.len() as f64;
        let size_s = ind.iter().map(|&j| s[(j, j)]).sum::<f64>() / ind.len() as f64;
        if size_s > 0.0 && size_xx > 0.0 {
            *d = size_xx / size_s;
        }
        for j in 0..k {
            ldss[pen.start + j] += *d * s[(j, j)];
        }
        for &j in &ind {
            penalised[pen.start + j] = true;
        }
    }
    let cols: Vec<usize> = (0..p)
        .filter(|&i| ldss[i] > 0.0 && penalised[i] && ldxx[i] > 0.0)
        .collect();
    if !cols.is_empty() {
        let ratio = |f: f64| {
            cols.iter()
                .map(|&i| ldxx[i] / (ldxx[i] + f * ldss[i]))
                .sum::<f64>()
                / cols.len() as f64
        };
        let mut f = 1.0;
        for _ in 0..60 {
            if ratio(f) > 0.4 {
                f *= 10.0;
            } else {
                break;
            }
        }
        for _ in 0..60 {
            if ratio(f) < 0.4 {
                f /= 10.0;
            } else {
                break;
            }
        }
        def.iter_mut().for_each(|d| *d *= f);
    }
    def.iter()
        .map(|d| d.ln().clamp(-RHO_MAX, RHO_MAX))
        .collect()
}

/// Newton's method on the criterion from `rho` (log smoothing parameters within ±RHO_MAX) with
/// step halving; returns the optimum, its evaluation and whether the gradient vanished there.
fn newton(
    problem: &Problem,
    mut rho: Vec<f64>,
    iterations: &mut usize,
    control: &mut dyn FnMut(usize, f64) -> Result<(), LmmError>,
) -> Result<(Vec<f64>, Eval, bool), LmmError> {
    let m = rho.len();
    let mut cur = problem.eval(&rho, true)?;
    let mut converged = false;
    for _ in 0..200 {
        *iterations += 1;
        control(*iterations, cur.value)?;
        // Components at a bound pointing outwards do not count.
        let free_g = cur
            .grad
            .iter()
            .zip(&rho)
            .map(|(g, r)| {
                if (*r >= RHO_MAX && *g < 0.0) || (*r <= -RHO_MAX && *g > 0.0) {
                    0.0
                } else {
                    g.abs()
                }
            })
            .fold(0.0_f64, f64::max);
        if free_g < 1e-9 * (1.0 + cur.value.abs()) {
            converged = true;
            break;
        }
        let h = problem.hessian(&rho, &cur)?;
        // Newton step on a positive definite version of the Hessian.
        let eig = h.symmetric_eigen();
        let maxev = eig.eigenvalues.iter().fold(0.0_f64, |a, v| a.max(v.abs()));
        let floor = (maxev * 1e-7).max(1e-12);
        let g = DVector::from_column_slice(&cur.grad);
        let qtg = eig.eigenvectors.transpose() * &g;
        let mut step = DVector::zeros(m);
        for i in 0..m {
            let ev = eig.eigenvalues[i].abs().max(floor);
            step -= eig.eigenvectors.column(i) * (qtg[i] / ev);
        }
        let norm = step.amax();
        if norm > 5.0 {
            step *= 5.0 / norm;
        }
        let mut t = 1.0;
        let mut improved = false;
        for _ in 0..40 {
            let trial: Vec<f64> = rho
                .iter()
                .zip(step.iter())
                .map(|(r, s)| (r + t * s).clamp(-RHO_MAX, RHO_MAX))
                .collect();
            let e = problem.eval(&trial, true)?;
            if e.value <= cur.value {
                rho = trial;
                cur = e;
                improved = true;
                break;
            }
            t *= 0.5;
        }
        if !improved {
            // No descent along the step: at the optimum to rounding.
            converged = free_g < 1e-5 * (1.0 + cur.value.abs());
            break;
        }
    }
    Ok((rho, cur, converged))
}

/// Bounds on log λ: beyond them a smooth is as good as linear (or unpenalised).
const RHO_MAX: f64 = 25.0;

/// Fits y on x with `pens`, choosing the smoothing parameters by `method` (or at `fixed_rho`,
/// log smoothing parameters). `control` is called once per Newton iteration (cancellation).
pub fn fit(
    x: &DMatrix<f64>,
    y: &DVector<f64>,
    pens: &[Penalty],
    method: Method,
    fixed_rho: Option<&[f64]>,
    control: &mut dyn FnMut(usize, f64) -> Result<(), LmmError>,
) -> Result<PlsFit, LmmError> {
    let n = x.nrows();
    let p = x.ncols();
    if n <= p {
        return Err(LmmError::new(format!(
            "the model has {p} coefficients but only {n} rows: it needs more data than \
             coefficients (reduce k)"
        )));
    }
    let problem = Problem {
        x,
        y,
        xtx: x.transpose() * x,
        xty: x.transpose() * y,
        pens,
        method,
    };
    let m = pens.len();
    let mut rho = initial_rho(&problem.xtx, pens);
    let mut iterations = 0;
    let mut converged = m == 0;
    if let Some(fixed) = fixed_rho {
        rho = fixed.to_vec();
        converged = true;
    } else if m > 0 {
        let (r, mut cur, c) = newton(&problem, rho, &mut iterations, control)?;
        rho = r;
        converged = c;
        // The criterion can have several minima (a smooth either wiggly or nearly linear):
        // from the optimum found, move one smooth's log λ at a time far up or down, back to its
        // start or to the linear limit; where that alone lowers the criterion, iterate again from
        // there, and keep the lower optimum.
        let start = initial_rho(&problem.xtx, pens);
        for _round in 0..4 {
            let mut best: Option<(Vec<f64>, f64)> = None;
            for j in 0..m {
                for cand in [RHO_MAX, rho[j] + 5.0, rho[j] - 5.0, start[j]] {
                    let cand = cand.clamp(-RHO_MAX, RHO_MAX);
                    if (cand - rho[j]).abs() < 1.0 {
                        continue;
                    }
                    let mut trial = rho.clone();
                    trial[j] = cand;
                    let e = problem.eval(&trial, false)?;
                    let bound = best.as_ref().map_or(cur.value, |b| b.1);
                    if e.value < bound - 1e-9 * (1.0 + cur.value.abs()) {
                        best = Some((trial, e.value));
                    }
                }
            }
            let Some((trial, _)) = best else { break };
            let (r, e, c) = newton(&problem, trial, &mut iterations, control)?;
            if e.value < cur.value {
                rho = r;
                cur = e;
                converged = c;
            } else {
                break;
            }
        }
    }
    let s = problem.solve(&rho)?;
    let score = if m > 0 {
        problem.eval(&rho, false)?.value
    } else {
        let n = n as f64;
        match method {
            Method::Reml => {
                let nm = n - p as f64;
                nm / 2.0 * ((2.0 * std::f64::consts::PI * s.rss / nm).ln() + 1.0)
                    + 0.5 * s.log_det_a
            }
            Method::Gcv => n * s.rss / ((n - p as f64) * (n - p as f64)),
        }
    };
    let f = &s.a_inv * &problem.xtx;
    let edf: Vec<f64> = (0..p).map(|i| f[(i, i)]).collect();
    let ff = &f * &f;
    let edf1: Vec<f64> = (0..p).map(|i| 2.0 * f[(i, i)] - ff[(i, i)]).collect();
    let nf = n as f64;
    let scale = match method {
        Method::Reml => (s.rss + s.bsb) / (nf - problem.mp()),
        Method::Gcv => s.rss / (nf - edf.iter().sum::<f64>()),
    };
    let fitted = x * &s.beta;
    Ok(PlsFit {
        beta: s.beta.iter().copied().collect(),
        sp: rho.iter().map(|r| r.exp()).collect(),
        a_inv: s.a_inv,
        scale,
        score,
        rss: s.rss,
        fitted: fitted.iter().copied().collect(),
        edf,
        edf1,
        iterations,
        converged,
    })
}

/// REML or GCV criterion at fixed log smoothing parameters (for tests: brute-force checks).
pub fn criterion(
    x: &DMatrix<f64>,
    y: &DVector<f64>,
    pens: &[Penalty],
    method: Method,
    rho: &[f64],
) -> Result<(f64, Vec<f64>), LmmError> {
    let problem = Problem {
        x,
        y,
        xtx: x.transpose() * x,
        xty: x.transpose() * y,
        pens,
        method,
    };
    let e = problem.eval(rho, false)?;
    let beta = problem.solve(rho)?.beta;
    Ok((e.value, beta.iter().copied().collect()))
}
