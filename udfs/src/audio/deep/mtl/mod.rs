//! Model type `mtl_cnn`: multi-source representation learning (thesis ch. 2, §2.3). One CNN
//! (Table 2.3) learns a music representation from several learning sources at once, with one of
//! the sharing strategies of Table 2.4; `represent(model, audio)` then gives a clip's
//! representation for transfer (§2.4).
//!
//! ```sql
//! CREATE MODEL rep OPTIONS (type = 'mtl_cnn', strategy = 'ms_cr', branch_at = 4,
//!     sources = 'self,tag,bpm', epochs = 200, batch_size = 128, lr = 0.00025, seed = 1)
//!   AS SELECT track, audio, tag, bpm FROM learning_sources;
//! CREATE MODEL mss OPTIONS (type = 'mtl_cnn', strategy = 'mss_cr', models = 'ssr_tag, ssr_bpm')
//!   AS SELECT 1;
//! SELECT track, represent('rep', audio) FROM targets;
//! ```
//!
//! **Training data** (the `AS` query, one row per track): `track` (the track's id, any type; it
//! names the track in errors and orders the rows), `audio` (a mono clip `list<float32>` or the
//! channels of a clip `list<list<float32>>`, at 22,050 Hz), and one column per source of
//! `sources` other than `self`, named like it, holding the track's target distribution z
//! (a list of k non-negative numbers, the same k for every track; each z is divided by its sum;
//! NULL where the track lacks the source, which then never draws it). `self` needs no column.
//!
//! **Strategies** (option `strategy`; Table 2.4, Fig. 2.5):
//! - `ss_r`: one source; the base CNN with that source's head.
//! - `ms_sr_fc`: MS-SR@FC, every layer through fc-feature shared, one head per source.
//! - `ms_cr` with `branch_at` 2, 4 or 6: MS-CR@2/@4/@6, conv1 / conv1–3 / conv1–5 (with their
//!   pools) shared, each source its own branch from conv2 / conv4 / conv61 through fc-feature.
//! - `mss_cr`: MSS-CR, the concatenation of `models`, independently trained `ss_r` models, made
//!   without retraining (the model keeps a copy of each; the `AS` query is not read: write
//!   `AS SELECT 1`, as the model DDL requires a query).
//!
//! **Training** (§2.3.3, Algorithm 1): each iteration draws one source uniformly at random,
//! then `batch_size` tracks that have it without replacement (all of them when fewer), a fresh
//! random crop of `crop_frames` frames per track, runs that source's path only and takes one
//! Adam step (β = 0.9, 0.999, ε = 1e-8) with learning rate `lr`. Distribution sources minimise
//! the batch mean of KL(z ‖ softmax(fc-output)). `self` draws `batch_size` pairs: the first
//! half (rounded up) two different random crops of one track (label same), the rest crops of
//! two different tracks (label different); the cross-entropy of the pair head. The thesis' L2
//! term `l2 · Σθ²` over all parameters enters as Adam's weight decay `2 · l2` (its gradient);
//! parameters off the drawn path get no gradient and are left as they are in that step (the
//! optimiser skips them). One learning rate for all layers (the thesis; the authors' code
//! divided the shared layers' by m). An epoch is `iterations_per_epoch` iterations, by default
//! L = l·m with l = ⌈tracks / batch_size⌉ and m sources. `epochs = 0` keeps the initial
//! weights (the Rand baseline). Batch normalisation runs in training mode; dropout (0.5 on
//! fc-feature and the pair head's hidden layer) takes its masks from the seeded generator.
//!
//! **Randomness**: `tch::manual_seed(seed)` draws the initial weights under the process-wide
//! lock that `vgg` draws under too (`audio::deep::seeded`); the sources, tracks, crops, pairs
//! and dropout masks come from `common::rng::Rng::new(seed)`. The same seed, data and device
//! give the same model on the CPU (for one libtorch thread count).
//!
//! **Progress and checkpoints**: a line per epoch with the mean loss per source; every
//! `checkpoint_every` epochs the model so far is saved under the model's name (fact
//! `checkpoint: epoch k of N`); Ctrl-C stops between iterations and the last checkpoint stays.
//!
//! **Representation** (§2.4.2): a clip's non-overlapping slices of `crop_frames` frames from
//! the first frame (the remainder shorter than a slice is dropped; a clip shorter than one slice
//! is an error) go through the network in evaluation mode; per fc-feature block (one per branch
//! for `ms_cr`, one for `ss_r` and `ms_sr_fc`) the representation holds the mean over the slices
//! and then the population standard deviation, blocks in source order: `[mean₁ ‖ std₁ ‖ mean₂ ‖
//! std₂ ‖ …]`, 2·256·width values per block. `mss_cr` gives its models' representations one
//! after the other, which is the same layout. `embed(model, audio)` gives the same vector for a
//! mono clip (the model is an audio encoder).
//!
//! Parameter counts (trainable: weights, biases, batch-norm scale and shift), a unit test in
//! `network`: with 8 sources (self and seven 50-way distributions) SS-R with one 50-way head
//! has 576,482, MS-SR@FC 719,760 (1.25×; §2.5.4 says 1.2×) and MS-CR@6 3,717,776 (6.4×; 6.3×).
//!
//! Layout: this file holds the type and its options; `network` the CNN, `input` the mel
//! spectrograms, `train` Algorithm 1, `model` the trained model, its file and representations.

