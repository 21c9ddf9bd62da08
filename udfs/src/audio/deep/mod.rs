//! Deep audio encoders (thesis §4.2, Table 4.1): the robustness study compares the MFCC encoder
//! with VGG-like networks trained for four tasks, and users bring their own TorchScript encoders.
//! This module holds what they share: the input representation ([`input`]), the networks
//! ([`network`]), the trainable model type `vgg` ([`vgg`]), and the [`AudioEncoder`] interface
//! through which `embed(model, audio)` reaches any of them in batches on the session's device.

pub mod input;
pub mod network;
pub mod vgg;

use datafusion::error::Result;

/// A trained model that embeds clips: what `embed(model, audio)` calls.
pub trait AudioEncoder: Send + Sync {
    /// Length of the embeddings.
    fn dim(&self) -> usize;
    /// The sample rate (Hz) the encoder was trained on; clips at other rates are refused.
    fn sample_rate(&self) -> u32;
    /// The embeddings of `clips`, computed together on `device` (one forward pass per group of
    /// crops that fits the device), in order; an error names the first clip that cannot be
    /// embedded (too short, not finite).
    fn embed(&self, clips: &[&[f32]], device: tch::Device) -> Result<Vec<Vec<f32>>>;
}
