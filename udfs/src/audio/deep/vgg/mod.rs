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
//!
//! Layout: this file holds the model type ([`VggType`]), its tasks and its options; the task
//! networks are in `network`, the model file in `serialise`, the trained model's embedding
//! and task outputs in `inference`, and the training data and loop in `train`.

mod inference;
mod network;
mod serialise;
mod train;

use datafusion::common::plan_err;
use datafusion::error::Result;
use serde::{Deserialize, Serialize};

use super::network::DOWNSAMPLING;
use crate::model::{
    Model, ModelOptions, ModelType, OptionKind, OptionSpec, TrainContext, Trained, TrainingData,
};

pub use inference::VggModel;

/// Crops per forward pass when embedding on the CPU.
pub const CPU_PASS: usize = 32;
/// Crops per forward pass when embedding on a GPU.
pub const CUDA_PASS: usize = 512;

const TYPE: &str = "vgg";

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
            other => plan_err!(
                "unknown task '{other}' for model type 'vgg' (tasks: {})",
                Task::NAMES.join(", ")
            ),
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
        let Some(task) = o.optional::<String>("task")? else {
            return plan_err!(
                "model type 'vgg' needs option task ({})",
                Task::NAMES.join(", ")
            );
        };
        let crop: usize = o.value("crop")?;
        if crop % DOWNSAMPLING as usize != 0 {
            return plan_err!(
                "option crop must be a multiple of {DOWNSAMPLING} frames (the encoder halves it \
                 six times), got {crop}"
            );
        }
        Ok(Hyper {
            task: Task::parse(&task)?,
            epochs: o.value("epochs")?,
            crops_per_clip: o.value("crops_per_clip")?,
            crop,
            batch_size: o.value("batch_size")?,
            lr: o.value("lr")?,
            seed: o.value("seed")?,
            sample_rate: o.value("sample_rate")?,
            checkpoint_every: o.value("checkpoint_every")?,
        })
    }
}

/// The model type `vgg`.
#[derive(Debug)]
pub struct VggType;

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
        train::train(data, ctx)
    }

    fn load(&self, _options: &ModelOptions, bytes: &[u8]) -> Result<Box<dyn Model>> {
        Ok(Box::new(serialise::from_bytes(bytes)?))
    }
}
