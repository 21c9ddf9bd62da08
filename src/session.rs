//! A trustql session: a DataFusion context with every trustql function registered, the
//! `trustql.*` settings, a model registry, the model DDL and figures (`COPY ... (FORMAT plot)`).
//!
//! The CLI, the REPL, the sqllogictest runner and library users all go through
//! [`Session::sql`], so a statement means the same thing everywhere.

use datafusion::common::{exec_datafusion_err, plan_datafusion_err, plan_err};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::TableFunctionImpl;
use datafusion::dataframe::DataFrame;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::context::SessionContext;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use trustql_udfs::common::progress::StatusSink;
use trustql_udfs::engine::config::{device_setting, resolve_device, session_config};
use trustql_udfs::model::{
    LoadedModel, ModelCatalog, ModelOptions, OptionKind, RawOptionValue, TaskControl, TrainContext,
    Trained, TrainingData,
};
use trustql_udfs::Library;

use crate::plot::{self, PlotStatement};
use crate::registry::ModelRegistry;
use crate::sql::model_ddl::{self, ModelStatement};
use crate::tables::{model_info::model_info_batch, models::models_batch};

/// Receives progress lines of long work (training); the CLI prints them to stderr.
pub type ProgressFn = Arc<dyn Fn(&str) + Send + Sync>;

/// How to open a session.
#[derive(Clone)]
pub struct SessionOptions {
    /// The model store directory.
    pub model_dir: PathBuf,
    /// Where progress lines go; `None` is silent.
    pub progress: Option<ProgressFn>,
    /// Where the status of long work inside a statement goes (rows done, rate, time left;
    /// `trustql_udfs::common::progress`), and how often; `None` is silent. At the end of each
    /// statement the sink receives `None`.
    pub status: Option<StatusSink>,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self {
            model_dir: PathBuf::from(crate::DEFAULT_MODEL_DIR),
            progress: None,
            status: None,
        }
    }
}

/// Registers trustql's library on `ctx` and gives its model types to `registry` (the
/// functions look models up there); returns the library, the list `\h` reads. A [`Session`]
/// and [`crate::register_functions`] both start here.
pub fn install_library(ctx: &SessionContext, registry: &Arc<ModelRegistry>) -> Result<Library> {
    let library = trustql_udfs::library(registry.clone());
    library.register(ctx)?;
    registry.add_types(library.model_types())?;
    Ok(library)
}

/// The names of the session's own table functions, in [`register_tables`]' order.
pub const SESSION_TABLE_FUNCTIONS: [&str; 3] = ["models", "model_types", "model_info"];

/// Registers the session's table functions over `registry` (`models()`, `model_types()`,
/// `model_info(name)`: [`SESSION_TABLE_FUNCTIONS`]).
pub fn register_tables(ctx: &SessionContext, registry: &Arc<ModelRegistry>) {
    let functions: [Arc<dyn TableFunctionImpl>; 3] = [
        Arc::new(crate::tables::models::ModelsFunc::new(registry.clone())),
        Arc::new(crate::tables::model_types::ModelTypesFunc::new(
            registry.clone(),
        )),
        Arc::new(crate::tables::model_info::ModelInfoFunc::new(
            registry.clone(),
        )),
    ];
    for (name, f) in SESSION_TABLE_FUNCTIONS.into_iter().zip(functions) {
        ctx.register_udtf(name, trustql_udfs::call_scan::named_calls(name, f));
    }
}

/// A trustql session. Cloning is cheap and shares everything (context, models, settings).
#[derive(Clone)]
pub struct Session {
    ctx: SessionContext,
    registry: Arc<ModelRegistry>,
    progress: Option<ProgressFn>,
    cancel: Arc<AtomicBool>,
    /// The last result printed by the CLI or the REPL, for `\plot`.
    last: Arc<std::sync::Mutex<Option<LastResult>>>,
    /// Every model type and function registered: trustql's and those of [`Session::extend`].
    library: Arc<std::sync::RwLock<Library>>,
}

/// A statement's result kept for `\plot`.
#[derive(Clone)]
pub struct LastResult {
    pub schema: Arc<Schema>,
    pub batches: Vec<RecordBatch>,
}

impl Session {
    /// A session with the default model store (`./.trustql/models`) and no progress output.
    pub fn new() -> Result<Self> {
        Self::with_options(SessionOptions::default())
    }

    pub fn with_options(options: SessionOptions) -> Result<Self> {
        Self::build(options, session_config(), None)
    }

