//! The maths of the latent factor models, on slices: no Arrow, no DataFusion.
//!
//! It exists so that the models that reduce a learning source to k latent factors (thesis
//! §2.2.3) are plain numerical code that tests can check against independent computations: the
//! sparse document-term matrix and its TF-IDF weighting ([`sparse`]), pLSA by EM ([`plsa`]),
//! LDA by batch variational Bayes ([`lda`], for the artist group factors of thesis §3.3.1) and
//! the one-dimensional Gaussian mixture by EM ([`gmm`]); the quantile normalisation of a
//! descriptor dimension to N(0, 1) before a dictionary is learnt (thesis §3.3.1, [`quantile`]);
//! and k-means, which learns that dictionary of "audio words" (thesis ch. 3, [`kmeans`]).

pub mod gmm;
pub mod kmeans;
pub mod lda;
pub mod plsa;
pub mod quantile;
pub mod sparse;

/// Why a latent factor model could not be fitted. The text is what the user reads.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LatentError {
    /// No data with positive weight.
    #[error("there is nothing to fit: {0}")]
    Empty(String),
    /// More mixture components than distinct values.
    #[error(
        "k = {k} components exceed the {distinct} distinct values of the data; choose k ≤ {distinct}"
    )]
    TooManyComponents { k: usize, distinct: usize },
    /// More clusters than distinct vectors.
    #[error(
        "k = {k} clusters exceed the {distinct} distinct vectors of the data; choose k ≤ {distinct}"
    )]
    TooManyClusters { k: usize, distinct: usize },
    /// The rows drawn to initialise mini-batch k-means hold fewer than k distinct vectors.
    #[error(
        "the init_size = {init_size} rows drawn to initialise mini-batch k-means hold only \
         {distinct} distinct vectors, fewer than k = {k}; raise init_size"
    )]
    InitSample {
        k: usize,
        init_size: usize,
        distinct: usize,
    },
    /// Options that cannot be used together or with this data.
    #[error("{0}")]
    BadOption(String),
    /// A value that is NaN or infinite.
    #[error("{what} must be finite, got {value}")]
    NotFinite { what: &'static str, value: f64 },
    /// A negative weight.
    #[error("weights must be non-negative, got {0}")]
    NegativeWeight(f64),
    /// Parameters that are not numbers (a variance of zero).
    #[error("the mixture is ill-defined: {0}")]
    IllDefined(String),
    /// A setting outside its range (caught by the options of the model types first).
    #[error("{what} must be {need}, got {value}")]
    OutOfRange {
        what: &'static str,
        need: &'static str,
        value: f64,
    },
    /// Inputs whose sizes do not agree (a bug in the caller, reported instead of panicking).
    #[error("inconsistent input: {0}")]
    Shape(String),
    /// The user asked to stop (Ctrl-C).
    #[error("cancelled by the user")]
    Cancelled,
}
