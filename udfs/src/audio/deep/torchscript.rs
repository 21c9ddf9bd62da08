//! Model type `torchscript`: a user's pretrained encoder saved with `torch.jit.save` (or exported
//! from a `vgg` model with `export_torchscript`), used by `embed(model, audio)` like the built-in
//! encoders, so that the robustness experiment can compare any network with the thesis' ones.
//!
//! ```sql
//! CREATE MODEL ts OPTIONS (type = 'torchscript', path = 'encoder.pt', input = 'stft_db', crop = 128)
//!   AS SELECT samples AS audio FROM clips LIMIT 1;
//! ```
//!
//! Input conventions (what the module's `forward` receives, float32, batched):
//! - `input = 'stft_db'` (default): `[batch, 1, crop, 512]`, `crop` consecutive frames of
//!   `stft_db(audio)` with its defaults (librosa's STFT, n_fft 1024, hop 256, periodic Hann,
//!   centred with zero padding; `20·log10(max(|X|, 1e-5))` floored 80 dB below the clip's
//!   maximum), its first 512 bins, not standardised (a module that expects standardised input
//!   standardises itself, as exported `vgg` encoders do);
//! - `input = 'waveform'`: `[batch, crop]`, `crop` consecutive samples.
//!
//! `forward` must return `[batch, dim]`. Clips are cut into consecutive non-overlapping crops
//! from their start (a remainder shorter than a crop is left out, a clip shorter than one crop is
//! an error), all crops of a call go through the module in passes of at most
//! [`super::vgg::CPU_PASS`] crops on the CPU ([`super::vgg::CUDA_PASS`] on a GPU), and a clip's
//! embedding is the mean of its crops'. Clips must be at `sample_rate` Hz.
//!
//! The module file's bytes are copied into the model store at `CREATE MODEL`, so the model does
//! not depend on the file afterwards. `CREATE MODEL` runs the module once on the `AS` query's
//! first clip (column `audio`), or on a silent clip of one crop when the query has none, to
//! check the conventions and record the embedding length.

use datafusion::common::{exec_datafusion_err, exec_err, plan_datafusion_err, plan_err};
use std::collections::BTreeMap;
use std::io::Cursor;

use datafusion::error::{DataFusionError, Result};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use tch::{CModule, Device, Tensor};

use super::input::{db_spectrogram, embedding_crops, min_samples, stft_plan, BINS};
use super::vgg::{CPU_PASS, CUDA_PASS};
use super::{sample_column, AudioEncoder, CropMeans, PerDevice};
use crate::common::tensors::to_f32_vec;
use crate::engine::memory::check_memory;
use crate::model::{
    decode, encode, Model, ModelOptions, ModelType, OptionKind, OptionSpec, TrainContext, Trained,
    TrainingData,
};

const TYPE: &str = "torchscript";

static OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        name: "path",
        kind: OptionKind::Text,
        default: None,
        doc: "the TorchScript file (torch.jit.save) (required)",
    },
    OptionSpec {
        name: "input",
        kind: OptionKind::Choice(&["stft_db", "waveform"]),
        default: Some("stft_db"),
        doc: "what forward takes: stft_db ([batch, 1, crop, 512] dB STFT frames) or waveform \
              ([batch, crop] samples)",
    },
    OptionSpec {
        name: "crop",
        kind: OptionKind::Int {
            min: 1,
            max: 100_000_000,
        },
        default: Some("128"),
        doc: "crop length: frames for stft_db, samples for waveform",
    },
    OptionSpec {
        name: "sample_rate",
        kind: OptionKind::Int {
            min: 1000,
            max: 384_000,
        },
        default: Some("22050"),
        doc: "the sample rate (Hz) the module expects",
    },
];

/// What the module's forward takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Input {
    StftDb,
    Waveform,
}

/// What the model file holds.
#[derive(Debug, Serialize, Deserialize)]
struct State {
    input: Input,
    crop: usize,
    sample_rate: u32,
    dim: usize,
    /// The TorchScript file's bytes.
    module: Vec<u8>,
}

/// A loaded `torchscript` model.
pub struct TorchScriptModel {
    state: State,
    modules: PerDevice<CModule>,
}

impl std::fmt::Debug for TorchScriptModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TorchScriptModel")
            .field("input", &self.state.input)
            .field("crop", &self.state.crop)
            .finish_non_exhaustive()
    }
}

fn torch(what: &str, e: tch::TchError) -> DataFusionError {
    exec_datafusion_err!("the TorchScript model {what}: {e}")
}

impl TorchScriptModel {
    fn new(state: State) -> TorchScriptModel {
        TorchScriptModel {
            state,
            modules: PerDevice::new(),
        }
    }

