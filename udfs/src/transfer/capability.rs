//! The capabilities of models that learn a target task from feature vectors: [`Classifier`]
//! (class probabilities, hence labels) and [`Regressor`] (values). `predict`, `predict_proba`
//! and `class_probability` ask a model for one of them, so a later model type (a linear probe,
//! k-NN) works with those functions by offering the same trait.

use datafusion::arrow::datatypes::DataType;
use serde::{Deserialize, Serialize};

use super::kernels::TransferError;
use crate::model::Model;

/// A classifier's classes, sorted: the text or integer labels it was trained on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Classes {
    Text(Vec<String>),
    Int(Vec<i64>),
}

impl Classes {
    pub fn len(&self) -> usize {
        match self {
            Classes::Text(c) => c.len(),
            Classes::Int(c) => c.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The SQL type of a label: `Utf8` or `Int64`.
    pub fn data_type(&self) -> DataType {
        match self {
            Classes::Text(_) => DataType::Utf8,
            Classes::Int(_) => DataType::Int64,
        }
    }

    /// What the labels are, in words ("text", "integers").
    pub fn kind(&self) -> &'static str {
        match self {
            Classes::Text(_) => "text",
            Classes::Int(_) => "integers",
        }
    }

    /// The classes as text, in order (`model_info`'s 'classes').
    pub fn names(&self) -> Vec<String> {
        match self {
            Classes::Text(c) => c.clone(),
            Classes::Int(c) => c.iter().map(|v| v.to_string()).collect(),
        }
    }
}

/// A model that gives class probabilities for feature vectors.
pub trait Classifier: Send + Sync {
    /// The length of the feature vectors it takes.
    fn input_dim(&self) -> usize;
    /// Its classes, in the order of the probabilities.
    fn classes(&self) -> &Classes;
    /// The probabilities (`n × classes`, row-major, each row summing to 1) of `n` feature
    /// vectors (`n × input_dim`, row-major).
    fn predict_proba(&self, features: &[f64], n: usize) -> Result<Vec<f64>, TransferError>;
}

/// A model that gives a value for each feature vector.
pub trait Regressor: Send + Sync {
    /// The length of the feature vectors it takes.
    fn input_dim(&self) -> usize;
    /// The predictions of `n` feature vectors (`n × input_dim`, row-major).
    fn predict_values(&self, features: &[f64], n: usize) -> Result<Vec<f64>, TransferError>;
}

/// A model as one of the two capabilities.
#[derive(Clone, Copy)]
pub enum Predictor<'a> {
    Classifier(&'a dyn Classifier),
    Regressor(&'a dyn Regressor),
}

impl<'a> Predictor<'a> {
    /// `model` as a classifier or a regressor, when it is one.
    pub fn of(model: &'a dyn Model) -> Option<Predictor<'a>> {
        if let Some(c) = model.capability::<dyn Classifier>() {
            return Some(Predictor::Classifier(c));
        }
        model
            .capability::<dyn Regressor>()
            .map(Predictor::Regressor)
    }

    pub fn input_dim(&self) -> usize {
        match self {
            Predictor::Classifier(c) => c.input_dim(),
            Predictor::Regressor(r) => r.input_dim(),
        }
    }

    /// The SQL type of a prediction: the label's type, or `Float64`.
    pub fn prediction_type(&self) -> DataType {
        match self {
            Predictor::Classifier(c) => c.classes().data_type(),
            Predictor::Regressor(_) => DataType::Float64,
        }
    }
}
