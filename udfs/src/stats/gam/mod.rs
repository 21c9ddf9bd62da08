//! Generalised additive models (mgcv's `gam`), Gaussian with identity link.
//!
//! Thesis ch. 4 analyses task performance and every consistency measure with GAMs: factor main
//! effects and interactions plus a smooth of the transformation's magnitude for every cell
//! (`cw ~ transformation * task + s(m01, by = interaction(transformation, task))`). This module
//! is the numerical kernel that lets SQL fit them as mgcv 1.8-41 does: it reads mgcv's formula
//! language on top of the lme4 parser (`stats::lmm::formula`; the parametric part is built by
//! the same code as lmer's fixed effects), builds each smooth's basis exactly as mgcv
//! ([`basis`]), chooses the smoothing parameters by REML or GCV ([`fit`]) and reports mgcv's
//! summary: parametric coefficients, edf, Ref.df and F per smooth, r.sq and deviance explained.
//! It knows nothing of Arrow or DataFusion.
//!
//! # Supported
//! Gaussian family, identity link; smooths `s(x)`, `s(x, k = 10)`, `s(x, bs = 'tp' | 'cr')`
//! (thin plate regression splines, mgcv's default, in [`tprs`]; cubic regression splines),
//! `s(x, by = f)` with a factor, `by = a:b` or `by = interaction(a, b)` (one smooth per
//! observed level combination, each centred over all rows as mgcv centres factor-by smooths;
//! levels of `interaction()` are `a.b` with the first factor varying fastest, levels of `a:b`
//! are `a:b` with the first factor slowest), and numeric `by` (a varying coefficient, not
//! centred). Smoothing parameters by REML (default) or GCV.
//!
//! # Not (yet) supported
//! Other families, multi-dimensional and tensor smooths, mgcv's shrinkage bases (`ts`, `cs`)
//! and its `gam.side` identifiability fixes between smooths of the same covariate.
//!
//! # Inference
//! The smooth terms' statistic (edf, Ref.df, F) and p-value follow mgcv's `testStat` (Wood
//! 2013) and `summary.gam` (module `pvalue`); parametric coefficients get t tests on the
//! residual df; [`grid`] predicts at reference-grid points and on new rows, so emmeans and
//! emmeans' joint tests (`stats::lmm::emmeans`, `stats::lmm::joint_tests`) work on GAMs as on
//! mixed models.

pub mod basis;
pub mod fit;
pub mod grid;
mod pvalue;
pub mod spec;
pub mod tprs;

use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

use crate::stats::lmm::dist::t_two_sided_p;
use crate::stats::lmm::formula::{self, deparse, err_at, Expr};
use crate::stats::lmm::frame::{check_frame, fixed_part, variable, Variable};
use crate::stats::lmm::grid::{parametric_vars, GridKind, GridVar};
use crate::stats::lmm::FixedSpec;
use crate::stats::lmm::{Frame, LmmError, LmmOptions};
use basis::CrBasis;
pub use fit::Method;
use spec::{BasisKind, SmoothSpec};
use tprs::TpBasis;

/// Options of a GAM fit.
#[derive(Clone, Debug, PartialEq)]
pub struct GamOptions {
    /// REML (default) or GCV.
    pub method: Method,
    /// Int/Float columns to treat as categorical.
    pub factors: Vec<String>,
    /// The most bytes the model matrix may take.
    pub memory_limit: Option<u64>,
    /// Fixed smoothing parameters, one per smooth (mgcv's `sp`); estimated when `None`.
    pub sp: Option<Vec<f64>>,
}

impl Default for GamOptions {
    fn default() -> Self {
        GamOptions {
            method: Method::Reml,
            factors: Vec::new(),
            memory_limit: None,
            sp: None,
        }
    }
}

/// How a smooth's columns are multiplied by its `by` variable.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum By {
    /// No `by`.
    None,
    /// A numeric `by` (the label).
    Numeric(String),
    /// One level of a factor `by`: the by label and the level.
    Level(String, String),
}

/// A smooth's basis before its constraint.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum SmoothBasis {
    /// Cubic regression spline.
    Cr(CrBasis),
    /// Thin plate regression spline.
    Tp(TpBasis),
}

