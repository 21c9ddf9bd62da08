//! Model type `mlp`: the multilayer perceptron with which thesis §2.4.4 evaluates a learned
//! representation on a target task, trained from SQL on one feature vector per clip.
//!
//! ```sql
//! CREATE MODEL genre OPTIONS (type = 'mlp', task = 'classify', seed = 1)
//!   AS SELECT features, label FROM train;
//! SELECT accuracy(label, predict('genre', features)) FROM test;
//! ```
//!
//! The `AS` query gives `features`, a list of numbers of the same length on every row, and
//! `label`: text or integers for `task = 'classify'` (the classes, sorted, are the model's;
//! `model_info` lists them), numbers for `task = 'regress'`. Rows with a NULL feature vector
//! or label are left out (counted in the training facts); they are taken in an order of their
//! contents, so the model depends on the rows and the seed, not on the order DataFusion
//! delivered them in. With `standardize = true` (the default) each feature is centred and
//! scaled by its training mean and standard deviation, which the model keeps and applies to
//! what it predicts. The network and its training are scikit-learn's `MLPClassifier` /
//! `MLPRegressor` (see [`super::kernels::mlp`]); the thesis used two hidden layers of 256 ReLU
//! units, Adam, and 200 iterations, the defaults here. Training runs on the CPU in `f32`,
//! reports its progress after an epoch (at most a line a second, and the last epoch) and stops
//! on Ctrl-C between mini-batches.

use std::collections::BTreeMap;
use std::time::Instant;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::{cast, cast_with_options, CastOptions};
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion::common::{exec_err, plan_datafusion_err, plan_err};
use datafusion::error::{DataFusionError, Result};
use serde::{Deserialize, Serialize};

use super::adapter::{f64_list_type, is_feature_type};
use super::capability::{Classes, Classifier, Regressor};
use super::kernels::mlp::{
    fit, parameter_count, Epoch, Network, Output, Standardizer, Target, TrainOptions,
};
use super::kernels::TransferError;
use crate::engine::check_memory;
use crate::model::{
    decode, encode, Capabilities, Model, ModelOptions, ModelType, OptionKind, OptionSpec,
    TrainContext, Trained, TrainingData,
};

const TYPE: &str = "mlp";

/// The most hidden layers, and the widest.
const MAX_LAYERS: usize = 16;
const MAX_WIDTH: usize = 65_536;

static OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        name: "task",
        kind: OptionKind::Choice(&["classify", "regress"]),
        default: None,
        doc: "classify (column label: text or integers) or regress (column label: numbers) \
              (required)",
    },
    OptionSpec {
        name: "hidden",
        kind: OptionKind::Text,
        default: Some("256,256"),
        doc: "the widths of the hidden ReLU layers, comma-separated",
    },
    OptionSpec {
        name: "epochs",
        kind: OptionKind::Int {
            min: 1,
            max: 100_000,
        },
        default: Some("200"),
        doc: "the most passes over the training rows (scikit-learn's max_iter)",
    },
    OptionSpec {
        name: "lr",
        kind: OptionKind::Float {
            min: 0.0,
            max: 10.0,
        },
        default: Some("0.001"),
        doc: "Adam's learning rate (scikit-learn's learning_rate_init)",
    },
    OptionSpec {
        name: "batch_size",
        kind: OptionKind::Int {
            min: 1,
            max: 1_000_000,
        },
        default: Some("200"),
        doc: "rows per mini-batch (at most the number of training rows)",
    },
    OptionSpec {
        name: "l2",
        kind: OptionKind::Float { min: 0.0, max: 1e6 },
        default: Some("0.0001"),
        doc: "the L2 penalty on the weights (scikit-learn's alpha)",
    },
    OptionSpec {
        name: "standardize",
        kind: OptionKind::Bool,
        default: Some("true"),
        doc: "centre and scale each feature by its training mean and standard deviation",
    },
    OptionSpec {
        name: "seed",
        kind: OptionKind::Int {
            min: 0,
            max: i64::MAX,
        },
        default: Some("1"),
        doc: "seed of the initial weights, the validation split and the order of the rows",
    },
    OptionSpec {
        name: "early_stopping",
        kind: OptionKind::Bool,
        default: Some("false"),
        doc: "hold out validation_fraction of the rows, stop when their score (accuracy or R²) \
              stops improving and keep the best epoch's weights",
    },
    OptionSpec {
        name: "validation_fraction",
        kind: OptionKind::Float { min: 0.0, max: 1.0 },
        default: Some("0.1"),
        doc: "the share of rows held out for early stopping (stratified by class)",
    },
    OptionSpec {
        name: "tol",
        kind: OptionKind::Float { min: 0.0, max: 1e9 },
        default: Some("0.0001"),
        doc: "the improvement of the loss (or validation score) that counts as progress",
    },
    OptionSpec {
        name: "n_iter_no_change",
        kind: OptionKind::Int {
            min: 1,
            max: 100_000,
        },
        default: Some("10"),
        doc: "stop after more than this many epochs without progress (set it to epochs or more \
              to always run every epoch)",
    },
];

