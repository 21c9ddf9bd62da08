//! Model type `vgg`: the thesis' VGG-like encoder (Table 4.1) trained from SQL for one of the four
//! tasks of §4.2.1, then used as an audio encoder by `embed(model, audio)`.
//!
//! ```sql
//! CREATE MODEL enc OPTIONS (type = 'vgg', task = 'instrument', epochs = 30, seed = 1)
//!   AS SELECT samples AS audio, instrument AS label FROM clips;
//! SELECT embed('enc', samples) FROM clips;
//! ```
//!
//! Tasks and the columns of the `AS` query (besides `audio`, a list of float32 samples at
//! `sample_rate` Hz):
//! - `autoencoder`: reconstruct the (standardised dB) input crop from the 256-d embedding through
//!   the reversed network; mean squared error.
//! - `autotag`: `tags`, a list of text per clip (multi-label, any number of distinct tags); one
//!   linear layer from the embedding to a logit per tag; binary cross-entropy (mean over tags).
//! - `instrument`: `label`, text (single-label); one linear layer to a logit per class; softmax
//!   cross-entropy.
//! - `separation`: `target`, the isolated source as samples of the same length as `audio`; the
//!   U-Net decoder's sigmoid mask times the mixture's linear magnitude spectrogram estimates the
//!   source's magnitude; mean absolute (L1) error.
//!
//! Training (§4.2.3): Adam with learning rate `lr` (0.001, the thesis'), mini-batches of
//! `batch_size` crops of `crop` frames, each epoch `crops_per_clip` crops per clip at seeded
//! random starts, in seeded random order; batch normalisation in training mode. The input
//! statistics (see [`super::input`]) come from all training clips. `tch::manual_seed(seed)` seeds
//! the initial weights (under a process-wide lock, as libtorch's generator is global), so the same
//! seed, data and device give the same model on the CPU, even with other trainings running.
//! Progress after every epoch; every `checkpoint_every` epochs the model trained so far is saved
//! in the model store under the model's name (training fact `checkpoint: epoch k of N`; the
//! final model replaces it). Ctrl-C stops between mini-batches; the last checkpoint, if any,
//! stays in the store and the error names it.
//!
//! Embedding: each clip's consecutive non-overlapping crops go through the encoder in
//! evaluation mode (running batch-norm statistics) and the clip's embedding is the mean of its
//! crops' 256-d embeddings. The crops of all clips of a call are encoded together, in forward
//! passes of at most [`CPU_PASS`] crops on the CPU and [`CUDA_PASS`] on a GPU.
//!
//! Task outputs (thesis §4.4's task performance): `predict` (instrument, autotag) averages the
//! class probabilities of a clip's crops; `reconstruction_error` (autoencoder) averages each
//! crop's mean squared reconstruction error in the standardised input space;
//! `separate` (separation) gives every frame a mask (the consecutive crops, and one crop ending
//! at the last frame for the remainder), multiplies the mixture's complex STFT by it and inverts
//! that with the mixture's phase, so that the estimate is audio the SDR can compare with the true
//! source.

use std::collections::BTreeMap;
use std::time::Instant;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::error::{DataFusionError, Result};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tch::nn::{self, Module, OptimizerConfig};
use tch::{Device, Kind, Tensor};

use super::input::{
    db_spectrogram, embedding_crops, magnitude_spectrogram, min_samples, stft_plan, Spectrogram,
    Standardizer, BINS, HOP, N_FFT,
};
use super::network::{Decoder, Encoder, DOWNSAMPLING, EMBEDDING_DIM};
use super::{sample_column, AudioEncoder, CropMeans, PerDevice};
use crate::common::rng::Rng;
use crate::common::tensors::{to_f32_vec, torch_err};
use crate::engine::memory::check_memory;
use crate::model::{
    decode, encode, Model, ModelOptions, ModelType, OptionKind, OptionSpec, TrainContext, Trained,
    TrainingData,
};

/// Crops per forward pass when embedding on the CPU.
pub const CPU_PASS: usize = 32;
/// Crops per forward pass when embedding on a GPU.
pub const CUDA_PASS: usize = 512;

const TYPE: &str = "vgg";

/// Held while libtorch's global generator is seeded and the initial weights are drawn.
static SEEDED_INIT: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The four tasks of thesis §4.2.1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Task {
    Autoencoder,
    Autotag,
    Instrument,
    Separation,
}

impl Task {
    const NAMES: [&'static str; 4] = ["autoencoder", "autotag", "instrument", "separation"];

    fn parse(name: &str) -> Result<Task> {
        match name {
            "autoencoder" => Ok(Task::Autoencoder),
            "autotag" => Ok(Task::Autotag),
            "instrument" => Ok(Task::Instrument),
            "separation" => Ok(Task::Separation),
            other => Err(DataFusionError::Plan(format!(
                "unknown task '{other}' for model type 'vgg' (tasks: {})",
                Task::NAMES.join(", ")
            ))),
        }
    }

    fn name(self) -> &'static str {
        Task::NAMES[self as usize]
    }

    /// The label column the task reads, with what it must hold.
    fn label_column(self) -> Option<(&'static str, &'static str)> {
        match self {
            Task::Autoencoder => None,
            Task::Autotag => Some(("tags", "a list of text")),
            Task::Instrument => Some(("label", "text")),
            Task::Separation => Some(("target", "a list of samples")),
        }
    }
}

static OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        name: "task",
        kind: OptionKind::Choice(&Task::NAMES),
        default: None,
        doc: "what the network learns: autoencoder, autotag (column tags), instrument (column \
              label) or separation (column target) (required)",
    },
    OptionSpec {
        name: "epochs",
        kind: OptionKind::Int {
            min: 1,
            max: 100_000,
        },
        default: Some("20"),
        doc: "passes over the training clips",
    },
    OptionSpec {
        name: "crops_per_clip",
        kind: OptionKind::Int { min: 1, max: 1000 },
        default: Some("4"),
        doc: "random crops drawn from each clip per epoch",
    },
    OptionSpec {
        name: "crop",
        kind: OptionKind::Int { min: 64, max: 4096 },
        default: Some("128"),
        doc: "crop length in spectrogram frames (hop 256), a multiple of 64",
    },
    OptionSpec {
        name: "batch_size",
        kind: OptionKind::Int { min: 1, max: 4096 },
        default: Some("8"),
        doc: "crops per mini-batch",
    },
    OptionSpec {
        name: "lr",
        kind: OptionKind::Float { min: 0.0, max: 1.0 },
        default: Some("0.001"),
        doc: "Adam's learning rate",
    },
    OptionSpec {
        name: "seed",
        kind: OptionKind::Int {
            min: 0,
            max: i64::MAX,
        },
        default: Some("0"),
        doc: "seed of the initial weights, the crops and their order",
    },
    OptionSpec {
        name: "checkpoint_every",
        kind: OptionKind::Int {
            min: 0,
            max: 100_000,
        },
        default: Some("5"),
        doc: "save the model trained so far in the model store every this many epochs (0: never)",
    },
    OptionSpec {
        name: "sample_rate",
        kind: OptionKind::Int {
            min: 1000,
            max: 384_000,
        },
        default: Some("22050"),
        doc: "the clips' sample rate in Hz (embedding refuses clips at other rates)",
    },
];

/// The options, checked once.
#[derive(Clone, Copy, Debug)]
struct Hyper {
    task: Task,
    epochs: usize,
    crops_per_clip: usize,
    crop: usize,
    batch_size: usize,
    lr: f64,
    seed: u64,
    sample_rate: u32,
    checkpoint_every: usize,
}

impl Hyper {
    fn from_options(o: &ModelOptions) -> Result<Hyper> {
        let int = |name: &str| o.int(name).unwrap_or(0);
        let Some(task) = o.text("task") else {
            return Err(DataFusionError::Plan(format!(
                "model type 'vgg' needs option task ({})",
                Task::NAMES.join(", ")
            )));
        };
        let crop = int("crop") as usize;
        if crop % DOWNSAMPLING as usize != 0 {
            return Err(DataFusionError::Plan(format!(
                "option crop must be a multiple of {DOWNSAMPLING} frames (the encoder halves it \
                 six times), got {crop}"
            )));
        }
        Ok(Hyper {
            task: Task::parse(task)?,
            epochs: int("epochs") as usize,
            crops_per_clip: int("crops_per_clip") as usize,
            crop,
            batch_size: int("batch_size") as usize,
            lr: o.float("lr").unwrap_or(0.001),
            seed: int("seed") as u64,
            sample_rate: int("sample_rate") as u32,
            checkpoint_every: int("checkpoint_every") as usize,
        })
    }
}

/// The bytes one training step holds for `batch_size` crops of `crop` frames: per input value,
/// the encoder keeps its blocks' convolution, normalisation and activation outputs (channels
/// 16, 32, ... at resolutions shrinking 4× per block: 31.25 values per input value) for the
/// backward pass and as many gradients; a decoder (autoencoder, separation) about 1.5 times
/// that again. An estimate for refusing absurd options, not an accounting.
fn training_bytes(task: Task, batch_size: usize, crop: usize) -> f64 {
    let per_value: f64 = super::network::CHANNELS
        .iter()
        .enumerate()
        .map(|(k, &c)| c as f64 / 4f64.powi(k as i32))
        .sum();
    let decoder = match task {
        Task::Autoencoder | Task::Separation => 2.5,
        Task::Autotag | Task::Instrument => 1.0,
    };
    batch_size as f64 * crop as f64 * BINS as f64 * 4.0 * per_value * 6.0 * decoder
}

/// The networks of one model on one device.
struct Nets {
    vs: nn::VarStore,
    encoder: Encoder,
    decoder: Option<Decoder>,
    head: Option<nn::Linear>,
}

impl Nets {
    fn new(task: Task, classes: usize, device: Device) -> Nets {
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let encoder = Encoder::new(&root / "encoder");
        let decoder = match task {
            Task::Autoencoder => Some(Decoder::new(&root / "decoder", false)),
            Task::Separation => Some(Decoder::new(&root / "decoder", true)),
            _ => None,
        };
        let head = matches!(task, Task::Autotag | Task::Instrument).then(|| {
            nn::linear(
                &root / "head",
                EMBEDDING_DIM,
                classes as i64,
                Default::default(),
            )
        });
        Nets {
            vs,
            encoder,
            decoder,
            head,
        }
    }

    /// Every variable (weights and batch-norm statistics) by name, in name order.
    fn export(&self) -> Result<Vec<Variable>> {
        let mut vars: Vec<(String, Tensor)> = self.vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        vars.into_iter()
            .map(|(name, t)| {
                Ok(Variable {
                    shape: t.size(),
                    values: to_f32_vec(&t)?,
                    name,
                })
            })
            .collect()
    }