impl SmoothBasis {
    /// The basis dimension.
    pub fn k(&self) -> usize {
        match self {
            SmoothBasis::Cr(b) => b.k(),
            SmoothBasis::Tp(b) => b.k,
        }
    }

    /// The basis functions at `x`, written into `out` (length k).
    pub fn row(&self, x: f64, out: &mut [f64]) {
        match self {
            SmoothBasis::Cr(b) => b.row(x, out),
            SmoothBasis::Tp(b) => b.row(x, out),
        }
    }
}

/// One fitted smooth (one per level of a factor `by`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Smooth {
    /// mgcv's label (`s(x)`, `s(x):facalpha`, `s(x0):z`).
    pub label: String,
    /// The covariate's label.
    pub term: String,
    /// The covariate.
    pub x: Expr,
    /// The `by` expression, if any.
    pub by_expr: Option<Expr>,
    /// The basis.
    pub basis: SmoothBasis,
    /// The constraint's null-space basis (k × (k − 1), row-major), or empty (no constraint).
    pub z: Vec<f64>,
    /// The `by` variable.
    pub by: By,
    /// First coefficient (0-based).
    pub first: usize,
    /// Number of coefficients.
    pub n_coef: usize,
    /// mgcv's `S.scale`.
    pub s_scale: f64,
    /// The scaled, constrained penalty (n_coef², row-major).
    pub s: Vec<f64>,
    /// Penalty rank.
    pub rank: usize,
}

/// One row of the smooth-term table (mgcv's `summary(m)$s.table`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SmoothTerm {
    /// The smooth's label.
    pub term: String,
    /// Effective degrees of freedom.
    pub edf: f64,
    /// Reference df of the test (mgcv's Ref.df).
    pub ref_df: f64,
    /// F statistic.
    pub f: f64,
    /// p-value (Wood 2013, as mgcv's summary with an estimated scale).
    pub p_value: f64,
    /// Smoothing parameter.
    pub sp: f64,
}

/// One parametric coefficient (mgcv's `summary(m)$p.table`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ParametricTerm {
    /// Column name as R names it.
    pub term: String,
    /// Estimate.
    pub estimate: f64,
    /// Standard error from Vp.
    pub std_error: f64,
    /// t value.
    pub t_value: f64,
    /// Two-sided p-value on the residual df.
    pub p_value: f64,
}

/// A fitted GAM.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GamFit {
    /// The formula as given.
    pub formula: String,
    /// The response label.
    pub response: String,
    /// REML or GCV.
    pub method: Method,
    /// Rows used.
    pub n: usize,
    /// Rows dropped for NULLs.
    pub rows_dropped: usize,
    /// Coefficient names (parametric, then `<label>.<j>`).
    pub coef_names: Vec<String>,
    /// Number of parametric coefficients.
    pub n_parametric: usize,
    /// Coefficients.
    pub beta: Vec<f64>,
    /// Bayesian posterior covariance Vp = φ̂ (XᵀX + S_λ)⁻¹ (p², row-major).
    pub vp: Vec<f64>,
    /// edf per coefficient.
    pub edf: Vec<f64>,
    /// mgcv's edf1 per coefficient.
    pub edf1: Vec<f64>,
    /// Smoothing parameters, one per smooth.
    pub sp: Vec<f64>,
    /// Smooths.
    pub smooths: Vec<Smooth>,
    /// The parametric part's specification (to rebuild rows for grids and new data).
    pub fixed: FixedSpec,
    /// The reference grid's variables: the parametric part's, then each smooth's covariate and
    /// `by` variables (numeric ones at their mean over the rows used).
    pub grid: Vec<GridVar>,
    /// Numeric columns treated as categorical (the `factors` option), for reading new data.
    pub factors: Vec<String>,
    /// The scale φ̂.
    pub scale: f64,
    /// The REML criterion or GCV score at the optimum.
    pub score: f64,
    /// Fitted values.
    pub fitted: Vec<f64>,
    /// Residual sum of squares (the deviance).
    pub deviance: f64,
    /// Σ (y − ȳ)².
    pub null_deviance: f64,
    /// Adjusted R² as mgcv's summary.
    pub r_squared_adj: f64,
    /// Smooth-term table.
    pub smooth_table: Vec<SmoothTerm>,
    /// Newton iterations.
    pub iterations: usize,
    /// Whether the optimiser converged.
    pub converged: bool,
}

