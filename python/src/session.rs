//! `trustql.Session` and its results.
//!
//! A [`PySession`] is a [`trustql::Session`]: the same statements mean the same thing as in
//! the CLI. `sql` runs a statement (or a script of several: the last one's result is returned)
//! to its end and keeps the result's Arrow batches in a [`QueryResult`], which hands them to
//! pyarrow (and so pandas), or any other reader of the Arrow C stream interface, without
//! copying.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::error::DataFusionError;
use datafusion::prelude::{CsvReadOptions, ParquetReadOptions};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyCapsule;
use trustql::script::{Cause, PrintOptions, Shell};
use trustql::{Session, SessionOptions};

use crate::errors;
use crate::reports::Reports;
use crate::runtime;

/// A trustql session (see the module docs).
#[pyclass(name = "Session", module = "trustql._trustql", frozen)]
pub struct PySession {
    session: Session,
    reports: Arc<Reports>,
}

impl PySession {
    fn open(
        model_dir: PathBuf,
        on_line: Option<Py<PyAny>>,
        on_status: Option<Py<PyAny>>,
        status_interval: f64,
        cluster: Option<&str>,
    ) -> PyResult<Self> {
        if !(status_interval.is_finite() && status_interval >= 0.0) {
            return Err(PyValueError::new_err(format!(
                "status_interval must be a number of seconds >= 0, not {status_interval}"
            )));
        }
        let reports = Reports::new(on_line, on_status);
        let options = SessionOptions {
            model_dir,
            progress: reports.progress_fn(),
            status: reports.status_sink(Duration::from_secs_f64(status_interval)),
        };
        let session = match cluster {
            None => Session::with_options(options),
            Some(address) => on_cluster(options, address)?,
        }
        .map_err(|e| errors::to_py(e, false))?;
        Ok(Self { session, reports })
    }

    /// The underlying session (the exported functions of [`crate::ffi`] use its library).
    pub fn session(&self) -> &Session {
        &self.session
    }

    fn cancel(&self) -> Arc<AtomicBool> {
        self.session.cancel_flag()
    }

    /// Runs `work` on the runtime, waiting as `runtime::run` does; trustql's error becomes its
    /// Python exception (a model error when `model_statement` says the statement was model
    /// DDL, which is asked only when there is an error).
    fn wait<T, F>(
        &self,
        py: Python<'_>,
        model_statement: impl FnOnce() -> bool,
        work: F,
    ) -> PyResult<T>
    where
        T: Send + 'static,
        F: std::future::Future<Output = datafusion::error::Result<T>> + Send + 'static,
    {
        runtime::run(py, &self.cancel(), &self.reports, work)?
            .map_err(|e| errors::to_py(e, model_statement()))
    }
}

#[pymethods]
impl PySession {
    /// Opens a session on the model store `models` (created when first written); with
    /// `cluster` (`df://host:port`, `local`, `local:N`), its statements run on that Ballista
    /// cluster as `trustql --cluster` runs them.
    #[new]
    #[pyo3(signature = (models, on_line=None, on_status=None, status_interval=1.0, cluster=None))]
    fn new(
        models: PathBuf,
        on_line: Option<Py<PyAny>>,
        on_status: Option<Py<PyAny>>,
        status_interval: f64,
        cluster: Option<&str>,
    ) -> PyResult<Self> {
        Self::open(models, on_line, on_status, status_interval, cluster)
    }

    /// The model store's directory.
    #[getter]
    fn models(&self) -> PathBuf {
        self.session.registry().dir().to_path_buf()
    }

