//! `score_features(model, user, features)`: the score a `content_wrmf` model gives to an item
//! known only by its feature vector (cold start, thesis eq. 2.7).
//!
//! It exists because the items a cold-start evaluation ranks (held-out tracks) are not in the
//! model: `score` and `recommend` only know the training items, whose own factors v_i they use.
//! For an item without interactions the model's item factor is xW, the features (standardised
//! as the training items were) times the learned projection, and the score is u · xW. Ranking
//! the held-out items of every user by this score and comparing with what the user played gives
//! nDCG on cold items (see `sql/recsys/coldstart.slt`). It is a function of its own, next to
//! `score_tags` (the tag-vector cold start of the tag-aware models), because its third argument
//! is a dense vector the model type defines, not a list of ids.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Float64Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::{exec_err, plan_err, ScalarValue};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion_macros::user_doc;

use super::content_wrmf::{is_number_list, ContentWrmf};
use super::recommender::Recommender;
use super::{check_user_kind, id_type};
use crate::common::adapters::columnar;
use crate::common::args::model_name_type;
use crate::model::{CatalogRef, KeyColumn, LoadedModel, ModelCatalog};

const NAME: &str = "score_features";

#[user_doc(
    doc_section(label = "Recommender Functions"),
    description = "The score a content_wrmf model gives to an item known only by its feature \
vector (cold start, thesis eq. 2.7): u · xW, with the features standardised as the training \
items' were. The vector must have the model's number of features. NULL for a user the model \
never saw and for NULL arguments.",
    syntax_example = "score_features(model, user, features)",
    sql_example = r#"```sql
> CREATE MODEL cw OPTIONS (type = 'content_wrmf', dim = 2, l2_user = 0.01, l2_item = 100000000, l2_features = 0.01)
  AS SELECT "user", item, [item % 2, item % 3] AS features
  FROM (VALUES (1, 10), (1, 11), (2, 11), (2, 12), (3, 10), (3, 13)) AS t("user", item);
> SELECT score_features('cw', 1, [0, 2]) IS NOT NULL AS scored,
         score_features('cw', 9, [0, 2]) AS unknown_user,
         abs(score_features('cw', 1, [1, 2]) / score('cw', 1, 11) - 1) < 0.0001 AS tied;
+--------+--------------+------+
| scored | unknown_user | tied |
+--------+--------------+------+
| true   | NULL         | true |
+--------+--------------+------+
```"#,
    argument(name = "model", description = "Name of a content_wrmf model."),
    argument(name = "user", description = "User id (integer or text)."),
    argument(
        name = "features",
        description = "The item's feature vector: a list of numbers, as in training."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ScoreFeaturesFunc {
    signature: Signature,
    catalog: CatalogRef,
}

impl ScoreFeaturesFunc {
    pub fn new(catalog: Arc<dyn ModelCatalog>) -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Stable),
            catalog: CatalogRef(catalog),
        }
    }
}

/// The model called `name`, checked to be a `content_wrmf` model.
fn content_model(catalog: &dyn ModelCatalog, name: &str) -> Result<Arc<LoadedModel>> {
    let model = catalog.model(name)?;
    if model.model.downcast_ref::<ContentWrmf>().is_none() {
        return plan_err!(
            "{NAME}: model '{}' is a '{}' model; {NAME}() needs a 'content_wrmf' model \
             (trained with item features)",
            model.name,
            model.model_type
        );
    }
    Ok(model)
}

impl ScalarUDFImpl for ScoreFeaturesFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [model, user, features] = arg_types else {
            return plan_err!(
                "{NAME}(model, user, features) takes 3 arguments, got {}",
                arg_types.len()
            );
        };
        if !is_number_list(features) {
            return plan_err!("{NAME}: features must be a list of numbers, got {features}");
        }
        Ok(vec![
            model_name_type(NAME, model)?,
            id_type(NAME, "user", user)?,
            DataType::new_list(DataType::Float64, true),
        ])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        // A literal model name is checked while planning, so a typo fails before any work.
        if let Some(Some(ScalarValue::Utf8(Some(name)))) = args.scalar_arguments.first() {
            content_model(self.catalog.as_ref(), name)?;
        }
        Ok(Arc::new(Field::new(self.name(), DataType::Float64, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let token = self.catalog.cancel_token();
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let models = arrays[0].as_string::<i32>();
        let users = KeyColumn::try_new(&arrays[1], "score_features: the user argument")?;
        let lists = arrays[2].as_list::<i32>();
        let n = models.len();
        let mut out: Vec<Option<f64>> = vec![None; n];
        // The model of the previous row: looked up, and the user ids checked against it, only
        // when the model name changes (usually once per batch).
        let mut current: Option<(&str, Arc<LoadedModel>)> = None;
        for (row, slot) in out.iter_mut().enumerate() {
            if row % 4096 == 0 {
                token.check()?;
            }
            if models.is_null(row) || lists.is_null(row) {
                continue;
            }
            let name = models.value(row);
            let changed = current.as_ref().is_none_or(|(n, _)| *n != name);
            if changed {
                current = Some((name, content_model(self.catalog.as_ref(), name)?));
            }
            let Some(model) = current
                .as_ref()
                .and_then(|(_, m)| m.model.downcast_ref::<ContentWrmf>())
            else {
                return exec_err!("{NAME}: model '{name}' is not a content_wrmf model");
            };
            if changed {
                check_user_kind(NAME, name, model.data(), &arrays[1], &users)?;
            }
            let Some(user) = users.get(row).and_then(|u| model.data().users.get(u)) else {
                continue;
            };
            let values = lists.value(row);
            let values = values.as_primitive::<Float64Type>();
            if values.null_count() > 0 {
                return exec_err!("{NAME}: the features of row {} have NULL values", row + 1);
            }
            match model.score_features(user, values.values()) {
                Ok(s) => *slot = s,
                Err(e) => return exec_err!("{NAME}: model '{name}': {e}"),
            }
        }
        columnar(Arc::new(Float64Array::from(out)), all_scalar)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}
