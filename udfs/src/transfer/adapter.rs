//! The Arrow side of the transfer functions, written once: feature-vector columns, finding a
//! classifier or regressor by name, predicting the rows of a batch model by model, and the
//! label kinds the metrics compare.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Int64Array, ListArray, StringArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::{
    exec_datafusion_err, exec_err, plan_datafusion_err, plan_err, ScalarValue,
};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::ColumnarValue;

use super::capability::{Classes, Predictor};
use crate::model::{LoadedModel, ModelCatalog};

pub use crate::common::adapters::{f64_list_type, is_number_list as is_feature_type};

/// Checks a feature argument's type while planning.
pub fn check_feature_type(function: &str, argument: &str, t: &DataType) -> Result<()> {
    if is_feature_type(t) {
        Ok(())
    } else {
        plan_err!("{function}: argument '{argument}' must be a feature vector (a list of numbers), got {t}")
    }
}

/// A model name given as a literal.
pub fn literal_name(v: Option<&ScalarValue>) -> Option<&str> {
    match v? {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => Some(s.as_str()),
        _ => None,
    }
}

/// A column of feature vectors, read as `List<Float64>`.
pub struct Features {
    list: ListArray,
}

impl Features {
    pub fn new(array: &ArrayRef) -> Result<Features> {
        let list = if array.data_type() == &f64_list_type() {
            array.clone()
        } else {
            cast(array, &f64_list_type())?
        };
        Ok(Features {
            list: list.as_list::<i32>().clone(),
        })
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn is_null(&self, row: usize) -> bool {
        self.list.is_null(row)
    }

    /// Row `row`'s values (not NULL, checked by the caller); a NULL or non-finite element is an
    /// error naming `what` and the row (1-based).
    pub fn row(&self, row: usize, what: &str) -> Result<&[f64]> {
        let offsets = self.list.value_offsets();
        let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
        let values = self.list.values().as_primitive::<Float64Type>();
        if values.null_count() > 0 && (start..end).any(|k| values.is_null(k)) {
            return exec_err!(
                "{what}: row {} has NULL values in its feature vector",
                row + 1
            );
        }
        let v = &values.values()[start..end];
        if let Some(j) = v.iter().position(|x| !x.is_finite()) {
            return exec_err!(
                "{what}: row {}: feature {} is {} (features must be finite)",
                row + 1,
                j + 1,
                v[j]
            );
        }
        Ok(v)
    }
}

/// An error's message without DataFusion's prefix ("Error during planning: ").
fn plain(e: DataFusionError) -> String {
    match e {
        DataFusionError::Execution(m) | DataFusionError::Plan(m) => m,
        other => other.to_string(),
    }
}

/// The model called `name`, which must be a classifier or a regressor; errors name `function`.
pub fn load_predictor(
    catalog: &dyn ModelCatalog,
    name: &str,
    function: &str,
) -> Result<Arc<LoadedModel>> {
    let loaded = catalog
        .model(name)
        .map_err(|e| plan_datafusion_err!("{function}: {}", plain(e)))?;
    if Predictor::of(loaded.model.as_ref()).is_none() {
        return plan_err!(
            "{function}: model '{name}' (type '{}') does not predict from feature vectors \
             (an mlp model does)",
            loaded.model_type
        );
    }
    Ok(loaded)
}

/// The model called `name` as a classifier's classes, for `function` which needs one.
pub fn classifier_classes(loaded: &LoadedModel, function: &str) -> Result<Classes> {
    match Predictor::of(loaded.model.as_ref()) {
        Some(Predictor::Classifier(c)) => Ok(c.classes().clone()),
        Some(Predictor::Regressor(_)) => plan_err!(
            "{function}: model '{}' is a regressor (task 'regress'); it gives no class probabilities",
            loaded.name
        ),
        None => plan_err!(
            "{function}: model '{}' (type '{}') does not predict from feature vectors",
            loaded.name,
            loaded.model_type
        ),
    }
}

/// The rows (indices into the batch) of each model named in `models`, in order of first
/// appearance, for the rows where `valid` holds and the model name is not NULL.
pub fn rows_by_model(
    models: &StringArray,
    valid: impl Fn(usize) -> bool,
) -> Vec<(String, Vec<usize>)> {
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for row in 0..models.len() {
        if models.is_null(row) || !valid(row) {
            continue;
        }
        let name = models.value(row);
        match groups.iter_mut().find(|(m, _)| m == name) {
            Some((_, rows)) => rows.push(row),
            None => groups.push((name.to_string(), vec![row])),
        }
    }
    groups
}

/// The feature vectors of `rows` as one row-major matrix, each checked to have the model's
/// length `dim`.
pub fn feature_matrix(
    function: &str,
    name: &str,
    dim: usize,
    features: &Features,
    rows: &[usize],
) -> Result<Vec<f64>> {
    let mut x = Vec::with_capacity(rows.len() * dim);
    for &r in rows {
        let v = features.row(r, function)?;
        if v.len() != dim {
            return exec_err!(
                "{function}: row {} has {} features but model '{name}' takes {dim}",
                r + 1,
                v.len()
            );
        }
        x.extend_from_slice(v);
    }
    Ok(x)
}

/// The model argument as a column of names and the features as [`Features`].
pub fn model_and_features(args: &[ColumnarValue], n: usize) -> Result<(StringArray, Features)> {
    let models = args[0].to_array(n)?;
    let models = cast(&models, &DataType::Utf8)?;
    let features = Features::new(&args[1].to_array(n)?)?;
    Ok((models.as_string::<i32>().clone(), features))
}

/// What the predictions of a feature model for one batch become.
enum Predictions {
    Text(Vec<Option<String>>),
    Int(Vec<Option<i64>>),
    Float(Vec<Option<f64>>),
}

/// `predict(model, features)` for a classifier or regressor called `name` (a literal): the
/// predicted label (the most probable class; the first of ties) or value of every row, as
/// `expected` (the type planned for the model). NULL features give NULL.
pub fn predict_column(
    catalog: &dyn ModelCatalog,
    name: &str,
    features: &ArrayRef,
    expected: &DataType,
) -> Result<ArrayRef> {
    let loaded = load_predictor(catalog, name, "predict")?;
    let Some(predictor) = Predictor::of(loaded.model.as_ref()) else {
        return exec_err!("predict: model '{name}' does not predict from feature vectors");
    };
    if &predictor.prediction_type() != expected {
        return exec_err!(
            "predict: model '{name}' now predicts {} but the query was planned for {expected} \
             (was the model replaced while the query ran?)",
            predictor.prediction_type()
        );
    }
    let features = Features::new(features)?;
    let n = features.len();
    let rows: Vec<usize> = (0..n).filter(|&r| !features.is_null(r)).collect();
    let x = feature_matrix("predict", name, predictor.input_dim(), &features, &rows)?;
    let mut out = match (&predictor, expected) {
        (_, DataType::Utf8) => Predictions::Text(vec![None; n]),
        (_, DataType::Int64) => Predictions::Int(vec![None; n]),
        _ => Predictions::Float(vec![None; n]),
    };
    match predictor {
        Predictor::Classifier(c) => {
            let p = c
                .predict_proba(&x, rows.len())
                .map_err(|e| exec_datafusion_err!("predict: model '{name}': {e}"))?;
            let k = c.classes().len().max(1);
            for (&r, probs) in rows.iter().zip(p.chunks_exact(k)) {
                let best = argmax(probs);
                match (&mut out, c.classes()) {
                    (Predictions::Text(o), Classes::Text(names)) => o[r] = names.get(best).cloned(),
                    (Predictions::Int(o), Classes::Int(values)) => o[r] = values.get(best).copied(),
                    _ => return exec_err!("predict: model '{name}': labels of an unexpected kind"),
                }
            }
        }
        Predictor::Regressor(reg) => {
            let v = reg
                .predict_values(&x, rows.len())
                .map_err(|e| exec_datafusion_err!("predict: model '{name}': {e}"))?;
            if let Predictions::Float(o) = &mut out {
                for (&r, value) in rows.iter().zip(v) {
                    o[r] = Some(value);
                }
            }
        }
    }
    Ok(match out {
        Predictions::Text(v) => Arc::new(StringArray::from(v)),
        Predictions::Int(v) => Arc::new(Int64Array::from(v)),
        Predictions::Float(v) => Arc::new(Float64Array::from(v)),
    })
}

/// The index of the largest probability (the first of ties).
pub fn argmax(row: &[f64]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}

/// The planned type of `predict(name, features)` when `name` is a classifier or regressor;
/// `None` when it is not one (or no such model exists: the audio models' path reports that).
/// `args` is the number of arguments (a third, the sample rate, is for audio models only).
pub fn prediction_type(
    catalog: &dyn ModelCatalog,
    name: &str,
    args: usize,
) -> Result<Option<DataType>> {
    let Ok(loaded) = catalog.model(name) else {
        return Ok(None);
    };
    let Some(predictor) = Predictor::of(loaded.model.as_ref()) else {
        return Ok(None);
    };
    if args != 2 {
        return plan_err!(
            "predict: model '{name}' (type '{}') predicts from a feature vector: \
             predict(model, features) takes no sample rate",
            loaded.model_type
        );
    }
    Ok(Some(predictor.prediction_type()))
}

/// Whether `name` is a classifier or regressor (a feature model).
pub fn is_feature_model(catalog: &dyn ModelCatalog, name: &str) -> bool {
    catalog
        .model(name)
        .is_ok_and(|m| Predictor::of(m.model.as_ref()).is_some())
}
