//! `random_effects(model)`: the conditional modes of a mixed model's random effects (lme4's
//! `ranef`), one row per group level and term.

use std::sync::Arc;

use datafusion::arrow::array::{Float64Array, StringArray};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::error::Result;
use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::lmer::{mixed_model, with_fit};
use super::table_args::{column, table, Usage};
use crate::model::ModelCatalog;

const USAGE: Usage = Usage {
    name: "random_effects",
    usage: "random_effects('model')",
};

#[user_doc(
    doc_section(label = "Statistics Functions"),
    description = "The conditional modes of the random effects of a mixed model (type 'lmer'), \
as lme4's ranef: one row per grouping factor, level and term (group, level, term, value). The \
level of an interaction or nested group is its labels joined by ':' in the group's order.",
    syntax_example = "random_effects('model')",
    sql_example = r#"```sql
> SELECT level, term, round(value, 3) AS value FROM random_effects('sleep_fit') WHERE level = '308' ORDER BY term;
+-------+-------------+-------+
| level | term        | value |
+-------+-------------+-------+
| 308   | (Intercept) | 2.259 |
| 308   | Days        | 9.199 |
+-------+-------------+-------+
```"#,
    argument(
        name = "model",
        description = "Name of a model of type 'lmer' (a string literal)."
    )
)]
#[derive(Debug, Default)]
pub struct RandomEffectsDoc;

impl RandomEffectsDoc {
    pub fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// The `random_effects` table function.
#[derive(Debug)]
pub struct RandomEffectsFunc {
    catalog: Arc<dyn ModelCatalog>,
}

impl RandomEffectsFunc {
    pub fn new(catalog: Arc<dyn ModelCatalog>) -> Self {
        Self { catalog }
    }
}

impl TableFunctionImpl for RandomEffectsFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        USAGE.arity(exprs, 1, 1)?;
        let name = USAGE.text(exprs, 0, "model")?;
        let model = mixed_model(self.catalog.as_ref(), &name, USAGE.name)?;
        with_fit(&model, |fit| {
            let rows = fit.random_effects();
            let text = |g: fn(&super::lmm::RandomEffect) -> &str| {
                Arc::new(StringArray::from_iter_values(rows.iter().map(g)))
            };
            table(vec![
                column("group", text(|r| &r.group), false),
                column("level", text(|r| &r.level), false),
                column("term", text(|r| &r.term), false),
                column(
                    "value",
                    Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.value))),
                    false,
                ),
            ])
        })
    }
}
