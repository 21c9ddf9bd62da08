//! `emmeans_pairs(model, 'factor' [, 'at'])`: pairwise differences of estimated marginal means.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Array, StringArray};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::error::Result;
use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::emmeans::{at_columns, call_emmeans};
use super::table_args::{column, table, Usage};
use crate::model::ModelCatalog;

const USAGE: Usage = Usage {
    name: "emmeans_pairs",
    usage: "emmeans_pairs('model', 'factor' [, 'variable = v1, v2, ...; ...'])",
};

#[user_doc(
    doc_section(label = "Statistics Functions"),
    description = "Pairwise differences of the estimated marginal means of emmeans(model, \
factor [, at]) (emmeans' pairs()): contrast ('a - b'), estimate, std_error (from the fixed-effect \
covariance), df (the model's df_method), t_ratio, p_value adjusted for the family of \
comparisons (Holm's method), and adjustment (the method's name). With several `at` values \
(one column per such variable), comparisons are made within each value.",
    syntax_example = "emmeans_pairs('model', 'factor' [, 'variable = v1, v2, ...; ...'])",
    sql_example = r#"```sql
> SELECT contrast, round(estimate, 2) AS estimate, adjustment FROM emmeans_pairs('oats_fit', 'nitro') ORDER BY contrast LIMIT 2;
+-----------+----------+------------+
| contrast  | estimate | adjustment |
+-----------+----------+------------+
| 0 - 0.2   | -18.14   | holm       |
| 0 - 0.4   | -35.31   | holm       |
+-----------+----------+------------+
```"#,
    argument(
        name = "model",
        description = "Name of a model of type 'lmer' or 'gam' (a string literal)."
    ),
    argument(
        name = "factor",
        description = "A categorical variable of the model's fixed part (a string literal)."
    ),
    argument(
        name = "at",
        description = "Optional: values of numeric variables, 'variable = v1, v2, ...; ...'."
    )
)]
#[derive(Debug, Default)]
pub struct EmmeansPairsDoc;

impl EmmeansPairsDoc {
    pub fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// The `emmeans_pairs` table function.
#[derive(Debug)]
pub struct EmmeansPairsFunc {
    catalog: Arc<dyn ModelCatalog>,
}

impl EmmeansPairsFunc {
    pub fn new(catalog: Arc<dyn ModelCatalog>) -> Self {
        Self { catalog }
    }
}

impl TableFunctionImpl for EmmeansPairsFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let (emm, _, at) = call_emmeans(self.catalog.as_ref(), USAGE, args.exprs())?;
        let rows = &emm.contrasts;
        let num = |g: fn(&super::lmm::ContrastRow) -> f64| -> ArrayRef {
            Arc::new(Float64Array::from_iter_values(rows.iter().map(g)))
        };
        let mut columns = vec![column(
            "contrast",
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| &r.contrast),
            )),
            false,
        )];
        columns.extend(at_columns(&at, rows.iter().map(|r| r.at.as_slice())));
        columns.extend(vec![
            column("estimate", num(|r| r.estimate), false),
            column("std_error", num(|r| r.se), false),
            column("df", num(|r| r.df), false),
            column("t_ratio", num(|r| r.t_ratio), false),
            column("p_value", num(|r| r.p_value), false),
            column(
                "adjustment",
                Arc::new(StringArray::from_iter_values(
                    rows.iter().map(|_| emm.adjustment),
                )),
                false,
            ),
        ]);
        table(columns)
    }
}