    /// Loads exported variables; an error when a name or shape does not match.
    fn import(&mut self, vars: &[Variable]) -> Result<()> {
        let mine = self.vs.variables();
        if mine.len() != vars.len() {
            return Err(corrupt(format!(
                "{} variables stored, the network has {}",
                vars.len(),
                mine.len()
            )));
        }
        tch::no_grad(|| {
            for v in vars {
                let Some(t) = mine.get(&v.name) else {
                    return Err(corrupt(format!("unknown variable {}", v.name)));
                };
                if t.size() != v.shape {
                    return Err(corrupt(format!("variable {} has the wrong shape", v.name)));
                }
                let src = Tensor::from_slice(&v.values)
                    .view(v.shape.as_slice())
                    .to_device(t.device());
                let mut t = t.shallow_clone();
                t.f_copy_(&src).map_err(torch_err)?;
            }
            Ok(())
        })
    }
}

fn corrupt(why: String) -> DataFusionError {
    DataFusionError::Execution(format!("the stored 'vgg' model is damaged: {why}"))
}

/// A named variable as plain values.
#[derive(Debug, Serialize, Deserialize)]
struct Variable {
    name: String,
    shape: Vec<i64>,
    values: Vec<f32>,
}

/// What the model file holds.
#[derive(Debug, Serialize, Deserialize)]
struct State {
    task: Task,
    crop: usize,
    sample_rate: u32,
    /// Tag or instrument names, in logit order (empty for the other tasks).
    classes: Vec<String>,
    standardizer: Standardizer,
    variables: Vec<Variable>,
}

/// A trained `vgg` model.
pub struct VggModel {
    state: State,
    /// The networks, built on first use per device.
    nets: PerDevice<Nets>,
}

impl std::fmt::Debug for VggModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VggModel")
            .field("task", &self.state.task)
            .field("crop", &self.state.crop)
            .finish_non_exhaustive()
    }
}

impl VggModel {
    fn from_state(state: State) -> VggModel {
        VggModel {
            state,
            nets: PerDevice::new(),
        }
    }

    /// Runs `f` on the networks for `device`, building them on first use.
    fn with_nets<R>(&self, device: Device, f: impl FnOnce(&Nets) -> Result<R>) -> Result<R> {
        let build = || {
            let mut nets = Nets::new(self.state.task, self.state.classes.len(), device);
            nets.import(&self.state.variables)?;
            // Trained: inference and tracing need no gradients.
            nets.vs.freeze();
            Ok(nets)
        };
        self.nets.with(device, build, f)
    }

    /// The standardised input spectrograms of `clips`; an error names the first clip that is
    /// too short or not finite.
    fn spectrograms(&self, clips: &[&[f32]]) -> Result<Vec<Spectrogram>> {
        let crop = self.state.crop;
        let plan = stft_plan().map_err(DataFusionError::from)?;
        clips
            .par_iter()
            .enumerate()
            .map(|(i, audio)| {
                let mut s = db_spectrogram(&plan, audio)
                    .and_then(|s| embedding_crops(s.frames, crop).map(|_| s))
                    .map_err(|e| DataFusionError::Execution(format!("clip {}: {e}", i + 1)))?;
                self.state.standardizer.apply(&mut s);
                Ok(s)
            })
            .collect()
    }

    /// Runs `per_crop(nets, x)` (`x`: `[n, 1, crop, 512]` standardised crops) on the `crops`
    /// (`(clip, start)` pairs into `specs`) in forward passes that fit `device`, handing each
    /// pass's crops and flattened output to `sink`.
    fn run_crops(
        &self,
        specs: &[Spectrogram],
        crops: &[(usize, usize)],
        device: Device,
        per_crop: impl Fn(&Nets, &Tensor) -> Tensor,
        mut sink: impl FnMut(&[(usize, usize)], Vec<f32>) -> Result<()>,
    ) -> Result<()> {
        let crop = self.state.crop;
        let pass = if device == Device::Cpu {
            CPU_PASS
        } else {
            CUDA_PASS
        };
        self.with_nets(device, |nets| {
            for group in crops.chunks(pass) {
                let x = crop_tensor(
                    group.iter().map(|&(i, s)| specs[i].crop(s, crop)),
                    crop,
                    device,
                );
                let y = tch::no_grad(|| per_crop(nets, &x));
                sink(group, to_f32_vec(&y)?)?;
            }
            Ok(())
        })
    }

    /// `per_crop` (as in [`Self::run_crops`], giving `[n, d]`) for every consecutive crop of
    /// every clip, averaged per clip.
    fn per_crop_means(
        &self,
        clips: &[&[f32]],
        device: Device,
        per_crop: impl Fn(&Nets, &Tensor) -> Tensor,
    ) -> Result<Vec<Vec<f32>>> {
        let specs = self.spectrograms(clips)?;
        // (clip, start) of every crop, clip by clip.
        let mut crops = Vec::new();
        for (i, s) in specs.iter().enumerate() {
            let starts =
                embedding_crops(s.frames, self.state.crop).map_err(DataFusionError::from)?;
            crops.extend(starts.into_iter().map(|start| (i, start)));
        }
        let mut means = CropMeans::new(clips.len());
        self.run_crops(&specs, &crops, device, per_crop, |group, rows| {
            let owners: Vec<usize> = group.iter().map(|&(i, _)| i).collect();
            means.add(&owners, &rows);
            Ok(())
        })?;
        Ok(means.finish())
    }

