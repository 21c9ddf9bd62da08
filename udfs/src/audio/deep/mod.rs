//! Deep audio encoders (thesis §4.2, Table 4.1): the robustness study compares the MFCC encoder
//! with VGG-like networks trained for four tasks, and users bring their own TorchScript encoders.
//! This module holds what they share: the input representation ([`input`]), the networks
//! ([`network`]), the trainable model types `vgg` ([`vgg`]) and `mtl_cnn` ([`mtl`]) with the
//! variables their files store (`variables`), user models (`torchscript`,
//! [`torchscript`]), and the [`AudioEncoder`] interface
//! through which `embed(model, audio)` reaches any of them in batches on the session's device.

pub mod input;
pub mod mtl;
pub mod network;
pub mod torchscript;
mod variables;
pub mod vgg;

use datafusion::common::{exec_err, plan_datafusion_err};
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Float32Type};
use datafusion::error::{DataFusionError, Result};

use crate::model::TrainingData;

/// An error's message without DataFusion's kind prefix, for errors that are wrapped again.
pub fn message(e: DataFusionError) -> String {
    match e {
        DataFusionError::Execution(m) | DataFusionError::Plan(m) => m,
        other => other.to_string(),
    }
}

/// The rule that turns crop embeddings into clip embeddings: the mean over a clip's crops.
pub(crate) struct CropMeans {
    sums: Vec<Vec<f64>>,
    counts: Vec<usize>,
}

impl CropMeans {
    /// For `clips` clips.
    pub(crate) fn new(clips: usize) -> CropMeans {
        CropMeans {
            sums: vec![Vec::new(); clips],
            counts: vec![0; clips],
        }
    }

    /// Adds the embeddings of a pass: `rows` holds one embedding per entry of `owners` (the
    /// clip each crop belongs to), row after row.
    pub(crate) fn add(&mut self, owners: &[usize], rows: &[f32]) {
        let dim = rows.len() / owners.len().max(1);
        for (&i, row) in owners.iter().zip(rows.chunks_exact(dim.max(1))) {
            let sum = &mut self.sums[i];
            if sum.is_empty() {
                sum.resize(dim, 0.0);
            }
            for (s, &v) in sum.iter_mut().zip(row) {
                *s += f64::from(v);
            }
            self.counts[i] += 1;
        }
    }

    /// The mean embedding of each clip.
    pub(crate) fn finish(self) -> Vec<Vec<f32>> {
        self.sums
            .into_iter()
            .zip(self.counts)
            .map(|(s, n)| s.into_iter().map(|v| (v / n as f64) as f32).collect())
            .collect()
    }
}

/// Networks or modules built once per device and used under a lock (libtorch tensors may move
/// between threads but not be shared).
pub(crate) struct PerDevice<T> {
    built: std::sync::Mutex<Vec<(tch::Device, T)>>,
}

impl<T> PerDevice<T> {
    pub(crate) fn new() -> PerDevice<T> {
        PerDevice {
            built: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Runs `f` on the value for `device`, building it with `build` on first use.
    pub(crate) fn with<R>(
        &self,
        device: tch::Device,
        build: impl FnOnce() -> Result<T>,
        f: impl FnOnce(&T) -> Result<R>,
    ) -> Result<R> {
        let mut built = self
            .built
            .lock()
            .map_err(|_| DataFusionError::Execution("model cache poisoned".to_string()))?;
        if let Some((_, v)) = built.iter().find(|(d, _)| *d == device) {
            return f(v);
        }
        let v = build()?;
        let out = f(&v);
        built.push((device, v));
        out
    }
}

/// Held while libtorch's process-wide generator is seeded and initial weights are drawn from it.
static SEEDED_INIT: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// `init()` (which draws a network's initial weights) with libtorch's default generator seeded
/// with `seed`. The generator is process-wide, so every libtorch-trained type (`vgg`, `mtl_cnn`)
/// seeds and draws under this one lock: concurrent trainings (two sessions in one program,
/// parallel tests) cannot interleave their draws.
pub(crate) fn seeded<T>(seed: u64, init: impl FnOnce() -> T) -> T {
    let _seeded = SEEDED_INIT.lock().unwrap_or_else(|p| p.into_inner());
    tch::manual_seed(seed as i64);
    init()
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
    /// The class probabilities of `clips` (mean over each clip's crops, in the order of the
    /// model's classes), for models trained to classify; an error for the others.
    fn predict(&self, _clips: &[&[f32]], _device: tch::Device) -> Result<Vec<Vec<f32>>> {
        Err(DataFusionError::Execution(
            "this model predicts no classes".to_string(),
        ))
    }
    /// The reconstruction error of each clip by an autoencoder (thesis §4.4: the AE task's
    /// performance): the mean squared error between each standardised crop and its
    /// reconstruction, averaged over the clip's crops; an error for other models.
    fn reconstruction_error(&self, _clips: &[&[f32]], _device: tch::Device) -> Result<Vec<f64>> {
        Err(DataFusionError::Execution(
            "this model reconstructs nothing (only autoencoder models do)".to_string(),
        ))
    }
    /// The source each mixture in `clips` is separated into by a separation model, as audio of
    /// the mixture's length; an error for other models.
    fn separate(&self, _clips: &[&[f32]], _device: tch::Device) -> Result<Vec<Vec<f32>>> {
        Err(DataFusionError::Execution(
            "this model separates nothing (only separation models do)".to_string(),
        ))
    }
    /// Writes the encoder as a TorchScript module taking what a `torchscript` model with
    /// `input = 'stft_db'` and the same crop gives it, atomically; the file's size in bytes.
    fn export_torchscript(&self, _path: &std::path::Path) -> Result<u64> {
        Err(datafusion::error::DataFusionError::Execution(
            "this encoder cannot be exported as TorchScript".to_string(),
        ))
    }
}

/// Column `name` of a model's training data as rows of samples (NULL rows are `None`); an
/// error names `model_type`, the column and its type when it is not a list of numbers.
pub(crate) fn sample_column(
    data: &TrainingData,
    model_type: &str,
    name: &str,
) -> Result<Vec<Option<Vec<f32>>>> {
    let i = data.column(model_type, name)?;
    let target = DataType::List(Arc::new(Field::new_list_field(DataType::Float32, true)));
    let mut out = Vec::new();
    for b in &data.batches {
        let col = b.column(i);
        let list = cast(col, &target).map_err(|_| {
            plan_datafusion_err!(
                "model type '{model_type}': column \"{name}\" must be a list of samples, got {}",
                col.data_type()
            )
        })?;
        let list = list.as_list::<i32>();
        for r in 0..list.len() {
            if list.is_null(r) {
                out.push(None);
                continue;
            }
            let v = list.value(r);
            let v = v.as_primitive::<Float32Type>();
            if v.null_count() > 0 {
                return exec_err!(
                    "model type '{model_type}': a clip in column \"{name}\" has NULL samples"
                );
            }
            out.push(Some(v.values().to_vec()));
        }
    }
    Ok(out)
}