    /// Runs the statements of `query` in order and returns the last one's result.
    fn sql(&self, py: Python<'_>, query: &str) -> PyResult<QueryResult> {
        let statements =
            trustql::sql::split_statements(query).map_err(|e| errors::to_py(e, false))?;
        let mut last = None;
        for statement in statements {
            let session = self.session.clone();
            let text = statement.text;
            let is_model_ddl = || matches!(trustql::sql::model_ddl::parse(&text), Ok(Some(_)));
            let work = {
                let text = text.clone();
                async move { session.execute_with_schema(&text).await }
            };
            let (schema, batches) = self.wait(py, is_model_ddl, work)?;
            last = Some(QueryResult { schema, batches });
        }
        last.ok_or_else(|| {
            errors::PlanningError::new_err(
                "no statement to run: the text is empty or only comments",
            )
        })
    }

    /// Runs the script file at `path` as `trustql -f` does (statements, `\set`, `\i`, ...),
    /// with the variables `variables` set first (as `-v name=value`); returns what the CLI
    /// would print (each result as a table). Ctrl-C stops the running statement, and with it
    /// the script.
    #[pyo3(signature = (path, variables=None))]
    fn run_script(
        &self,
        py: Python<'_>,
        path: PathBuf,
        variables: Option<Vec<(String, String)>>,
    ) -> PyResult<String> {
        let rt = runtime::runtime()?;
        let session = self.session.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        // The script runner blocks on the runtime for each statement, so it runs on a thread of
        // its own, outside the runtime.
        std::thread::Builder::new()
            .name("trustql-script".to_string())
            .spawn(move || {
                let options = PrintOptions {
                    quiet: true,
                    timing: false,
                    ..PrintOptions::default()
                };
                let mut shell = Shell::new(&session, rt, options);
                let mut out = Vec::new();
                let mut outcome = Ok(());
                for (name, value) in variables.unwrap_or_default() {
                    if let Err(e) = shell.vars.set(&name, &value) {
                        outcome = Err((errors::Kind::Planning, format!("variable {name}: {e}")));
                        break;
                    }
                }
                if outcome.is_ok() {
                    outcome = shell.run_file(&path, &mut out).map(drop).map_err(|e| {
                        let kind = match &e.error {
                            Cause::Sql(sql) => errors::kind(sql, false),
                            Cause::Script(_) => errors::Kind::Planning,
                        };
                        (kind, e.to_string())
                    });
                }
                session.end_status();
                let _ = tx.send(outcome.map(|()| String::from_utf8_lossy(&out).into_owned()));
            })
            .map_err(|e| {
                errors::ExecutionError::new_err(format!("could not start the script: {e}"))
            })?;
        let outcome = self.wait(py, || false, async move {
            rx.await.map_err(|_| {
                DataFusionError::Execution("the script stopped without a result".to_string())
            })
        })?;
        outcome.map_err(|(kind, message)| errors::new(kind, message))
    }

    /// Registers the Arrow stream in `stream` (a capsule from `__arrow_c_stream__`) as the
    /// table `name`, replacing a table of that name.
    fn register_stream(&self, name: &str, stream: &Bound<'_, PyCapsule>) -> PyResult<()> {
        let (schema, batches) = crate::stream::import(stream)?;
        let table =
            MemTable::try_new(schema, vec![batches]).map_err(|e| errors::to_py(e, false))?;
        let ctx = self.session.context();
        ctx.deregister_table(name)
            .map_err(|e| errors::to_py(e, false))?;
        ctx.register_table(name, Arc::new(table))
            .map_err(|e| errors::to_py(e, false))?;
        Ok(())
    }

    /// Registers the Parquet file or directory at `path` as the table `name`.
    fn read_parquet(&self, py: Python<'_>, name: &str, path: &str) -> PyResult<()> {
        let ctx = self.session.context().clone();
        let (name, path) = (name.to_string(), path.to_string());
        self.wait(py, || false, async move {
            ctx.deregister_table(name.as_str())?;
            ctx.register_parquet(name.as_str(), &path, ParquetReadOptions::default())
                .await
        })
    }

