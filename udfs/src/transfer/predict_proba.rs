//! `predict_proba(model, features)`: a classifier's class probabilities for a feature vector.

use std::sync::Arc;

use datafusion::arrow::array::{Float64Builder, ListBuilder};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{exec_datafusion_err, exec_err, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion_macros::user_doc;

use super::adapter::{
    check_feature_type, classifier_classes, f64_list_type, feature_matrix, literal_name,
    load_predictor, model_and_features, rows_by_model,
};
use super::capability::Predictor;
use crate::common::adapters::columnar;
use crate::common::args::model_name_type;
use crate::model::{CatalogRef, ModelCatalog};

#[user_doc(
    doc_section(label = "Transfer Functions"),
    description = "The class probabilities a classifier (an mlp model with task 'classify') gives a feature vector, as a list of float64 summing to 1 in the order of the model's classes (model_info(model), property 'classes': sorted labels). The vector must have the length the model was trained on; it is standardised with the model's training statistics. A NULL vector gives NULL; a regressor is an error.",
    syntax_example = "predict_proba(model, features)",
    sql_example = r#"```sql
> CREATE MODEL side OPTIONS (type = 'mlp', task = 'classify', hidden = '8', epochs = 300, lr = 0.01, seed = 1)
  AS SELECT [CAST(value AS DOUBLE)] AS features, CASE WHEN value > 0 THEN 'right' ELSE 'left' END AS label
  FROM generate_series(-20, 20) WHERE value <> 0;
> SELECT round(p[1], 2) AS p_left, round(p[2], 2) AS p_right FROM (SELECT predict_proba('side', [15.0]) AS p);
+--------+---------+
| p_left | p_right |
+--------+---------+
| 0.0    | 1.0     |
+--------+---------+
```"#,
    argument(name = "model", description = "The classifier's name."),
    argument(
        name = "features",
        description = "The feature vector: a list of numbers."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PredictProba {
    signature: Signature,
    catalog: CatalogRef,
}

impl PredictProba {
    pub fn new(catalog: Arc<dyn ModelCatalog>) -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Stable),
            catalog: CatalogRef(catalog),
        }
    }
}

impl ScalarUDFImpl for PredictProba {
    fn name(&self) -> &str {
        "predict_proba"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [model, features] = arg_types else {
            return plan_err!(
                "predict_proba(model, features) takes 2 arguments, got {}",
                arg_types.len()
            );
        };
        check_feature_type("predict_proba", "features", features)?;
        Ok(vec![
            model_name_type("predict_proba", model)?,
            f64_list_type(),
        ])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(f64_list_type())
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        // A literal model name is checked while planning, so a typo fails before any work.
        if let Some(name) = literal_name(args.scalar_arguments.first().copied().flatten()) {
            let loaded = load_predictor(self.catalog.as_ref(), name, "predict_proba")?;
            classifier_classes(&loaded, "predict_proba")?;
        }
        Ok(Arc::new(Field::new(self.name(), f64_list_type(), true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let n = args.number_rows;
        let (models, features) = model_and_features(&args.args, n)?;
        let mut out: Vec<Option<Vec<f64>>> = vec![None; n];
        for (name, rows) in rows_by_model(&models, |r| !features.is_null(r)) {
            self.catalog.check_cancelled()?;
            let loaded = load_predictor(self.catalog.as_ref(), &name, "predict_proba")?;
            let Some(Predictor::Classifier(c)) = Predictor::of(loaded.model.as_ref()) else {
                return exec_err!(
                    "predict_proba: model '{name}' is a regressor (task 'regress'); it gives no \
                     class probabilities"
                );
            };
            let x = feature_matrix("predict_proba", &name, c.input_dim(), &features, &rows)?;
            let p = c
                .predict_proba(&x, rows.len())
                .map_err(|e| exec_datafusion_err!("predict_proba: model '{name}': {e}"))?;
            let k = c.classes().len().max(1);
            for (&r, probs) in rows.iter().zip(p.chunks_exact(k)) {
                out[r] = Some(probs.to_vec());
            }
        }
        let mut builder = ListBuilder::new(Float64Builder::new());
        for row in out {
            match row {
                Some(v) => {
                    builder.values().append_slice(&v);
                    builder.append(true);
                }
                None => builder.append(false),
            }
        }
        columnar(Arc::new(builder.finish()), all_scalar)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}
