//! A cluster inside the calling process: Ballista's scheduler and executors on localhost ports,
//! with trustql's node sessions (`trustql --cluster local`, the tests). Plans travel through
//! gRPC and protobuf exactly as on a real cluster.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use ballista_core::serde::BallistaCodec;
use ballista_core::RuntimeProducer;
use datafusion::common::{exec_datafusion_err, plan_err, Result};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;

use super::node::{node_config, NodeLibrary};
use super::scheduler::session_builder;
use super::ClusterOptions;

/// Starts a scheduler and `executors` executors of `vcores` task slots each on the current tokio
/// runtime (they run until it ends), over the model store at `model_dir`; returns the address
/// to open sessions with.
pub async fn start(model_dir: PathBuf, executors: usize, vcores: usize) -> Result<ClusterOptions> {
    if executors == 0 || vcores == 0 {
        return plan_err!("a local cluster needs at least one executor with one task slot");
    }
    let library = NodeLibrary::new(model_dir)?;
    let addr = ballista_scheduler::standalone::new_standalone_scheduler_with_builder(
        session_builder(library.clone()),
        Arc::new(node_config),
        BallistaCodec::default(),
    )
    .await
    .map_err(|e| exec_datafusion_err!("could not start a local scheduler: {e}"))?;
    let url = format!("http://localhost:{}", addr.port());
    for _ in 0..executors {
        // The scheduler was just started: a few tries until it accepts connections.
        let mut tries = 0;
        let scheduler = loop {
            match SchedulerGrpcClient::connect(url.clone()).await {
                Ok(client) => break client,
                Err(e) if tries >= 100 => {
                    return Err(exec_datafusion_err!(
                        "the local scheduler at {url} accepts no connection: {e}"
                    ))
                }
                Err(_) => tries += 1,
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let runtime: RuntimeProducer =
            Arc::new(|_| Ok(Arc::new(RuntimeEnvBuilder::new().build()?)));
        ballista_executor::new_standalone_executor_from_builder(
            scheduler,
            vcores,
            Arc::new(node_config),
            runtime,
            BallistaCodec::default(),
            library.function_registry()?,
        )
        .await
        .map_err(|e| exec_datafusion_err!("could not start a local executor: {e}"))?;
    }
    Ok(ClusterOptions {
        scheduler: url,
        shown: format!("local ({executors} executor(s) × {vcores} slots)"),
    })
}