/// What the model learns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Task {
    Classify,
    Regress,
}

impl Task {
    fn name(self) -> &'static str {
        match self {
            Task::Classify => "classify",
            Task::Regress => "regress",
        }
    }
}

/// The options of `CREATE MODEL ... OPTIONS (type = 'mlp', ...)`, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct MlpParams {
    pub task: Task,
    pub standardize: bool,
    pub train: TrainOptions,
}

/// The widths of `hidden = '256,256'`.
fn parse_hidden(text: &str) -> Result<Vec<usize>> {
    let bad = || {
        plan_datafusion_err!(
            "option hidden must be 1 to {MAX_LAYERS} comma-separated layer widths between 1 and \
             {MAX_WIDTH}, e.g. '256,256', got '{text}'"
        )
    };
    let widths = text
        .split(',')
        .map(|w| w.trim().parse::<usize>().map_err(|_| bad()))
        .collect::<Result<Vec<_>>>()?;
    if widths.is_empty()
        || widths.len() > MAX_LAYERS
        || widths.iter().any(|&w| w == 0 || w > MAX_WIDTH)
    {
        return Err(bad());
    }
    Ok(widths)
}

impl TryFrom<&ModelOptions> for MlpParams {
    type Error = DataFusionError;

    fn try_from(o: &ModelOptions) -> Result<MlpParams> {
        let Some(task) = o.optional::<String>("task")? else {
            return plan_err!("model type 'mlp' needs option task ('classify' or 'regress')");
        };
        let task = if task == "classify" {
            Task::Classify
        } else {
            Task::Regress
        };
        let lr: f64 = o.value("lr")?;
        if lr <= 0.0 {
            return plan_err!("option lr must be positive, got {lr}");
        }
        let validation_fraction: f64 = o.value("validation_fraction")?;
        let early_stopping: bool = o.value("early_stopping")?;
        if early_stopping && !(validation_fraction > 0.0 && validation_fraction < 1.0) {
            return plan_err!(
                "option validation_fraction must be between 0 and 1 (exclusive) with early \
                 stopping, got {validation_fraction}"
            );
        }
        Ok(MlpParams {
            task,
            standardize: o.value("standardize")?,
            train: TrainOptions {
                hidden: parse_hidden(&o.value::<String>("hidden")?)?,
                epochs: o.value("epochs")?,
                lr,
                batch_size: o.value("batch_size")?,
                l2: o.value("l2")?,
                seed: o.value("seed")?,
                early_stopping,
                validation_fraction,
                tol: o.value("tol")?,
                n_iter_no_change: o.value("n_iter_no_change")?,
            },
        })
    }
}

/// A trained `mlp`, as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct State {
    task: Task,
    /// The classes of a classifier.
    classes: Option<Classes>,
    standardize: bool,
    standardizer: Standardizer,
    sizes: Vec<usize>,
    output: Output,
    params: Vec<f32>,
}

/// A trained `mlp` model: a [`Classifier`] or a [`Regressor`] by its task.
#[derive(Debug)]
pub struct MlpModel {
    state: State,
    network: Network<f32>,
}

impl MlpModel {
    fn from_state(state: State) -> Result<MlpModel> {
        let ok = state.sizes.len() >= 2
            && state.params.len() == parameter_count(&state.sizes)
            && state.standardizer.mean.len() == state.sizes[0]
            && state.standardizer.scale.len() == state.sizes[0]
            && match (&state.classes, state.task) {
                (Some(c), Task::Classify) => {
                    c.len() >= 2
                        && state.sizes[state.sizes.len() - 1]
                            == if c.len() == 2 { 1 } else { c.len() }
                }
                (None, Task::Regress) => state.sizes[state.sizes.len() - 1] == 1,
                _ => false,
            };
        if !ok {
            return exec_err!(
                "the stored 'mlp' model is inconsistent (layer sizes, parameters or classes)"
            );
        }
        let network = Network {
            sizes: state.sizes.clone(),
            output: state.output,
            params: state.params.clone(),
        };
        Ok(MlpModel { state, network })
    }

