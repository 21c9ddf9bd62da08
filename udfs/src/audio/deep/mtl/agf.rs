//! Model type `agf_cnn`: the encoders of thesis ch. 3 (§3.3.2, Table 3.2), trained on genre and
//! artist group factors (AGFs) as single-task networks (STN) or one multi-task network (MTN),
//! whose per-segment features are transferred to genre classification.
//!
//! It exists because ch. 3's learning framework differs from ch. 2's only in its network, its
//! input and which layers the tasks share, so it reuses `mtl_cnn`'s training loop (Algorithm 1:
//! a random task per update) and model file with the Table 3.2 network ([`Arch::Table32`]).
//!
//! ```sql
//! CREATE MODEL mtn OPTIONS (type = 'agf_cnn', tasks = 'g, s, m', shared = 'conv1', epochs = 200)
//!   AS SELECT track, audio, g, s, m FROM agf_targets;
//! CREATE MODEL stn_all OPTIONS (type = 'agf_cnn', models = 'stn_g, stn_s, stn_m') AS SELECT 1;
//! SELECT track, unnest(represent_segments('mtn', audio)) AS features FROM tracks;
//! ```
//!
//! **Training data** (one row per track): `track` (any type; orders the rows and names the
//! track in errors), `audio` (mono `list<float32>`, or channels `list<list<float32>>`, which are
//! averaged; 22,050 Hz) and one column per task of `tasks`, holding the track's target
//! distribution (k non-negative numbers, divided by their sum; the genre task's one-hot vector,
//! an AGF task's artist mixture from `topic_mixture`); NULL where the track lacks the task.
//!
//! **Input** (§3.3.3): dB mel spectrograms, n_fft 1024, hop 512 (46 ms frames, 50 % overlap),
//! 128 bands, one channel, standardised per band with the training clips' statistics (the thesis
//! does not say it standardises; we do, as `mtl_cnn`); crops of `crop_frames` = 43 frames (1 s).
//!
//! **Sharing** (option `shared`): `conv1` (default; the thesis' MTN shares "only the first
//! convolutional block", conv1 and its pooling), `dense` (the authors' code shares everything
//! below the dense layer), `none` (no layer shared: one complete network per task, the thesis'
//! STNs, trained together in one model; with the random task per update each network gets its
//! share of the updates, as if trained alone), `all` (one network with a softmax head per task).
//!
//! **Training** (§3.3.2): Adam (β = 0.9, 0.999, ε = 1e-8), `lr` 0.001, `batch_size` 64 random 1 s
//! crops, cross-entropy against the target distribution (minimised as KL(z ‖ p), which differs
//! from it by the constant entropy of z), dropout 0.1 after conv2 and conv4 and 0.5 after the
//! dense layer (masks from the seeded generator), no weight decay by default (`l2`). An epoch is
//! ⌈tracks / batch_size⌉ updates per task, so an MTN of N tasks trained for E epochs gives each
//! task E epochs of updates, as the thesis' 1,000 MTN epochs over five tasks against 200 STN
//! epochs do. `epochs = 0` keeps the initial weights. Progress, checkpoints, Ctrl-C and seeds as
//! `mtl_cnn` (see [`super`]).
//!
//! **Wide STN** (wSTN, §3.4): `width` multiplies every layer's channels and the dense layer; a
//! genre-only network with the parameters of an N-task model is found by choosing the width
//! (`model_info` reports the parameter count).
//!
//! **Concatenation** (option `models`): the named `agf_cnn` models, without retraining (write
//! `AS SELECT 1`); their segment features one after the other, as the thesis concatenates its
//! STNs' outputs before transfer.
//!
//! **Features**: `represent_segments(model, audio)` gives each 1 s segment's dense-layer outputs,
//! one 256·width block per task network or branch (one block for `shared = 'all'`);
//! `represent(model, audio)` their mean and standard deviation over the segments.

use datafusion::common::plan_err;
use datafusion::error::Result;

use super::model;
use super::network::{Arch, BRANCH_FC};
use super::{names, train, Hyper, Strategy};
use crate::model::{
    CatalogRef, Model, ModelCatalog, ModelOptions, ModelType, OptionKind, OptionSpec, TrainContext,
    Trained, TrainingData,
};

/// The model type's name.
pub const TYPE: &str = "agf_cnn";

/// The values of option `shared`, with the branching point of each.
const SHARING: [(&str, usize); 4] = [("none", 1), ("conv1", 2), ("dense", 7), ("all", BRANCH_FC)];

/// How a network branching at `branch_at` shares its layers, in words.
pub fn sharing(branch_at: usize) -> &'static str {
    match branch_at {
        1 => "none (one network per task: STNs)",
        2 => "conv1 and its pooling (MTN, as the thesis)",
        7 => "every layer below the dense layer (MTN, as the authors' code)",
        BRANCH_FC => "all (one network, a head per task)",
        _ => "other",
    }
}

static OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        name: "tasks",
        kind: OptionKind::Text,
        default: None,
        doc: "comma-separated tasks: the names of the columns holding each track's target \
              distribution (required unless models is given)",
    },
    OptionSpec {
        name: "shared",
        kind: OptionKind::Text,
        default: Some("conv1"),
        doc: "layers the tasks share: conv1 (the thesis' MTN), dense (everything below the \
              dense layer, the authors' code), none (STNs), all (one network, a head per task)",
    },
    OptionSpec {
        name: "models",
        kind: OptionKind::Text,
        default: None,
        doc: "comma-separated agf_cnn models to concatenate without retraining (AS SELECT 1)",
    },
    OptionSpec {
        name: "epochs",
        kind: OptionKind::Int {
            min: 0,
            max: 100_000,
        },
        default: Some("200"),
        doc: "epochs, each ⌈tracks / batch_size⌉ updates per task (0: the untrained network)",
    },
    OptionSpec {
        name: "iterations_per_epoch",
        kind: OptionKind::Int {
            min: 1,
            max: 100_000_000,
        },
        default: None,
        doc: "updates per epoch (default ⌈tracks / batch_size⌉ times the number of tasks)",
    },
    OptionSpec {
        name: "batch_size",
        kind: OptionKind::Int { min: 2, max: 4096 },
        default: Some("64"),
        doc: "crops per update",
    },
    OptionSpec {
        name: "lr",
        kind: OptionKind::Float { min: 0.0, max: 1.0 },
        default: Some("0.001"),
        doc: "Adam's learning rate",
    },
    OptionSpec {
        name: "l2",
        kind: OptionKind::Float { min: 0.0, max: 1.0 },
        default: Some("0"),
        doc: "weight λ of an L2 penalty λ·Σθ² on every parameter (the thesis names none)",
    },
    OptionSpec {
        name: "width",
        kind: OptionKind::Float {
            min: 0.01,
            max: 8.0,
        },
        default: Some("1.0"),
        doc: "factor on every layer's channels and the dense layer (wide STNs: > 1)",
    },
    OptionSpec {
        name: "crop_frames",
        kind: OptionKind::Int { min: 16, max: 8192 },
        default: Some("43"),
        doc: "frames per training crop and per segment (43 = 1 s at hop 512)",
    },
    OptionSpec {
        name: "seed",
        kind: OptionKind::Int {
            min: 0,
            max: i64::MAX,
        },
        default: Some("0"),
        doc: "seed of the initial weights, tasks, tracks, crops and dropout",
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

/// The options of `agf_cnn` as the training loop's settings (with the Table 3.2 network).
fn hyper(o: &ModelOptions) -> Result<Hyper> {
    let tasks = names(&o.optional::<String>("tasks")?.unwrap_or_default());
    let models = names(&o.optional::<String>("models")?.unwrap_or_default());
    let shared: String = o.value("shared")?;
    let Some(&(_, branch_at)) = SHARING
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(shared.trim()))
    else {
        return plan_err!(
            "option shared must be one of {}, got '{shared}'",
            SHARING.map(|s| s.0).join(", ")
        );
    };
    match (tasks.is_empty(), models.is_empty()) {
        (false, false) => {
            return plan_err!(
                "model type 'agf_cnn' takes tasks (to train) or models (to concatenate), not both"
            )
        }
        (true, true) => {
            return plan_err!(
            "model type 'agf_cnn' needs option tasks (e.g. 'g, s, m') or models (to concatenate)"
        )
        }
        _ => {}
    }
    for (i, t) in tasks.iter().enumerate() {
        if tasks[..i].contains(t) {
            return plan_err!("task '{t}' is named twice in option tasks");
        }
        if matches!(t.as_str(), "track" | "audio") {
            return plan_err!("'{t}' cannot be a task: it is the column of the {t}");
        }
        if t.eq_ignore_ascii_case("self") {
            return plan_err!(
                "'self' is a learning source of mtl_cnn (a pair head), not an agf_cnn task"
            );
        }
    }
    let strategy = if tasks.len() <= 1 {
        Strategy::SsR
    } else if branch_at == BRANCH_FC {
        Strategy::MsSrFc
    } else {
        Strategy::MsCr
    };
    Ok(Hyper {
        arch: Arch::Table32,
        strategy,
        sources: tasks,
        branch_at,
        models,
        epochs: o.value("epochs")?,
        iterations_per_epoch: o.optional("iterations_per_epoch")?,
        batch_size: o.value("batch_size")?,
        lr: o.value("lr")?,
        l2: o.value("l2")?,
        width: o.value("width")?,
        crop: o.value("crop_frames")?,
        channels: 1,
        seed: o.value("seed")?,
        checkpoint_every: o.value("checkpoint_every")?,
    })
}

/// The model type `agf_cnn`. It holds the session's catalog to find the models `models`
/// concatenates.
#[derive(Debug)]
pub struct AgfCnnType {
    catalog: CatalogRef,
}

impl AgfCnnType {
    pub fn new(catalog: std::sync::Arc<dyn ModelCatalog>) -> AgfCnnType {
        AgfCnnType {
            catalog: CatalogRef(catalog),
        }
    }
}

impl ModelType for AgfCnnType {
    fn name(&self) -> &'static str {
        TYPE
    }

    fn description(&self) -> &'static str {
        "artist-group-factor CNN of thesis ch. 3 (Table 3.2) trained on genre and AGF tasks as \
         single-task networks or a multi-task network (shared = none, conv1, dense, all); \
         represent_segments(model, audio) gives each 1 s segment's dense-layer features"
    }

    fn options(&self) -> &'static [OptionSpec] {
        OPTIONS
    }

    fn train(&self, data: &TrainingData, ctx: &TrainContext<'_>) -> Result<Trained> {
        let h = hyper(ctx.options)?;
        if !h.models.is_empty() {
            return model::concatenate(self.catalog.as_ref(), &h.models, Arch::Table32);
        }
        train::train(data, ctx, &h)
    }

    fn load(&self, _options: &ModelOptions, bytes: &[u8]) -> Result<Box<dyn Model>> {
        let model = model::from_bytes(bytes)?;
        if model.type_name() != TYPE {
            return plan_err!(
                "the stored 'agf_cnn' model holds a '{}' model",
                model.type_name()
            );
        }
        Ok(Box::new(model))
    }
}
