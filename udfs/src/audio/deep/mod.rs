//! Deep audio encoders (thesis §4.2, Table 4.1): the robustness study compares the MFCC encoder
//! with VGG-like networks trained for four tasks, and users bring their own TorchScript encoders.
//! This module holds what they share: the input representation ([`input`]), the networks
//! ([`network`]), the trainable model type `vgg` ([`vgg`]), user models (`torchscript`,
//! [`torchscript`]), and the [`AudioEncoder`] interface
//! through which `embed(model, audio)` reaches any of them in batches on the session's device.

pub mod input;
pub mod network;
pub mod torchscript;
pub mod vgg;

use datafusion::error::{DataFusionError, Result};

/// An error's message without DataFusion's kind prefix, for errors that are wrapped again.
pub fn message(e: DataFusionError) -> String {
    match e {
        DataFusionError::Execution(m) | DataFusionError::Plan(m) => m,
        other => other.to_string(),
    }
}

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
    /// Writes the encoder as a TorchScript module taking what a `torchscript` model with
    /// `input = 'stft_db'` and the same crop gives it, atomically; the file's size in bytes.
    fn export_torchscript(&self, _path: &std::path::Path) -> Result<u64> {
        Err(datafusion::error::DataFusionError::Execution(
            "this encoder cannot be exported as TorchScript".to_string(),
        ))
    }
}
