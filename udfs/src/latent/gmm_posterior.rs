//! `gmm_posterior(model, value)`: the posterior over the components of a Gaussian mixture.
//!
//! It exists to give each track of a scalar learning source (BPM, year) its target vector z_t
//! (thesis §2.2.3): the responsibilities P(component | value) of a `gmm` model, computed with
//! log-sum-exp so that a value far from every component still gets a distribution summing to 1.
//! NULL arguments give NULL; NaN and infinite values are errors (they have no posterior).

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Float32Builder, ListBuilder};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::{exec_err, plan_err, ScalarValue};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion_macros::user_doc;

use super::gmm::GmmModel;
use crate::common::adapters::columnar;
use crate::common::args::model_name_type;
use crate::model::{CatalogRef, LoadedModel, ModelCatalog};

#[user_doc(
    doc_section(label = "Latent Factor Functions"),
    description = "The posterior P(component | value) of a one-dimensional Gaussian mixture \
model (type 'gmm'): k non-negative numbers summing to 1, as a list of Float32 in component \
order, computed with log-sum-exp. NULL for a NULL value or model.",
    syntax_example = "gmm_posterior(model, value)",
    sql_example = r#"```sql
> CREATE MODEL z_year OPTIONS (type = 'gmm', k = 2, seed = 1)
  AS SELECT * FROM (VALUES (1961), (1962), (1963), (1999), (2000), (2001)) AS t(value);
> SELECT v, round(array_max(gmm_posterior('z_year', v)), 4) AS top,
         round(array_sum(gmm_posterior('z_year', v)), 4) AS total
  FROM (VALUES (1962), (2000)) AS t(v) ORDER BY v;
+------+-----+-------+
| v    | top | total |
+------+-----+-------+
| 1962 | 1.0 | 1.0   |
| 2000 | 1.0 | 1.0   |
+------+-----+-------+
```"#,
    argument(
        name = "model",
        description = "Name of a Gaussian mixture model (type 'gmm')."
    ),
    argument(name = "value", description = "A number.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct GmmPosteriorFunc {
    signature: Signature,
    catalog: CatalogRef,
}

impl GmmPosteriorFunc {
    pub fn new(catalog: Arc<dyn ModelCatalog>) -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Stable),
            catalog: CatalogRef(catalog),
        }
    }
}

fn list_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Float32, true)))
}

/// The model called `name`, when it is a `gmm` model; an error naming its type otherwise.
fn mixture_model(catalog: &dyn ModelCatalog, name: &str) -> Result<Arc<LoadedModel>> {
    let model = catalog.model(name)?;
    if model.model.downcast_ref::<GmmModel>().is_none() {
        return plan_err!(
            "gmm_posterior: model '{name}' is a '{}' model, not a Gaussian mixture (type 'gmm')",
            model.model_type
        );
    }
    Ok(model)
}

impl ScalarUDFImpl for GmmPosteriorFunc {
    fn name(&self) -> &str {
        "gmm_posterior"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [model, value] = arg_types else {
            return plan_err!(
                "gmm_posterior(model, value) takes 2 arguments, got {}",
                arg_types.len()
            );
        };
        if !(value.is_numeric() || value == &DataType::Null) {
            return plan_err!("gmm_posterior: the value must be a number, got {value}");
        }
        Ok(vec![
            model_name_type("gmm_posterior", model)?,
            DataType::Float64,
        ])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(list_type())
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        if let Some(Some(ScalarValue::Utf8(Some(name)))) = args.scalar_arguments.first() {
            mixture_model(self.catalog.as_ref(), name)?;
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
        let values = arrays[1].as_primitive::<Float64Type>();
        let mut out = ListBuilder::new(Float32Builder::new());
        let mut current: Option<Arc<LoadedModel>> = None;
        let mut post = Vec::new();
        for row in 0..models.len() {
            if models.is_null(row) || values.is_null(row) {
                out.append_null();
                continue;
            }
            let name = models.value(row);
            let x = values.value(row);
            if !x.is_finite() {
                return exec_err!("gmm_posterior: the value must be finite, got {x}");
            }
            if current.as_ref().map(|m| m.name.as_str()) != Some(name) {
                current = Some(mixture_model(self.catalog.as_ref(), name)?);
            }
            let Some(model) = current
                .as_ref()
                .and_then(|m| m.model.downcast_ref::<GmmModel>())
            else {
                return exec_err!("gmm_posterior: model '{name}' is not a Gaussian mixture");
            };
            post.resize(model.gmm.k(), 0.0);
            model.gmm.posterior(x, &mut post);
            for &p in &post {
                out.values().append_value(p as f32);
            }
            out.append(true);
        }
        columnar(Arc::new(out.finish()), all_scalar)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}
