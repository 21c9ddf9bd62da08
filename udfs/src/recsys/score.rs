//! `score(model, user, item)`: a recommender's score for a (user, item) pair.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Float64Builder};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::datatypes::{Field, FieldRef};
use datafusion::common::{exec_err, plan_err, ScalarValue};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion_macros::user_doc;

use crate::adapters::columnar;
use crate::model::{KeyColumn, KeyKind, LoadedModel, ModelCatalog};

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
#[derive(Debug)]
pub struct ScoreFunc {
    signature: Signature,
    catalog: Arc<dyn ModelCatalog>,
}

impl ScoreFunc {
    pub fn new(catalog: Arc<dyn ModelCatalog>) -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Stable),
            catalog,
        }
    }
}

impl PartialEq for ScoreFunc {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.catalog, &other.catalog)
    }
}

impl Eq for ScoreFunc {}

impl Hash for ScoreFunc {
    fn hash<H: Hasher>(&self, state: &mut H) {
        "score".hash(state);
    }
}

fn check_model(model: &LoadedModel) -> Result<()> {
    if model.model.as_recommender().is_none() {
        return plan_err!(
            "model '{}' is a '{}' model, not a recommender; score() needs a recommender",
            model.name,
            model.model_type
        );
    }
    Ok(())
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
        if !matches!(
            model,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null
        ) {
            return plan_err!("score: the model argument must be a model name (text), got {model}");
        }
        let id = |t: &DataType, what: &str| match KeyKind::of(t) {
            Some(KeyKind::Int) => Ok(DataType::Int64),
            Some(KeyKind::Text) => Ok(DataType::Utf8),
            None if t == &DataType::Null => Ok(DataType::Int64),
            None => plan_err!("score: the {what} id must be an integer or text, got {t}"),
        };
        Ok(vec![DataType::Utf8, id(user, "user")?, id(item, "item")?])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        // A literal model name is checked while planning, so a typo fails before any work.
        if let Some(Some(ScalarValue::Utf8(Some(name)))) = args.scalar_arguments.first() {
            let model = self.catalog.model(name)?;
            check_model(&model)?;
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
        let users = KeyColumn::try_new(&arrays[1], "score: the user argument")?;
        let items = KeyColumn::try_new(&arrays[2], "score: the item argument")?;
        let mut out = Float64Builder::with_capacity(models.len());
        let mut current: Option<Arc<LoadedModel>> = None;
        for row in 0..models.len() {
            if models.is_null(row) {
                out.append_null();
                continue;
            }
            let name = models.value(row);
            let model = match &current {
                Some(m) if m.name == name => m.clone(),
                _ => {
                    let m = self.catalog.model(name)?;
                    check_model(&m)?;
                    current = Some(m.clone());
                    m
                }
            };
            let Some(rec) = model.model.as_recommender() else {
                return exec_err!("model '{name}' is not a recommender");
            };
            if arrays[1].data_type() != &DataType::Null && users.kind() != rec.user_kind() {
                return exec_err!(
                    "score: model '{name}' was trained on {} user ids, got {} ids",
                    rec.user_kind().name(),
                    users.kind().name()
                );
            }
            if arrays[2].data_type() != &DataType::Null && items.kind() != rec.item_kind() {
                return exec_err!(
                    "score: model '{name}' was trained on {} item ids, got {} ids",
                    rec.item_kind().name(),
                    items.kind().name()
                );
            }
            match (users.get(row), items.get(row)) {
                (Some(u), Some(i)) => out.append_option(rec.score(u, i)),
                _ => out.append_null(),
            }
        }
        columnar(Arc::new(out.finish()), all_scalar)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}
