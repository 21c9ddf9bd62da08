//! Numeric kernels of the recommenders (no Arrow, no tensors): sparse matrices, truncated SVD,
//! implicit-feedback ALS, and the training steps of the factorization machine and NCF.
//!
//! Everything here works on plain slices, [`sparse::Csr`] and `nalgebra` matrices, returns
//! [`KernelError`] instead of panicking, and takes an explicit `seed` for every random choice (see
//! [`crate::common::rng::Rng`]) so that a model trained twice on the same data is bit-identical on one machine.

pub mod als;
pub mod fm;
pub mod ncf;
pub mod sparse;
pub mod svd;
#[cfg(test)]
pub(crate) mod test_support;

/// Why a kernel could not produce a result.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum KernelError {
    /// An argument is invalid: mismatched lengths, an index out of range, a non-finite value, a
    /// negative hyper-parameter, a malformed [`sparse::Csr`].
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A computation produced a non-finite or otherwise unusable value.
    #[error("numerical failure: {0}")]
    Numerical(String),
    /// The caller's progress callback asked to stop (for example because the query was
    /// cancelled).
    #[error("cancelled")]
    Cancelled,
    /// The caller's progress callback failed for another reason.
    #[error("{0}")]
    Callback(String),
}