pub mod agf;
mod input;
mod model;
mod network;
mod train;

use datafusion::common::plan_err;
use datafusion::error::Result;
use serde::{Deserialize, Serialize};

use crate::model::{
    CatalogRef, Model, ModelCatalog, ModelOptions, ModelType, OptionKind, OptionSpec, TrainContext,
    Trained, TrainingData,
};

pub use agf::AgfCnnType;
pub use input::{min_samples, SAMPLE_RATE};
pub use model::MtlModel;
pub use network::{dropout_mask, Arch, Net, Shape, BRANCH_FC};

const TYPE: &str = "mtl_cnn";

/// Slices per forward pass when representing on the CPU.
pub const CPU_PASS: usize = 32;
/// Slices per forward pass on a GPU.
pub const CUDA_PASS: usize = 512;

/// The name of the Siamese source.
pub const SELF: &str = "self";

/// The sharing strategies of Table 2.4.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Strategy {
    SsR,
    MsSrFc,
    MsCr,
    MssCr,
}

impl Strategy {
    const NAMES: [&'static str; 4] = ["ss_r", "ms_sr_fc", "ms_cr", "mss_cr"];

    fn parse(name: &str) -> Result<Strategy> {
        match name {
            "ss_r" => Ok(Strategy::SsR),
            "ms_sr_fc" => Ok(Strategy::MsSrFc),
            "ms_cr" => Ok(Strategy::MsCr),
            "mss_cr" => Ok(Strategy::MssCr),
            other => plan_err!(
                "unknown strategy '{other}' for model type 'mtl_cnn' (strategies: {})",
                Strategy::NAMES.join(", ")
            ),
        }
    }

    pub fn name(self) -> &'static str {
        Strategy::NAMES[self as usize]
    }
}

static OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        name: "strategy",
        kind: OptionKind::Text,
        default: None,
        doc: "sharing strategy (Table 2.4): ss_r, ms_sr_fc, ms_cr (with branch_at) or mss_cr \
              (with models) (required)",
    },
    OptionSpec {
        name: "sources",
        kind: OptionKind::Text,
        default: None,
        doc: "comma-separated learning sources: self, or the name of a column holding each \
              track's target distribution (required except for mss_cr)",
    },
    OptionSpec {
        name: "branch_at",
        kind: OptionKind::Int { min: 0, max: 100 },
        default: None,
        doc: "ms_cr: the convolution where the sources branch: 2, 4 or 6",
    },
    OptionSpec {
        name: "models",
        kind: OptionKind::Text,
        default: None,
        doc: "mss_cr: comma-separated names of the ss_r models to concatenate",
    },
    OptionSpec {
        name: "epochs",
        kind: OptionKind::Int {
            min: 0,
            max: 100_000,
        },
        default: Some("200"),
        doc: "epochs N of Algorithm 1 (0: the untrained network, the Rand baseline)",
    },
    OptionSpec {
        name: "iterations_per_epoch",
        kind: OptionKind::Int {
            min: 1,
            max: 100_000_000,
        },
        default: None,
        doc: "iterations L per epoch (default l·m: batches per pass over the tracks times sources)",
    },
    OptionSpec {
        name: "batch_size",
        kind: OptionKind::Int { min: 2, max: 4096 },
        default: Some("128"),
        doc: "tracks (self: pairs) per iteration",
    },
    OptionSpec {
        name: "lr",
        kind: OptionKind::Float { min: 0.0, max: 1.0 },
        default: Some("0.00025"),
        doc: "Adam's learning rate",
    },
    OptionSpec {
        name: "l2",
        kind: OptionKind::Float { min: 0.0, max: 1.0 },
        default: Some("0.000001"),
        doc: "weight λ of the L2 penalty λ·Σθ² on every parameter",
    },
    OptionSpec {
        name: "width",
        kind: OptionKind::Float {
            min: 0.01,
            max: 8.0,
        },
        default: Some("1.0"),
        doc: "factor on every layer's channel count (1: the thesis' network)",
    },
    OptionSpec {
        name: "crop_frames",
        kind: OptionKind::Int { min: 64, max: 8192 },
        default: Some("216"),
        doc: "frames per training crop and per representation slice (216 = 2.5 s)",
    },
    OptionSpec {
        name: "channels",
        kind: OptionKind::Int { min: 1, max: 2 },
        default: Some("2"),
        doc: "input channels: 2 (stereo; a mono clip fills both) or 1 (channels averaged)",
    },
    OptionSpec {
        name: "seed",
        kind: OptionKind::Int {
            min: 0,
            max: i64::MAX,
        },
        default: Some("0"),
        doc: "seed of the initial weights, sources, tracks, crops, pairs and dropout",
    },
    OptionSpec {
        name: "checkpoint_every",
        kind: OptionKind::Int {
            min: 0,
            max: 100_000,
        },
        default: Some("10"),
        doc: "save the model trained so far in the model store every this many epochs (0: never)",
    },
];

/// The options, checked once.
#[derive(Clone, Debug)]
pub(crate) struct Hyper {
    /// The base CNN: Table 2.3 (`mtl_cnn`) or Table 3.2 (`agf_cnn`).
    arch: Arch,
    strategy: Strategy,
    sources: Vec<String>,
    /// 2, 4, 6, or [`BRANCH_FC`].
    branch_at: usize,
    models: Vec<String>,
    epochs: usize,
    iterations_per_epoch: Option<usize>,
    batch_size: usize,
    lr: f64,
    l2: f64,
    width: f64,
    crop: usize,
    channels: usize,
    seed: u64,
    checkpoint_every: usize,
}

impl Hyper {
    /// The model type these options train.
    pub(crate) fn type_name(&self) -> &'static str {
        match self.arch {
            Arch::Table23 => TYPE,
            Arch::Table32 => agf::TYPE,
        }
    }

    /// How the network is shared, as the training facts and progress lines say it.
    pub(crate) fn strategy_label(&self) -> String {
        match self.arch {
            Arch::Table23 => self.strategy.name().to_string(),
            Arch::Table32 => format!("shared: {}", agf::sharing(self.branch_at)),
        }
    }
}