    /// An error unless the model was trained for `task`, naming what was asked of it.
    fn require(&self, task: Task, what: &str) -> Result<()> {
        if self.state.task == task {
            return Ok(());
        }
        Err(DataFusionError::Execution(format!(
            "a model of task '{}' gives no {what} (only {} models do)",
            self.state.task.name(),
            task.name()
        )))
    }

    /// The separation masks of `clips`: per clip, `frames × BINS` values in `[0, 1]` (see
    /// [`separation_crops`] for how crops cover the clip).
    fn masks(&self, clips: &[&[f32]], device: Device) -> Result<Vec<Vec<f32>>> {
        let crop = self.state.crop;
        let specs = self.spectrograms(clips)?;
        let mut crops = Vec::new();
        for (i, s) in specs.iter().enumerate() {
            crops.extend(
                separation_crops(s.frames, crop)
                    .into_iter()
                    .map(|st| (i, st)),
            );
        }
        let mut masks: Vec<Vec<f32>> = specs.iter().map(|s| vec![0.0; s.frames * BINS]).collect();
        // The first frame of each clip not yet given a mask.
        let mut filled = vec![0usize; clips.len()];
        let per_crop = |nets: &Nets, x: &Tensor| match &nets.decoder {
            Some(d) => d
                .forward_t(&nets.encoder.forward_t(x, false), false)
                .sigmoid(),
            None => x.zeros_like(),
        };
        self.run_crops(&specs, &crops, device, per_crop, |group, rows| {
            for (&(i, start), values) in group.iter().zip(rows.chunks_exact(crop * BINS)) {
                let from = filled[i].max(start);
                let (a, b) = (from * BINS, (start + crop) * BINS);
                masks[i][a..b].copy_from_slice(&values[(from - start) * BINS..]);
                filled[i] = start + crop;
            }
            Ok(())
        })?;
        Ok(masks)
    }
}

/// The crops that give a separation mask to every frame of a clip with `frames` frames: the
/// consecutive non-overlapping crops from the first frame and, when a remainder is left, one
/// more crop ending at the last frame, whose mask is used only for the remainder's frames.
fn separation_crops(frames: usize, crop: usize) -> Vec<usize> {
    let mut starts: Vec<usize> = (0..frames / crop).map(|i| i * crop).collect();
    if frames % crop != 0 && frames >= crop {
        starts.push(frames - crop);
    }
    starts
}

/// `audio` with its STFT (n_fft 1024, hop 256, periodic Hann, centred with zero padding, as the
/// input spectrogram) multiplied bin by bin by `mask` (`frames × BINS`; the Nyquist bin takes the
/// mask of the bin below it) and inverted (torch's `istft`: overlap-add normalised by the summed
/// squared window), `audio.len()` samples.
fn apply_mask(audio: &[f32], mask: &[f32], device: Device) -> Result<Vec<f32>> {
    let n = audio.len() as i64;
    let frames = (mask.len() / BINS) as i64;
    let window = Tensor::hann_window(N_FFT as i64, (Kind::Float, device));
    // Centred with zero padding: padded here, as torch refuses `align_to_window` when it
    // centres itself.
    let half = N_FFT as i64 / 2;
    let x = Tensor::from_slice(audio)
        .to_device(device)
        .constant_pad_nd([half, half]);
    let spec = x.f_stft_center(
        N_FFT as i64,
        HOP as i64,
        N_FFT as i64,
        Some(&window),
        false,
        "constant",
        false,
        true,
        true,
        false,
    );
    let spec = spec.map_err(torch_err)?;
    if spec.size() != [N_FFT as i64 / 2 + 1, frames] {
        return Err(DataFusionError::Execution(format!(
            "internal: the mixture's STFT has shape {:?}, the mask {frames} frames",
            spec.size()
        )));
    }
    let m = Tensor::from_slice(mask)
        .view([frames, BINS as i64])
        .to_device(device)
        .transpose(0, 1);
    let nyquist = m.narrow(0, BINS as i64 - 1, 1);
    let m = Tensor::cat(&[m, nyquist], 0);
    let out = (spec * m)
        .f_istft(
            N_FFT as i64,
            HOP as i64,
            N_FFT as i64,
            Some(&window),
            true,
            false,
            true,
            n,
            false,
        )
        .map_err(torch_err)?;
    to_f32_vec(&out)
}

impl Model for VggModel {
    fn describe(&self) -> Vec<(String, String)> {
        let s = &self.state;
        let params: usize = s.variables.iter().map(|v| v.values.len()).sum();
        let mut out = vec![
            ("task".to_string(), s.task.name().to_string()),
            ("embedding".to_string(), format!("{EMBEDDING_DIM} float32")),
            ("input".to_string(), format!(
                "dB STFT (n_fft 1024, hop 256), {BINS} bins standardised per bin, crops of {} frames",
                s.crop
            )),
            ("sample rate".to_string(), format!("{} Hz", s.sample_rate)),
            ("minimum clip".to_string(), format!("{} samples", min_samples(s.crop))),
            ("variables".to_string(), params.to_string()),
        ];
        if !s.classes.is_empty() {
            out.push(("classes".to_string(), s.classes.join(", ")));
        }
        out
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        encode(&self.state)
    }

