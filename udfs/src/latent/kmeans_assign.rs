//! `kmeans_assign(model, vector)`: the index of the nearest centroid of a dictionary model.
//!
//! It exists to turn each frame of a track into its "audio word" (thesis ch. 3): the 0-based
//! index of the centroid of a `kmeans` model (any model with the [`Codebook`] capability)
//! nearest to the vector in Euclidean distance, computed in `f64` (the lower index on ties), as
//! an Int32. NULL arguments give NULL; a vector of another length than the centroids', or with a
//! NULL or non-finite value, is an error.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Int32Builder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::{exec_err, plan_err, ScalarValue};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion_macros::user_doc;

use super::codebook::Codebook;
use super::data::is_vector_type;
use crate::common::adapters::columnar;
use crate::common::adapters::f64_list_type;
use crate::common::args::model_name_type;
use crate::model::{CatalogRef, LoadedModel, ModelCatalog};

#[user_doc(
    doc_section(label = "Latent Factor Functions"),
    description = "The index (0-based) of the centroid of a k-means model (type 'kmeans') \
nearest to a vector in Euclidean distance: its \"audio word\". The model numbers its centroids \
in increasing lexicographic order of their values. Ties go to the lower index. NULL for a NULL \
vector or model; a vector of another length than the model's centroids is an error.",
    syntax_example = "kmeans_assign(model, vector)",
    sql_example = r#"```sql
> CREATE MODEL words OPTIONS (type = 'kmeans', k = 2, seed = 1)
  AS SELECT * FROM (VALUES ([0.0, 0.0]), ([0.0, 1.0]), ([10.0, 10.0]), ([10.0, 11.0])) AS t(vector);
> SELECT v, kmeans_assign('words', v) AS word
  FROM (VALUES ([0.5, 0.2]), ([9.0, 12.0]), (NULL)) AS t(v) ORDER BY word;
+-------------+------+
| v           | word |
+-------------+------+
| [0.5, 0.2]  | 0    |
| [9.0, 12.0] | 1    |
| NULL        | NULL |
+-------------+------+
```"#,
    argument(
        name = "model",
        description = "Name of a k-means model (type 'kmeans')."
    ),
    argument(
        name = "vector",
        description = "A list of numbers (List, LargeList or FixedSizeList) of the centroids' length."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct KMeansAssignFunc {
    signature: Signature,
    catalog: CatalogRef,
}

impl KMeansAssignFunc {
    pub fn new(catalog: Arc<dyn ModelCatalog>) -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Stable),
            catalog: CatalogRef(catalog),
        }
    }
}

/// The model called `name`, when it is a codebook; an error naming its type otherwise.
fn codebook_model(catalog: &dyn ModelCatalog, name: &str) -> Result<Arc<LoadedModel>> {
    let model = catalog.model(name)?;
    if model.model.capability::<dyn Codebook>().is_none() {
        return plan_err!(
            "kmeans_assign: model '{name}' is a '{}' model, not a k-means model (type 'kmeans')",
            model.model_type
        );
    }
    Ok(model)
}

impl ScalarUDFImpl for KMeansAssignFunc {
    fn name(&self) -> &str {
        "kmeans_assign"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [model, vector] = arg_types else {
            return plan_err!(
                "kmeans_assign(model, vector) takes 2 arguments, got {}",
                arg_types.len()
            );
        };
        if !is_vector_type(vector) {
            return plan_err!("kmeans_assign: the vector must be a list of numbers, got {vector}");
        }
        Ok(vec![
            model_name_type("kmeans_assign", model)?,
            vector.clone(),
        ])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int32)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        if let Some(Some(ScalarValue::Utf8(Some(name)))) = args.scalar_arguments.first() {
            codebook_model(self.catalog.as_ref(), name)?;
        }
        Ok(Arc::new(Field::new(self.name(), DataType::Int32, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let models = arrays[0].as_string::<i32>();
        let vectors = cast(&arrays[1], &f64_list_type())?;
        let vectors = vectors.as_list::<i32>();
        let values = vectors.values().as_primitive::<Float64Type>();
        let offsets = vectors.value_offsets();
        let mut out = Int32Builder::with_capacity(models.len());
        let mut current: Option<Arc<LoadedModel>> = None;
        for row in 0..models.len() {
            if models.is_null(row) || vectors.is_null(row) {
                out.append_null();
                continue;
            }
            let name = models.value(row);
            if current.as_ref().map(|m| m.name.as_str()) != Some(name) {
                current = Some(codebook_model(self.catalog.as_ref(), name)?);
            }
            let Some(book) = current
                .as_ref()
                .and_then(|m| m.model.capability::<dyn Codebook>())
            else {
                return exec_err!("kmeans_assign: model '{name}' is not a k-means model");
            };
            let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
            if values.null_count() > 0 && (start..end).any(|j| values.is_null(j)) {
                return exec_err!("kmeans_assign: the vector holds a NULL value");
            }
            let x = &values.values()[start..end];
            if let Some(v) = x.iter().find(|v| !v.is_finite()) {
                return exec_err!("kmeans_assign: the vector must be finite, got {v}");
            }
            if x.len() != book.dim() {
                return exec_err!(
                    "kmeans_assign: model '{name}' has centroids of {} values, got a vector of {}",
                    book.dim(),
                    x.len()
                );
            }
            match book.nearest(x).and_then(|j| i32::try_from(j).ok()) {
                Some(j) => out.append_value(j),
                None => return exec_err!("kmeans_assign: model '{name}' has no centroid"),
            }
        }
        columnar(Arc::new(out.finish()), all_scalar)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}
