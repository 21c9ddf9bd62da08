//! `joint_tests(model)`: an F test of every model term of a mixed model or a GAM, as emmeans'
//! `joint_tests` reports them.

use std::sync::Arc;

use datafusion::arrow::array::{Float64Array, StringArray, UInt64Array};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::plan_err;
use datafusion::error::Result;
use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::lmer::{linear_model, lmm_err, with_linear_fit};
use super::lmm::{joint_tests_with, CovReduce, JointTest};
use super::table_args::{column, table, Usage};
use crate::model::ModelCatalog;

const USAGE: Usage = Usage {
    name: "joint_tests",
    usage: "joint_tests('model' [, 'meanint' | 'mean'])",
};

#[user_doc(
    doc_section(label = "Statistics Functions"),
    description = "Joint F tests of every term of a mixed model (type 'lmer') or a GAM (type \
'gam'), as the R package emmeans (1.8.4) computes them with joint_tests(model): on the reference \
grid of every factor's levels and every numeric covariate at its mean ± 1, each set of variables \
that a model term contains is tested through the consecutive-difference contrasts of its \
marginal means (equal weights over the other variables): F = (Lβ)ᵀ(L V Lᵀ)⁻¹(Lβ) / df1 over an \
orthonormal basis of the contrasts. For a GAM a smooth's covariate and its by variables count as \
main effects, V is mgcv's Vp and df2 the residual df n − Σ edf; for a mixed model df2 is the \
smallest Satterthwaite df of the basis rows (or infinite with df_method = 'asymptotic', where \
the p-value is χ²'s). A last row '(confounded)' tests what the grid shows and no term explains \
(for example a smooth's shape differing between the levels of its by factor). The optional \
second argument is emmeans' cov.reduce: 'meanint' (the default, mean ± 1) or 'mean' (every \
covariate at its mean only: covariates are then not tested, and the factors are compared where \
the data are, which matters when mean ± 1 lies outside a covariate's range). Columns: term, \
df1, df2, f_ratio, p_value.",
    syntax_example = "joint_tests('model' [, cov_reduce])",
    sql_example = r#"```sql
> SELECT term, df1, round(df2, 2) AS df2, round(f_ratio, 3) AS f_ratio FROM joint_tests('oats_fit') ORDER BY term;
+---------+-----+-------+---------+
| term    | df1 | df2   | f_ratio |
+---------+-----+-------+---------+
| Variety | 2   | 8.69  | 1.59    |
| nitro   | 3   | 40.91 | 32.399  |
+---------+-----+-------+---------+
```"#,
    argument(
        name = "model",
        description = "Name of a model of type 'lmer' or 'gam' (a string literal)."
    ),
    argument(
        name = "cov_reduce",
        description = "Where numeric covariates enter the reference grid: 'meanint' (default; \
mean − 1 and mean + 1) or 'mean'."
    )
)]
#[derive(Debug, Default)]
pub struct JointTestsDoc;

impl JointTestsDoc {
    pub fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// The `joint_tests` table function.
#[derive(Debug)]
pub struct JointTestsFunc {
    catalog: Arc<dyn ModelCatalog>,
}

impl JointTestsFunc {
    pub fn new(catalog: Arc<dyn ModelCatalog>) -> Self {
        Self { catalog }
    }
}

impl TableFunctionImpl for JointTestsFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        USAGE.arity(exprs, 1, 2)?;
        let name = USAGE.text(exprs, 0, "model")?;
        let cov_reduce = if exprs.len() > 1 {
            match USAGE
                .text(exprs, 1, "cov_reduce")?
                .to_ascii_lowercase()
                .as_str()
            {
                "meanint" => CovReduce::MeanInt,
                "mean" => CovReduce::Mean,
                other => {
                    return plan_err!(
                        "joint_tests: cov_reduce must be 'meanint' or 'mean', got '{other}'; \
                         usage: {}",
                        USAGE.usage
                    )
                }
            }
        } else {
            CovReduce::MeanInt
        };
        let model = linear_model(self.catalog.as_ref(), &name, USAGE.name)?;
        let rows = with_linear_fit(&model, |fit| {
            joint_tests_with(fit.grid(), cov_reduce).map_err(lmm_err)
        })?;
        let f =
            |g: fn(&JointTest) -> f64| Arc::new(Float64Array::from_iter_values(rows.iter().map(g)));
        table(vec![
            column(
                "term",
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| &r.term))),
                false,
            ),
            column(
                "df1",
                Arc::new(UInt64Array::from_iter_values(
                    rows.iter().map(|r| r.df1 as u64),
                )),
                false,
            ),
            column("df2", f(|r| r.df2), false),
            column("f_ratio", f(|r| r.f_ratio), false),
            column("p_value", f(|r| r.p_value), false),
        ])
    }
}