    fn as_audio_encoder(&self) -> Option<&dyn AudioEncoder> {
        Some(self)
    }
}

impl AudioEncoder for VggModel {
    fn dim(&self) -> usize {
        EMBEDDING_DIM as usize
    }

    fn sample_rate(&self) -> u32 {
        self.state.sample_rate
    }

    fn embed(&self, clips: &[&[f32]], device: Device) -> Result<Vec<Vec<f32>>> {
        self.per_crop_means(clips, device, |nets, x| {
            nets.encoder.forward_t(x, false).embedding
        })
    }

    /// Class probabilities: softmax (instrument) or per-tag sigmoid (autotag) of each crop's
    /// logits, averaged over the clip's crops, in the order of the model's classes.
    fn predict(&self, clips: &[&[f32]], device: Device) -> Result<Vec<Vec<f32>>> {
        let task = self.state.task;
        if !matches!(task, Task::Autotag | Task::Instrument) {
            return Err(DataFusionError::Execution(format!(
                "a model of task '{}' predicts no classes (only instrument and autotag models do)",
                task.name()
            )));
        }
        self.per_crop_means(clips, device, |nets, x| {
            let z = nets.encoder.forward_t(x, false).embedding;
            match &nets.head {
                Some(head) if task == Task::Instrument => head.forward(&z).softmax(-1, Kind::Float),
                Some(head) => head.forward(&z).sigmoid(),
                None => z,
            }
        })
    }

    fn reconstruction_error(&self, clips: &[&[f32]], device: Device) -> Result<Vec<f64>> {
        self.require(Task::Autoencoder, "reconstruction error")?;
        let means = self.per_crop_means(clips, device, |nets, x| match &nets.decoder {
            Some(d) => {
                let y = d.forward_t(&nets.encoder.forward_t(x, false), false);
                (y - x)
                    .square()
                    .mean_dim(&[1i64, 2, 3][..], false, Kind::Float)
                    .view([-1, 1])
            }
            None => x.zeros_like(),
        })?;
        Ok(means
            .into_iter()
            .map(|m| m.first().map_or(f64::NAN, |&v| f64::from(v)))
            .collect())
    }

    /// The mask of every frame (see [`separation_crops`]) applied to the mixture's STFT and
    /// inverted with the mixture's phase (see [`apply_mask`]).
    fn separate(&self, clips: &[&[f32]], device: Device) -> Result<Vec<Vec<f32>>> {
        self.require(Task::Separation, "separated source")?;
        let masks = self.masks(clips, device)?;
        clips
            .iter()
            .zip(&masks)
            .map(|(audio, mask)| tch::no_grad(|| apply_mask(audio, mask, device)))
            .collect()
    }

    /// Traces the standardisation and the encoder (evaluation mode) on the CPU.
    fn export_torchscript(&self, path: &std::path::Path) -> Result<u64> {
        let st = &self.state.standardizer;
        let bins = [1i64, 1, 1, BINS as i64];
        let mean = Tensor::from_slice(&st.mean).view(bins);
        let std = Tensor::from_slice(&st.std).view(bins);
        let crop = self.state.crop as i64;
        let module = self.with_nets(Device::Cpu, |nets| {
            let x = Tensor::zeros([2, 1, crop, BINS as i64], (Kind::Float, Device::Cpu));
            tch::no_grad(|| {
                tch::CModule::create_by_tracing("VggEncoder", "forward", &[x], &mut |inputs| {
                    let z = (&inputs[0] - &mean) / &std;
                    vec![nets.encoder.forward_t(&z, false).embedding]
                })
            })
            .map_err(torch_err)
        })?;
        crate::audio::kernels::codec::write_atomically_with(path, |temp| {
            module
                .save(temp)
                .map_err(|e| std::io::Error::other(e.to_string()))
        })
        .map_err(DataFusionError::from)?;
        std::fs::metadata(path).map(|m| m.len()).map_err(|e| {
            DataFusionError::Execution(format!("cannot read '{}': {e}", path.display()))
        })
    }
}

/// `[n, 1, crop, BINS]` from `n` flattened crops.
fn crop_tensor<'a>(crops: impl Iterator<Item = &'a [f32]>, crop: usize, device: Device) -> Tensor {
    let mut flat = Vec::new();
    let mut n = 0i64;
    for c in crops {
        flat.extend_from_slice(c);
        n += 1;
    }
    Tensor::from_slice(&flat)
        .view([n, 1, crop as i64, BINS as i64])
        .to_device(device)
}

/// The model type `vgg`.
#[derive(Debug)]
pub struct VggType;

/// One training clip with what its task learns from.
struct Example {
    input: Spectrogram,
    /// Separation: the mixture's and the source's magnitudes.
    magnitudes: Option<(Spectrogram, Spectrogram)>,
    /// Autotag: multi-hot; instrument: the class index as one value.
    label: Vec<f32>,
}

/// A text column (`label`) as rows.
fn text_column(data: &TrainingData, name: &str) -> Result<Vec<Option<String>>> {
    let i = data.column(TYPE, name)?;
    let mut out = Vec::new();
    for b in &data.batches {
        let col: &ArrayRef = b.column(i);
        if !matches!(
            col.data_type(),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        ) {
            return Err(DataFusionError::Plan(format!(
                "model type 'vgg': column \"{name}\" must be text (the class of each clip), got {}",
                col.data_type()
            )));
        }
        let s = cast(col, &DataType::Utf8)?;
        let s = s.as_string::<i32>();
        out.extend((0..s.len()).map(|r| (!s.is_null(r)).then(|| s.value(r).to_string())));
    }
    Ok(out)
}