    /// A session whose statements run on a Ballista cluster (see [`crate::cluster`]): planned
    /// here, the work that reads tables executed by the cluster's executors. Lines saying which
    /// parts of a plan stay on this machine, and why, go to the progress output.
    #[cfg(feature = "cluster")]
    pub fn with_cluster(
        options: SessionOptions,
        cluster: crate::cluster::ClusterOptions,
    ) -> Result<Self> {
        let client = crate::cluster::ClusterClient::new(
            cluster,
            &options.model_dir,
            options.progress.clone(),
        )?;
        Self::build(
            options,
            crate::cluster::client_config(session_config()),
            Some(Arc::new(crate::cluster::ShipToCluster::new(client))),
        )
    }

    /// A session with `config`, and `last_rule` after DataFusion's physical optimizer rules.
    fn build(
        options: SessionOptions,
        config: datafusion::prelude::SessionConfig,
        last_rule: Option<Arc<dyn PhysicalOptimizerRule + Send + Sync>>,
    ) -> Result<Self> {
        let registry = Arc::new(ModelRegistry::new(options.model_dir, Vec::new()));
        let mut state = SessionStateBuilder::new()
            .with_config(config)
            .with_default_features();
        if let Some(rule) = last_rule {
            state = state.with_physical_optimizer_rule(rule);
        }
        let ctx = SessionContext::new_with_state(state.build()).enable_url_table();
        let library = install_library(&ctx, &registry)?;
        register_tables(&ctx, &registry);
        let cancel = Arc::new(AtomicBool::new(false));
        registry.set_control(
            options.progress.clone(),
            options.status.clone(),
            cancel.clone(),
        );
        Ok(Self {
            ctx,
            registry,
            progress: options.progress,
            cancel,
            last: Arc::new(std::sync::Mutex::new(None)),
            library: Arc::new(std::sync::RwLock::new(library)),
        })
    }

    /// The catalog that functions look models up in (this session's registry); a program that
    /// extends trustql builds its [`Library`] with it.
    pub fn catalog(&self) -> Arc<dyn ModelCatalog> {
        self.registry.clone()
    }

    /// Every model type and function of the session (trustql's and those added by
    /// [`Session::extend`]), with their documentation: what `\h` lists.
    pub fn library(&self) -> Library {
        match self.library.read() {
            Ok(l) => l.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Adds a program's own model types and functions to the session (see
    /// `docs/ARCHITECTURE.md`, "Add a model type"). Refused, with nothing added, when the
    /// library fails [`Library::check`] (an undocumented function, a name used twice) or a name
    /// is already taken by a model type or a function of the session, DataFusion's included.
    pub fn extend(&self, extension: Library) -> Result<()> {
        extension.check()?;
        let mut library = match self.library.write() {
            Ok(l) => l,
            Err(p) => p.into_inner(),
        };
        // The context knows every function registered so far: trustql's, DataFusion's and
        // earlier extensions'.
        let state = self.ctx.state();
        for (name, _, _) in extension.functions() {
            if state.scalar_functions().contains_key(&name)
                || state.aggregate_functions().contains_key(&name)
                || state.window_functions().contains_key(&name)
                || state.table_functions().contains_key(&name)
            {
                return plan_err!("a function called '{name}' already exists; choose another name");
            }
        }
        // Refuses a model type name that is taken, before anything is registered.
        self.registry.add_types(extension.model_types())?;
        extension.register(&self.ctx)?;
        library.extend(extension);
        Ok(())
    }

    /// The underlying DataFusion context (register tables, read files, ...).
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    pub fn registry(&self) -> &Arc<ModelRegistry> {
        &self.registry
    }

    /// Keeps a result for `\plot` (the CLI keeps every printed result that has columns).
    pub fn set_last_result(&self, result: LastResult) {
        if let Ok(mut last) = self.last.lock() {
            *last = Some(result);
        }
    }

    /// The last kept result.
    pub fn last_result(&self) -> Option<LastResult> {
        self.last.lock().ok().and_then(|l| l.clone())
    }

    /// Draws the last kept result (the REPL's `\plot 'path' (options)`).
    pub fn plot_last(
        &self,
        path: &std::path::Path,
        options: &[(String, plot::OptionValue)],
    ) -> Result<RecordBatch> {
        let Some(last) = self.last_result() else {
            return Err(DataFusionError::Plan(
                "\\plot draws the last result, and there is none yet: run a query first"
                    .to_string(),
            ));
        };
        let limit = trustql_udfs::engine::memory_limit(self.ctx.state().config_options());
        let drawn = plot::draw(&last.schema, &last.batches, path, options, limit)?;
        if let Some(w) = drawn.warning() {
            self.progress(&format!("warning: {w}"));
        }
        drawn.batch()
    }

    /// Setting this flag stops the running statement's long work (training, explainers) at its
    /// next check; the CLI sets it on Ctrl-C. At the start of the next statement it is cleared,
    /// and the cancelled statement's work that is still running stays cancelled (see
    /// [`trustql_udfs::model::CancelToken`]).
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.cancel.clone()
    }

    /// Plans one statement: model DDL is executed now and its result returned as a DataFrame;
    /// anything else is DataFusion SQL (queries run when the DataFrame is collected).
    pub async fn sql(&self, sql: &str) -> Result<DataFrame> {
        self.registry.new_statement();
        crate::sql::check_nesting(sql)?;
        if let Some(statement) = plot::parse_copy(sql)? {
            return self.plot_statement(statement).await;
        }
        match model_ddl::parse(sql)? {
            Some(statement) => self.model_statement(statement).await,
            None => self
                .ctx
                .sql(sql)
                .await
                .map_err(|e| self.name_missing_over(e)),
        }
    }

    /// DataFusion answers a window function called without an OVER clause with "Invalid
    /// function 'name'" (and suggests another function); this says what is missing instead.
    fn name_missing_over(&self, e: DataFusionError) -> DataFusionError {
        let message = e.to_string();
        let Some(name) = message
            .split("Invalid function '")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
        else {
            return e;
        };
        let state = self.ctx.state();
        let Some(window) = state.window_functions().get(name) else {
            return e;
        };
        let syntax = window
            .documentation()
            .map(|d| d.syntax_example.clone())
            .filter(|s| s.contains("OVER"))
            .unwrap_or_else(|| format!("{name}(...) OVER (PARTITION BY ...)"));
        plan_datafusion_err!(
            "{name} is a window function: call it with an OVER clause, as in {syntax}"
        )
    }

    /// Runs one statement and collects its result.
    pub async fn execute(&self, sql: &str) -> Result<Vec<RecordBatch>> {
        Ok(self.execute_with_schema(sql).await?.1)
    }

    /// Runs one statement and collects its result with its schema (which an empty result
    /// still has: the Python package hands both on).
    pub async fn execute_with_schema(&self, sql: &str) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        let result = async {
            let df = self.sql(sql).await?;
            let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
            Ok((schema, df.collect().await?))
        }
        .await;
        self.end_status();
        result
    }

