//! Linear mixed models (lme4's `lmer`).
//!
//! The thesis analyses every experiment with hierarchical linear models (thesis eq. 2.10–2.16 and
//! 5.2); this module is the numerical kernel that lets SQL fit them: it parses lme4's formula
//! language, builds the fixed-effect matrix X and the random-effect structure Z from named
//! columns, estimates the model by lme4's penalised-least-squares (PLS) algorithm (Bates,
//! Mächler, Bolker & Walker 2015, J. Stat. Softw. 67(1), §3) and provides the inference built
//! on it. It knows nothing of Arrow or DataFusion; adapters pass a [`Frame`].
//!
//! # Formula language
//! `response ~ fixed + (random | group)`, with R's operators: `+`, `-` (remove a term), `*`
//! (`a*b = a + b + a:b`), `:` (interaction), `/` (`a/b = a + a:b`), `^` (`(a+b)^2`), intercept
//! control `0 +`, `+ 0`, `- 1`, `1 +`; functions `log`, `log2`, `log10`, `log1p`, `exp`, `sqrt`,
//! `abs`, `I(...)` (arithmetic `+ - * / ^` and numbers inside) and `factor(x)` / `as.factor(x)`.
//! Random terms `(1 | g)`, `(1 + x | g)`, `(0 + x | g)`, `(x | g)` (intercept implied), `(x || g)`
//! (split into one term per model term: `(1 | g) + (0 + x | g)`, as lme4 expands it), factors
//! inside random terms, grouping by interactions `g1:g2` (levels = observed combinations, named
//! `l1:l2`), nesting `(1 | a/b)` = `(1 | a) + (1 | b:a)` (lme4's naming) and any number of crossed
//! or nested terms. Names may be quoted with backticks. Errors in the formula report the 0-based
//! character offset ([`LmmError::position`]) and a caret line.
//!
//! # Categorical variables and reference levels
//! Text and Bool columns, Int/Float columns listed in [`LmmOptions::factors`] and anything
//! wrapped in `factor()` are categorical. Levels are the values present in the rows used, sorted
//! as R's `factor()` sorts them: numbers numerically, `FALSE < TRUE`, and strings in **byte
//! order** (R sorts strings in the locale's collation order, which may differ for mixed case or
//! non-ASCII text). Numbers become labels as R prints them (`0.2`, `1`, `10`). Categorical terms
//! use treatment contrasts against the first level; column names follow R (`VarietyMarvellous`,
//! `factor(nitro)0.2`, `explainerlime:log(omega)`). As in R's `model.matrix`, a factor in a term
//! gets full indicator coding when the term without that factor is absent from the model (e.g.
//! `0 + f`, or `(0 + f | g)`).
//!
//! # Term ordering
//! Fixed terms: intercept, then terms ordered by degree (main effects, two-way interactions, ...),
//! in order of appearance within a degree; interaction columns vary the first factor fastest.
//! Random terms are sorted by decreasing number of levels of their grouping factor (stable), as
//! lme4 does; θ follows that order, and within a term it is the column-major lower triangle of
//! the relative covariance factor.
//!
//! # Estimation
//! Λ_θ is block diagonal; for each θ the PLS problem is solved with a Cholesky factor of
//! Λᵀ ZᵀZ Λ + I. Cross-products (ZᵀZ, ZᵀX, XᵀX, Zᵀy, Xᵀy, yᵀy) are accumulated once, so one
//! evaluation of the profiled deviance (ML) or REML criterion costs no work proportional to the
//! number of rows. When the first (largest) random term has many levels its block of the
//! Cholesky factor is kept block diagonal and only the remaining random effects form a dense
//! Schur complement (see the `pls` module). The optimiser (module `optim`) is a bound-constrained Nelder–Mead
//! with a restart followed by a projected Newton polish on finite-difference derivatives;
//! diagonal elements of θ are bounded below by 0. σ² = r²/(n−p) (REML) or r²/n (ML).
//!
//! # Reporting
//! A fit with any diagonal θ below 1e-4 (lme4's `isSingular` tolerance) is reported with
//! `singular = true` and the warning "boundary (singular) fit: see help('isSingular')"; it is not
//! an error. Reaching [`LmmOptions::max_evaluations`] gives `converged = false` and a warning.
//! A rank-deficient X is handled like lme4: columns are examined in order and those whose
//! residual after projection on the kept columns is below 1e-7 of their norm are dropped, with
//! the warning "fixed-effect model matrix is rank deficient so dropping N column(s) /
//! coefficient(s)". Rows with a NULL in any used column are dropped and counted.
//!
//! Data that cannot give finite estimates is an error naming the problem, before any fitting:
//! a constant response ("there is no variation to model"; lme4 says "Response is constant"),
//! NaN or infinite values in the response, a predictor or a categorical variable (they are not
//! dropped like NULLs), a column whose sum of squares overflows or underflows ("too large to
//! fit (max |y| = 1e+305); rescale it"), and, after fitting, a fit whose criterion or estimates
//! are still not finite, or whose residual standard deviation is 0.
//!
//! # Determinism
//! Nothing here runs in parallel and nothing depends on hashing order, so a fit of the same
//! [`Frame`] is bit-identical on every run and under any thread pool. The order of the rows does
//! enter the sums; the SQL adapter (`stats::lmer`) puts rows in content order first.
//!
//! # Inference
//! vcov(β̂) = σ̂² (R_XᵀR_X)⁻¹, conditional on θ̂ (lme4's `vcov`). Degrees of freedom: Satterthwaite
//! as lmerTest computes them (variance parameters (θ, σ); Hessian of the non-profiled deviance /
//! REML criterion and Jacobian of vcov(β̂) by Richardson-extrapolated central differences) or
//! asymptotic (df = ∞, normal quantiles). R²: Nakagawa & Schielzeth with Johnson's extension for
//! random slopes (var_fixed = sample variance of Xβ̂ with divisor n−1). Estimated marginal means
//! (`LmmFit::emmeans`) use emmeans' equal-weight reference grid; pairwise contrasts are Holm-adjusted.
//!
//! # Bootstrap parameter names
//! [`LmmFit::bootstrap`] reports the fixed effects by their column names, `sd_<term>|<group>`
//! for random-effect standard deviations (e.g. `sd_(Intercept)|cask:batch`),
//! `cor_<term1>.<term2>|<group>` for correlations and `sigma` for the residual SD.
//!
//! # Differences from lme4
//! The optimiser is not BOBYQA (the optimum agrees to the reported precision, evaluation counts
//! differ); string levels sort in byte order; the Satterthwaite derivatives use this module's own
//! Richardson scheme (not numDeriv's exact steps); bootstrap percentiles use R's type-7 quantiles
//! (boot's `perc` interpolates differently); contrasts use Holm, not Tukey, adjustment.

