//! Numeric kernels of the recommenders (no Arrow, no tensors): sparse matrices, truncated SVD and
//! implicit-feedback ALS.

pub mod sparse;