    /// Tells the status sink that the statement's work has ended (a terminal's status line is
    /// cleared). The CLI and the REPL call it after each statement; [`Session::execute`] does.
    pub fn end_status(&self) {
        if let Some(s) = self.registry.status_sink() {
            (s.report)(None)
        }
    }

    /// Runs the query of a `COPY ... (FORMAT plot)` and writes its figure; the result is the
    /// figure's description, and skipped rows are reported as a warning.
    async fn plot_statement(&self, statement: PlotStatement) -> Result<DataFrame> {
        let df = self.ctx.sql(&statement.query).await?;
        let schema = df.schema().as_arrow().clone();
        let batches = df.collect().await?;
        let limit = trustql_udfs::engine::memory_limit(self.ctx.state().config_options());
        let drawn = plot::draw(
            &schema,
            &batches,
            &statement.path,
            &statement.options,
            limit,
        )?;
        if let Some(w) = drawn.warning() {
            self.progress(&format!("warning: {w}"));
        }
        self.ctx.read_batch(drawn.batch()?)
    }

    fn progress(&self, line: &str) {
        if let Some(p) = &self.progress {
            p(line)
        }
    }

    async fn model_statement(&self, statement: ModelStatement) -> Result<DataFrame> {
        match statement {
            ModelStatement::Create {
                name,
                or_replace,
                if_not_exists,
                options,
                query,
            } => {
                if self.registry.exists(&name)? && !or_replace {
                    if if_not_exists {
                        self.progress(&format!("model '{name}' exists; not retrained"));
                        return self.ctx.read_empty();
                    }
                    return plan_err!(
                        "model '{name}' already exists (use CREATE OR REPLACE MODEL, or DROP MODEL {name} first)"
                    );
                }
                self.create_model(name, options, &query).await
            }
            ModelStatement::Drop { name, if_exists } => {
                if !self.registry.drop_model(&name)? && !if_exists {
                    return plan_err!(
                        "unknown model '{name}': nothing to drop (DROP MODEL IF EXISTS ignores this)"
                    );
                }
                self.ctx.read_empty()
            }
            ModelStatement::Show => {
                let (batch, problems) = models_batch(&self.registry)?;
                for p in problems {
                    self.progress(&format!("warning: {p}"));
                }
                self.ctx.read_batch(batch)
            }
            ModelStatement::ShowTypes => {
                self.ctx
                    .read_batch(crate::tables::model_types::model_types_batch(
                        &self.registry,
                    )?)
            }
            ModelStatement::Describe { name } => self
                .ctx
                .read_batch(model_info_batch(&self.registry, &name)?),
        }
    }

