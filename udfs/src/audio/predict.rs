//! `predict(model, input [, sr])`: what a model predicts for a row, whichever kind of model it is:
//! - an audio model (`vgg` trained for 'instrument' or 'autotag') and a clip: its class
//!   probabilities, so that task performance on original and transformed clips (thesis
//!   Fig. 4.4) is a query;
//! - a classifier or regressor of feature vectors (`mlp`, thesis §2.4.4's transfer evaluation)
//!   and a feature vector: the predicted label or value (see [`crate::transfer`]).
//!
//! The result type differs between the two (a list of float32; the label's type or float64),
//! so it is decided while planning from the model a literal name refers to, through the
//! catalog: a feature model's predictions need the model named by a literal. Names from a
//! column are audio models, as before feature models existed.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{exec_err, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion_macros::user_doc;

use super::adapter::{OutKind, RowUdf, Value};
use super::deep::AudioEncoder;
use super::embed::ModelClipFunction;
use crate::model::{CatalogRef, ModelCatalog};
use crate::transfer::adapter::{
    is_feature_model, is_feature_type, literal_name, predict_column, prediction_type,
};

#[user_doc(
    doc_section(label = "Audio Functions"),
    description = "What a model predicts. With a classifier or regressor of feature vectors (an mlp model, named by a literal) and a feature vector: the predicted label (the most probable class, of the type the model was trained on: text or int64) or value (float64); accuracy(label, predict(model, features)) scores a target task. With a vgg model trained for 'instrument' (softmax over the instruments) or 'autotag' (a sigmoid per tag) and a clip: the class probabilities as a list of float32 in the order of the model's classes (model_info(model), property 'classes'): each of the clip's consecutive crops is classified and the probabilities are averaged over the crops; the rows of a batch are computed together on the session's device; models of the other vgg tasks are an error. Model names from a column are audio models.",
    syntax_example = "predict(model, input [, sr])",
    sql_example = r#"```sql
> CREATE MODEL side OPTIONS (type = 'mlp', task = 'classify', hidden = '8', epochs = 300, lr = 0.01, seed = 1)
  AS SELECT [CAST(value AS DOUBLE)] AS features, CASE WHEN value > 0 THEN 'right' ELSE 'left' END AS label
  FROM generate_series(-20, 20) WHERE value <> 0;
> SELECT predict('side', [15.0]) AS a, predict('side', [-7.5]) AS b;
+-------+------+
| a     | b    |
+-------+------+
| right | left |
+-------+------+
```"#,
    argument(name = "model", description = "The model's name."),
    argument(
        name = "input",
        description = "A feature vector (a list of numbers) for a feature model; a clip (a list of samples) for an audio model."
    ),
    argument(
        name = "sr",
        description = "For audio models: the clip's sample rate in Hz (default: the model's, which is required)."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Predict {
    signature: Signature,
    catalog: CatalogRef,
    /// The audio models' path.
    audio: RowUdf<AudioPredict>,
}

impl Predict {
    pub fn new(catalog: Arc<dyn ModelCatalog>) -> Self {
        Predict {
            signature: Signature::user_defined(Volatility::Stable),
            audio: RowUdf::new(catalog.clone()),
            catalog: CatalogRef(catalog),
        }
    }
}

impl ScalarUDFImpl for Predict {
    fn name(&self) -> &str {
        "predict"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    /// The audio path's checks (and their messages); a list of numbers keeps its type, so that
    /// a feature vector reaches a feature model unrounded (clips are cast when they run).
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let mut types = self.audio.coerce_types(arg_types)?;
        if let (Some(t), Some(original)) = (types.get_mut(1), arg_types.get(1)) {
            if is_feature_type(original) && original != &DataType::Null {
                *t = original.clone();
            }
        }
        Ok(types)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.audio.return_type(arg_types)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        if let Some(name) = literal_name(args.scalar_arguments.first().copied().flatten()) {
            if let Some(t) = prediction_type(self.catalog.as_ref(), name, args.arg_fields.len())? {
                return Ok(Arc::new(Field::new(self.name(), t, true)));
            }
        }
        self.audio.return_field_from_args(args)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        match args.args.first() {
            Some(ColumnarValue::Scalar(s)) => {
                if let Some(name) = literal_name(Some(s)) {
                    if is_feature_model(self.catalog.as_ref(), name) {
                        let n = args.number_rows;
                        let all_scalar = args
                            .args
                            .iter()
                            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
                        let features = args.args[1].to_array(n)?;
                        let out = predict_column(
                            self.catalog.as_ref(),
                            name,
                            &features,
                            args.return_type(),
                        )?;
                        return crate::common::adapters::columnar(out, all_scalar);
                    }
                }
            }
            Some(ColumnarValue::Array(names)) => {
                // Names from a column: audio models only (the result type was planned for them).
                let names = datafusion::arrow::compute::cast(names, &DataType::Utf8)?;
                let names = datafusion::arrow::array::AsArray::as_string::<i32>(&names);
                let mut seen: Vec<&str> = Vec::new();
                for name in names.iter().flatten() {
                    if seen.contains(&name) {
                        continue;
                    }
                    if is_feature_model(self.catalog.as_ref(), name) {
                        return exec_err!(
                            "predict: model '{name}' predicts from feature vectors; name it with \
                             a literal (predict('{name}', features)) so that the result type is \
                             known when the query is planned"
                        );
                    }
                    seen.push(name);
                }
            }
            None => return plan_err!("predict(model, input [, sr]) needs a model"),
        }
        self.audio.invoke_with_args(args)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// The audio models' `predict`: class probabilities of a clip by a classifying audio model.
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct AudioPredict;

impl ModelClipFunction for AudioPredict {
    const NAME: &'static str = "predict";
    const CLIP: &'static str = "audio";
    const OUT: OutKind = OutKind::Vector;
    const REFUSAL: &'static str = "predicts no classes";

    fn doc() -> Option<&'static Documentation> {
        None
    }

    fn work(e: &dyn AudioEncoder, clips: &[&[f32]], device: tch::Device) -> Result<Vec<Value>> {
        Ok(e.predict(clips, device)?
            .into_iter()
            .map(Value::Samples)
            .collect())
    }
}
