//! What every domain of the function library shares, and nothing domain-specific.
//!
//! It exists so that no domain imports another for plumbing: the seeded random generator every
//! random choice goes through ([`rng`]), tensor conversions and caches ([`tensors`]), the
//! checks of SQL arguments ([`args`]), the status of long work ([`progress`]), the Arrow helpers of the UDF adapters ([`adapters`]) and
//! the one run-time SIMD dispatch with its shared vector primitives ([`simd`]), and products of
//! thin matrices read in place with the packed product's bits ([`thin_gemm`]).
//! A domain depends on another only for that domain's own subject (the explainers explain
//! recommenders, so `explain` uses `recsys`).

pub mod adapters;
pub mod args;
pub mod progress;
pub mod rng;
pub mod simd;
pub mod tensors;
pub mod thin_gemm;
