//! `topic_mixture(model, doc)`: the topic proportions of a training document of a topic model.
//!
//! It exists to give each track of a learning source its target vector z_t (thesis eq. 2.4):
//! P(z|doc) of a `plsa` model, or the normalised topic weights of an `lda` model (any model with
//! the [`TopicModel`] capability), k numbers summing to 1, as a list of Float32. A document the model was not trained on (never seen, or all its
//! weights 0) gives NULL, as do NULL arguments; a document id of the wrong kind (text for a
//! model trained on integer ids, or the reverse) is an error.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Float32Builder, ListBuilder};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{exec_err, plan_err, ScalarValue};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion_macros::user_doc;

use super::topic_model::TopicModel;
use crate::common::adapters::columnar;
use crate::common::args::model_name_type;
use crate::model::{CatalogRef, KeyColumn, KeyKind, LoadedModel, ModelCatalog};

#[user_doc(
    doc_section(label = "Latent Factor Functions"),
    description = "The topic proportions of a training document of a topic model: P(z | doc) \
of type 'plsa', the normalised document-topic weights of type 'lda' (scikit-learn's \
LatentDirichletAllocation.transform). k non-negative numbers summing to 1, as a list of Float32 \
in topic order. NULL for a document the model was not trained on (unknown, or all its weights 0) \
and for NULL arguments.",
    syntax_example = "topic_mixture(model, doc)",
    sql_example = r#"```sql
> CREATE MODEL z_doc OPTIONS (type = 'plsa', k = 2, iterations = 50, seed = 1)
  AS SELECT * FROM (VALUES ('a', 'rock', 3), ('a', 'guitar', 2), ('b', 'jazz', 4),
                           ('b', 'sax', 1), ('c', 'rock', 1), ('c', 'jazz', 1)) AS t(doc, term, weight);
> SELECT doc, array_length(topic_mixture('z_doc', doc)) AS k,
         round(array_sum(topic_mixture('z_doc', doc)), 6) AS total
  FROM (VALUES ('a'), ('b'), ('zzz')) AS t(doc) ORDER BY doc;
+-----+------+-------+
| doc | k    | total |
+-----+------+-------+
| a   | 2    | 1.0   |
| b   | 2    | 1.0   |
| zzz | NULL | NULL  |
+-----+------+-------+
```"#,
    argument(
        name = "model",
        description = "Name of a topic model (type 'plsa' or 'lda')."
    ),
    argument(
        name = "doc",
        description = "Document id (integer or text, the kind the model was trained on)."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TopicMixtureFunc {
    signature: Signature,
    catalog: CatalogRef,
}

impl TopicMixtureFunc {
    pub fn new(catalog: Arc<dyn ModelCatalog>) -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Stable),
            catalog: CatalogRef(catalog),
        }
    }
}

/// The list type of the result.
fn list_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Float32, true)))
}

/// The model called `name`, when it is a topic model; an error naming its type otherwise.
fn topic_model(catalog: &dyn ModelCatalog, name: &str) -> Result<Arc<LoadedModel>> {
    let model = catalog.model(name)?;
    if model.model.capability::<dyn TopicModel>().is_none() {
        return plan_err!(
            "topic_mixture: model '{name}' is a '{}' model, not a topic model (type 'plsa' or 'lda')",
            model.model_type
        );
    }
    Ok(model)
}

impl ScalarUDFImpl for TopicMixtureFunc {
    fn name(&self) -> &str {
        "topic_mixture"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [model, doc] = arg_types else {
            return plan_err!(
                "topic_mixture(model, doc) takes 2 arguments, got {}",
                arg_types.len()
            );
        };
        let doc = match KeyKind::of(doc) {
            Some(KeyKind::Int) => DataType::Int64,
            Some(KeyKind::Text) => DataType::Utf8,
            None if doc == &DataType::Null => DataType::Int64,
            None => {
                return plan_err!("topic_mixture: the doc id must be an integer or text, got {doc}")
            }
        };
        Ok(vec![model_name_type("topic_mixture", model)?, doc])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(list_type())
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        if let Some(Some(ScalarValue::Utf8(Some(name)))) = args.scalar_arguments.first() {
            topic_model(self.catalog.as_ref(), name)?;
        }
        Ok(Arc::new(Field::new(self.name(), list_type(), true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let models = arrays[0].as_string::<i32>();
        let docs = KeyColumn::try_new(&arrays[1], "topic_mixture: the doc argument")?;
        let mut out = ListBuilder::new(Float32Builder::new());
        let mut current: Option<Arc<LoadedModel>> = None;
        for row in 0..models.len() {
            let (false, Some(doc)) = (models.is_null(row), docs.get(row)) else {
                out.append_null();
                continue;
            };
            let name = models.value(row);
            if current.as_ref().map(|m| m.name.as_str()) != Some(name) {
                current = Some(topic_model(self.catalog.as_ref(), name)?);
            }
            let Some(topics) = current
                .as_ref()
                .and_then(|m| m.model.capability::<dyn TopicModel>())
            else {
                return exec_err!("topic_mixture: model '{name}' is not a topic model");
            };
            let trained = topics.documents().kind();
            if docs.kind() != trained {
                return exec_err!(
                    "topic_mixture: model '{name}' was trained on {} doc ids, got {} ids",
                    trained.name(),
                    docs.kind().name()
                );
            }
            match topics
                .documents()
                .get(doc)
                .and_then(|d| topics.mixture(d as usize))
            {
                Some(mixture) => {
                    out.values().append_slice(mixture);
                    out.append(true);
                }
                None => out.append_null(),
            }
        }
        columnar(Arc::new(out.finish()), all_scalar)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}
