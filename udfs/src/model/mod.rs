//! The model abstraction every trained model type shares.
//!
//! It exists so that the DDL (`CREATE MODEL`, `SHOW MODELS`, `DESCRIBE MODEL`, `DROP MODEL`) and the
//! model store are written once, while model types are added by later work without touching them:
//! a type declares its options ([`OptionSpec`]), trains from the rows of the `AS` query, and turns
//! itself into bytes and back. Functions such as `score` find models through a [`ModelCatalog`].

pub mod capability;
pub mod key;
pub mod options;

use datafusion::common::{exec_datafusion_err, plan_datafusion_err, plan_err};
use std::any::Any;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::error::{DataFusionError, Result};

pub use capability::Capabilities;
pub use key::{KeyColumn, KeyIndex, KeyKind, KeyRef};
pub use options::{
    FromOptionValue, ModelOptions, OptionKind, OptionSpec, OptionValue, RawOptionValue,
};

/// A trained model, as held in memory.
///
/// What a model can do beyond describing and saving itself is declared as capabilities (see
/// [`capability`]): `capabilities!(dyn Recommender);` in the impl block, and
/// `model.capability::<dyn Recommender>()` where it is used.
pub trait Model: Any + Send + Sync + Debug {
    /// Facts shown by `DESCRIBE MODEL` (for example the number of users and items).
    fn describe(&self) -> Vec<(String, String)>;

    /// The model's parameters as bytes (the payload of the model file).
    fn to_bytes(&self) -> Result<Vec<u8>>;

    /// The capability traits this model offers; none by default. Written with the
    /// [`capabilities!`](crate::capabilities) macro.
    fn capabilities(&self) -> Capabilities {
        Capabilities::new()
    }
}

impl dyn Model {
    /// The model as `Any`, to reach its concrete type.
    pub fn as_any(&self) -> &dyn Any {
        self
    }

    /// The model as its concrete type `T`, when it is one.
    pub fn downcast_ref<T: Model>(&self) -> Option<&T> {
        self.as_any().downcast_ref::<T>()
    }

    /// The model as capability `C` (a trait object type such as `dyn Recommender`), when it
    /// offers it.
    pub fn capability<C: ?Sized + 'static>(&self) -> Option<&C> {
        self.capabilities().get::<C>(self.as_any())
    }
}

/// A model with its name, type and the options it was trained with.
#[derive(Debug)]
pub struct LoadedModel {
    pub name: String,
    pub model_type: String,
    pub options: ModelOptions,
    /// Facts about training recorded in the model file (rows used, rows dropped, duration, ...).
    pub training: BTreeMap<String, String>,
    pub model: Box<dyn Model>,
}

/// Where functions look models up by name.
pub trait ModelCatalog: Send + Sync + Debug {
    /// The model called `name`, or a clear error naming it when there is none.
    fn model(&self, name: &str) -> Result<Arc<LoadedModel>>;

    /// Reports a progress line of long work inside a query (explainers, fidelity); the session
    /// prints it where it prints training progress. The default prints nothing.
    fn progress(&self, _line: &str) {}

    /// Where a function's [`Meter`](crate::common::progress::Meter) reports the status of its
    /// work (rows done, rate, time left); `None` (the default) when nobody listens.
    fn status_sink(&self) -> Option<crate::common::progress::StatusSink> {
        None
    }

    /// An error when the user asked to stop the running statement (Ctrl-C); long loops inside
    /// a function call this between steps. The default never stops.
    fn check_cancelled(&self) -> Result<()> {
        Ok(())
    }

    /// The cancellation of the statement running now. A function takes it when its work starts
    /// and checks it in its loops: unlike [`ModelCatalog::check_cancelled`], a token stays
    /// cancelled after the next statement has started, so work of a cancelled statement that is
    /// still running (a synchronous function cannot be aborted from outside) stops at its next
    /// check instead of running on beside the next statement. The default never stops.
    fn cancel_token(&self) -> CancelToken {
        CancelToken::never()
    }
}

/// A function's handle on the catalog it looks models up in. Two handles are equal when they
/// are the same catalog, so a function that holds one derives `PartialEq`, `Eq` and `Hash`
/// (DataFusion compares functions when it deduplicates expressions) instead of writing them.
#[derive(Clone, Debug)]
pub struct CatalogRef(pub Arc<dyn ModelCatalog>);

impl AsRef<dyn ModelCatalog> for CatalogRef {
    fn as_ref(&self) -> &(dyn ModelCatalog + 'static) {
        self.0.as_ref()
    }
}

