//! `smooth_terms(model)`: the smooth-term table of a GAM (mgcv's `summary(m)$s.table`).

use std::sync::Arc;

use datafusion::arrow::array::{Float64Array, StringArray};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::plan_err;
use datafusion::error::Result;
use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::gam::SmoothTerm;
use super::lmer::{linear_model, with_linear_fit, LinearFit};
use super::table_args::{column, table, Usage};
use crate::model::ModelCatalog;

const USAGE: Usage = Usage {
    name: "smooth_terms",
    usage: "smooth_terms('model')",
};

#[user_doc(
    doc_section(label = "Statistics Functions"),
    description = "The smooth terms of a GAM (type 'gam') as mgcv's summary lists them: term \
(mgcv's label: s(x), s(x):facalpha for a factor by, s(x0):z for a numeric by), edf (effective \
degrees of freedom), ref_df (the reference df of the test, mgcv's Ref.df), f (the test \
statistic over ref_df), p_value (Wood's 2013 test, as mgcv 1.8-41 computes it with an estimated \
scale) and sp (the smoothing parameter).",
    syntax_example = "smooth_terms('model')",
    sql_example = r#"```sql
> CREATE MODEL fb_fit OPTIONS (type = 'gam', formula = 'y ~ fac + s(x, by = fac, bs = ''cr'')') AS SELECT * FROM fb;
> SELECT term, round(edf, 3) AS edf, round(ref_df, 3) AS ref_df, round(f, 3) AS f, p_value < 1e-9 AS tiny_p FROM smooth_terms('fb_fit');
+---------------+-------+--------+---------+--------+
| term          | edf   | ref_df | f       | tiny_p |
+---------------+-------+--------+---------+--------+
| s(x):facalpha | 6.378 | 7.487  | 73.424  | true   |
| s(x):facbeta  | 3.06  | 3.793  | 126.548 | true   |
| s(x):facgamma | 3.465 | 4.256  | 15.119  | true   |
+---------------+-------+--------+---------+--------+
```"#,
    argument(
        name = "model",
        description = "Name of a model of type 'gam' (a string literal)."
    )
)]
#[derive(Debug, Default)]
pub struct SmoothTermsDoc;

impl SmoothTermsDoc {
    pub fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// The `smooth_terms` table function.
#[derive(Debug)]
pub struct SmoothTermsFunc {
    catalog: Arc<dyn ModelCatalog>,
}

impl SmoothTermsFunc {
    pub fn new(catalog: Arc<dyn ModelCatalog>) -> Self {
        Self { catalog }
    }
}

impl TableFunctionImpl for SmoothTermsFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        USAGE.arity(exprs, 1, 1)?;
        let name = USAGE.text(exprs, 0, "model")?;
        let model = linear_model(self.catalog.as_ref(), &name, USAGE.name)?;
        with_linear_fit(&model, |fit| {
            let LinearFit::Gam(fit) = fit else {
                return plan_err!(
                    "smooth_terms: model '{name}' has type 'lmer', which has no smooth terms (a \
                     'gam' has)"
                );
            };
            let rows = &fit.smooth_table;
            let f = |g: fn(&SmoothTerm) -> f64| {
                Arc::new(Float64Array::from_iter_values(rows.iter().map(g)))
            };
            table(vec![
                column(
                    "term",
                    Arc::new(StringArray::from_iter_values(rows.iter().map(|r| &r.term))),
                    false,
                ),
                column("edf", f(|r| r.edf), false),
                column("ref_df", f(|r| r.ref_df), false),
                column("f", f(|r| r.f), false),
                column("p_value", f(|r| r.p_value), false),
                column("sp", f(|r| r.sp), false),
            ])
        })
    }
}