    /// The crops of every clip (flattened) and which clip each belongs to.
    fn crops(&self, clips: &[&[f32]]) -> Result<(Vec<f32>, Vec<usize>)> {
        let crop = self.state.crop;
        let per_clip: Vec<Vec<f32>> = match self.state.input {
            Input::StftDb => {
                let plan = stft_plan().map_err(DataFusionError::from)?;
                clips
                    .par_iter()
                    .enumerate()
                    .map(|(i, audio)| {
                        let s = db_spectrogram(&plan, audio);
                        let s = s.and_then(|s| {
                            let starts = embedding_crops(s.frames, crop)?;
                            Ok(starts
                                .iter()
                                .flat_map(|&t| s.crop(t, crop).to_vec())
                                .collect())
                        });
                        s.map_err(|e| exec_datafusion_err!("clip {}: {e}", i + 1))
                    })
                    .collect::<Result<_>>()?
            }
            Input::Waveform => clips
                .iter()
                .enumerate()
                .map(|(i, audio)| {
                    if audio.len() < crop {
                        return exec_err!(
                            "clip {}: {} samples, shorter than one crop of {crop}",
                            i + 1,
                            audio.len()
                        );
                    }
                    crate::audio::kernels::check_finite("the clip", audio)
                        .map_err(DataFusionError::from)?;
                    Ok(audio[..audio.len() / crop * crop].to_vec())
                })
                .collect::<Result<_>>()?,
        };
        let width = self.crop_width();
        let mut owner = Vec::new();
        let mut flat = Vec::new();
        for (i, c) in per_clip.into_iter().enumerate() {
            owner.extend(std::iter::repeat_n(i, c.len() / width));
            flat.extend(c);
        }
        Ok((flat, owner))
    }

    /// Values per crop.
    fn crop_width(&self) -> usize {
        match self.state.input {
            Input::StftDb => self.state.crop * BINS,
            Input::Waveform => self.state.crop,
        }
    }

    /// `[n, …]` for the module's forward.
    fn shape(&self, n: usize) -> Vec<i64> {
        match self.state.input {
            Input::StftDb => vec![n as i64, 1, self.state.crop as i64, BINS as i64],
            Input::Waveform => vec![n as i64, self.state.crop as i64],
        }
    }

    /// The module's outputs for `n` crops, `[n, dim]` as rows; checks the output's shape.
    fn forward(module: &CModule, x: &Tensor, n: usize, dim: Option<usize>) -> Result<Vec<f32>> {
        let y = tch::no_grad(|| module.forward_ts(&[x])).map_err(|e| torch("failed", e))?;
        let size = y.size();
        let ok = size.len() == 2
            && size[0] == n as i64
            && dim.is_none_or(|d| size[1] == d as i64)
            && size[1] > 0;
        if !ok {
            return exec_err!(
                "the TorchScript model returned shape {size:?} for {n} crops; it must return \
                 [batch, dim]{}",
                dim.map_or(String::new(), |d| format!(" with dim {d}"))
            );
        }
        to_f32_vec(&y)
    }

    fn with_module<R>(&self, device: Device, f: impl FnOnce(&CModule) -> Result<R>) -> Result<R> {
        let build = || {
            let mut module =
                CModule::load_data_on_device(&mut Cursor::new(&self.state.module), device)
                    .map_err(|e| torch("could not be loaded", e))?;
            module.set_eval();
            Ok(module)
        };
        self.modules.with(device, build, f)
    }

    /// Embeds with a known or (`None`, at creation) discovered dimension.
    fn embed_dim(
        &self,
        clips: &[&[f32]],
        device: Device,
        dim: Option<usize>,
    ) -> Result<Vec<Vec<f32>>> {
        let (flat, owner) = self.crops(clips)?;
        let width = self.crop_width();
        let pass = if device == Device::Cpu {
            CPU_PASS
        } else {
            CUDA_PASS
        };
        let mut means = CropMeans::new(clips.len());
        self.with_module(device, |module| {
            for (g, group) in owner.chunks(pass).enumerate() {
                let start = g * pass * width;
                let values = &flat[start..start + group.len() * width];
                let x = Tensor::from_slice(values)
                    .view(self.shape(group.len()).as_slice())
                    .to_device(device);
                let y = Self::forward(module, &x, group.len(), dim)?;
                means.add(group, &y);
            }
            Ok(())
        })?;
        Ok(means.finish())
    }
}