    /// The network's outputs for `n` rows of raw features.
    fn outputs(&self, features: &[f64], n: usize, proba: bool) -> Result<Vec<f64>, TransferError> {
        let d = self.network.input_dim();
        if features.len() != n * d {
            return Err(TransferError::Shape {
                n,
                d,
                want: n * d,
                got: features.len(),
            });
        }
        let x: Vec<f32> = self.state.standardizer.apply(features);
        let out = if proba {
            self.network.predict_proba(&x, n)?
        } else {
            self.network.predict(&x, n)?
        };
        Ok(out.into_iter().map(f64::from).collect())
    }
}

impl Classifier for MlpModel {
    fn input_dim(&self) -> usize {
        self.network.input_dim()
    }

    fn classes(&self) -> &Classes {
        static NONE: Classes = Classes::Int(Vec::new());
        self.state.classes.as_ref().unwrap_or(&NONE)
    }

    fn predict_proba(&self, features: &[f64], n: usize) -> Result<Vec<f64>, TransferError> {
        self.outputs(features, n, true)
    }
}

impl Regressor for MlpModel {
    fn input_dim(&self) -> usize {
        self.network.input_dim()
    }

    fn predict_values(&self, features: &[f64], n: usize) -> Result<Vec<f64>, TransferError> {
        self.outputs(features, n, false)
    }
}

impl Model for MlpModel {
    fn describe(&self) -> Vec<(String, String)> {
        let s = &self.state;
        let layers = s
            .sizes
            .iter()
            .map(|w| w.to_string())
            .collect::<Vec<_>>()
            .join(" → ");
        let mut out = vec![
            ("task".to_string(), s.task.name().to_string()),
            ("features".to_string(), s.sizes[0].to_string()),
            ("layers".to_string(), layers),
            (
                "output".to_string(),
                match s.output {
                    Output::Identity => "identity, squared error",
                    Output::Logistic => "logistic, log loss",
                    Output::Softmax => "softmax, log loss",
                }
                .to_string(),
            ),
            ("parameters".to_string(), s.params.len().to_string()),
            (
                "standardized".to_string(),
                if s.standardize { "yes" } else { "no" }.to_string(),
            ),
        ];
        if let Some(c) = &s.classes {
            out.push(("classes".to_string(), c.names().join(", ")));
            out.push(("label type".to_string(), c.kind().to_string()));
        }
        out
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        encode(&self.state)
    }

    fn capabilities(&self) -> Capabilities {
        match self.state.task {
            Task::Classify => Capabilities::new().with::<dyn Classifier>(|m| {
                m.downcast_ref::<MlpModel>().map(|m| m as &dyn Classifier)
            }),
            Task::Regress => Capabilities::new().with::<dyn Regressor>(|m| {
                m.downcast_ref::<MlpModel>().map(|m| m as &dyn Regressor)
            }),
        }
    }
}

/// The label column, one value per query row (`None` for NULL).
enum LabelColumn {
    Text(Vec<Option<String>>),
    Int(Vec<Option<i64>>),
    Float(Vec<Option<f64>>),
}

impl LabelColumn {
    fn is_null(&self, row: usize) -> bool {
        match self {
            LabelColumn::Text(v) => v[row].is_none(),
            LabelColumn::Int(v) => v[row].is_none(),
            LabelColumn::Float(v) => v[row].is_none(),
        }
    }
}