impl GamFit {
    /// Total edf (Σ edf, including the parametric coefficients).
    pub fn edf_total(&self) -> f64 {
        self.edf.iter().sum()
    }

    /// Residual df n − Σ edf.
    pub fn residual_df(&self) -> f64 {
        self.n as f64 - self.edf_total()
    }

    /// Deviance explained.
    pub fn deviance_explained(&self) -> f64 {
        (self.null_deviance - self.deviance) / self.null_deviance
    }

    /// The parametric coefficients as mgcv's summary reports them.
    pub fn parametric(&self) -> Vec<ParametricTerm> {
        let p = self.beta.len();
        let rdf = self.residual_df();
        (0..self.n_parametric)
            .map(|i| {
                let se = self.vp[i * p + i].sqrt();
                let t = self.beta[i] / se;
                ParametricTerm {
                    term: self.coef_names[i].clone(),
                    estimate: self.beta[i],
                    std_error: se,
                    t_value: t,
                    p_value: t_two_sided_p(t, rdf),
                }
            })
            .collect()
    }
}

/// A `by` variable evaluated: numbers, or level codes and labels.
enum ByData {
    None,
    Numeric(String, Vec<f64>),
    Factor(String, Vec<usize>, Vec<String>),
}

/// The components of an interaction `by` (`interaction(a, b)`: dotted labels, the first factor
/// varying fastest; `a:b`: colon labels, the first factor slowest), or `None` for a single
/// variable.
pub(crate) fn by_components(e: &Expr) -> Option<(Vec<Expr>, bool)> {
    match e {
        Expr::Call(f, args, _) if f == "interaction" => Some((args.clone(), true)),
        Expr::Bin(':', ..) => {
            fn flat(e: &Expr, out: &mut Vec<Expr>) {
                match e {
                    Expr::Bin(':', l, r, _) => {
                        flat(l, out);
                        flat(r, out);
                    }
                    other => out.push(other.clone()),
                }
            }
            let mut v = Vec::new();
            flat(e, &mut v);
            Some((v, false))
        }
        _ => None,
    }
}

/// A component of an interaction `by` as a factor expression.
pub(crate) fn as_factor(c: &Expr) -> Expr {
    match c {
        Expr::Call(f, ..) if f == "factor" || f == "as.factor" => c.clone(),
        _ => Expr::Call("factor".into(), vec![c.clone()], 0),
    }
}

fn by_data(data: &Frame, rows: &[usize], opts: &LmmOptions, e: &Expr) -> Result<ByData, LmmError> {
    let label = deparse(e);
    let Some((components, dotted)) = by_components(e) else {
        return Ok(match variable(data, rows, opts, e)? {
            Variable::Numeric(v) => ByData::Numeric(label, v),
            Variable::Factor { codes, levels } => ByData::Factor(label, codes, levels),
        });
    };
    let mut comps = Vec::new();
    for c in &components {
        match variable(data, rows, opts, &as_factor(c))? {
            Variable::Factor { codes, levels } => comps.push((codes, levels)),
            Variable::Numeric(_) => {
                return Err(LmmError::new(format!("'{}' is not a factor", deparse(c))))
            }
        }
    }
    let n = rows.len();
    let tuple = |i: usize| -> Vec<usize> {
        let t: Vec<usize> = comps.iter().map(|c| c.0[i]).collect();
        // interaction(): the first factor varies fastest, so it sorts last.
        if dotted {
            t.into_iter().rev().collect()
        } else {
            t
        }
    };
    let mut distinct: Vec<Vec<usize>> = (0..n).map(tuple).collect();
    distinct.sort();
    distinct.dedup();
    let codes: Vec<usize> = (0..n)
        .map(|i| distinct.binary_search(&tuple(i)).unwrap_or(0))
        .collect();
    let levels = distinct
        .iter()
        .map(|t| {
            let mut parts: Vec<&str> = t
                .iter()
                .enumerate()
                .map(|(j, &c)| {
                    let comp = if dotted { comps.len() - 1 - j } else { j };
                    comps[comp].1[c].as_str()
                })
                .collect();
            if dotted {
                parts.reverse();
            }
            parts.join(if dotted { "." } else { ":" })
        })
        .collect();
    Ok(ByData::Factor(label, codes, levels))
}

