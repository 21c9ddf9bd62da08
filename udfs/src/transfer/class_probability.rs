//! `class_probability(model, features, label)`: the probability a classifier gives one class,
//! so that the log loss of a test set is `log_loss(class_probability(model, features, label))`.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Float64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Int64Type};
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
use super::capability::{Classes, Predictor};
use crate::common::adapters::columnar;
use crate::common::args::model_name_type;
use crate::model::{CatalogRef, ModelCatalog};

#[user_doc(
    doc_section(label = "Transfer Functions"),
    description = "The probability a classifier (an mlp model with task 'classify') gives the class label for a feature vector: the entry of predict_proba(model, features) for that class. A label the model never saw gets probability 0 (the model gives it none), so that log_loss counts it at its clipped worst. The label must be of the model's label kind (text or integer). NULL arguments give NULL.",
    syntax_example = "class_probability(model, features, label)",
    sql_example = r#"```sql
> CREATE MODEL side OPTIONS (type = 'mlp', task = 'classify', hidden = '8', epochs = 300, lr = 0.01, seed = 1)
  AS SELECT [CAST(value AS DOUBLE)] AS features, CASE WHEN value > 0 THEN 'right' ELSE 'left' END AS label
  FROM generate_series(-20, 20) WHERE value <> 0;
> SELECT round(class_probability('side', [15.0], 'right'), 2) AS p, class_probability('side', [15.0], 'up') AS unseen;
+-----+--------+
| p   | unseen |
+-----+--------+
| 1.0 | 0.0    |
+-----+--------+
```"#,
    argument(name = "model", description = "The classifier's name."),
    argument(
        name = "features",
        description = "The feature vector: a list of numbers."
    ),
    argument(name = "label", description = "The class: text or an integer.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ClassProbability {
    signature: Signature,
    catalog: CatalogRef,
}

impl ClassProbability {
    pub fn new(catalog: Arc<dyn ModelCatalog>) -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Stable),
            catalog: CatalogRef(catalog),
        }
    }
}

const NAME: &str = "class_probability";

/// The type a label argument is coerced to.
fn label_type(t: &DataType) -> Result<DataType> {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Ok(DataType::Utf8),
        t if t.is_integer() => Ok(DataType::Int64),
        DataType::Null => Ok(DataType::Null),
        t => plan_err!("{NAME}: argument 'label' must be a class (text or an integer), got {t}"),
    }
}

impl ScalarUDFImpl for ClassProbability {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [model, features, label] = arg_types else {
            return plan_err!(
                "{NAME}(model, features, label) takes 3 arguments, got {}",
                arg_types.len()
            );
        };
        check_feature_type(NAME, "features", features)?;
        Ok(vec![
            model_name_type(NAME, model)?,
            f64_list_type(),
            label_type(label)?,
        ])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        if let Some(name) = literal_name(args.scalar_arguments.first().copied().flatten()) {
            let loaded = load_predictor(self.catalog.as_ref(), name, NAME)?;
            let classes = classifier_classes(&loaded, NAME)?;
            if let Some(label) = args.arg_fields.get(2) {
                let t = label.data_type();
                if t != &DataType::Null && t != &classes.data_type() {
                    return plan_err!(
                        "{NAME}: model '{name}' has {} classes but the label is {t}",
                        classes.kind()
                    );
                }
            }
        }
        Ok(Arc::new(Field::new(self.name(), DataType::Float64, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let n = args.number_rows;
        let (models, features) = model_and_features(&args.args, n)?;
        let labels = args.args[2].to_array(n)?;
        let mut out: Vec<Option<f64>> = vec![None; n];
        for (name, rows) in rows_by_model(&models, |r| !features.is_null(r) && labels.is_valid(r)) {
            self.catalog.check_cancelled()?;
            let loaded = load_predictor(self.catalog.as_ref(), &name, NAME)?;
            let Some(Predictor::Classifier(c)) = Predictor::of(loaded.model.as_ref()) else {
                return exec_err!(
                    "{NAME}: model '{name}' is a regressor (task 'regress'); it gives no class \
                     probabilities"
                );
            };
            // The class index of each row's label (None: a class the model never saw).
            let index: Vec<Option<usize>> = match c.classes() {
                Classes::Text(names) => {
                    if !matches!(
                        labels.data_type(),
                        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                    ) {
                        return exec_err!(
                            "{NAME}: model '{name}' has text classes but the label is {}",
                            labels.data_type()
                        );
                    }
                    let l = cast(&labels, &DataType::Utf8)?;
                    let l = l.as_string::<i32>();
                    rows.iter()
                        .map(|&r| names.binary_search_by(|s| s.as_str().cmp(l.value(r))).ok())
                        .collect()
                }
                Classes::Int(values) => {
                    if !labels.data_type().is_integer() {
                        return exec_err!(
                            "{NAME}: model '{name}' has integer classes but the label is {}",
                            labels.data_type()
                        );
                    }
                    let l = cast(&labels, &DataType::Int64)?;
                    let l = l.as_primitive::<Int64Type>();
                    rows.iter()
                        .map(|&r| values.binary_search(&l.value(r)).ok())
                        .collect()
                }
            };
            let x = feature_matrix(NAME, &name, c.input_dim(), &features, &rows)?;
            let p = c
                .predict_proba(&x, rows.len())
                .map_err(|e| exec_datafusion_err!("{NAME}: model '{name}': {e}"))?;
            let k = c.classes().len().max(1);
            for ((&r, probs), class) in rows.iter().zip(p.chunks_exact(k)).zip(index) {
                out[r] = Some(class.and_then(|i| probs.get(i).copied()).unwrap_or(0.0));
            }
        }
        columnar(Arc::new(Float64Array::from(out)), all_scalar)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}