/// A list-of-text column (`tags`) as rows.
fn tags_column(data: &TrainingData, name: &str) -> Result<Vec<Option<Vec<String>>>> {
    let i = data.column(TYPE, name)?;
    let target = DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)));
    let mut out = Vec::new();
    for b in &data.batches {
        let col = b.column(i);
        let is_text_list = matches!(col.data_type(),
            DataType::List(f) | DataType::LargeList(f)
                if matches!(f.data_type(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View));
        if !is_text_list {
            return Err(DataFusionError::Plan(format!(
                "model type 'vgg': column \"{name}\" must be a list of text (the tags of each \
                 clip), got {}",
                col.data_type()
            )));
        }
        let list = cast(col, &target)?;
        let list = list.as_list::<i32>();
        for r in 0..list.len() {
            if list.is_null(r) {
                out.push(None);
                continue;
            }
            let v = list.value(r);
            let v = v.as_string::<i32>();
            out.push(Some(
                (0..v.len())
                    .filter(|&j| !v.is_null(j))
                    .map(|j| v.value(j).to_string())
                    .collect(),
            ));
        }
    }
    Ok(out)
}

/// The training examples of `data` for the task, with the class names and the number of rows
/// left out for NULLs.
fn examples(data: &TrainingData, h: &Hyper) -> Result<(Vec<Example>, Vec<String>, usize)> {
    let audio = sample_column(data, TYPE, "audio")?;
    let plan = stft_plan().map_err(DataFusionError::from)?;
    let spectrogram = |row: usize, what: &str, a: &[f32], db: bool| -> Result<Spectrogram> {
        let s = if db {
            db_spectrogram(&plan, a)
        } else {
            magnitude_spectrogram(&plan, a)
        };
        let s = s.map_err(|e| {
            DataFusionError::Execution(format!("model type 'vgg': row {row}, {what}: {e}"))
        })?;
        if s.frames < h.crop {
            return Err(DataFusionError::Execution(format!(
                "model type 'vgg': row {row}, {what}: {} samples give {} frames, fewer than one \
                 crop of {} (at least {} samples)",
                a.len(),
                s.frames,
                h.crop,
                min_samples(h.crop)
            )));
        }
        Ok(s)
    };
    let mut classes: Vec<String> = Vec::new();
    let mut labels: Vec<Option<Vec<f32>>> = vec![Some(Vec::new()); audio.len()];
    let mut targets: Vec<Option<Vec<f32>>> = Vec::new();
    match h.task {
        Task::Autoencoder => {}
        Task::Instrument => {
            let l = text_column(data, "label")?;
            classes = l.iter().flatten().cloned().collect();
            classes.sort();
            classes.dedup();
            labels = l
                .iter()
                .map(|v| {
                    v.as_ref()
                        .and_then(|s| classes.binary_search(s).ok())
                        .map(|k| vec![k as f32])
                })
                .collect();
        }
        Task::Autotag => {
            let t = tags_column(data, "tags")?;
            classes = t.iter().flatten().flatten().cloned().collect();
            classes.sort();
            classes.dedup();
            labels = t
                .iter()
                .map(|v| {
                    v.as_ref().map(|tags| {
                        let mut hot = vec![0.0; classes.len()];
                        for tag in tags {
                            if let Ok(k) = classes.binary_search(tag) {
                                hot[k] = 1.0;
                            }
                        }
                        hot
                    })
                })
                .collect();
        }
        Task::Separation => targets = sample_column(data, TYPE, "target")?,
    }
    if matches!(h.task, Task::Autotag | Task::Instrument) && classes.len() < 2 {
        let (col, _) = h.task.label_column().unwrap_or(("label", ""));
        return Err(DataFusionError::Plan(format!(
            "model type 'vgg' ({}) needs at least two distinct classes in column \"{col}\", got {}",
            h.task.name(),
            classes.len()
        )));
    }
    let mut dropped = 0;
    let mut rows = Vec::new();
    for (r, a) in audio.iter().enumerate() {
        let target = targets.get(r).cloned().flatten();
        match (a, &labels[r], h.task) {
            (Some(a), Some(l), Task::Separation) => match target {
                Some(t) if t.len() == a.len() => rows.push((r, a, l.clone(), Some(t))),
                Some(t) => {
                    return Err(DataFusionError::Execution(format!(
                        "model type 'vgg': row {}: the target has {} samples but the mixture {}",
                        r + 1,
                        t.len(),
                        a.len()
                    )))
                }
                None => dropped += 1,
            },
            (Some(a), Some(l), _) => rows.push((r, a, l.clone(), None)),
            _ => dropped += 1,
        }
    }
    if rows.is_empty() {
        return Err(DataFusionError::Plan(
            "model type 'vgg' has no training clips (every row has a NULL)".to_string(),
        ));
    }
    // The examples are taken in an order of the task's columns' contents, so that the model
    // depends on the AS query's rows and the seed, not on the order in which DataFusion
    // delivered them; errors above still name the query's row numbers.
    let columns: Vec<&str> = std::iter::once("audio")
        .chain(h.task.label_column().map(|(c, _)| c))
        .collect();
    let ranks = data.content_ranks(TYPE, &columns)?;
    rows.sort_by_key(|x| ranks[x.0]);
    let out = rows
        .into_par_iter()
        .map(|(r, a, label, target)| {
            let input = spectrogram(r + 1, "audio", a, true)?;
            let magnitudes = match target {
                Some(t) => Some((
                    spectrogram(r + 1, "audio", a, false)?,
                    spectrogram(r + 1, "target", &t, false)?,
                )),
                None => None,
            };
            Ok(Example {
                input,
                magnitudes,
                label,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((out, classes, dropped))
}

/// The loss of one mini-batch of `(example, start)` crops.
fn batch_loss(nets: &Nets, h: &Hyper, ex: &[Example], batch: &[(usize, usize)]) -> Tensor {
    let device = nets.vs.device();
    let x = crop_tensor(
        batch.iter().map(|&(i, s)| ex[i].input.crop(s, h.crop)),
        h.crop,
        device,
    );
    let encoded = nets.encoder.forward_t(&x, true);
    match h.task {
        Task::Autoencoder => match &nets.decoder {
            Some(d) => d
                .forward_t(&encoded, true)
                .mse_loss(&x, tch::Reduction::Mean),
            None => Tensor::zeros([], (Kind::Float, device)),
        },
        Task::Separation => {
            let magnitudes = |which: usize| {
                crop_tensor(
                    batch.iter().map(|&(i, s)| {
                        let m = ex[i]
                            .magnitudes
                            .as_ref()
                            .map(|m| if which == 0 { &m.0 } else { &m.1 });
                        m.map_or(&[][..], |m| m.crop(s, h.crop))
                    }),
                    h.crop,
                    device,
                )
            };
            match &nets.decoder {
                Some(d) => {
                    let mask = d.forward_t(&encoded, true).sigmoid();
                    (mask * magnitudes(0) - magnitudes(1))
                        .abs()
                        .mean(Kind::Float)
                }
                None => Tensor::zeros([], (Kind::Float, device)),
            }
        }
        Task::Autotag | Task::Instrument => {
            let Some(head) = &nets.head else {
                return Tensor::zeros([], (Kind::Float, device));
            };
            let logits = head.forward(&encoded.embedding);
            let labels: Vec<f32> = batch
                .iter()
                .flat_map(|&(i, _)| ex[i].label.clone())
                .collect();
            if h.task == Task::Autotag {
                let k = logits.size()[1];
                let y = Tensor::from_slice(&labels)
                    .view([batch.len() as i64, k])
                    .to_device(device);
                logits.binary_cross_entropy_with_logits::<Tensor>(
                    &y,
                    None,
                    None,
                    tch::Reduction::Mean,
                )
            } else {
                let y: Vec<i64> = labels.iter().map(|&v| v as i64).collect();
                logits.cross_entropy_for_logits(&Tensor::from_slice(&y).to_device(device))
            }
        }
    }
}

impl ModelType for VggType {
    fn name(&self) -> &'static str {
        TYPE
    }

    fn description(&self) -> &'static str {
        "VGG-like audio encoder of thesis Table 4.1 trained for a task (autoencoder, autotag, \
         instrument, separation); embed(model, audio) gives 256-d embeddings"
    }

    fn options(&self) -> &'static [OptionSpec] {
        OPTIONS
    }

    fn train(&self, data: &TrainingData, ctx: &TrainContext<'_>) -> Result<Trained> {
        let h = Hyper::from_options(ctx.options)?;
        check_memory(
            &format!(
                "options batch_size = {} and crop = {} (task {})",
                h.batch_size,
                h.crop,
                h.task.name()
            ),
            training_bytes(h.task, h.batch_size, h.crop),
            ctx.memory_limit,
        )?;
        let started = Instant::now();
        let (examples, classes, dropped) = examples(data, &h)?;
        let mut inputs: Vec<Spectrogram> = Vec::new();
        let standardizer = {
            inputs.extend(examples.iter().map(|e| e.input.clone()));
            Standardizer::fit(&inputs).map_err(DataFusionError::from)?
        };
        drop(inputs);
        let mut examples = examples;
        for e in &mut examples {
            standardizer.apply(&mut e.input);
        }
        ctx.control.progress(&format!(
            "vgg ({}): {} clips, {} classes, {} crops of {} frames per epoch, spectrograms in {:.1} s",
            h.task.name(),
            examples.len(),
            classes.len(),
            examples.len() * h.crops_per_clip,
            h.crop,
            started.elapsed().as_secs_f64()
        ));
        let nets = {
            // libtorch's default generator is process-wide: seeding it and drawing the initial
            // weights happen under one lock, so that concurrent trainings (two sessions in one
            // program, parallel tests) cannot interleave their draws.
            let _seeded = SEEDED_INIT.lock().unwrap_or_else(|p| p.into_inner());
            tch::manual_seed(h.seed as i64);
            Nets::new(h.task, classes.len(), ctx.device)
        };
        let mut opt = nn::Adam::default()
            .build(&nets.vs, h.lr)
            .map_err(torch_err)?;
        let mut rng = Rng::new(h.seed);
        let mut last_loss = f64::NAN;
        let mut history = Vec::with_capacity(h.epochs);
        for epoch in 1..=h.epochs {
            let epoch_start = Instant::now();
            let mut crops: Vec<(usize, usize)> = Vec::new();
            for (i, e) in examples.iter().enumerate() {
                let span = (e.input.frames - h.crop + 1) as u64;
                for _ in 0..h.crops_per_clip {
                    crops.push((i, rng.below(span) as usize));
                }
            }
            for j in (1..crops.len()).rev() {
                crops.swap(j, rng.below(j as u64 + 1) as usize);
            }
            let (mut total, mut n) = (0.0, 0usize);
            for batch in crops.chunks(h.batch_size) {
                ctx.control.check_cancelled()?;
                let loss = batch_loss(&nets, &h, &examples, batch);
                opt.backward_step(&loss);
                total += loss.double_value(&[]) * batch.len() as f64;
                n += batch.len();
            }
            last_loss = total / n.max(1) as f64;
            if !last_loss.is_finite() {
                return Err(DataFusionError::Execution(format!(
                    "model type 'vgg': the training loss became {last_loss} in epoch {epoch}; try \
                     a smaller lr"
                )));
            }
            history.push(last_loss);
            ctx.control.progress(&format!(
                "epoch {epoch}/{}  loss {last_loss:.5}  {:.1} s",
                h.epochs,
                epoch_start.elapsed().as_secs_f64()
            ));
            let due = h.checkpoint_every > 0 && epoch % h.checkpoint_every == 0;
            if let (true, true, Some(save)) = (due, epoch < h.epochs, ctx.checkpoint) {
                let state = State {
                    task: h.task,
                    crop: h.crop,
                    sample_rate: h.sample_rate,
                    classes: classes.clone(),
                    standardizer: standardizer.clone(),
                    variables: nets.export()?,
                };
                let mut training = BTreeMap::new();
                training.insert(
                    "checkpoint".to_string(),
                    format!("epoch {epoch} of {}", h.epochs),
                );
                training.insert("final loss".to_string(), format!("{last_loss:.6}"));
                save(Trained {
                    model: Box::new(VggModel::from_state(state)),
                    training,
                })?;
            }
        }
        let state = State {
            task: h.task,
            crop: h.crop,
            sample_rate: h.sample_rate,
            classes,
            standardizer,
            variables: nets.export()?,
        };
        let mut training = BTreeMap::new();
        training.insert("task".to_string(), h.task.name().to_string());
        training.insert("training clips".to_string(), examples.len().to_string());
        training.insert("rows dropped (NULL)".to_string(), dropped.to_string());
        training.insert("epochs".to_string(), h.epochs.to_string());
        training.insert("final loss".to_string(), format!("{last_loss:.6}"));
        training.insert(
            "loss by epoch".to_string(),
            history
                .iter()
                .map(|l| format!("{l:.5}"))
                .collect::<Vec<_>>()
                .join(" "),
        );
        Ok(Trained {
            model: Box::new(VggModel::from_state(state)),
            training,
        })
    }

    fn load(&self, _options: &ModelOptions, bytes: &[u8]) -> Result<Box<dyn Model>> {
        let state: State = decode(TYPE, bytes)?;
        Ok(Box::new(VggModel::from_state(state)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn training_memory_grows_with_batch_and_crop() {
        // 8 crops × 128 frames × 512 bins × 4 bytes × 31.25 values × 6 (by hand).
        assert_eq!(training_bytes(Task::Instrument, 8, 128), 393_216_000.0);
        assert_eq!(training_bytes(Task::Autoencoder, 8, 128), 983_040_000.0);
        let e = check_memory(
            "options batch_size = 4096 and crop = 4096",
            training_bytes(Task::Autotag, 4096, 4096),
            64 << 30,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("needs about 5.9 TiB"), "{e}");
    }

    #[test]
    fn separation_crops_cover_every_frame_once_in_order() {
        for (frames, crop) in [(64, 64), (65, 64), (200, 64), (256, 64), (1000, 128)] {
            let starts = separation_crops(frames, crop);
            let mut covered = vec![false; frames];
            for &s in &starts {
                assert!(s + crop <= frames, "{frames} {crop} {starts:?}");
                covered[s..s + crop].iter_mut().for_each(|c| *c = true);
            }
            assert!(covered.iter().all(|&c| c), "{frames} {crop}");
            assert_eq!(starts.len(), frames.div_ceil(crop));
        }
    }

    #[test]
    fn a_mask_of_ones_gives_the_mixture_back_and_zeros_silence() {
        let n = 22050;
        let audio: Vec<f32> = (0..n)
            .map(|i| 0.4 * (i as f32 * 0.031).sin() + 0.2 * (i as f32 * 0.47).cos())
            .collect();
        let frames = 1 + n / HOP;
        let ones = vec![1.0f32; frames * BINS];
        let back = apply_mask(&audio, &ones, Device::Cpu).unwrap();
        assert_eq!(back.len(), n);
        let worst = audio
            .iter()
            .zip(&back)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-5, "{worst}");
        let zeros = vec![0.0f32; frames * BINS];
        let silent = apply_mask(&audio, &zeros, Device::Cpu).unwrap();
        assert!(silent.iter().all(|v| v.abs() < 1e-6));
        // Half the mask halves the signal (the STFT is linear).
        let halves = vec![0.5f32; frames * BINS];
        let half = apply_mask(&audio, &halves, Device::Cpu).unwrap();
        let worst = audio
            .iter()
            .zip(&half)
            .map(|(a, h)| (0.5 * a - h).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-5, "{worst}");
    }
}
