//! `fixed_effects(model)`: the fixed-effect coefficients of a mixed model as a table.

use std::sync::Arc;

use datafusion::arrow::array::{Float64Array, StringArray};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::error::Result;
use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::gam::ParametricTerm;
use super::lmer::{linear_model, with_linear_fit, LinearFit};
use super::lmm::dist::t_quantile;
use super::lmm::FixedEffect;
use super::table_args::{column, table, Usage};
use crate::model::ModelCatalog;

const USAGE: Usage = Usage {
    name: "fixed_effects",
    usage: "fixed_effects('model')",
};

#[user_doc(
    doc_section(label = "Statistics Functions"),
    description = "The fixed effects of a mixed model (type 'lmer'), or the parametric \
coefficients of a GAM (type 'gam', as mgcv's summary: t tests on the residual df n − Σ edf, SEs \
from the Bayesian covariance Vp), as a table: term (named as \
lme4 prints it: (Intercept), Days, VarietyMarvellous, factor(nitro)0.2, explainerlime:log(omega)), \
estimate, std_error (from σ² (R_Xᵀ R_X)⁻¹ at the fitted θ, as lme4's vcov), statistic (t = \
estimate / std_error), df, p_value (two-sided) and the 95 % interval ci_lower, ci_upper. df is \
Satterthwaite's approximation as lmerTest computes it (the model's df_method option), or infinite \
(normal) with df_method = 'asymptotic'. Coefficients of columns dropped for rank deficiency are \
not listed (the fit's warning names them).",
    syntax_example = "fixed_effects('model')",
    sql_example = r#"```sql
> CREATE MODEL sleep_fit OPTIONS (type = 'lmer', formula = 'Reaction ~ Days + (Days | Subject)') AS SELECT * FROM sleepstudy;
> SELECT term, round(estimate, 3) AS estimate, round(std_error, 3) AS se FROM fixed_effects('sleep_fit');
+-------------+----------+-------+
| term        | estimate | se    |
+-------------+----------+-------+
| (Intercept) | 251.405  | 6.825 |
| Days        | 10.467   | 1.546 |
+-------------+----------+-------+
```"#,
    argument(
        name = "model",
        description = "Name of a model of type 'lmer' or 'gam' (a string literal)."
    )
)]
#[derive(Debug, Default)]
pub struct FixedEffectsDoc;

impl FixedEffectsDoc {
    pub fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// The `fixed_effects` table function.
#[derive(Debug)]
pub struct FixedEffectsFunc {
    catalog: Arc<dyn ModelCatalog>,
}

impl FixedEffectsFunc {
    pub fn new(catalog: Arc<dyn ModelCatalog>) -> Self {
        Self { catalog }
    }
}

impl TableFunctionImpl for FixedEffectsFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        USAGE.arity(exprs, 1, 1)?;
        let name = USAGE.text(exprs, 0, "model")?;
        let model = linear_model(self.catalog.as_ref(), &name, USAGE.name)?;
        with_linear_fit(&model, |fit| {
            let rows = match fit {
                LinearFit::Lmer(fit) => fit.fixed_effects(),
                LinearFit::Gam(fit) => {
                    let df = fit.residual_df();
                    let q = t_quantile(0.975, df);
                    fit.parametric()
                        .into_iter()
                        .map(|t: ParametricTerm| FixedEffect {
                            term: t.term,
                            estimate: t.estimate,
                            std_error: t.std_error,
                            statistic: t.t_value,
                            df,
                            p_value: t.p_value,
                            ci_lower: t.estimate - q * t.std_error,
                            ci_upper: t.estimate + q * t.std_error,
                        })
                        .collect()
                }
            };
            let f = |g: fn(&FixedEffect) -> f64| {
                Arc::new(Float64Array::from_iter_values(rows.iter().map(g)))
            };
            table(vec![
                column(
                    "term",
                    Arc::new(StringArray::from_iter_values(rows.iter().map(|r| &r.term))),
                    false,
                ),
                column("estimate", f(|r| r.estimate), false),
                column("std_error", f(|r| r.std_error), false),
                column("statistic", f(|r| r.statistic), false),
                column("df", f(|r| r.df), false),
                column("p_value", f(|r| r.p_value), false),
                column("ci_lower", f(|r| r.ci_lower), false),
                column("ci_upper", f(|r| r.ci_upper), false),
            ])
        })
    }
}
