//! Estimation driver and the inference reported from a fit.
//!
//! A fit is only useful through its tables: fixed effects with tests and intervals, variance
//! components, conditional modes, information criteria and R². This module runs the optimiser
//! over the PLS criterion, finishes the fit (β̂, σ̂, u, (R_XᵀR_X)⁻¹, warnings) and computes those
//! tables, including lmerTest's Satterthwaite degrees of freedom: with varpar = (θ, σ),
//! A = 2 H⁻¹ where H is the Hessian of the non-profiled deviance / REML criterion at varpar̂,
//! J_i = ∂ vcov(β̂)/∂ varpar_i, and for a linear function Lβ,
//! df = 2 (L V Lᵀ)² / (gᵀ A g) with g_i = L J_i Lᵀ.

use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

use super::dist::{t_quantile, t_two_sided_p};
use super::frame::Design;
use super::optim;
use super::pls::{theta_factors, theta_lower, theta_start, x_times, z_times, CrossProducts};
use super::{DfMethod, LmmError, LmmFit, LmmOptions};

/// The Satterthwaite ingredients stored with a fit.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SattInfo {
    /// Covariance of varpar = (θ, σ): 2 H⁻¹, m×m column-major.
    pub varpar_vcov: Vec<f64>,
    /// ∂ vcov(β̂)/∂ varpar_i, each p×p column-major.
    pub jacobian: Vec<Vec<f64>>,
}

/// One fixed effect.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FixedEffect {
    /// Column name (`(Intercept)`, `Days`, `VarietyMarvellous`).
    pub term: String,
    /// Estimate.
    pub estimate: f64,
    /// Standard error.
    pub std_error: f64,
    /// t statistic.
    pub statistic: f64,
    /// Degrees of freedom (∞ for the asymptotic method).
    pub df: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Lower 95 % limit.
    pub ci_lower: f64,
    /// Upper 95 % limit.
    pub ci_upper: f64,
}

/// One variance component.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VarianceComponent {
    /// Grouping factor name, or `Residual`.
    pub group: String,
    /// Term within the group; `None` for the residual.
    pub term: Option<String>,
    /// Variance.
    pub variance: f64,
    /// Standard deviation.
    pub sd: f64,
    /// Correlations with the other terms of the same random-effects term.
    pub correlations: Vec<(String, f64)>,
}

/// One conditional mode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RandomEffect {
    /// Grouping factor name.
    pub group: String,
    /// Level label.
    pub level: String,
    /// Term (`(Intercept)`, `Days`).
    pub term: String,
    /// Conditional mode (lme4's `ranef`).
    pub value: f64,
}

/// Nakagawa–Schielzeth variance decomposition (Johnson's extension).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct R2 {
    /// Sample variance of Xβ̂.
    pub var_fixed: f64,
    /// Σ over terms of the mean of diag(Z_t Σ_t Z_tᵀ).
    pub var_random: f64,
    /// σ̂².
    pub var_residual: f64,
    /// var_fixed / total.
    pub marginal: f64,
    /// (var_fixed + var_random) / total.
    pub conditional: f64,
}

/// Fit statistics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FitSummary {
    /// Rows used.
    pub n: usize,
    /// Rows dropped for NULLs.
    pub rows_dropped: usize,
    /// Grouping factors and their numbers of levels.
    pub groups: Vec<(String, usize)>,
    /// Fixed-effect columns.
    pub p: usize,
    /// Number of θ parameters.
    pub n_theta: usize,
    /// Log-likelihood (restricted for REML fits).
    pub log_likelihood: f64,
    /// AIC with p + length(θ) + 1 parameters.
    pub aic: f64,
    /// BIC.
    pub bic: f64,
    /// REML criterion (REML fits).
    pub reml_criterion: Option<f64>,
    /// Deviance (ML fits).
    pub deviance: Option<f64>,
    /// Marginal R².
    pub r2_marginal: f64,
    /// Conditional R².
    pub r2_conditional: f64,
    /// Residual SD.
    pub sigma: f64,
    /// Boundary fit.
    pub singular: bool,
    /// Optimiser converged.
    pub converged: bool,
    /// Criterion evaluations.
    pub evaluations: usize,
    /// Warnings.
    pub warnings: Vec<String>,
    /// REML or ML.
    pub reml: bool,
    /// Degrees-of-freedom method.
    pub df_method: DfMethod,
}

