//! `trustql scheduler`: Ballista's scheduler, whose sessions decode plans against every trustql
//! function and take the `trustql.*` settings (see [`super::node`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_server::SessionBuilder;
use datafusion::common::{exec_datafusion_err, plan_datafusion_err, plan_err, Result};

use super::node::{node_config, NodeLibrary};

/// How to run a scheduler.
#[derive(Clone, Debug)]
pub struct SchedulerSettings {
    /// The address to listen on (`0.0.0.0` for every interface).
    pub bind_host: String,
    /// The gRPC port clients and executors connect to.
    pub port: u16,
    /// The host name executors and clients reach this scheduler by.
    pub external_host: String,
    /// The model store (the scheduler only decodes plans; it loads no model).
    pub model_dir: PathBuf,
    /// Seconds without word from an executor after which it counts as lost and its tasks run
    /// again elsewhere; at least [`MIN_EXECUTOR_TIMEOUT`].
    pub executor_timeout_seconds: u64,
}

/// The shortest executor time-out: an executor whose slots are all busy still asks the
/// scheduler for work every 5 s (its heartbeat under pull scheduling, see
/// [`super::SCHEDULING`]); a shorter time-out would count busy executors as lost.
pub const MIN_EXECUTOR_TIMEOUT: u64 = 10;

/// The session builder of trustql's nodes, over `library`.
pub fn session_builder(library: NodeLibrary) -> SessionBuilder {
    Arc::new(move |config| library.state(config))
}

/// Runs the scheduler until the process ends.
pub async fn run(settings: SchedulerSettings) -> Result<()> {
    if settings.executor_timeout_seconds < MIN_EXECUTOR_TIMEOUT {
        return plan_err!(
            "--executor-timeout {} is too short: at least {MIN_EXECUTOR_TIMEOUT} s (a busy \
             executor asks for work every 5 s; a shorter time-out counts it as lost)",
            settings.executor_timeout_seconds
        );
    }
    let addr: SocketAddr = format!("{}:{}", settings.bind_host, settings.port)
        .parse()
        .map_err(|e| {
            plan_datafusion_err!(
                "bad scheduler address {}:{}: {e}",
                settings.bind_host,
                settings.port
            )
        })?;
    let config = SchedulerConfig {
        bind_host: settings.bind_host.clone(),
        bind_port: settings.port,
        external_host: settings.external_host.clone(),
        scheduling_policy: super::SCHEDULING,
        executor_timeout_seconds: settings.executor_timeout_seconds,
        expire_dead_executor_interval_seconds: settings.executor_timeout_seconds.clamp(1, 15),
        override_session_builder: Some(session_builder(NodeLibrary::new(&settings.model_dir)?)),
        override_config_producer: Some(Arc::new(node_config)),
        ..SchedulerConfig::default()
    };
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(|e| exec_datafusion_err!("could not start the scheduler: {e}"))?;
    eprintln!(
        "trustql scheduler (Ballista {}) listening on {addr}, models in {}",
        ballista_core::BALLISTA_VERSION,
        settings.model_dir.display()
    );
    ballista_scheduler::scheduler_process::start_server(cluster, addr, Arc::new(config))
        .await
        .map_err(|e| exec_datafusion_err!("the scheduler stopped: {e}"))
}
