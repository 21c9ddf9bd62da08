//! `mainstreaminess(model, user)`: how much a user's taste agrees with the crowd's.
//!
//! The thesis relates explainability to a user's mainstreaminess (Bauer & Schedl 2019). We use
//! their rank-agreement family of measures: Kendall's τ_b between the user's interaction values
//! (play counts, ratings) over the items the user interacted with and the global popularity of the
//! same items, where popularity is the number of users of the item in the model's training data.
//! 1 means the user's favourites are exactly the globally popular ones, −1 the reverse. A user
//! with fewer than two items, or whose values (or whose items' popularities) are all tied, gets
//! NULL, as does a user the model never saw.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Float64Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{exec_err, plan_err, ScalarValue};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion_macros::user_doc;

use crate::common::args::model_name_type;

use super::recommender::Recommender;
use super::{id_type, recommender_model};
use crate::common::adapters::columnar;
use crate::model::{CatalogRef, KeyColumn, ModelCatalog};
use crate::ranking::kernels::kendall_tau_b;

#[user_doc(
    doc_section(label = "Recommender Functions"),
    description = "A user's mainstreaminess (Bauer & Schedl 2019): Kendall's tau-b between the \
user's interaction values and the global popularity (number of users) of the same items, in the \
training data of a recommender model. 1 = the user's favourites are the popular items. NULL for \
unknown users and users with fewer than two items or all-tied values.",
    syntax_example = "mainstreaminess(model, user)",
    sql_example = r#"```sql
> CREATE MODEL pop3 OPTIONS (type = 'mostpop')
  AS SELECT * FROM (VALUES (1, 10, 1.0), (2, 10, 1.0), (3, 10, 9.0), (3, 20, 5.0), (3, 30, 1.0),
                           (2, 20, 1.0)) AS t("user", item, value);
> SELECT mainstreaminess('pop3', 3) AS m;
+-----+
| m   |
+-----+
| 1.0 |
+-----+
```"#,
    argument(name = "model", description = "Name of a recommender model."),
    argument(name = "user", description = "User id (integer or text).")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct MainstreaminessFunc {
    signature: Signature,
    catalog: CatalogRef,
}

impl MainstreaminessFunc {
    pub fn new(catalog: Arc<dyn ModelCatalog>) -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Stable),
            catalog: CatalogRef(catalog),
        }
    }
}

impl ScalarUDFImpl for MainstreaminessFunc {
    fn name(&self) -> &str {
        "mainstreaminess"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [model, user] = arg_types else {
            return plan_err!(
                "mainstreaminess(model, user) takes 2 arguments, got {}",
                arg_types.len()
            );
        };
        Ok(vec![
            model_name_type("mainstreaminess", model)?,
            id_type("mainstreaminess", "user", user)?,
        ])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        if let Some(Some(ScalarValue::Utf8(Some(name)))) = args.scalar_arguments.first() {
            recommender_model(self.catalog.as_ref(), name, "mainstreaminess")?;
        }
        Ok(Arc::new(Field::new(self.name(), DataType::Float64, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let models = arrays[0].as_string::<i32>();
        let users = KeyColumn::try_new(&arrays[1], "mainstreaminess: the user argument")?;
        let mut out = Vec::with_capacity(models.len());
        let mut current: Option<(String, Vec<f64>)> = None;
        for row in 0..models.len() {
            let (false, Some(user)) = (models.is_null(row), users.get(row)) else {
                out.push(None);
                continue;
            };
            let name = models.value(row);
            let model = recommender_model(self.catalog.as_ref(), name, "mainstreaminess")?;
            let Some(rec) = model.model.capability::<dyn Recommender>() else {
                return exec_err!("model '{name}' is not a recommender");
            };
            let data = rec.data();
            if arrays[1].data_type() != &DataType::Null && users.kind() != data.users.kind() {
                return exec_err!(
                    "mainstreaminess: model '{name}' was trained on {} user ids, got {} ids",
                    data.users.kind().name(),
                    users.kind().name()
                );
            }
            if current.as_ref().map(|(n, _)| n.as_str()) != Some(name) {
                let counts = data.item_counts().iter().map(|&c| c as f64).collect();
                current = Some((name.to_string(), counts));
            }
            let Some((_, popularity)) = &current else {
                out.push(None);
                continue;
            };
            let Some(u) = data.users.get(user) else {
                out.push(None);
                continue;
            };
            let (items, values) = data.r.row(u as usize);
            let x: Vec<f64> = values.iter().map(|&v| v as f64).collect();
            let y: Vec<f64> = items.iter().map(|&i| popularity[i as usize]).collect();
            out.push(kendall_tau_b(&x, &y).unwrap_or(None));
        }
        columnar(Arc::new(Float64Array::from(out)), all_scalar)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}