/// The warning of a singular fit.
pub const SINGULAR_WARNING: &str = "boundary (singular) fit: see help('isSingular')";

/// Whether θ is singular (a diagonal element below lme4's 1e-4 tolerance).
pub(crate) fn is_singular(k: &[usize], theta: &[f64]) -> bool {
    theta_lower(k)
        .iter()
        .zip(theta)
        .any(|(l, t)| *l == 0.0 && *t < 1e-4)
}

/// Optimises θ for a design with given cross-products; returns the optimiser result.
pub(crate) fn optimise(
    design: &Design,
    y: &[f64],
    cp: &CrossProducts,
    reml: bool,
    start: &[f64],
    max_evaluations: usize,
    control: &mut dyn FnMut(usize, f64) -> Result<(), LmmError>,
) -> Result<optim::OptResult, LmmError> {
    let lower = theta_lower(cp.k());
    let mut evals = 0usize;
    let mut f = |th: &[f64]| -> Result<f64, LmmError> {
        let v = cp.criterion(th, reml);
        evals += 1;
        control(evals, v)?;
        Ok(v)
    };
    let mut exact = |th: &[f64]| -> Result<f64, LmmError> {
        let v = match solve_at(design, y, cp, th) {
            Ok((sol, _, _)) => sol.criterion(design.n, design.p(), reml),
            Err(_) => f64::INFINITY,
        };
        Ok(v)
    };
    optim::minimize(&mut f, Some(&mut exact), start, &lower, max_evaluations)
}

/// Fits a built design.
pub(crate) fn fit_design(
    design: Design,
    reml: bool,
    options: &LmmOptions,
    control: &mut dyn FnMut(usize, f64) -> Result<(), LmmError>,
) -> Result<LmmFit, LmmError> {
    let (q, dense) = CrossProducts::dense_size(&design);
    let p = design.p() as f64;
    super::check_memory(
        &format!("the random effects ({q} of them, a dense block of {dense} × {dense})"),
        8.0 * (4.0 * (dense as f64).powi(2) + 3.0 * q as f64 * p + p * p),
        options.memory_limit,
    )?;
    let cp = CrossProducts::new(&design, false);
    if reml && design.n <= design.p() {
        return Err(LmmError::new(format!(
            "REML needs more rows ({}) than fixed-effect columns ({})",
            design.n,
            design.p()
        )));
    }
    let start = theta_start(cp.k());
    let res = optimise(
        &design,
        &design.y,
        &cp,
        reml,
        &start,
        options.max_evaluations,
        control,
    )?;
    let mut warnings = Vec::new();
    if !design.dropped_columns.is_empty() {
        let m = design.dropped_columns.len();
        warnings.push(format!(
            "fixed-effect model matrix is rank deficient so dropping {m} column{s} / coefficient{s} ({})",
            design.dropped_columns.join(", "),
            s = if m == 1 { "" } else { "s" }
        ));
    }
    if let Some(msg) = &res.message {
        warnings.push(msg.clone());
    }
    let fit = finish(
        design,
        &cp,
        res.x,
        reml,
        options.df_method,
        res.evaluations,
        res.converged,
        warnings,
    )?;
    check_finite(&fit)?;
    Ok(fit)
}