    async fn create_model(
        &self,
        name: String,
        mut raw: Vec<(String, RawOptionValue)>,
        query: &str,
    ) -> Result<DataFrame> {
        let Some(pos) = raw.iter().position(|(k, _)| k == "type") else {
            return plan_err!(
                "CREATE MODEL {name} needs OPTIONS (type = '...'); model types: {}",
                self.type_list()
            );
        };
        let type_name = match raw.remove(pos).1 {
            RawOptionValue::Text(s) | RawOptionValue::Word(s) => s,
            other => {
                return plan_err!(
                    "option 'type' expects a model type name, got {other}; model types: {}",
                    self.type_list()
                )
            }
        };
        let model_type = self.registry.model_type(&type_name)?;
        let options = ModelOptions::validate(model_type.name(), model_type.options(), &raw)?;

        // Tables named by options are read before training, so a wrong name fails early.
        let mut tables = BTreeMap::new();
        for spec in model_type.options() {
            if let (OptionKind::Table, Some(table)) = (spec.kind, options.text(spec.name)) {
                let df = self.ctx.table(table).await.map_err(|e| {
                    plan_datafusion_err!(
                        "option '{}' names table '{table}', which cannot be read: {e}",
                        spec.name
                    )
                })?;
                tables.insert(spec.name.to_string(), df.collect().await?);
            }
        }
        let start = Instant::now();
        let df = self.ctx.sql(query).await?;
        let schema = Arc::new(df.schema().as_arrow().clone());
        let batches = df.collect().await?;
        let data = TrainingData {
            schema,
            batches,
            tables,
        };
        let rows = data.num_rows();
        self.progress(&format!(
            "training '{name}' ({}) on {rows} rows",
            model_type.name()
        ));
        let device = resolve_device(device_setting(self.ctx.state().config_options()))?;
        let memory_limit = trustql_udfs::engine::memory_limit(self.ctx.state().config_options());
        let progress = self.progress.clone();
        let status = self.registry.status_sink();
        let cancel = self.registry.cancel_token();
        let train_type = model_type.clone();
        let train_options = options.clone();
        let registry = self.registry.clone();
        let model_name = name.clone();
        let trained = tokio::task::spawn_blocking(move || {
            let report = move |line: &str| {
                if let Some(p) = &progress {
                    p(line)
                }
            };
            // The last checkpoint saved, to name it if training stops.
            let saved = std::sync::Mutex::new(None::<String>);
            let checkpoint = |t: Trained| -> Result<()> {
                let note = t.training.get("checkpoint").cloned().unwrap_or_default();
                registry.save(LoadedModel {
                    name: model_name.clone(),
                    model_type: train_type.name().to_string(),
                    options: train_options.clone(),
                    training: t.training,
                    model: t.model,
                })?;
                report(&format!("checkpoint saved as '{model_name}' ({note})"));
                if let Ok(mut s) = saved.lock() {
                    *s = Some(note);
                }
                Ok(())
            };
            let ctx = TrainContext {
                options: &train_options,
                control: TaskControl::with_token(&report, cancel).with_status(status),
                device,
                memory_limit,
                checkpoint: Some(&checkpoint),
            };
            train_type.train(&data, &ctx).map_err(|e| {
                match saved.lock().ok().and_then(|s| s.clone()) {
                    Some(note) => exec_datafusion_err!(
                        "{e}; the checkpoint of {note} is kept as model '{model_name}'"
                    ),
                    None => e,
                }
            })
        })
        .await
        .map_err(|e| exec_datafusion_err!("training stopped unexpectedly: {e}"))??;
        let seconds = start.elapsed().as_secs_f64();
        let mut training = trained.training;
        training.insert("training seconds".to_string(), format!("{seconds:.3}"));
        training.insert("query rows".to_string(), rows.to_string());
        self.registry.save(LoadedModel {
            name: name.clone(),
            model_type: model_type.name().to_string(),
            options,
            training,
            model: trained.model,
        })?;
        self.progress(&format!(
            "model '{name}' saved in {}",
            self.registry.dir().display()
        ));
        let batch = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("model", DataType::Utf8, false),
                Field::new("type", DataType::Utf8, false),
                Field::new("rows", DataType::UInt64, false),
                Field::new("seconds", DataType::Float64, false),
            ])),
            vec![
                Arc::new(StringArray::from(vec![name])) as ArrayRef,
                Arc::new(StringArray::from(vec![model_type.name()])),
                Arc::new(UInt64Array::from(vec![rows as u64])),
                Arc::new(Float64Array::from(vec![
                    (seconds * 1000.0).round() / 1000.0,
                ])),
            ],
        )?;
        self.ctx.read_batch(batch)
    }

    fn type_list(&self) -> String {
        self.registry
            .types()
            .iter()
            .map(|t| t.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}
