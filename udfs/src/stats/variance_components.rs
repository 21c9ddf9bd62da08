//! `variance_components(model)`: the variances, SDs and correlations of a mixed model's random
//! effects and its residual, as lme4's `VarCorr`.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Array, ListArray, StringArray, StructArray};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::error::Result;
use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::lmer::{mixed_model, with_fit};
use super::table_args::{column, table, Usage};
use crate::model::ModelCatalog;

const USAGE: Usage = Usage {
    name: "variance_components",
    usage: "variance_components('model')",
};

#[user_doc(
    doc_section(label = "Statistics Functions"),
    description = "The variance components of a mixed model (type 'lmer'), as lme4's VarCorr: \
one row per random-effect term of each grouping factor (group, term, variance, sd, and \
correlations: a list of {term, correlation} with the other terms of the same group), then a row \
with group 'Residual' (term NULL) for the residual variance σ². Groups appear in lme4's order \
(terms with more levels first); nested groups are named as lme4 names them (cask:batch for \
batch/cask).",
    syntax_example = "variance_components('model')",
    sql_example = r#"```sql
> SELECT "group", term, round(sd, 3) AS sd FROM variance_components('sleep_fit');
+----------+-------------+--------+
| group    | term        | sd     |
+----------+-------------+--------+
| Subject  | (Intercept) | 24.74  |
| Subject  | Days        | 5.922  |
| Residual |             | 25.592 |
+----------+-------------+--------+
```"#,
    argument(
        name = "model",
        description = "Name of a model of type 'lmer' (a string literal)."
    )
)]
#[derive(Debug, Default)]
pub struct VarianceComponentsDoc;

impl VarianceComponentsDoc {
    pub fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// The `variance_components` table function.
#[derive(Debug)]
pub struct VarianceComponentsFunc {
    catalog: Arc<dyn ModelCatalog>,
}

impl VarianceComponentsFunc {
    pub fn new(catalog: Arc<dyn ModelCatalog>) -> Self {
        Self { catalog }
    }
}

impl TableFunctionImpl for VarianceComponentsFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        USAGE.arity(exprs, 1, 1)?;
        let name = USAGE.text(exprs, 0, "model")?;
        let model = mixed_model(self.catalog.as_ref(), &name, USAGE.name)?;
        with_fit(&model, |fit| {
            let rows = fit.variance_components();
            let fields = Fields::from(vec![
                Field::new("term", DataType::Utf8, false),
                Field::new("correlation", DataType::Float64, false),
            ]);
            let pairs: Vec<&(String, f64)> =
                rows.iter().flat_map(|r| r.correlations.iter()).collect();
            let values = StructArray::try_new(
                fields.clone(),
                vec![
                    Arc::new(StringArray::from_iter_values(pairs.iter().map(|p| &p.0))) as ArrayRef,
                    Arc::new(Float64Array::from_iter_values(pairs.iter().map(|p| p.1))),
                ],
                None,
            )?;
            let offsets = OffsetBuffer::from_lengths(rows.iter().map(|r| r.correlations.len()));
            let correlations = ListArray::try_new(
                Arc::new(Field::new_list_field(DataType::Struct(fields), false)),
                offsets,
                Arc::new(values),
                None,
            )?;
            table(vec![
                column(
                    "group",
                    Arc::new(StringArray::from_iter_values(rows.iter().map(|r| &r.group))),
                    false,
                ),
                column(
                    "term",
                    Arc::new(StringArray::from_iter(
                        rows.iter().map(|r| r.term.as_deref()),
                    )),
                    true,
                ),
                column(
                    "variance",
                    Arc::new(Float64Array::from_iter_values(
                        rows.iter().map(|r| r.variance),
                    )),
                    false,
                ),
                column(
                    "sd",
                    Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.sd))),
                    false,
                ),
                column("correlations", Arc::new(correlations), false),
            ])
        })
    }
}