mod bootstrap;
pub mod dist;
mod emmeans;
pub mod formula;
pub(crate) mod frame;
pub mod grid;
mod inference;
pub mod joint_tests;
pub mod optim;
pub mod pls;

use serde::{Deserialize, Serialize};

pub use bootstrap::BootstrapInterval;
pub use emmeans::{emmeans, ContrastRow, EmmRow, Emmeans};
pub use frame::{Design, FixedSpec, ReTerm};
pub use inference::{FitSummary, FixedEffect, RandomEffect, VarianceComponent};
pub use joint_tests::{joint_tests, joint_tests_with, CovReduce, JointTest};

/// One input column; `None` is SQL NULL.
#[derive(Clone, Debug, PartialEq)]
pub enum Column {
    /// Floating-point values.
    Float(Vec<Option<f64>>),
    /// Integer values.
    Int(Vec<Option<i64>>),
    /// Text values (categorical).
    Text(Vec<Option<String>>),
    /// Boolean values (categorical, `FALSE < TRUE`).
    Bool(Vec<Option<bool>>),
}

impl Column {
    /// The number of rows.
    pub fn len(&self) -> usize {
        match self {
            Column::Float(v) => v.len(),
            Column::Int(v) => v.len(),
            Column::Text(v) => v.len(),
            Column::Bool(v) => v.len(),
        }
    }

    /// Whether the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether row `i` is NULL.
    pub fn is_null(&self, i: usize) -> bool {
        match self {
            Column::Float(v) => v[i].is_none(),
            Column::Int(v) => v[i].is_none(),
            Column::Text(v) => v[i].is_none(),
            Column::Bool(v) => v[i].is_none(),
        }
    }
}

/// Named input columns of equal length.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Frame {
    /// Column names.
    pub names: Vec<String>,
    /// Columns, in the order of `names`.
    pub columns: Vec<Column>,
}

impl Frame {
    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.names
            .iter()
            .position(|n| n == name)
            .and_then(|i| self.columns.get(i))
    }
}

/// How degrees of freedom for fixed-effect tests and intervals are computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DfMethod {
    /// Satterthwaite's approximation as in lmerTest.
    Satterthwaite,
    /// df = ∞: normal quantiles and p-values.
    Asymptotic,
}