/// Reads the label column as the task needs it.
fn label_column(data: &TrainingData, task: Task) -> Result<LabelColumn> {
    let i = data.column(TYPE, "label")?;
    let t = data.schema.field(i).data_type().clone();
    let strict = CastOptions {
        safe: false,
        ..Default::default()
    };
    let is_text = matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View);
    match task {
        Task::Classify if is_text => {
            let mut out = Vec::new();
            for b in &data.batches {
                let s = cast(b.column(i), &DataType::Utf8)?;
                let s = s.as_string::<i32>();
                out.extend((0..s.len()).map(|r| (!s.is_null(r)).then(|| s.value(r).to_string())));
            }
            Ok(LabelColumn::Text(out))
        }
        Task::Classify if t.is_integer() || t == DataType::Null => {
            let mut out = Vec::new();
            for b in &data.batches {
                let v = cast_with_options(b.column(i), &DataType::Int64, &strict)
                    .map_err(|e| plan_datafusion_err!("model type 'mlp': column \"label\": {e}"))?;
                let v = v.as_primitive::<Int64Type>();
                out.extend((0..v.len()).map(|r| (!v.is_null(r)).then(|| v.value(r))));
            }
            Ok(LabelColumn::Int(out))
        }
        Task::Classify => plan_err!(
            "model type 'mlp' (task 'classify'): column \"label\" must be text or integers (the \
             classes), got {t}; for a numeric target use task = 'regress'"
        ),
        Task::Regress if t.is_numeric() || t == DataType::Null => {
            let mut out = Vec::new();
            for b in &data.batches {
                let v = cast_with_options(b.column(i), &DataType::Float64, &strict)
                    .map_err(|e| plan_datafusion_err!("model type 'mlp': column \"label\": {e}"))?;
                let v = v.as_primitive::<Float64Type>();
                out.extend((0..v.len()).map(|r| (!v.is_null(r)).then(|| v.value(r))));
            }
            Ok(LabelColumn::Float(out))
        }
        Task::Regress => plan_err!(
            "model type 'mlp' (task 'regress'): column \"label\" must be numbers, got {t}; for \
             classes use task = 'classify'"
        ),
    }
}

/// The feature column, one vector per query row (`None` for NULL); a NULL element, a
/// non-finite value or a length other than the first row's is an error naming the row.
fn feature_column(data: &TrainingData) -> Result<Vec<Option<Vec<f64>>>> {
    let i = data.column(TYPE, "features")?;
    let t = data.schema.field(i).data_type().clone();
    if !is_feature_type(&t) {
        return plan_err!(
            "model type 'mlp': column \"features\" must be a list of numbers (one feature vector \
             per row), got {t}"
        );
    }
    let mut out: Vec<Option<Vec<f64>>> = Vec::with_capacity(data.num_rows());
    let mut first: Option<(usize, usize)> = None;
    for b in &data.batches {
        let list = cast(b.column(i), &f64_list_type())?;
        let list = list.as_list::<i32>();
        for r in 0..list.len() {
            let row = out.len() + 1;
            if list.is_null(r) {
                out.push(None);
                continue;
            }
            let v = list.value(r);
            let v = v.as_primitive::<Float64Type>();
            if v.null_count() > 0 {
                return exec_err!(
                    "model type 'mlp': row {row} has NULL values in its feature vector"
                );
            }
            if let Some(j) = v.values().iter().position(|x| !x.is_finite()) {
                return exec_err!(
                    "model type 'mlp': row {row}: feature {} is {} (features must be finite)",
                    j + 1,
                    v.value(j)
                );
            }
            match first {
                None => first = Some((row, v.len())),
                Some((r0, len)) if len != v.len() => {
                    return exec_err!(
                        "model type 'mlp': row {row} has {} features but row {r0} has {len} \
                         (every feature vector must have the same length)",
                        v.len()
                    )
                }
                Some(_) => {}
            }
            out.push(Some(v.values().to_vec()));
        }
    }
    Ok(out)
}

/// The most parameters, bytes per parameter held in training (the weights, their gradient,
/// Adam's two moments and the best epoch's copy) and the bytes of the activations.
fn training_bytes(n: usize, d: usize, sizes: &[usize], batch: usize) -> f64 {
    let params = parameter_count(sizes) as f64;
    let widths: usize = sizes.iter().sum();
    // The features as read (f64), standardised (f32), and the network's work space.
    n as f64 * d as f64 * 12.0 + params * 4.0 * 5.0 + batch as f64 * widths as f64 * 4.0 * 2.0
}

