//! `model_fit(model)`: one row of fit statistics of a mixed model (size, likelihood, information
//! criteria, R², convergence).

use std::sync::Arc;

use datafusion::arrow::array::{BooleanArray, Float64Array, StringArray, UInt64Array};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::error::Result;
use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::gam::GamFit;
use super::gam_model::method_name;
use super::lmer::{linear_model, with_linear_fit, LinearFit};
use super::lmm::DfMethod;
use super::table_args::{column, table, Usage};
use crate::model::ModelCatalog;

const USAGE: Usage = Usage {
    name: "model_fit",
    usage: "model_fit('model')",
};

#[user_doc(
    doc_section(label = "Statistics Functions"),
    description = "Fit statistics of a model as one row. For a GAM (type 'gam', as mgcv's \
summary): method (REML or GCV.Cp), n, rows_dropped, r_squared_adj (mgcv's adjusted R²: 1 − \
var(residuals)·(n − 1) / (var(y)·(n − Σ edf))), deviance_explained (1 − RSS / Σ(y − ȳ)²), scale \
(φ̂ = RSS / (n − Σ edf)), score (the REML criterion, mgcv's −REML log-likelihood, or the GCV \
score), edf_total (Σ edf including the parametric coefficients), residual_df (n − Σ edf), \
n_coefficients, n_smooths, iterations (Newton steps) and converged. For a mixed model (type \
'lmer'): method (REML or \
ML), n (rows used), rows_dropped (rows with a NULL in a column the formula uses), groups (levels \
per grouping factor, e.g. 'Subject: 18'), n_fixed, n_theta, log_likelihood, aic, bic (lme4's: \
p + length(θ) + 1 parameters; for a REML fit they use the REML log-likelihood, as lme4 does), \
reml_criterion (REML fits) or deviance (ML fits), both −2 log-likelihood, r2_marginal and \
r2_conditional (Nakagawa & Schielzeth 2013, with Johnson's 2014 extension for random slopes: the \
random-effect variance is the mean over rows of the variance the random terms add to each \
row), singular (a variance on the boundary), converged, evaluations, df_method and warnings.",
    syntax_example = "model_fit('model')",
    sql_example = r#"```sql
> SELECT method, n, round(reml_criterion, 2) AS reml_criterion, round(r2_marginal, 3) AS r2_m, round(r2_conditional, 3) AS r2_c FROM model_fit('sleep_fit');
+--------+-----+----------------+-------+-------+
| method | n   | reml_criterion | r2_m  | r2_c  |
+--------+-----+----------------+-------+-------+
| REML   | 180 | 1743.63        | 0.279 | 0.799 |
+--------+-----+----------------+-------+-------+
```"#,
    argument(
        name = "model",
        description = "Name of a model of type 'lmer' or 'gam' (a string literal)."
    )
)]
#[derive(Debug, Default)]
pub struct ModelFitDoc;

impl ModelFitDoc {
    pub fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// The `model_fit` table function.
#[derive(Debug)]
pub struct ModelFitFunc {
    catalog: Arc<dyn ModelCatalog>,
}

impl ModelFitFunc {
    pub fn new(catalog: Arc<dyn ModelCatalog>) -> Self {
        Self { catalog }
    }
}

impl TableFunctionImpl for ModelFitFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        USAGE.arity(exprs, 1, 1)?;
        let name = USAGE.text(exprs, 0, "model")?;
        let model = linear_model(self.catalog.as_ref(), &name, USAGE.name)?;
        with_linear_fit(&model, |fit| {
            let fit = match fit {
                LinearFit::Gam(gam) => return gam_fit(gam),
                LinearFit::Lmer(fit) => fit,
            };
            let s = fit.summary();
            let text = |v: String| Arc::new(StringArray::from(vec![v]));
            let count = |v: usize| Arc::new(UInt64Array::from(vec![v as u64]));
            let num = |v: Option<f64>| Arc::new(Float64Array::from(vec![v]));
            let flag = |v: bool| Arc::new(BooleanArray::from(vec![v]));
            let groups = s
                .groups
                .iter()
                .map(|(g, n)| format!("{g}: {n}"))
                .collect::<Vec<_>>()
                .join(", ");
            let df_method = match s.df_method {
                DfMethod::Satterthwaite => "satterthwaite",
                DfMethod::Asymptotic => "asymptotic",
            };
            table(vec![
                column(
                    "method",
                    text(if s.reml { "REML" } else { "ML" }.to_string()),
                    false,
                ),
                column("n", count(s.n), false),
                column("rows_dropped", count(s.rows_dropped), false),
                column("groups", text(groups), false),
                column("n_fixed", count(s.p), false),
                column("n_theta", count(s.n_theta), false),
                column("log_likelihood", num(Some(s.log_likelihood)), false),
                column("aic", num(Some(s.aic)), false),
                column("bic", num(Some(s.bic)), false),
                column("reml_criterion", num(s.reml_criterion), true),
                column("deviance", num(s.deviance), true),
                column("r2_marginal", num(Some(s.r2_marginal)), false),
                column("r2_conditional", num(Some(s.r2_conditional)), false),
                column("singular", flag(s.singular), false),
                column("converged", flag(s.converged), false),
                column("evaluations", count(s.evaluations), false),
                column("df_method", text(df_method.to_string()), false),
                column("warnings", text(s.warnings.join("; ")), false),
            ])
        })
    }
}

/// The one-row table of a GAM's fit statistics.
fn gam_fit(fit: &GamFit) -> Result<Arc<dyn TableProvider>> {
    let num = |v: f64| Arc::new(Float64Array::from(vec![v]));
    let count = |v: usize| Arc::new(UInt64Array::from(vec![v as u64]));
    table(vec![
        column(
            "method",
            Arc::new(StringArray::from(vec![method_name(fit.method)])),
            false,
        ),
        column("n", count(fit.n), false),
        column("rows_dropped", count(fit.rows_dropped), false),
        column("r_squared_adj", num(fit.r_squared_adj), false),
        column("deviance_explained", num(fit.deviance_explained()), false),
        column("scale", num(fit.scale), false),
        column("score", num(fit.score), false),
        column("edf_total", num(fit.edf_total()), false),
        column("residual_df", num(fit.residual_df()), false),
        column("n_coefficients", count(fit.beta.len()), false),
        column("n_smooths", count(fit.smooths.len()), false),
        column("iterations", count(fit.iterations), false),
        column(
            "converged",
            Arc::new(BooleanArray::from(vec![fit.converged])),
            false,
        ),
    ])
}