/// An error for a fit whose estimates are not finite numbers, naming why: a response the model
/// reproduces exactly (no residual variation: σ̂ = 0, the criterion is −∞ and every t infinite),
/// or data so badly scaled that the arithmetic overflowed. [`super::frame::build`] refuses
/// constant, non-finite and overflowing data before fitting; this catches what is left.
fn check_finite(fit: &LmmFit) -> Result<(), LmmError> {
    let y = &fit.design.y;
    let mean = y.iter().sum::<f64>() / y.len() as f64;
    let sd = (y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / y.len() as f64).sqrt();
    if fit.sigma <= super::frame::EXACT_FIT * sd {
        return Err(LmmError::new(format!(
            "the model reproduces the response '{}' exactly (residual standard deviation \
             {:.1e}, the response's {:.3e}): there is no residual variation to estimate",
            fit.design.response, fit.sigma, sd
        )));
    }
    let named = [("criterion", fit.criterion), ("sigma", fit.sigma)];
    let bad = named
        .into_iter()
        .chain(
            fit.design
                .x_names
                .iter()
                .map(String::as_str)
                .zip(fit.beta.iter().copied()),
        )
        .chain(std::iter::repeat("theta").zip(fit.theta.iter().copied()))
        .find(|(_, v)| !v.is_finite());
    if let Some((what, v)) = bad {
        let max_y = fit.design.y.iter().fold(0.0_f64, |m, y| m.max(y.abs()));
        let max_x = fit.design.x.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
        return Err(LmmError::new(format!(
            "the fit is not finite ({what} = {v}): the data are too badly scaled to fit (max \
             |{}| = {max_y:e}, largest fixed-effect value {max_x:e}); rescale them",
            fit.design.response
        )));
    }
    Ok(())
}

/// Finishes a fit at θ: β̂, σ̂, modes, vcov, warnings and Satterthwaite ingredients.
#[allow(clippy::too_many_arguments)]
pub(crate) fn finish(
    design: Design,
    cp: &CrossProducts,
    theta: Vec<f64>,
    reml: bool,
    df_method: DfMethod,
    evaluations: usize,
    converged: bool,
    mut warnings: Vec<String>,
) -> Result<LmmFit, LmmError> {
    let (sol, u, r2) = solve_at(&design, &design.y, cp, &theta)?;
    let n = design.n;
    let p = design.p();
    let criterion = sol.criterion(n, p, reml);
    let dof = if reml { n - p } else { n };
    let sigma = (r2 / dof as f64).sqrt();
    let unscaled = solve_unscaled(cp, &theta)?;
    let singular = is_singular(cp.k(), &theta);
    if singular {
        warnings.push(SINGULAR_WARNING.to_string());
    }
    let fit = LmmFit {
        beta: sol.beta.iter().copied().collect(),
        theta,
        sigma,
        criterion,
        unscaled_vcov: unscaled.as_slice().to_vec(),
        u: u.iter().copied().collect(),
        evaluations,
        converged,
        singular,
        warnings,
        satterthwaite: std::sync::OnceLock::new(),
        reml,
        df_method,
        design,
    };
    Ok(fit)
}

fn solve_unscaled(cp: &CrossProducts, theta: &[f64]) -> Result<DMatrix<f64>, LmmError> {
    Ok(cp.solve(theta)?.unscaled_vcov())
}

/// Solves at θ and recomputes r² directly from the residuals (more accurate than the
/// subtractive formula used during optimisation); returns the solution, u and r².
fn solve_at(
    design: &Design,
    y: &[f64],
    cp: &CrossProducts,
    theta: &[f64],
) -> Result<(super::pls::Solution, DVector<f64>, f64), LmmError> {
    let mut sol = cp.solve(theta)?;
    let u = cp.modes(&sol)?;
    let b = cp.lambda_times(sol.factors(), &u);
    let xb = x_times(design, sol.beta.as_slice());
    let zb = z_times(design, b.as_slice());
    let rss: f64 = y
        .iter()
        .zip(xb.iter().zip(&zb))
        .map(|(y, (a, c))| (y - a - c).powi(2))
        .sum();
    let r2 = rss + u.dot(&u);
    sol.r2 = r2;
    Ok((sol, u, r2))
}

/// Richardson-extrapolated central differences: 4 halvings from `h`.
fn richardson(mut d: impl FnMut(f64) -> Result<f64, LmmError>, h: f64) -> Result<f64, LmmError> {
    let mut table = Vec::with_capacity(4);
    let mut step = h;
    for _ in 0..4 {
        table.push(d(step)?);
        step /= 2.0;
    }
    for j in 1..4 {
        let fac = 4f64.powi(j as i32);
        for i in 0..(4 - j) {
            table[i] = (fac * table[i + 1] - table[i]) / (fac - 1.0);
        }
    }
    Ok(table[0])
}

