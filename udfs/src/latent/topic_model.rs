//! The `TopicModel` capability: a model that gives each of its training documents a
//! distribution over k topics.
//!
//! It exists so that `topic_mixture(model, doc)` reads every topic model the same way: pLSA
//! (P(z|d)) and LDA (its normalised document-topic weights, scikit-learn's `transform`),
//! without the function knowing either type.

use crate::model::KeyIndex;

/// A model whose training documents have topic proportions.
pub trait TopicModel: Send + Sync {
    /// The number of topics k.
    fn topics(&self) -> usize;

    /// The documents the model was trained on (their ids, in the order of [`Self::mixture`]).
    fn documents(&self) -> &KeyIndex;

    /// The topic proportions of training document `d` (an index of [`Self::documents`]): k
    /// non-negative numbers summing to 1. `None` past the last document.
    fn mixture(&self, d: usize) -> Option<&[f32]>;
}
