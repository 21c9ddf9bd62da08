//! `score_tags(model, user, tags)`: the score of an item known only by its tags (cold start).
//!
//! The tag-aware models can score an item that had no interactions in training from its tag
//! vector alone (thesis eq. 5.8 for iNN): iNN maps the tags to the latent space, FM and NCF use
//! the tag factors without an item factor. The tag list is N-hot (each listed tag weight 1; a tag
//! listed twice counts once); tags the model does not know are ignored, and a list with no known
//! tag scores NULL. uNN, WRMF, MostPop and Random cannot score an unseen item and give NULL.

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

use crate::common::tensors::{index, to_f64_vec};

use super::recommender::Recommender;
use super::tensors::{SparseTags, TagInput};
use super::{id_type, recommender_model};
use crate::common::adapters::columnar;
use crate::common::args::model_name_type;
use crate::engine::config::{device_setting, resolve_device};
use crate::model::{CatalogRef, KeyColumn, ModelCatalog};

#[user_doc(
    doc_section(label = "Recommender Functions"),
    description = "The score a tag-aware recommender (inn, fm, ncf) gives to a new item described \
only by its list of tags (cold start, thesis eq. 5.8). Tags unknown to the model are ignored; \
NULL when no tag is known, for unknown users, and for models that cannot score unseen items \
(unn, wrmf, mostpop, random).",
    syntax_example = "score_tags(model, user, tags)",
    sql_example = r#"```sql
> SELECT score_tags('pop', 1, [1, 2]) AS s;
+------+
| s    |
+------+
| NULL |
+------+
```"#,
    argument(name = "model", description = "Name of a recommender model."),
    argument(name = "user", description = "User id (integer or text)."),
    argument(
        name = "tags",
        description = "List of tag ids (integer or text, as in the model's tags table)."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ScoreTagsFunc {
    signature: Signature,
    catalog: CatalogRef,
}

impl ScoreTagsFunc {
    pub fn new(catalog: Arc<dyn ModelCatalog>) -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Stable),
            catalog: CatalogRef(catalog),
        }
    }
}

impl ScalarUDFImpl for ScoreTagsFunc {
    fn name(&self) -> &str {
        "score_tags"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [model, user, tags] = arg_types else {
            return plan_err!(
                "score_tags(model, user, tags) takes 3 arguments, got {}",
                arg_types.len()
            );
        };
        let element = match tags {
            DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
                f.data_type().clone()
            }
            DataType::Null => DataType::Int64,
            other => return plan_err!("score_tags: tags must be a list of tag ids, got {other}"),
        };
        let element = id_type("score_tags", "tag", &element)?;
        Ok(vec![
            model_name_type("score_tags", model)?,
            id_type("score_tags", "user", user)?,
            DataType::new_list(element, true),
        ])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        if let Some(Some(ScalarValue::Utf8(Some(name)))) = args.scalar_arguments.first() {
            recommender_model(self.catalog.as_ref(), name, "score_tags")?;
        }
        Ok(Arc::new(Field::new(self.name(), DataType::Float64, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let device = resolve_device(device_setting(&args.config_options))?;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let models = arrays[0].as_string::<i32>();
        let users = KeyColumn::try_new(&arrays[1], "score_tags: the user argument")?;
        let lists = arrays[2].as_list::<i32>();
        let n = models.len();
        let mut out: Vec<Option<f64>> = vec![None; n];
        let mut row = 0;
        while row < n {
            if models.is_null(row) {
                row += 1;
                continue;
            }
            let name = models.value(row).to_string();
            let model = recommender_model(self.catalog.as_ref(), &name, "score_tags")?;
            let Some(rec) = model.model.capability::<dyn Recommender>() else {
                return exec_err!("model '{name}' is not a recommender");
            };
            let data = rec.data();
            if arrays[1].data_type() != &DataType::Null && users.kind() != data.users.kind() {
                return exec_err!(
                    "score_tags: model '{name}' was trained on {} user ids, got {} ids",
                    data.users.kind().name(),
                    users.kind().name()
                );
            }
            // Rows of this model up to the next change of model name form one batch.
            let (mut us, mut tag_lists, mut at) = (Vec::new(), Vec::new(), Vec::new());
            while row < n && !models.is_null(row) && models.value(row) == name {
                if let (Some(u), true) = (users.get(row), lists.is_valid(row)) {
                    let values = lists.value(row);
                    let tags = KeyColumn::try_new(&values, "score_tags: the tags argument")?;
                    if !tags.is_empty() && tags.kind() != data.tags.kind() && !data.tags.is_empty()
                    {
                        return exec_err!(
                            "score_tags: model '{name}' has {} tag ids, got {} ids",
                            data.tags.kind().name(),
                            tags.kind().name()
                        );
                    }
                    let mut known: Vec<u32> = (0..tags.len())
                        .filter_map(|j| tags.get(j).and_then(|t| data.tags.get(t)))
                        .collect();
                    known.sort_unstable();
                    known.dedup();
                    if let (Some(u), false) = (data.users.get(u), known.is_empty()) {
                        let ones = vec![1.0f32; known.len()];
                        us.push(u);
                        tag_lists.push((known, ones));
                        at.push(row);
                    }
                }
                row += 1;
            }
            if us.is_empty() {
                continue;
            }
            let scores = tch::no_grad(|| {
                let tags = TagInput::Sparse(SparseTags::from_lists(&tag_lists, rec.kind(), device));
                rec.forward_cold(device, &index(&us, device), &tags)
            })?;
            if let Some(scores) = scores {
                for (r, s) in at.into_iter().zip(to_f64_vec(&scores)?) {
                    out[r] = Some(s);
                }
            }
        }
        columnar(Arc::new(Float64Array::from(out)), all_scalar)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}