fn step_for(x: f64, rel: f64) -> f64 {
    if x.abs() < 1e-5 {
        1e-4
    } else {
        rel * x.abs()
    }
}

/// Computes the Satterthwaite ingredients of a fit.
pub(crate) fn satterthwaite(fit: &LmmFit, cp: &CrossProducts) -> Result<SattInfo, LmmError> {
    let n = fit.design.n;
    let p = fit.design.p();
    let reml = fit.reml;
    let mut vp: Vec<f64> = fit.theta.clone();
    vp.push(fit.sigma);
    let m = vp.len();
    let dev = |x: &[f64]| -> Result<f64, LmmError> {
        let (th, s) = x.split_at(m - 1);
        Ok(cp.solve(th)?.criterion_at_sigma(n, p, reml, s[0]))
    };
    let f0 = dev(&vp)?;
    let hs: Vec<f64> = vp.iter().map(|&x| step_for(x, 0.1)).collect();
    let mut h = DMatrix::<f64>::zeros(m, m);
    for i in 0..m {
        h[(i, i)] = richardson(
            |s| {
                let mut a = vp.clone();
                a[i] += s;
                let mut b = vp.clone();
                b[i] -= s;
                Ok((dev(&a)? - 2.0 * f0 + dev(&b)?) / (s * s))
            },
            hs[i],
        )?;
        for j in 0..i {
            let ratio = hs[j] / hs[i];
            let v = richardson(
                |s| {
                    let sj = s * ratio;
                    let mut pp = vp.clone();
                    pp[i] += s;
                    pp[j] += sj;
                    let mut pm = vp.clone();
                    pm[i] += s;
                    pm[j] -= sj;
                    let mut mp = vp.clone();
                    mp[i] -= s;
                    mp[j] += sj;
                    let mut mm = vp.clone();
                    mm[i] -= s;
                    mm[j] -= sj;
                    Ok((dev(&pp)? - dev(&pm)? - dev(&mp)? + dev(&mm)?) / (4.0 * s * sj))
                },
                hs[i],
            )?;
            h[(i, j)] = v;
            h[(j, i)] = v;
        }
    }
    let a = match h.clone().try_inverse() {
        Some(inv) => inv * 2.0,
        None => {
            h.pseudo_inverse(1e-12)
                .map_err(|e| LmmError::new(e.to_string()))?
                * 2.0
        }
    };
    // Jacobian of vcov(β̂) = σ² (R_XᵀR_X)⁻¹(θ).
    let s2 = fit.sigma * fit.sigma;
    let mut jac = Vec::with_capacity(m);
    for i in 0..m - 1 {
        let hi = step_for(vp[i], 1e-3);
        let mut entries = vec![0.0; p * p];
        // One Richardson table per entry would repeat solves; build the tables jointly.
        let mut tables: Vec<Vec<f64>> = Vec::with_capacity(4);
        let mut s = hi;
        for _ in 0..4 {
            let mut a = fit.theta.clone();
            a[i] += s;
            let mut b = fit.theta.clone();
            b[i] -= s;
            let va = solve_unscaled(cp, &a)?;
            let vb = solve_unscaled(cp, &b)?;
            tables.push(
                va.iter()
                    .zip(vb.iter())
                    .map(|(x, y)| s2 * (x - y) / (2.0 * s))
                    .collect(),
            );
            s /= 2.0;
        }
        for (e, entry) in entries.iter_mut().enumerate() {
            let mut t: Vec<f64> = tables.iter().map(|row| row[e]).collect();
            for j in 1..4 {
                let fac = 4f64.powi(j as i32);
                for k in 0..(4 - j) {
                    t[k] = (fac * t[k + 1] - t[k]) / (fac - 1.0);
                }
            }
            *entry = t[0];
        }
        jac.push(entries);
    }
    jac.push(
        fit.unscaled_vcov
            .iter()
            .map(|v| 2.0 * fit.sigma * v)
            .collect(),
    );
    Ok(SattInfo {
        varpar_vcov: a.as_slice().to_vec(),
        jacobian: jac,
    })
}

impl LmmFit {
    /// θ.
    pub fn theta(&self) -> &[f64] {
        &self.theta
    }

    /// σ̂.
    pub fn sigma(&self) -> f64 {
        self.sigma
    }

