//! Explainers and their fidelity (thesis §5.3.2, SPEC §6): `explain_random`, `explain_pdp`,
//! `explain_saliency`, `explain_lime` and `fidelity`.
//!
//! It exists because the thesis' question is not "what does this model do" but "how well does
//! each model-agnostic explainer describe each recommender, at each complexity ω, for every
//! user": a crossed experiment that is plain SQL over these functions, with the heavy work
//! batched inside each call ([`engine`]) and the arithmetic in pure kernels ([`kernels`]).

pub mod engine;
pub mod explain_lime;
pub mod explain_pdp;
pub mod explain_random;
pub mod explain_saliency;
pub mod fidelity;
pub mod function;
pub mod kernels;

use crate::library::Library;

/// Adds the explainers and `fidelity`.
pub fn register(lib: &mut Library) {
    let catalog = lib.catalog();
    lib.scalar(explain_random::ExplainRandomFunc::new(catalog.clone()))
        .scalar(explain_pdp::ExplainPdpFunc::new(catalog.clone()))
        .scalar(explain_saliency::ExplainSaliencyFunc::new(catalog.clone()))
        .scalar(explain_lime::ExplainLimeFunc::new(catalog.clone()))
        .scalar(fidelity::FidelityFunc::new(catalog));
}