impl CatalogRef {
    /// The address that identifies the catalog (the data pointer, without the vtable).
    fn address(&self) -> *const () {
        Arc::as_ptr(&self.0) as *const ()
    }
}

impl std::ops::Deref for CatalogRef {
    type Target = dyn ModelCatalog;

    fn deref(&self) -> &Self::Target {
        self.0.as_ref()
    }
}

impl PartialEq for CatalogRef {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.address(), other.address())
    }
}

impl Eq for CatalogRef {}

impl std::hash::Hash for CatalogRef {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.address().hash(state)
    }
}

/// A catalog without models, for building a [`crate::Library`] only to read its model types
/// and documentation: every lookup is an error.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoModels;

impl ModelCatalog for NoModels {
    fn model(&self, name: &str) -> Result<Arc<LoadedModel>> {
        plan_err!("model '{name}' not found: no model store is attached")
    }
}

/// The cancellation of one statement (see [`ModelCatalog::cancel_token`]).
#[derive(Clone, Debug)]
pub struct CancelToken {
    /// Set when the statement was cancelled (by the session, when the next statement starts
    /// after a cancel request).
    statement: Arc<AtomicBool>,
    /// The session's cancel request (Ctrl-C), which applies to the statement of `epoch` only
    /// while that statement is the current one.
    request: Option<(Arc<AtomicBool>, Arc<std::sync::atomic::AtomicU64>, u64)>,
}

impl CancelToken {
    /// A token that is never cancelled.
    pub fn never() -> Self {
        Self {
            statement: Arc::new(AtomicBool::new(false)),
            request: None,
        }
    }

    /// A token for the statement of `epoch`: cancelled when `statement` is set, or when
    /// `request` is set while `current` still equals `epoch`.
    pub fn new(
        statement: Arc<AtomicBool>,
        request: Arc<AtomicBool>,
        current: Arc<std::sync::atomic::AtomicU64>,
        epoch: u64,
    ) -> Self {
        Self {
            statement,
            request: Some((request, current, epoch)),
        }
    }

    /// A token cancelled exactly when `flag` is set.
    pub fn from_flag(flag: Arc<AtomicBool>) -> Self {
        Self {
            statement: flag,
            request: None,
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.statement.load(Ordering::Relaxed)
            || self
                .request
                .as_ref()
                .is_some_and(|(request, current, epoch)| {
                    request.load(Ordering::Relaxed) && current.load(Ordering::Relaxed) == *epoch
                })
    }

    /// An error when the statement was cancelled.
    pub fn check(&self) -> Result<()> {
        if self.is_cancelled() {
            Err(DataFusionError::Execution(
                "cancelled by the user".to_string(),
            ))
        } else {
            Ok(())
        }
    }
}

/// Progress messages, status and cancellation for long work (training, bootstraps).
pub struct TaskControl<'a> {
    progress: &'a (dyn Fn(&str) + Send + Sync),
    cancel: Cancel<'a>,
    status: Option<crate::common::progress::StatusSink>,
}

enum Cancel<'a> {
    Flag(&'a AtomicBool),
    Token(CancelToken),
}

impl<'a> TaskControl<'a> {
    pub fn new(progress: &'a (dyn Fn(&str) + Send + Sync), cancel: &'a AtomicBool) -> Self {
        Self {
            progress,
            cancel: Cancel::Flag(cancel),
            status: None,
        }
    }

    /// Cancelled with a statement's [`CancelToken`].
    pub fn with_token(progress: &'a (dyn Fn(&str) + Send + Sync), token: CancelToken) -> Self {
        Self {
            progress,
            cancel: Cancel::Token(token),
            status: None,
        }
    }

    /// Reports the status of long steps (see [`TaskControl::meter`]) to `sink`.
    pub fn with_status(mut self, sink: Option<crate::common::progress::StatusSink>) -> Self {
        self.status = sink;
        self
    }

    /// A meter for one long step (an epoch), reporting to the session's status sink; `None`
    /// when nobody listens. Enter it with [`crate::common::progress::enter`].
    pub fn meter(
        &self,
        task: impl Into<String>,
        unit: &'static str,
        total: Option<u64>,
    ) -> Option<Arc<crate::common::progress::Meter>> {
        crate::common::progress::Meter::start(self.status.clone(), task, unit, total)
    }

    /// Whether the user asked to stop (for loops that stop without an error).
    pub fn is_cancelled(&self) -> bool {
        match &self.cancel {
            Cancel::Flag(f) => f.load(Ordering::Relaxed),
            Cancel::Token(t) => t.is_cancelled(),
        }
    }