/// Trains an `mlp` on `data` with the options of `ctx`.
fn train(data: &TrainingData, ctx: &TrainContext<'_>) -> Result<Trained> {
    let p = MlpParams::try_from(ctx.options)?;
    let started = Instant::now();
    let labels = label_column(data, p.task)?;
    let features = feature_column(data)?;
    let kept: Vec<usize> = (0..features.len())
        .filter(|&r| features[r].is_some() && !labels.is_null(r))
        .collect();
    let dropped = features.len() - kept.len();
    if kept.is_empty() {
        return plan_err!(
            "model type 'mlp' has no training rows (the AS query returned {} rows, {dropped} of \
             them with a NULL feature vector or label)",
            features.len()
        );
    }
    let d = features[kept[0]].as_ref().map_or(0, Vec::len);
    if d == 0 {
        return plan_err!("model type 'mlp': the feature vectors are empty");
    }
    let n = kept.len();
    // The rows in an order of their contents (see the module documentation).
    let ranks = data.content_ranks(TYPE, &["features", "label"])?;
    let mut kept = kept;
    kept.sort_by_key(|&r| ranks[r]);
    let (classes, class_index, values) = match &labels {
        LabelColumn::Text(v) => {
            let mut c: Vec<String> = kept.iter().filter_map(|&r| v[r].clone()).collect();
            c.sort();
            c.dedup();
            let index = kept
                .iter()
                .map(|&r| {
                    v[r].as_ref()
                        .and_then(|s| c.binary_search(s).ok())
                        .unwrap_or(0)
                })
                .collect::<Vec<_>>();
            (Some(Classes::Text(c)), index, Vec::new())
        }
        LabelColumn::Int(v) => {
            let mut c: Vec<i64> = kept.iter().filter_map(|&r| v[r]).collect();
            c.sort_unstable();
            c.dedup();
            let index = kept
                .iter()
                .map(|&r| v[r].and_then(|s| c.binary_search(&s).ok()).unwrap_or(0))
                .collect::<Vec<_>>();
            (Some(Classes::Int(c)), index, Vec::new())
        }
        LabelColumn::Float(v) => {
            let y: Vec<f64> = kept.iter().map(|&r| v[r].unwrap_or(f64::NAN)).collect();
            if let Some(i) = y.iter().position(|v| !v.is_finite()) {
                return exec_err!(
                    "model type 'mlp': the label of row {} is {} (labels must be finite)",
                    kept[i] + 1,
                    y[i]
                );
            }
            (
                None,
                Vec::new(),
                y.iter().map(|&v| v as f32).collect::<Vec<f32>>(),
            )
        }
    };
    if let Some(c) = &classes {
        if c.len() < 2 {
            return plan_err!(
                "model type 'mlp' (task 'classify') needs at least two distinct classes in \
                 column \"label\", got {}",
                c.len()
            );
        }
    }
    let mut sizes = vec![d];
    sizes.extend(p.train.hidden.iter().copied());
    sizes.push(match &classes {
        Some(c) if c.len() > 2 => c.len(),
        _ => 1,
    });
    check_memory(
        &format!(
            "model type 'mlp' on {n} rows of {d} features with hidden = '{}'",
            p.train
                .hidden
                .iter()
                .map(|w| w.to_string())
                .collect::<Vec<_>>()
                .join(",")
        ),
        training_bytes(n, d, &sizes, p.train.batch_size.min(n)),
        ctx.memory_limit,
    )?;
    let mut raw = Vec::with_capacity(n * d);
    for &r in &kept {
        if let Some(v) = &features[r] {
            raw.extend_from_slice(v);
        }
    }
    drop(features);
    let standardizer = if p.standardize {
        Standardizer::fit(&raw, n, d)
    } else {
        Standardizer::identity(d)
    };
    let x: Vec<f32> = standardizer.apply(&raw);
    drop(raw);
    if let Some(j) = x.iter().position(|v| !v.is_finite()) {
        return exec_err!(
            "model type 'mlp': a feature is too large for float32 after scaling (row {} of the \
             training rows, feature {})",
            j / d + 1,
            j % d + 1
        );
    }
    let target = match &classes {
        Some(c) => Target::Classes {
            y: &class_index,
            k: c.len(),
        },
        None => Target::Values(&values),
    };
    ctx.control.progress(&format!(
        "mlp ({}): {n} rows of {d} features{}, read in {:.1} s",
        p.task.name(),
        classes
            .as_ref()
            .map(|c| format!(", {} classes", c.len()))
            .unwrap_or_default(),
        started.elapsed().as_secs_f64()
    ));
    let epochs = p.train.epochs;
    let line = |e: &Epoch| {
        format!(
            "epoch {}/{epochs}  loss {:.5}{}  {:.1} s",
            e.epoch,
            e.loss,
            e.validation
                .map(|v| format!("  validation {v:.4}"))
                .unwrap_or_default(),
            started.elapsed().as_secs_f64()
        )
    };
    // A line a second at most; the last epoch's always (after training, if it stopped early).
    let mut last_report: Option<Instant> = None;
    let mut last: Option<Epoch> = None;
    let mut on_epoch = |e: &Epoch| -> Result<(), TransferError> {
        let due = last_report.is_none_or(|t| t.elapsed().as_secs_f64() >= 1.0);
        if due || e.epoch == epochs {
            last_report = Some(Instant::now());
            ctx.control.progress(&line(e));
            last = None;
        } else {
            last = Some(e.clone());
        }
        Ok(())
    };
    let result = fit(
        &x,
        n,
        d,
        target,
        &p.train,
        &|| ctx.control.is_cancelled(),
        &mut on_epoch,
    );
    let fitted = match result {
        Ok(f) => f,
        Err(TransferError::Cancelled) => {
            ctx.control.check_cancelled()?;
            return exec_err!("model type 'mlp': cancelled by the user");
        }
        Err(e) => return exec_err!("model type 'mlp': {e}"),
    };
    if let Some(e) = last {
        ctx.control.progress(&format!(
            "{}  (stopped: no progress of tol for more than {} epochs)",
            line(&e),
            p.train.n_iter_no_change
        ));
    }
    let mut training = BTreeMap::new();
    training.insert("task".to_string(), p.task.name().to_string());
    training.insert("training rows".to_string(), fitted.n_train.to_string());
    training.insert(
        "validation rows".to_string(),
        fitted.n_validation.to_string(),
    );
    training.insert("rows dropped (NULL)".to_string(), dropped.to_string());
    training.insert(
        "epochs run".to_string(),
        fitted.loss_curve.len().to_string(),
    );
    training.insert(
        "stopped".to_string(),
        if fitted.converged {
            format!(
                "no progress of tol for more than {} epochs",
                p.train.n_iter_no_change
            )
        } else {
            "after the last epoch".to_string()
        },
    );
    if let Some(l) = fitted.loss_curve.last() {
        training.insert("final loss".to_string(), format!("{l:.6}"));
    }
    if let Some(best) = fitted.validation_scores.iter().copied().reduce(f64::max) {
        training.insert("best validation score".to_string(), format!("{best:.6}"));
    }
    training.insert(
        "loss by epoch".to_string(),
        fitted
            .loss_curve
            .iter()
            .map(|l| format!("{l:.5}"))
            .collect::<Vec<_>>()
            .join(" "),
    );
    let state = State {
        task: p.task,
        classes,
        standardize: p.standardize,
        standardizer,
        sizes: fitted.network.sizes.clone(),
        output: fitted.network.output,
        params: fitted.network.params,
    };
    Ok(Trained {
        model: Box::new(MlpModel::from_state(state)?),
        training,
    })
}

