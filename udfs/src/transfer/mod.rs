//! Transfer evaluation (thesis ch. 2, §2.4): how useful a learned representation is for tasks
//! it was not trained for.
//!
//! The thesis judges a representation (a feature vector per clip, e.g. `embed(model, audio)`) by
//! training a small model on each target task and measuring it on held-out clips: an MLP with
//! two hidden layers of 256 ReLU units (scikit-learn's, §2.4.4) scored by accuracy on the
//! classification targets and by R² on the regression targets (§2.4.1), averaged over five
//! train/test splits. This domain makes that a pair of queries:
//!
//! ```sql
//! CREATE MODEL genre OPTIONS (type = 'mlp', task = 'classify', seed = 1)
//!   AS SELECT features, label FROM clips WHERE split = 'train';
//! SELECT accuracy(label, predict('genre', features)),
//!        f1_macro(label, predict('genre', features)),
//!        log_loss(class_probability('genre', features, label))
//! FROM clips WHERE split = 'test';
//! ```
//!
//! - [`mlp`]: the model type `mlp` (classify or regress), offering the [`capability`] traits
//!   [`capability::Classifier`] or [`capability::Regressor`];
//! - `predict(model, features)` (the audio domain's `predict`, which hands feature models to
//!   [`adapter::predict_column`]): the predicted label or value; [`predict_proba`]: the class
//!   probabilities; [`class_probability`]: the probability of one class;
//! - the metrics, aggregates that merge partial states (so they work with GROUP BY and
//!   multi-partition plans): [`accuracy`], [`f1_macro`], [`log_loss`], [`r2`];
//! - [`kernels`]: the network, its training, and the metrics' states, on slices.

pub mod accuracy;
pub mod adapter;
pub mod capability;
pub mod class_probability;
pub mod f1_macro;
pub mod kernels;
pub mod labels;
pub mod log_loss;
pub mod mlp;
pub mod predict_proba;
pub mod r2;
#[cfg(test)]
mod tests;

use crate::library::Library;

/// Adds the `mlp` model type, its prediction functions and the metrics.
pub fn register(lib: &mut Library) {
    lib.model_type(mlp::MlpType);
    let catalog = lib.catalog();
    lib.scalar(predict_proba::PredictProba::new(catalog.clone()));
    lib.scalar(class_probability::ClassProbability::new(catalog));
    lib.aggregate(accuracy::Accuracy::default());
    lib.aggregate(f1_macro::F1Macro::default());
    lib.aggregate(log_loss::LogLoss::default());
    lib.aggregate(r2::R2::default());
}