    /// Reports a progress line (for example "epoch 3/30  loss 0.412  12.1 s").
    pub fn progress(&self, message: &str) {
        (self.progress)(message)
    }

    /// An error when the user asked to stop (Ctrl-C); long loops call this between steps.
    pub fn check_cancelled(&self) -> Result<()> {
        if self.is_cancelled() {
            Err(DataFusionError::Execution(
                "cancelled by the user".to_string(),
            ))
        } else {
            Ok(())
        }
    }
}

/// The rows of the `AS` query of `CREATE MODEL`, and other tables an option named.
pub struct TrainingData {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    /// Tables named by options of kind [`OptionKind::Table`], by option name.
    pub tables: BTreeMap<String, Vec<RecordBatch>>,
}

impl TrainingData {
    /// The index of a required column, or an error that lists the columns the query returned.
    pub fn column(&self, model_type: &str, name: &str) -> Result<usize> {
        self.schema.index_of(name).map_err(|_| {
            let have: Vec<String> = self
                .schema
                .fields()
                .iter()
                .map(|f| format!("\"{}\"", f.name()))
                .collect();
            plan_datafusion_err!(
                "model type '{model_type}' needs a column named \"{name}\" in the AS query; \
                 it returned {} (rename with AS, e.g. SELECT user_id AS \"user\", ...)",
                if have.is_empty() {
                    "no columns".to_string()
                } else {
                    have.join(", ")
                }
            )
        })
    }

    /// Total number of rows of the `AS` query.
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }

    /// The rank of each row of the `AS` query (numbered 0.. across the batches) in an order of
    /// the named columns' contents ([`crate::whole_table::content_keys`]). A model type that
    /// takes its rows in this order depends on the rows and not on the order in which DataFusion
    /// delivered them (joins, `UNION ALL` and multi-partition scans deliver rows in any order).
    /// Rows with equal contents keep their relative order. The named columns are copied once.
    pub fn content_ranks(&self, model_type: &str, columns: &[&str]) -> Result<Vec<usize>> {
        let indices = columns
            .iter()
            .map(|c| self.column(model_type, c))
            .collect::<Result<Vec<_>>>()?;
        let order = crate::whole_table::content_order(&self.batches, &indices)?;
        let mut ranks = vec![0; order.len()];
        for (rank, row) in order.into_iter().enumerate() {
            ranks[row] = rank;
        }
        Ok(ranks)
    }
}

/// What a model type needs to train.
pub struct TrainContext<'a> {
    pub options: &'a ModelOptions,
    pub control: TaskControl<'a>,
    /// The session's tensor device.
    pub device: tch::Device,
    /// The session's memory limit in bytes (`trustql.memory_limit`): options that size memory
    /// are checked against it with [`crate::engine::check_memory`] before allocating.
    pub memory_limit: u64,
    /// Saves a model trained so far in the model store under the model's name (long training
    /// checkpoints with it; the final model replaces the checkpoint). Absent outside a session.
    pub checkpoint: Option<&'a (dyn Fn(Trained) -> Result<()> + Send + Sync)>,
}

/// What a trained model reports besides itself: facts recorded in the model file.
pub struct Trained {
    pub model: Box<dyn Model>,
    pub training: BTreeMap<String, String>,
}

/// A kind of model `CREATE MODEL ... OPTIONS (type = '<name>')` can train.
pub trait ModelType: Send + Sync {
    /// The value of the `type` option.
    fn name(&self) -> &'static str;
    /// One line for `SHOW MODEL TYPES` and errors.
    fn description(&self) -> &'static str;
    /// The options this type accepts besides `type`, with defaults.
    fn options(&self) -> &'static [OptionSpec];
    /// Trains a model from the rows of the `AS` query.
    fn train(&self, data: &TrainingData, ctx: &TrainContext<'_>) -> Result<Trained>;
    /// Rebuilds a model from the bytes its [`Model::to_bytes`] wrote.
    fn load(&self, options: &ModelOptions, bytes: &[u8]) -> Result<Box<dyn Model>>;
}

impl std::fmt::Debug for dyn ModelType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ModelType({})", self.name())
    }
}

/// Serialises a model's parameters (bincode).
pub fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>> {
    bincode::serialize(value).map_err(|e| exec_datafusion_err!("could not encode the model: {e}"))
}

/// Reads parameters written by [`encode`].
pub fn decode<T: serde::de::DeserializeOwned>(model_type: &str, bytes: &[u8]) -> Result<T> {
    bincode::deserialize(bytes).map_err(|e| {
        exec_datafusion_err!("the stored '{model_type}' model could not be decoded: {e}")
    })
}
