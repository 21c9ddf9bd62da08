//! `score(model, user, item)`: a recommender's score for a (user, item) pair.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Float64Array};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::datatypes::{Field, FieldRef};
use datafusion::common::{exec_err, plan_err, ScalarValue};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion_macros::user_doc;

use super::recommender::score_pairs_cancellable;
use super::recommender::Recommender;
use super::{check_kinds, id_type, recommender_model};
use crate::common::adapters::columnar;
use crate::common::args::model_name_type;
use crate::engine::config::{device_setting, resolve_device};
use crate::model::{CatalogRef, KeyColumn, ModelCatalog};

#[user_doc(
    doc_section(label = "Recommender Functions"),
    description = "The score a trained recommender gives to an item for a user (higher = more \
recommended). Ids may be integers or text, of the kind the model was trained on; a user or item \
the model never saw scores NULL, as do NULL arguments.",
    syntax_example = "score(model, user, item)",
    sql_example = r#"```sql
> CREATE MODEL pop OPTIONS (type = 'mostpop')
  AS SELECT * FROM (VALUES (1, 10), (2, 10), (2, 20)) AS t("user", item);
> SELECT score('pop', 1, 10) AS a, score('pop', 1, 20) AS b, score('pop', 1, 99) AS unknown;
+-----+-----+---------+
| a   | b   | unknown |
+-----+-----+---------+
| 2.0 | 1.0 | NULL    |
+-----+-----+---------+
```"#,
    argument(
        name = "model",
        description = "Name of a recommender model (a string; may be a column)."
    ),
    argument(name = "user", description = "User id (integer or text)."),
    argument(name = "item", description = "Item id (integer or text).")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ScoreFunc {
    signature: Signature,
    catalog: CatalogRef,
}

impl ScoreFunc {
    pub fn new(catalog: Arc<dyn ModelCatalog>) -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Stable),
            catalog: CatalogRef(catalog),
        }
    }
}

impl ScalarUDFImpl for ScoreFunc {
    fn name(&self) -> &str {
        "score"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [model, user, item] = arg_types else {
            return plan_err!(
                "score(model, user, item) takes 3 arguments, got {}",
                arg_types.len()
            );
        };
        Ok(vec![
            model_name_type("score", model)?,
            id_type("score", "user", user)?,
            id_type("score", "item", item)?,
        ])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        // A literal model name is checked while planning, so a typo fails before any work.
        if let Some(Some(ScalarValue::Utf8(Some(name)))) = args.scalar_arguments.first() {
            recommender_model(self.catalog.as_ref(), name, "score")?;
        }
        Ok(Arc::new(Field::new(self.name(), DataType::Float64, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let device = resolve_device(device_setting(&args.config_options))?;
        // The statement's cancellation, taken once (see ModelCatalog::cancel_token).
        let token = self.catalog.cancel_token();
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let models = arrays[0].as_string::<i32>();
        let users = KeyColumn::try_new(&arrays[1], "score: the user argument")?;
        let items = KeyColumn::try_new(&arrays[2], "score: the item argument")?;
        let n = models.len();
        let mut out: Vec<Option<f64>> = vec![None; n];
        // Rows are grouped by model (usually one) and each group is scored in batches.
        let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
        for row in 0..n {
            if models.is_null(row) {
                continue;
            }
            let name = models.value(row);
            match groups.iter_mut().find(|(m, _)| m == name) {
                Some((_, rows)) => rows.push(row),
                None => groups.push((name.to_string(), vec![row])),
            }
        }
        for (name, rows) in groups {
            let model = recommender_model(self.catalog.as_ref(), &name, "score")?;
            let Some(rec) = model.model.capability::<dyn Recommender>() else {
                return exec_err!("model '{name}' is not a recommender");
            };
            let data = rec.data();
            check_kinds("score", &name, data, &arrays[1], &users, &arrays[2], &items)?;
            let (mut us, mut is, mut at) = (Vec::new(), Vec::new(), Vec::new());
            for row in rows {
                let (Some(u), Some(i)) = (users.get(row), items.get(row)) else {
                    continue;
                };
                if let (Some(u), Some(i)) = (data.users.get(u), data.items.get(i)) {
                    us.push(u);
                    is.push(i);
                    at.push(row);
                }
            }
            // Checks the session's cancel flag between chunks (a large batch is many chunks).
            let scores = score_pairs_cancellable(rec, device, &us, &is, &|| token.check())?;
            for (row, s) in at.into_iter().zip(scores) {
                out[row] = Some(s);
            }
        }
        columnar(Arc::new(Float64Array::from(out)), all_scalar)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}
