//! Numeric kernels of the explainers (no Arrow, no DataFusion, no tensors).
//!
//! The explainers of SPEC §6 (thesis §5.3.2) explain a recommender's score `f(u, i, T_i)` by a
//! vector `θ` over tags, keep its `ω` largest entries, and rebuild an approximate score
//! `ĝ_i = θ · T_i` whose ranking is compared with the model's (fidelity). Querying the model is
//! the caller's business (it needs the tensors); everything that is pure arithmetic on the
//! model's answers lives here, on plain slices and small `nalgebra` matrices, so that it can be
//! tested exactly and independently of the engine:
//!
//! - [`lime`]: LIME for tag vectors, following the `lime` package's text explainer: the
//!   perturbations, the cosine-distance kernel, the feature-selection methods (`auto`,
//!   `forward_selection`, `highest_weights`, `lasso_path`, `none`) and the weighted ridge
//!   surrogate;
//! - [`ridge`]: weighted ridge regression with an intercept and the weighted `R²`, as
//!   scikit-learn's `Ridge` computes them (used by LIME);
//! - [`lars`]: the LARS-lasso regularisation path, as scikit-learn's `lars_path(method='lasso')`
//!   computes it (used by LIME's `lasso_path` selection);
//! - [`pdp`]: the user-level partial-dependence explanation (eq. 5.16–5.17);
//! - [`select`]: truncation of a dense explanation to its `ω` largest entries and the rebuilt
//!   score `ĝ_i = θ · T_i`.
//!
//! Every kernel returns [`ExplainError`] for bad input instead of panicking, and every random
//! choice goes through [`crate::common::rng::Rng`], so that an explanation computed
//! twice with the same seed is identical.

pub mod lars;
pub mod lime;
pub mod pdp;
pub mod ridge;
pub mod select;

/// Why an explainer kernel could not produce a result.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ExplainError {
    /// An argument is invalid: mismatched lengths, an empty input, a non-finite value, `ω = 0`,
    /// a negative weight, an index out of range.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A computation produced a non-finite or otherwise unusable value.
    #[error("numerical failure: {0}")]
    Numerical(String),
}

/// Shorthand for an [`ExplainError::InvalidInput`] result.
pub(crate) fn invalid<T>(msg: impl Into<String>) -> Result<T, ExplainError> {
    Err(ExplainError::InvalidInput(msg.into()))
}

/// Checks that every value of `values` is finite; `what` names them in the error.
pub(crate) fn check_finite(values: &[f64], what: &str) -> Result<(), ExplainError> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(k) => invalid(format!("{what}[{k}] is not finite ({})", values[k])),
        None => Ok(()),
    }
}