    /// Registers the CSV file or directory at `path` as the table `name`.
    #[pyo3(signature = (name, path, has_header=true, delimiter=","))]
    fn read_csv(
        &self,
        py: Python<'_>,
        name: &str,
        path: &str,
        has_header: bool,
        delimiter: &str,
    ) -> PyResult<()> {
        let delimiter = match delimiter.as_bytes() {
            [b] => *b,
            _ => {
                return Err(PyValueError::new_err(format!(
                    "delimiter must be one ASCII character, not {delimiter:?}"
                )))
            }
        };
        let ctx = self.session.context().clone();
        let (name, path) = (name.to_string(), path.to_string());
        self.wait(py, || false, async move {
            ctx.deregister_table(name.as_str())?;
            let options = CsvReadOptions::new()
                .has_header(has_header)
                .delimiter(delimiter);
            ctx.register_csv(name.as_str(), &path, options).await
        })
    }

    /// Removes the table `name`; true when there was one.
    fn deregister(&self, name: &str) -> PyResult<bool> {
        Ok(self
            .session
            .context()
            .deregister_table(name)
            .map_err(|e| errors::to_py(e, false))?
            .is_some())
    }
}

/// The sessions shared by `trustql.Models` and `trustql.register`, one per model store: the
/// functions registered on a datafusion-python context and the models created in Python look
/// models up in one registry.
static SHARED: Mutex<Option<HashMap<PathBuf, Py<PySession>>>> = Mutex::new(None);

/// The shared session of the model store `models` (opened on first use, with these callbacks).
#[pyfunction]
#[pyo3(signature = (models, on_line=None, on_status=None, status_interval=1.0))]
pub fn shared_session(
    py: Python<'_>,
    models: PathBuf,
    on_line: Option<Py<PyAny>>,
    on_status: Option<Py<PyAny>>,
    status_interval: f64,
) -> PyResult<Py<PySession>> {
    let key = absolute(&models)?;
    let mut shared = match SHARED.lock() {
        Ok(s) => s,
        Err(p) => p.into_inner(),
    };
    let map = shared.get_or_insert_with(HashMap::new);
    if let Some(s) = map.get(&key) {
        return Ok(s.clone_ref(py));
    }
    let session = Py::new(
        py,
        PySession::open(models, on_line, on_status, status_interval, None)?,
    )?;
    map.insert(key, session.clone_ref(py));
    Ok(session)
}

/// A session on the cluster `address` (`local[:N]` starts one on the module's runtime, where
/// its nodes live as long as the process).
#[cfg(feature = "cluster")]
fn on_cluster(
    options: SessionOptions,
    address: &str,
) -> PyResult<datafusion::error::Result<Session>> {
    let cluster = runtime::runtime()?.block_on(trustql::cluster::ClusterOptions::open(
        address,
        &options.model_dir,
    ));
    Ok(cluster.and_then(|cluster| Session::with_cluster(options, cluster)))
}

#[cfg(not(feature = "cluster"))]
fn on_cluster(_: SessionOptions, _: &str) -> PyResult<datafusion::error::Result<Session>> {
    Ok(Err(DataFusionError::Plan(
        "this trustql module was built without the cluster feature (build the wheel with \
         `maturin build --features cluster`)"
            .to_string(),
    )))
}

fn absolute(path: &Path) -> PyResult<PathBuf> {
    std::path::absolute(path)
        .map_err(|e| PyValueError::new_err(format!("model store {}: {e}", path.display())))
}

/// The result of a statement: Arrow record batches (see the module docs).
#[pyclass(name = "QueryResult", module = "trustql._trustql", frozen)]
pub struct QueryResult {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
}

#[pymethods]
impl QueryResult {
    /// The Arrow C stream interface: a capsule over the result's batches (shared, not copied).
    /// A requested schema is not applied: the result's own schema is the answer.
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        crate::stream::export(py, self.schema.clone(), self.batches.clone())
    }

    /// Rows in the result.
    #[getter]
    fn num_rows(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }

    /// The result's column names.
    #[getter]
    fn column_names(&self) -> Vec<String> {
        self.schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    fn __len__(&self) -> usize {
        self.num_rows()
    }
}
