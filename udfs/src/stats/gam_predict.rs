//! `gam_predict(model, table)`: a GAM's predictions on every row of a table, to draw its smooths
//! (`COPY (SELECT ... FROM gam_predict(...)) TO 'f.svg' (FORMAT plot)`) or predict new data.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{exec_err, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::lmer::{linear_model, to_column, with_linear_fit, LinearFit};
use super::lmm::Frame;
use super::table_args::Usage;
use crate::common::adapters::resolve_table;
use crate::model::{LoadedModel, ModelCatalog};
use crate::whole_table::{WholeTable, WholeTableTransform};

const USAGE: Usage = Usage {
    name: "gam_predict",
    usage: "gam_predict('model', 'table')",
};

#[user_doc(
    doc_section(label = "Statistics Functions"),
    description = "Every row of a table with a GAM's prediction (table function): the table's \
columns plus fit (the linear predictor, which for the Gaussian identity model is the predicted \
mean) and se_fit (its standard error from mgcv's Bayesian covariance Vp), as mgcv's \
predict(m, newdata, se.fit = TRUE). The table needs every column the model uses; factor levels \
must be levels the model was fitted on; a row with a NULL in a used column gets NULL. Outside a \
covariate's range the cubic regression spline continues linearly, as mgcv's does.",
    syntax_example = "gam_predict('model', 'table')",
    sql_example = r#"```sql
> CREATE TABLE fb_new AS SELECT * FROM (VALUES (0.5, 'alpha'), (0.5, 'beta'), (0.05, 'gamma'), (CAST(NULL AS DOUBLE), 'beta')) AS t(x, fac);
> SELECT x, fac, round(fit, 4) AS fit, round(se_fit, 4) AS se_fit FROM gam_predict('fb_fit', 'fb_new') ORDER BY fac, x;
+------+-------+--------+--------+
| x    | fac   | fit    | se_fit |
+------+-------+--------+--------+
| 0.5  | alpha | 0.9595 | 0.0809 |
| 0.5  | beta  | 1.9812 | 0.0546 |
|      | beta  |        |        |
| 0.05 | gamma | 1.8137 | 0.0823 |
+------+-------+--------+--------+
```"#,
    argument(
        name = "model",
        description = "Name of a model of type 'gam' (a string literal)."
    ),
    argument(
        name = "table",
        description = "Name of a registered table or view with the model's predictors (a string literal)."
    )
)]
#[derive(Debug, Default)]
pub struct GamPredictDoc;

impl GamPredictDoc {
    pub fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// The `gam_predict` table function.
#[derive(Debug)]
pub struct GamPredictFunc {
    catalog: Arc<dyn ModelCatalog>,
}

impl GamPredictFunc {
    pub fn new(catalog: Arc<dyn ModelCatalog>) -> Self {
        Self { catalog }
    }
}

/// The prediction of one model over a whole table.
#[derive(Debug)]
struct Predict {
    model: Arc<LoadedModel>,
}

impl TableFunctionImpl for GamPredictFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        USAGE.arity(exprs, 2, 2)?;
        let name = USAGE.text(exprs, 0, "model")?;
        let table = USAGE.text(exprs, 1, "table")?;
        let model = linear_model(self.catalog.as_ref(), &name, USAGE.name)?;
        with_linear_fit(&model, |fit| match fit {
            LinearFit::Gam(_) => Ok(()),
            LinearFit::Lmer(_) => plan_err!(
                "gam_predict: model '{name}' has type 'lmer'; gam_predict predicts from a 'gam'"
            ),
        })?;
        let input = resolve_table(args.session(), USAGE.name, &table)?;
        let input_schema = input.schema();
        for out in ["fit", "se_fit"] {
            if input_schema.index_of(out).is_ok() {
                return plan_err!(
                    "gam_predict: table '{table}' already has a column named {out}; rename it in a view first"
                );
            }
        }
        let mut fields: Vec<Arc<Field>> = input_schema.fields().iter().cloned().collect();
        fields.push(Arc::new(Field::new("fit", DataType::Float64, true)));
        fields.push(Arc::new(Field::new("se_fit", DataType::Float64, true)));
        let schema = Arc::new(Schema::new_with_metadata(
            fields,
            input_schema.metadata().clone(),
        ));
        Ok(Arc::new(WholeTable::new(input, Predict { model }, schema)))
    }
}

impl WholeTableTransform for Predict {
    fn exec_name(&self) -> &'static str {
        "GamPredictExec"
    }

    fn describe(&self) -> String {
        format!("model={}", self.model.name)
    }

    fn transform(&self, input: &RecordBatch, full_schema: &SchemaRef) -> Result<RecordBatch> {
        let schema = input.schema();
        let mut frame = Frame {
            names: Vec::new(),
            columns: Vec::new(),
        };
        for (field, array) in schema.fields().iter().zip(input.columns()) {
            // Columns a formula cannot use (lists, dates) are skipped: the model may not need
            // them, and a missing one is reported by name.
            if let Ok(c) = to_column(field.name(), array) {
                frame.names.push(field.name().clone());
                frame.columns.push(c);
            }
        }
        let predictions = with_linear_fit(&self.model, |fit| match fit {
            LinearFit::Gam(gam) => gam
                .predict(&frame)
                .or_else(|e| exec_err!("gam_predict: model '{}': {e}", self.model.name)),
            LinearFit::Lmer(_) => {
                exec_err!("gam_predict: model '{}' is not a GAM", self.model.name)
            }
        })?;
        let fit: Float64Array = predictions.iter().map(|p| p.map(|p| p.fit)).collect();
        let se: Float64Array = predictions.iter().map(|p| p.map(|p| p.se)).collect();
        let mut columns: Vec<ArrayRef> = input.columns().to_vec();
        columns.push(Arc::new(fit));
        columns.push(Arc::new(se));
        Ok(RecordBatch::try_new(full_schema.clone(), columns)?)
    }
}