impl Model for TorchScriptModel {
    fn describe(&self) -> Vec<(String, String)> {
        let s = &self.state;
        let input = match s.input {
            Input::StftDb => format!(
                "[batch, 1, {}, 512] dB STFT frames (stft_db, n_fft 1024, hop 256), not standardised",
                s.crop
            ),
            Input::Waveform => format!("[batch, {}] samples", s.crop),
        };
        let min = match s.input {
            Input::StftDb => min_samples(s.crop),
            Input::Waveform => s.crop,
        };
        vec![
            ("input".to_string(), input),
            ("embedding".to_string(), format!("{} float32", s.dim)),
            ("sample rate".to_string(), format!("{} Hz", s.sample_rate)),
            ("minimum clip".to_string(), format!("{min} samples")),
            ("module bytes".to_string(), s.module.len().to_string()),
        ]
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        encode(&self.state)
    }

    crate::capabilities!(dyn AudioEncoder);
}

impl AudioEncoder for TorchScriptModel {
    fn dim(&self) -> usize {
        self.state.dim
    }

    fn sample_rate(&self) -> u32 {
        self.state.sample_rate
    }

    fn embed(&self, clips: &[&[f32]], device: Device) -> Result<Vec<Vec<f32>>> {
        self.embed_dim(clips, device, Some(self.state.dim))
    }
}

/// The model type `torchscript`.
#[derive(Debug)]
pub struct TorchScriptType;

/// The first non-NULL clip of column `audio`, if the query has that column.
fn first_clip(data: &TrainingData) -> Result<Option<Vec<f32>>> {
    if data.schema.index_of("audio").is_err() {
        return Ok(None);
    }
    Ok(sample_column(data, TYPE, "audio")?
        .into_iter()
        .flatten()
        .next())
}

/// The options of `torchscript` ([`OPTIONS`]), read once.
struct Params {
    path: String,
    input: Input,
    crop: usize,
    sample_rate: u32,
}

impl TryFrom<&ModelOptions> for Params {
    type Error = DataFusionError;

    fn try_from(o: &ModelOptions) -> Result<Params> {
        let Some(path) = o.optional::<String>("path")? else {
            return plan_err!("model type 'torchscript' needs option path (the TorchScript file)");
        };
        Ok(Params {
            path,
            input: match o.value::<String>("input")?.as_str() {
                "waveform" => Input::Waveform,
                _ => Input::StftDb,
            },
            crop: o.value("crop")?,
            sample_rate: o.value("sample_rate")?,
        })
    }
}

impl ModelType for TorchScriptType {
    fn name(&self) -> &'static str {
        TYPE
    }

    fn description(&self) -> &'static str {
        "a pretrained TorchScript audio encoder (file copied into the store); \
         embed(model, audio) averages its outputs over consecutive crops"
    }

    fn options(&self) -> &'static [OptionSpec] {
        OPTIONS
    }

    fn train(&self, data: &TrainingData, ctx: &TrainContext<'_>) -> Result<Trained> {
        let Params {
            path,
            input,
            crop,
            sample_rate,
        } = Params::try_from(ctx.options)?;
        let module = std::fs::read(&path)
            .map_err(|e| plan_datafusion_err!("cannot read the TorchScript file '{path}': {e}"))?;
        // The probe clip, its spectrogram and one crop as a tensor, before the module runs.
        let probe_bytes = match input {
            Input::StftDb => {
                min_samples(crop) as f64 * 4.0
                    + crop as f64 * (BINS as f64 + 1.0) * 8.0
                    + crop as f64 * BINS as f64 * 8.0
            }
            Input::Waveform => crop as f64 * 12.0,
        };
        check_memory(
            &format!("option crop = {crop}"),
            probe_bytes,
            ctx.memory_limit,
        )?;
        let mut model = TorchScriptModel::new(State {
            input,
            crop,
            sample_rate,
            dim: 0,
            module,
        });
        let probe = match first_clip(data)? {
            Some(c) => c,
            None => vec![
                0.0;
                match input {
                    Input::StftDb => min_samples(crop),
                    Input::Waveform => crop,
                }
            ],
        };
        let e = model
            .embed_dim(&[&probe], ctx.device, None)
            .map_err(|e| plan_datafusion_err!("model type 'torchscript': {}", super::message(e)))?;
        let dim = e.first().map_or(0, Vec::len);
        model.state.dim = dim;
        ctx.control
            .progress(&format!("torchscript: '{path}' embeds to {dim} values"));
        let mut training = BTreeMap::new();
        training.insert("source file".to_string(), path.to_string());
        Ok(Trained {
            model: Box::new(model),
            training,
        })
    }

    fn load(&self, _options: &ModelOptions, bytes: &[u8]) -> Result<Box<dyn Model>> {
        let state: State = decode(TYPE, bytes)?;
        Ok(Box::new(TorchScriptModel::new(state)))
    }
}