/// The model type `mlp`.
#[derive(Debug)]
pub struct MlpType;

impl ModelType for MlpType {
    fn name(&self) -> &'static str {
        TYPE
    }

    fn description(&self) -> &'static str {
        "multilayer perceptron (scikit-learn's MLPClassifier / MLPRegressor) trained on feature \
         vectors for a target task (thesis §2.4.4); predict, predict_proba and \
         class_probability use it"
    }

    fn options(&self) -> &'static [OptionSpec] {
        OPTIONS
    }

    fn train(&self, data: &TrainingData, ctx: &TrainContext<'_>) -> Result<Trained> {
        train(data, ctx)
    }

    fn load(&self, _options: &ModelOptions, bytes: &[u8]) -> Result<Box<dyn Model>> {
        Ok(Box::new(MlpModel::from_state(decode(TYPE, bytes)?)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_widths_parse_or_name_the_problem() {
        assert_eq!(parse_hidden("256,256").unwrap(), vec![256, 256]);
        assert_eq!(parse_hidden(" 8 ").unwrap(), vec![8]);
        for bad in ["", "256,,256", "0", "a", "-1", "70000"] {
            let e = parse_hidden(bad).unwrap_err().to_string();
            assert!(e.contains("option hidden must be"), "{bad}: {e}");
        }
    }

    #[test]
    fn training_memory_counts_features_and_parameters() {
        // 1000 × 10 features × 12 bytes + (10·5 + 5 + 5·2 + 2) parameters × 20 bytes
        // + 100 rows × (10 + 5 + 2) widths × 8 bytes, by hand.
        assert_eq!(
            training_bytes(1000, 10, &[10, 5, 2], 100),
            120_000.0 + 1340.0 + 13_600.0
        );
    }
}