/// Fits `formula` to `data`. `control(iteration, criterion)` is called once per Newton
/// iteration; an error from it stops the fit (cancellation).
pub fn fit_gam(
    formula_text: &str,
    data: &Frame,
    options: &GamOptions,
    control: &mut dyn FnMut(usize, f64) -> Result<(), LmmError>,
) -> Result<GamFit, LmmError> {
    build_and_fit(formula_text, data, options, control).map_err(|mut e| {
        if e.position.is_some() {
            e.formula = Some(formula_text.to_string());
        }
        e
    })
}

fn build_and_fit(
    formula_text: &str,
    data: &Frame,
    options: &GamOptions,
    control: &mut dyn FnMut(usize, f64) -> Result<(), LmmError>,
) -> Result<GamFit, LmmError> {
    let lopts = LmmOptions {
        factors: options.factors.clone(),
        memory_limit: options.memory_limit,
        ..LmmOptions::default()
    };
    check_frame(data, &lopts)?;
    let (lhs, rhs) = formula::parse(formula_text)?;
    let (ts, calls) = formula::expand_gam(&rhs)?;
    let specs: Vec<SmoothSpec> = calls
        .iter()
        .map(spec::parse_smooth)
        .collect::<Result<_, _>>()?;
    let mut extra = Vec::new();
    for s in &specs {
        extra.push(s.x.clone());
        if let Some(b) = &s.by {
            extra.push(b.clone());
        }
    }
    let part = fixed_part(data, &lhs, &ts, &extra, &lopts)?;
    let n = part.n;
    let p_par = part.x_names.len();
    // Smooth columns and penalties.
    let mut blocks: Vec<DMatrix<f64>> = Vec::new();
    let mut smooths: Vec<Smooth> = Vec::new();
    let mut next = p_par;
    for s in &specs {
        let xlabel = deparse(&s.x);
        let xv = match variable(data, &part.rows, &lopts, &s.x)? {
            Variable::Numeric(v) => v,
            Variable::Factor { .. } => {
                return Err(err_at(
                    format!(
                        "s({xlabel}) at position {}: '{xlabel}' is categorical; a smooth needs a \
                         numeric covariate",
                        s.pos
                    ),
                    s.pos,
                ))
            }
        };
        if xv.iter().any(|v| !v.is_finite()) {
            return Err(err_at(
                format!("s({xlabel}): the covariate has NaN or infinite values"),
                s.pos,
            ));
        }
        let xu = basis::unique_sorted(&xv);
        if xu.len() < s.k {
            return Err(err_at(
                format!(
                    "s({xlabel}) at position {}: '{xlabel}' has {} unique values, fewer than the \
                     basis dimension k = {} (mgcv: \"A term has fewer unique covariate \
                     combinations than specified maximum degrees of freedom\"); lower k",
                    s.pos,
                    xu.len(),
                    s.k
                ),
                s.k_pos,
            ));
        }
        let (cr, xr, s_raw) = match s.bs {
            BasisKind::Cr => {
                let knots = basis::place_knots(&xu, s.k)?;
                let (cr, s_raw) = CrBasis::new(knots)?;
                let xr = cr.matrix(&xv);
                (SmoothBasis::Cr(cr), xr, s_raw)
            }
            BasisKind::Tp => {
                let (tp, xr, s_raw) = TpBasis::new(&xv, s.k)?;
                (SmoothBasis::Tp(tp), xr, s_raw)
            }
        };
        let s_scale = basis::penalty_scale(&s_raw, &xr);
        let s_scaled = &s_raw / s_scale;
        let label0 = format!("s({xlabel})");
        let by = match &s.by {
            None => ByData::None,
            Some(e) => by_data(data, &part.rows, &lopts, e)?,
        };
        let k = s.k;
        let mut push = |label: String,
                        by: By,
                        cols: DMatrix<f64>,
                        z: Option<&DMatrix<f64>>,
                        pen: DMatrix<f64>| {
            let n_coef = cols.ncols();
            smooths.push(Smooth {
                label,
                term: xlabel.clone(),
                x: s.x.clone(),
                by_expr: s.by.clone(),
                basis: cr.clone(),
                z: z.map(|z| z.transpose().iter().copied().collect())
                    .unwrap_or_default(),
                by,
                first: next,
                n_coef,
                s_scale,
                s: pen.transpose().iter().copied().collect(),
                rank: k - 2,
            });
            next += n_coef;
            blocks.push(cols);
        };
        match by {
            ByData::None => {
                let z = basis::constraint_z(&basis::col_means(&xr))?;
                push(
                    label0,
                    By::None,
                    &xr * &z,
                    Some(&z),
                    z.transpose() * &s_scaled * &z,
                );
            }
            ByData::Numeric(label, v) => {
                let mut cols = xr.clone();
                for i in 0..n {
                    for j in 0..k {
                        cols[(i, j)] *= v[i];
                    }
                }
                push(
                    format!("{label0}:{label}"),
                    By::Numeric(label),
                    cols,
                    None,
                    s_scaled.clone(),
                );
            }
            ByData::Factor(label, codes, levels) => {
                let z = basis::constraint_z(&basis::col_means(&xr))?;
                let xz = &xr * &z;
                let pen = z.transpose() * &s_scaled * &z;
                for (l, level) in levels.iter().enumerate() {
                    let mut cols = xz.clone();
                    for (i, &code) in codes.iter().enumerate() {
                        if code != l {
                            cols.row_mut(i).fill(0.0);
                        }
                    }
                    push(
                        format!("{label0}:{label}{level}"),
                        By::Level(label.clone(), level.clone()),
                        cols,
                        Some(&z),
                        pen.clone(),
                    );
                }
            }
        }
    }
    let grid = grid_vars(data, &part.rows, &lopts, &part.fixed, &specs)?;
    let p = next;
    crate::stats::lmm::check_memory(
        &format!("the GAM model matrix ({n} rows × {p} columns)"),
        3.0 * 8.0 * n as f64 * p as f64,
        options.memory_limit,
    )?;
    let mut x = DMatrix::zeros(n, p);
    for j in 0..p_par {
        for i in 0..n {
            x[(i, j)] = part.x[j * n + i];
        }
    }
    for (sm, cols) in smooths.iter().zip(&blocks) {
        x.columns_mut(sm.first, sm.n_coef).copy_from(cols);
    }
    let pens: Vec<fit::Penalty> = smooths
        .iter()
        .map(|sm| {
            fit::Penalty::new(
                sm.first,
                DMatrix::from_row_slice(sm.n_coef, sm.n_coef, &sm.s),
                sm.rank,
            )
        })
        .collect();
    let y = DVector::from_column_slice(&part.y);
    let fixed = match &options.sp {
        None => None,
        Some(sp) if sp.len() == pens.len() => Some(sp.iter().map(|v| v.ln()).collect::<Vec<_>>()),
        Some(sp) => {
            return Err(LmmError::new(format!(
                "sp gives {} smoothing parameters but the model has {} smooths ({})",
                sp.len(),
                smooths.len(),
                smooths
                    .iter()
                    .map(|s| s.label.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
    };
    let f = fit::fit(&x, &y, &pens, options.method, fixed.as_deref(), control)?;
    if !(f.scale.is_finite() && f.scale > 0.0) {
        return Err(LmmError::new(
            "the model reproduces the response exactly (scale 0): there is no residual \
             variation to model",
        ));
    }
    let mut coef_names = part.x_names.clone();
    for sm in &smooths {
        for j in 1..=sm.n_coef {
            coef_names.push(format!("{}.{j}", sm.label));
        }
    }
    let vp_m = &f.a_inv * f.scale;
    let ybar = part.y.iter().sum::<f64>() / n as f64;
    let null_deviance: f64 = part.y.iter().map(|v| (v - ybar) * (v - ybar)).sum();
    let edf_total: f64 = f.edf.iter().sum();
    let resid: Vec<f64> = part.y.iter().zip(&f.fitted).map(|(a, b)| a - b).collect();
    let var = |v: &[f64]| {
        let m = v.iter().sum::<f64>() / v.len() as f64;
        v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (v.len() as f64 - 1.0)
    };
    let r_squared_adj =
        1.0 - var(&resid) * (n as f64 - 1.0) / (var(&part.y) * (n as f64 - edf_total));
    let xtx = x.transpose() * &x;
    let smooth_table = smooths
        .iter()
        .zip(&f.sp)
        .map(|(sm, sp)| {
            let r = sm.first..sm.first + sm.n_coef;
            let edf: f64 = f.edf[r.clone()].iter().sum();
            let edf1: f64 = f.edf1[r.clone()].iter().sum();
            let rank = (sm.n_coef as f64).min(edf1);
            let xtx_b = xtx
                .view((sm.first, sm.first), (sm.n_coef, sm.n_coef))
                .into_owned();
            let vp_b = vp_m
                .view((sm.first, sm.first), (sm.n_coef, sm.n_coef))
                .into_owned();
            let beta_b = DVector::from_column_slice(&f.beta[r]);
            let t = test_stat(&xtx_b, &vp_b, &beta_b, rank, n as f64 - edf_total);
            SmoothTerm {
                term: sm.label.clone(),
                edf,
                ref_df: t.rank,
                f: t.stat / t.rank,
                p_value: t.p_value,
                sp: *sp,
            }
        })
        .collect();
    Ok(GamFit {
        formula: formula_text.to_string(),
        response: part.response,
        method: options.method,
        n,
        rows_dropped: part.rows_dropped,
        coef_names,
        n_parametric: p_par,
        beta: f.beta.clone(),
        vp: vp_m.transpose().iter().copied().collect(),
        edf: f.edf.clone(),
        edf1: f.edf1.clone(),
        sp: f.sp.clone(),
        smooths,
        fixed: part.fixed,
        grid,
        factors: options.factors.clone(),
        scale: f.scale,
        score: f.score,
        fitted: f.fitted.clone(),
        deviance: f.rss,
        null_deviance,
        r_squared_adj,
        smooth_table,
        iterations: f.iterations,
        converged: f.converged,
    })
}

/// The reference grid's variables: the parametric part's, then each smooth's covariate and `by`
/// variables not already among them.
fn grid_vars(
    data: &Frame,
    rows: &[usize],
    opts: &LmmOptions,
    fixed: &FixedSpec,
    specs: &[SmoothSpec],
) -> Result<Vec<GridVar>, LmmError> {
    let mut vars = parametric_vars(fixed);
    let add = |vars: &mut Vec<GridVar>, e: &Expr, factor: bool| -> Result<(), LmmError> {
        let mut raw = Vec::new();
        formula::variables(e, &mut raw);
        if factor {
            let Some((name, _)) = raw.first() else {
                return Ok(());
            };
            if vars.iter().any(|v| v.name == *name) {
                return Ok(());
            }
            if let Variable::Factor { levels, .. } = variable(data, rows, opts, e)? {
                vars.push(GridVar {
                    name: name.clone(),
                    aliases: vec![deparse(e)],
                    kind: GridKind::Factor {
                        levels,
                        numeric: None,
                    },
                    expr: e.clone(),
                });
            }
            return Ok(());
        }
        for (name, pos) in raw {
            if vars.iter().any(|v| v.name == name) {
                continue;
            }
            let var = Expr::Var(name.clone(), pos);
            if let Variable::Numeric(v) = variable(data, rows, opts, &var)? {
                let mean = v.iter().sum::<f64>() / v.len().max(1) as f64;
                vars.push(GridVar {
                    name,
                    aliases: Vec::new(),
                    kind: GridKind::Numeric { mean },
                    expr: var,
                });
            }
        }
        Ok(())
    };
    for s in specs {
        add(&mut vars, &s.x, false)?;
        if let Some(by) = &s.by {
            match by_components(by) {
                Some((comps, _)) => {
                    for c in &comps {
                        add(&mut vars, &as_factor(c), true)?;
                    }
                }
                None => {
                    let is_factor =
                        matches!(variable(data, rows, opts, by)?, Variable::Factor { .. });
                    add(&mut vars, by, is_factor)?;
                }
            }
        }
    }
    Ok(vars)
}

/// mgcv's `testStat` (Wood 2013, type 0) for one smooth: the coefficients' Wald statistic with
/// the fractionally truncated pseudo-inverse of R Vp Rᵀ at rank `rank` (mgcv: min(k, edf1)),
/// where RᵀR = XᵀX of the smooth's columns, and its p-value on `residual_df` (the scale is
/// estimated). mgcv computes the statistic with both signs of the fractional part's mixing and
/// averages the two p-values; the reported statistic is the first.
fn test_stat(
    xtx: &DMatrix<f64>,
    v: &DMatrix<f64>,
    p: &DVector<f64>,
    rank: f64,
    residual_df: f64,
) -> TestStat {
    let m = xtx.nrows();
    let failed = TestStat {
        stat: f64::NAN,
        rank,
        p_value: f64::NAN,
    };
    let Some(chol) = xtx.clone().cholesky() else {
        return failed;
    };
    let r = chol.l().transpose();
    let vr = &r * v * r.transpose();
    let vr = (&vr + vr.transpose()) * 0.5;
    let eig = vr.symmetric_eigen();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
    let vals: Vec<f64> = order.iter().map(|&i| eig.eigenvalues[i]).collect();
    let mut vecs = DMatrix::zeros(m, m);
    for (c, &i) in order.iter().enumerate() {
        let mut col = eig.eigenvectors.column(i).into_owned();
        if col[0] < 0.0 {
            col = -col;
        }
        vecs.set_column(c, &col);
    }
    let mut rank = rank;
    let mut k = rank.floor().max(0.0) as usize;
    let mut nu = (rank - k as f64).abs();
    let mut k1 = if nu > 0.0 { k + 1 } else { k };
    let eps = f64::EPSILON.powf(0.9);
    let r_est = vals.iter().filter(|v| **v > vals[0] * eps).count();
    if r_est < k1 {
        k1 = r_est;
        k = r_est;
        nu = 0.0;
        rank = r_est as f64;
    }
    let k1c = k1.min(m);
    let mut vec = vecs.columns(0, k1c).into_owned();
    let vec1;
    if nu > 0.0 && k > 0 {
        for (c, v) in vals.iter().enumerate().take(k - 1) {
            let s = v.sqrt();
            vec.column_mut(c).iter_mut().for_each(|x| *x /= s);
        }
        let b12 = (0.5 * nu * (1.0 - nu)).max(0.0).sqrt();
        let e0 = vals[k - 1].powf(-0.5);
        let e1 = vals[k].powf(-0.5);
        let b =
            DMatrix::from_row_slice(2, 2, &[e0 * e0, e0 * b12 * e1, e1 * b12 * e0, e1 * nu * e1]);
        let eb = b.symmetric_eigen();
        let sq = DMatrix::from_diagonal(&eb.eigenvalues.map(|x| x.max(0.0).sqrt()));
        let rb = &eb.eigenvectors * sq * eb.eigenvectors.transpose();
        let mut pair = vec.columns(k - 1, 2).into_owned();
        let mut mixed1 = vec.clone();
        vec.columns_mut(k - 1, 2)
            .copy_from(&(&pair * rb.transpose()));
        pair.column_mut(0).neg_mut();
        mixed1
            .columns_mut(k - 1, 2)
            .copy_from(&(pair * rb.transpose()));
        vec1 = mixed1;
    } else {
        if k == 0 {
            let s = vals[0].sqrt();
            vec.iter_mut().for_each(|x| *x /= s);
        } else {
            for (c, v) in vals.iter().enumerate().take(k.min(k1c)) {
                let s = v.sqrt();
                vec.column_mut(c).iter_mut().for_each(|x| *x /= s);
            }
            if k == 1 {
                rank = 1.0;
            }
        }
        vec1 = vec.clone();
    }
    let rp = &r * p;
    let d = (vec.transpose() * &rp).norm_squared();
    let d1 = (vec1.transpose() * &rp).norm_squared();
    let p_value = pvalue::smooth_p_value(d, d1, rank, k, k1, nu, residual_df);
    TestStat {
        stat: d,
        rank,
        p_value,
    }
}

/// The result of [`test_stat`].
struct TestStat {
    stat: f64,
    rank: f64,
    p_value: f64,
}

#[cfg(test)]
mod tests;
