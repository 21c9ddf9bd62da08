//! The maths of transfer evaluation, on slices: the multilayer perceptron ([`mlp`]) that learns a
//! target task from fixed feature vectors, its matrix products ([`linalg`]), and the evaluation
//! metrics ([`metrics`]). Nothing here knows Arrow or DataFusion; errors are [`TransferError`].

pub mod linalg;
pub mod metrics;
pub mod mlp;

/// Why a transfer-evaluation kernel refused its input or stopped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TransferError {
    /// The features do not have the announced shape.
    #[error("{n} rows of {d} features need {want} values, got {got}")]
    Shape {
        n: usize,
        d: usize,
        want: usize,
        got: usize,
    },
    /// There is nothing to learn from.
    #[error("no training rows")]
    NoRows,
    /// Feature vectors of length zero.
    #[error("the feature vectors are empty")]
    NoFeatures,
    /// A classifier needs two classes to tell apart.
    #[error("a classifier needs at least two distinct classes, got {0}")]
    TooFewClasses(usize),
    /// A class index at or beyond the number of classes.
    #[error("row {row}: class index {class} is not below the number of classes {k}")]
    ClassIndex { row: usize, class: usize, k: usize },
    /// Targets and rows differ in number.
    #[error("{rows} rows but {targets} targets")]
    TargetCount { rows: usize, targets: usize },
    /// A NaN or infinite value where a number is needed.
    #[error("{what} is not finite in row {row}")]
    NotFinite { what: &'static str, row: usize },
    /// The split for early stopping leaves one side empty.
    #[error("validation_fraction = {fraction} of {n} rows leaves {validation} rows for validation and {train} for training; both need at least one")]
    Split {
        fraction: f64,
        n: usize,
        validation: usize,
        train: usize,
    },
    /// Training diverged.
    #[error(
        "the training loss became {loss} in epoch {epoch}; try a smaller lr, or standardize = true"
    )]
    Diverged { epoch: usize, loss: f64 },
    /// A probability outside [0, 1].
    #[error("probability {0} is outside [0, 1]")]
    Probability(f64),
    /// The user stopped the work (Ctrl-C).
    #[error("cancelled by the user")]
    Cancelled,
    /// Anything else about the input, in words.
    #[error("{0}")]
    Input(String),
}

impl From<TransferError> for datafusion::error::DataFusionError {
    fn from(e: TransferError) -> Self {
        match e {
            TransferError::Cancelled => {
                datafusion::error::DataFusionError::Execution("cancelled by the user".to_string())
            }
            e => datafusion::error::DataFusionError::Execution(e.to_string()),
        }
    }
}
