//! `trustql executor`: Ballista's executor, resolving plans against every trustql function over
//! the shared model store, with the `trustql.*` settings (see [`super::node`]).

use std::path::PathBuf;
use std::sync::Arc;

use ballista_executor::executor_process::{start_executor_process, ExecutorProcessConfig};
use datafusion::common::{exec_datafusion_err, Result};

use super::node::{node_config, NodeLibrary};

/// How to run an executor.
#[derive(Clone, Debug)]
pub struct ExecutorSettings {
    /// The scheduler's host and port.
    pub scheduler_host: String,
    pub scheduler_port: u16,
    /// The address to listen on.
    pub bind_host: String,
    /// The Arrow Flight port (other executors and clients fetch results there).
    pub port: u16,
    /// The host name others reach this executor by (default: the bind address).
    pub external_host: Option<String>,
    /// Tasks run at once (default: the machine's cores).
    pub vcores: usize,
    /// The model store: the same shared directory on every node.
    pub model_dir: PathBuf,
    /// Where shuffle files go (default: a temporary directory).
    pub work_dir: Option<PathBuf>,
}

/// Runs the executor until the process ends.
pub async fn run(settings: ExecutorSettings) -> Result<()> {
    let functions = NodeLibrary::new(&settings.model_dir)?.function_registry()?;
    let config = ExecutorProcessConfig {
        bind_host: settings.bind_host.clone(),
        external_host: settings.external_host.clone(),
        port: settings.port,
        task_scheduling_policy: super::SCHEDULING,
        scheduler_host: settings.scheduler_host.clone(),
        scheduler_port: settings.scheduler_port,
        scheduler_connect_timeout_seconds: 30,
        vcores: settings.vcores,
        work_dir: settings
            .work_dir
            .as_ref()
            .map(|p| p.to_string_lossy().into_owned()),
        override_function_registry: Some(Arc::new(functions)),
        override_config_producer: Some(Arc::new(node_config)),
        ..ExecutorProcessConfig::default()
    };
    eprintln!(
        "trustql executor (Ballista {}): flight port {}, {} task slots, asking scheduler {}:{} \
         for work, models in {}",
        ballista_core::BALLISTA_VERSION,
        settings.port,
        settings.vcores,
        settings.scheduler_host,
        settings.scheduler_port,
        settings.model_dir.display()
    );
    start_executor_process(Arc::new(config))
        .await
        .map_err(|e| exec_datafusion_err!("the executor stopped: {e}"))
}