    /// β̂ (kept columns).
    pub fn beta(&self) -> &[f64] {
        &self.beta
    }

    /// vcov(β̂) = σ̂² (R_XᵀR_X)⁻¹.
    pub fn vcov(&self) -> DMatrix<f64> {
        let p = self.beta.len();
        DMatrix::from_column_slice(p, p, &self.unscaled_vcov) * (self.sigma * self.sigma)
    }

    /// The Satterthwaite ingredients, computed on first use (they need about as many criterion
    /// evaluations as the optimisation of a small model, and only tests and intervals use them).
    pub fn satterthwaite_info(&self) -> Option<&SattInfo> {
        self.satterthwaite
            .get_or_init(|| {
                let cp = CrossProducts::new(&self.design, false);
                satterthwaite(self, &cp).ok()
            })
            .as_ref()
    }

    /// Degrees of freedom of the linear function Lβ under the fit's df method.
    pub fn df_for(&self, l: &[f64]) -> f64 {
        match (&self.df_method, self.satterthwaite_info()) {
            (DfMethod::Asymptotic, _) => f64::INFINITY,
            (DfMethod::Satterthwaite, None) => f64::NAN,
            (DfMethod::Satterthwaite, Some(s)) => {
                let p = self.beta.len();
                let lv = DVector::from_column_slice(l);
                let v = (lv.transpose() * self.vcov() * &lv)[(0, 0)];
                let m = s.jacobian.len();
                let g = DVector::from_iterator(
                    m,
                    s.jacobian.iter().map(|j| {
                        let jm = DMatrix::from_column_slice(p, p, j);
                        (lv.transpose() * jm * &lv)[(0, 0)]
                    }),
                );
                let a = DMatrix::from_column_slice(m, m, &s.varpar_vcov);
                let denom = (g.transpose() * a * &g)[(0, 0)];
                if denom > 0.0 {
                    2.0 * v * v / denom
                } else {
                    f64::NAN
                }
            }
        }
    }

    /// The fixed-effects table.
    pub fn fixed_effects(&self) -> Vec<FixedEffect> {
        let v = self.vcov();
        let p = self.beta.len();
        (0..p)
            .map(|j| {
                let mut l = vec![0.0; p];
                l[j] = 1.0;
                let se = v[(j, j)].sqrt();
                let est = self.beta[j];
                let df = self.df_for(&l);
                let t = est / se;
                let q = t_quantile(0.975, df);
                FixedEffect {
                    term: self.design.x_names[j].clone(),
                    estimate: est,
                    std_error: se,
                    statistic: t,
                    df,
                    p_value: t_two_sided_p(t, df),
                    ci_lower: est - q * se,
                    ci_upper: est + q * se,
                }
            })
            .collect()
    }

    /// Σ_t = σ² T_t T_tᵀ of each random-effects term.
    pub fn term_covariances(&self) -> Vec<DMatrix<f64>> {
        let k: Vec<usize> = self.design.terms.iter().map(|t| t.k()).collect();
        theta_factors(&k, &self.theta)
            .into_iter()
            .map(|t| &t * t.transpose() * (self.sigma * self.sigma))
            .collect()
    }

    /// Variance components (lme4's `VarCorr`), terms in θ order, then the residual.
    pub fn variance_components(&self) -> Vec<VarianceComponent> {
        let mut out = Vec::new();
        for (term, cov) in self.design.terms.iter().zip(self.term_covariances()) {
            let k = term.k();
            for a in 0..k {
                let sd = cov[(a, a)].sqrt();
                let correlations = (0..k)
                    .filter(|&b| b != a)
                    .map(|b| {
                        let r = cov[(a, b)] / (sd * cov[(b, b)].sqrt());
                        (term.columns[b].clone(), r)
                    })
                    .collect();
                out.push(VarianceComponent {
                    group: term.group.clone(),
                    term: Some(term.columns[a].clone()),
                    variance: cov[(a, a)],
                    sd,
                    correlations,
                });
            }
        }
        out.push(VarianceComponent {
            group: "Residual".into(),
            term: None,
            variance: self.sigma * self.sigma,
            sd: self.sigma,
            correlations: Vec::new(),
        });
        out
    }