fn names(list: &str) -> Vec<String> {
    list.split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

impl TryFrom<&ModelOptions> for Hyper {
    type Error = datafusion::error::DataFusionError;

    fn try_from(o: &ModelOptions) -> Result<Hyper> {
        let Some(strategy) = o.optional::<String>("strategy")? else {
            return plan_err!(
                "model type 'mtl_cnn' needs option strategy ({})",
                Strategy::NAMES.join(", ")
            );
        };
        let strategy = Strategy::parse(&strategy.to_lowercase())?;
        let sources = names(&o.optional::<String>("sources")?.unwrap_or_default());
        let models = names(&o.optional::<String>("models")?.unwrap_or_default());
        let branch: Option<i64> = o.optional("branch_at")?;
        let branch_at = match (strategy, branch) {
            (Strategy::MsCr, Some(b @ (2 | 4 | 6))) => b as usize,
            (Strategy::MsCr, Some(b)) => {
                return plan_err!(
                    "option branch_at must be 2, 4 or 6 (conv2, conv4, conv61), got {b}"
                )
            }
            (Strategy::MsCr, None) => {
                return plan_err!("strategy ms_cr needs option branch_at (2, 4 or 6)")
            }
            (s, Some(_)) => {
                return plan_err!(
                    "option branch_at applies to strategy ms_cr only, not {}",
                    s.name()
                )
            }
            (_, None) => BRANCH_FC,
        };
        match strategy {
            Strategy::MssCr => {
                if models.is_empty() {
                    return plan_err!(
                        "strategy mss_cr needs option models (the ss_r models to concatenate)"
                    );
                }
                if !sources.is_empty() {
                    return plan_err!(
                        "strategy mss_cr takes no sources: its models were trained on theirs"
                    );
                }
            }
            _ => {
                if !models.is_empty() {
                    return plan_err!("option models applies to strategy mss_cr only");
                }
                if sources.is_empty() {
                    return plan_err!(
                        "strategy {} needs option sources (e.g. 'self,tag')",
                        strategy.name()
                    );
                }
                if strategy == Strategy::SsR && sources.len() > 1 {
                    return plan_err!(
                        "strategy ss_r learns from one source, got {} ({}); use ms_sr_fc or ms_cr for several",
                        sources.len(),
                        sources.join(", ")
                    );
                }
                for (i, s) in sources.iter().enumerate() {
                    if sources[..i].contains(s) {
                        return plan_err!("source '{s}' is named twice in option sources");
                    }
                    if matches!(s.as_str(), "track" | "audio") {
                        return plan_err!("'{s}' cannot be a source: it is the column of the {s}");
                    }
                }
            }
        }
        Ok(Hyper {
            arch: Arch::Table23,
            strategy,
            sources,
            branch_at,
            models,
            epochs: o.value("epochs")?,
            iterations_per_epoch: o.optional("iterations_per_epoch")?,
            batch_size: o.value("batch_size")?,
            lr: o.value("lr")?,
            l2: o.value("l2")?,
            width: o.value("width")?,
            crop: o.value("crop_frames")?,
            channels: o.value("channels")?,
            seed: o.value("seed")?,
            checkpoint_every: o.value("checkpoint_every")?,
        })
    }
}

/// The model type `mtl_cnn`. It holds the session's catalog to find the models `mss_cr`
/// concatenates.
#[derive(Debug)]
pub struct MtlCnnType {
    catalog: Option<CatalogRef>,
}

impl MtlCnnType {
    pub fn new(catalog: std::sync::Arc<dyn ModelCatalog>) -> MtlCnnType {
        MtlCnnType {
            catalog: Some(CatalogRef(catalog)),
        }
    }

    /// Without a catalog (`mss_cr` is then refused).
    pub fn detached() -> MtlCnnType {
        MtlCnnType { catalog: None }
    }
}

impl ModelType for MtlCnnType {
    fn name(&self) -> &'static str {
        TYPE
    }

    fn description(&self) -> &'static str {
        "multi-source CNN of thesis ch. 2 (Table 2.3) learning a music representation from \
         several sources with a sharing strategy (ss_r, ms_sr_fc, ms_cr, mss_cr); \
         represent(model, audio) gives [mean ‖ std] of its 2.5 s slices' fc-features"
    }

    fn options(&self) -> &'static [OptionSpec] {
        OPTIONS
    }

    fn train(&self, data: &TrainingData, ctx: &TrainContext<'_>) -> Result<Trained> {
        let h = Hyper::try_from(ctx.options)?;
        if h.strategy == Strategy::MssCr {
            let Some(catalog) = &self.catalog else {
                return plan_err!("strategy mss_cr needs a session's model store");
            };
            return model::concatenate(catalog.as_ref(), &h.models, Arch::Table23);
        }
        train::train(data, ctx, &h)
    }

    fn load(&self, _options: &ModelOptions, bytes: &[u8]) -> Result<Box<dyn Model>> {
        let model = model::from_bytes(bytes)?;
        if model.type_name() != TYPE {
            return plan_err!(
                "the stored 'mtl_cnn' model holds a '{}' model",
                model.type_name()
            );
        }
        Ok(Box::new(model))
    }
}