/// Options of a fit.
#[derive(Clone, Debug, PartialEq)]
pub struct LmmOptions {
    /// REML (default) or maximum likelihood.
    pub reml: bool,
    /// Int/Float columns to treat as categorical.
    pub factors: Vec<String>,
    /// The optimiser's budget of criterion evaluations.
    pub max_evaluations: usize,
    /// Degrees-of-freedom method.
    pub df_method: DfMethod,
    /// The most bytes the model matrices and cross-products may take (`None`: no limit). A
    /// design over the limit is an error before its matrices are allocated: a factor with many
    /// levels in an interaction, or two crossed factors of 100,000 levels, would otherwise ask
    /// for more memory than the machine has and abort the process.
    pub memory_limit: Option<u64>,
}

impl Default for LmmOptions {
    fn default() -> Self {
        LmmOptions {
            reml: true,
            factors: Vec::new(),
            max_evaluations: 10_000,
            df_method: DfMethod::Satterthwaite,
            memory_limit: None,
        }
    }
}

/// An error when `need` bytes (an estimate, in `f64` so that products cannot overflow) exceed
/// `limit`; `what` says what needs them.
pub(crate) fn check_memory(what: &str, need: f64, limit: Option<u64>) -> Result<(), LmmError> {
    let Some(limit) = limit else {
        return Ok(());
    };
    if need.is_finite() && need <= limit as f64 {
        return Ok(());
    }
    let gib = |b: f64| format!("{:.2} GiB", b / (1u64 << 30) as f64);
    Err(LmmError::new(format!(
        "{what} needs about {} of memory, over the session's limit of {} \
         (trustql.memory_limit)",
        if need.is_finite() {
            gib(need)
        } else {
            "an unbounded amount".to_string()
        },
        gib(limit as f64)
    )))
}

/// An error of a fit; formula errors carry the 0-based character offset.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}{}", caret_line(*.position, .formula.as_deref()))]
pub struct LmmError {
    /// What went wrong.
    pub message: String,
    /// The character offset in the formula, for formula errors.
    pub position: Option<usize>,
    /// The formula text, when the error is about it (for the caret line).
    pub formula: Option<String>,
}

impl LmmError {
    /// An error without a position.
    pub fn new(message: impl Into<String>) -> Self {
        LmmError {
            message: message.into(),
            position: None,
            formula: None,
        }
    }
}

/// The formula and a caret under `position` (after the message of a formula error), or nothing.
fn caret_line(position: Option<usize>, formula: Option<&str>) -> String {
    match (position, formula) {
        (Some(p), Some(src)) => format!("\n  {src}\n  {}^", " ".repeat(p)),
        _ => String::new(),
    }
}

/// A fitted linear mixed model: the design, the estimates and everything inference needs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LmmFit {
    /// The model's design (y, X, random-effect terms, formula).
    pub design: Design,
    /// REML or ML.
    pub reml: bool,
    /// Degrees-of-freedom method for tests and intervals.
    pub df_method: DfMethod,
    /// The relative covariance parameters.
    pub theta: Vec<f64>,
    /// Fixed effects (kept columns of X).
    pub beta: Vec<f64>,
    /// Residual standard deviation.
    pub sigma: f64,
    /// The optimised criterion: REML criterion or deviance (−2 log-likelihood).
    pub criterion: f64,
    /// Unscaled fixed-effect covariance (R_XᵀR_X)⁻¹, p×p column-major.
    pub unscaled_vcov: Vec<f64>,
    /// Spherical random effects u (conditional modes b = Λu).
    pub u: Vec<f64>,
    /// Criterion evaluations used.
    pub evaluations: usize,
    /// Whether the optimiser converged.
    pub converged: bool,
    /// Whether the fit is singular (some diagonal θ below 1e-4).
    pub singular: bool,
    /// Warnings (rank deficiency, singular fit, convergence).
    pub warnings: Vec<String>,
    /// Satterthwaite ingredients (covariance of (θ, σ) and Jacobian of vcov(β̂)), computed on
    /// the first request for degrees of freedom (as lmerTest does in `summary`, not in the fit)
    /// and kept in memory, not in the model file: `None` inside when they could not be computed.
    #[serde(skip)]
    pub(crate) satterthwaite: std::sync::OnceLock<Option<inference::SattInfo>>,
}

/// Fits `formula` to `data`. `control(evaluations, criterion)` is called after every criterion
/// evaluation; returning an error stops the fit with that error (cancellation).
pub fn fit(
    formula: &str,
    data: &Frame,
    options: &LmmOptions,
    control: &mut dyn FnMut(usize, f64) -> Result<(), LmmError>,
) -> Result<LmmFit, LmmError> {
    let design = frame::build(formula, data, options).map_err(|mut e| {
        if e.position.is_some() {
            e.formula = Some(formula.to_string());
        }
        e
    })?;
    inference::fit_design(design, options.reml, options, control)
}

#[cfg(test)]
mod tests;