    /// b = Λu as a vector (terms in θ order, level-major within a term).
    pub fn b(&self) -> Vec<f64> {
        let k: Vec<usize> = self.design.terms.iter().map(|t| t.k()).collect();
        let t = theta_factors(&k, &self.theta);
        let mut b = self.u.clone();
        let mut off = 0;
        for (term, tm) in self.design.terms.iter().zip(&t) {
            let kt = term.k();
            for lev in 0..term.nlev() {
                let start = off + lev * kt;
                for i in 0..kt {
                    b[start + i] = (0..kt).map(|j| tm[(i, j)] * self.u[start + j]).sum();
                }
            }
            off += kt * term.nlev();
        }
        b
    }

    /// Conditional modes of the random effects (lme4's `ranef`).
    pub fn random_effects(&self) -> Vec<RandomEffect> {
        let b = self.b();
        let mut out = Vec::new();
        let mut off = 0;
        for term in &self.design.terms {
            let k = term.k();
            for (lev, label) in term.levels.iter().enumerate() {
                for (j, col) in term.columns.iter().enumerate() {
                    out.push(RandomEffect {
                        group: term.group.clone(),
                        level: label.clone(),
                        term: col.clone(),
                        value: b[off + lev * k + j],
                    });
                }
            }
            off += k * term.nlev();
        }
        out
    }

    /// Nakagawa–Schielzeth R² with Johnson's extension.
    pub fn r2(&self) -> R2 {
        let n = self.design.n;
        let xb = x_times(&self.design, &self.beta);
        let mean = xb.iter().sum::<f64>() / n as f64;
        let var_fixed = xb.iter().map(|v| (v - mean).powi(2)).sum::<f64>()
            / (n.saturating_sub(1).max(1)) as f64;
        let mut var_random = 0.0;
        for (term, cov) in self.design.terms.iter().zip(self.term_covariances()) {
            let k = term.k();
            let mut s = 0.0;
            for i in 0..n {
                let z = &term.values[i * k..(i + 1) * k];
                for a in 0..k {
                    for b in 0..k {
                        s += z[a] * cov[(a, b)] * z[b];
                    }
                }
            }
            var_random += s / n as f64;
        }
        let var_residual = self.sigma * self.sigma;
        let total = var_fixed + var_random + var_residual;
        R2 {
            var_fixed,
            var_random,
            var_residual,
            marginal: var_fixed / total,
            conditional: (var_fixed + var_random) / total,
        }
    }

    /// Fit statistics.
    pub fn summary(&self) -> FitSummary {
        let n = self.design.n;
        let p = self.beta.len();
        let n_theta = self.theta.len();
        let npar = (p + n_theta + 1) as f64;
        let mut groups: Vec<(String, usize)> = Vec::new();
        for t in &self.design.terms {
            if !groups.iter().any(|(g, _)| *g == t.group) {
                groups.push((t.group.clone(), t.nlev()));
            }
        }
        let r2 = self.r2();
        FitSummary {
            n,
            rows_dropped: self.design.rows_dropped,
            groups,
            p,
            n_theta,
            log_likelihood: -self.criterion / 2.0,
            aic: self.criterion + 2.0 * npar,
            bic: self.criterion + npar * (n as f64).ln(),
            reml_criterion: self.reml.then_some(self.criterion),
            deviance: (!self.reml).then_some(self.criterion),
            r2_marginal: r2.marginal,
            r2_conditional: r2.conditional,
            sigma: self.sigma,
            singular: self.singular,
            converged: self.converged,
            evaluations: self.evaluations,
            warnings: self.warnings.clone(),
            reml: self.reml,
            df_method: self.df_method,
        }
    }

    /// The criterion (REML criterion or ML deviance) at any θ, recomputed from the design
    /// (for profiling and checks).
    pub fn criterion_at(&self, theta: &[f64]) -> f64 {
        let cp = CrossProducts::new(&self.design, false);
        match solve_at(&self.design, &self.design.y, &cp, theta) {
            Ok((sol, _, _)) => sol.criterion(self.design.n, self.design.p(), self.reml),
            Err(_) => f64::INFINITY,
        }
    }
}
