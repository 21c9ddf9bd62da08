//! One job on the cluster: submit a physical plan to the scheduler, wait for it, stream its
//! result from the executors that hold it. A job whose result is no longer wanted (the statement
//! was cancelled with Ctrl-C, or dropped) is cancelled on the scheduler, so that the cluster
//! stops working on it too.
//!
//! Ballista's own `execute_physical_plan` does the same but keeps the job's id to itself and
//! leaves a dropped job running; this is the same protocol (`ExecuteQuery` with the version
//! header, `GetJobStatus` every 50 ms, Arrow Flight fetches of the final partitions) with the
//! cancellation added.

use std::time::Duration;

use ballista_core::client::BallistaClient;
use ballista_core::config::BallistaConfig;
use ballista_core::serde::protobuf::execute_query_params::Query;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use ballista_core::serde::protobuf::{
    execute_query_result, job_status, CancelJobParams, ExecuteQueryParams, GetJobStatusParams,
    KeyValuePair, PartitionLocation,
};
use ballista_core::utils::GrpcClientConfig;
use datafusion::arrow::array::RecordBatch;
use datafusion::common::{exec_datafusion_err, exec_err, Result};
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::prelude::SessionConfig;
use futures::{Stream, StreamExt, TryStreamExt};

/// How often the job's status is asked for.
const POLL: Duration = Duration::from_millis(50);

/// How often a job that has not ended says so on the session's progress output.
const PROGRESS: Duration = Duration::from_secs(10);

/// What a job needs besides its plan.
pub struct JobRequest {
    /// The scheduler's gRPC address (`http://host:port`) and how the user wrote it.
    pub scheduler: String,
    pub shown: String,
    /// This client session's id on the scheduler.
    pub session_id: String,
    /// The protobuf-encoded physical plan.
    pub plan: Vec<u8>,
    /// The session's settings (every `datafusion.*`, `ballista.*` and `trustql.*` key).
    pub config: SessionConfig,
    pub ballista: BallistaConfig,
    /// Where a failed cancellation is told (the session's progress output).
    pub notice: Option<crate::ProgressFn>,
}

/// How long a cancellation may wait for the scheduler.
const CANCEL_WAIT: Duration = Duration::from_secs(5);

/// Cancels the job on the scheduler when dropped before [`CancelOnDrop::disarm`].
///
/// The cancellation is sent before `drop` returns (on a thread of its own, waiting at most
/// [`CANCEL_WAIT`]), not left to a task: a CLI that stops on Ctrl-C exits right after dropping
/// the statement, and a task spawned then would never run, leaving the job working on the
/// cluster.
struct CancelOnDrop {
    /// The scheduler's gRPC address and how the user wrote it.
    scheduler: String,
    shown: String,
    job_id: Option<String>,
    notice: Option<crate::ProgressFn>,
}

impl CancelOnDrop {
    fn disarm(&mut self) {
        self.job_id = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        let Some(job_id) = self.job_id.take() else {
            return;
        };
        // A runtime of its own: the statement's runtime may be shutting down, or be a
        // current-thread one that this (blocked) thread runs.
        let (scheduler, shown) = (self.scheduler.clone(), self.shown.clone());
        let sent = std::thread::Builder::new()
            .name("trustql-cancel".to_string())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())?;
                runtime.block_on(async {
                    let cancel = async {
                        let mut client = SchedulerGrpcClient::connect(scheduler)
                            .await
                            .map_err(|e| e.to_string())?;
                        client
                            .cancel_job(CancelJobParams {
                                job_id: job_id.clone(),
                            })
                            .await
                            .map_err(|e| e.message().to_string())?;
                        Ok::<_, String>(())
                    };
                    match tokio::time::timeout(CANCEL_WAIT, cancel).await {
                        Ok(Ok(())) => {
                            log::info!("cancelled cluster job {job_id} on {shown}");
                            Ok(())
                        }
                        Ok(Err(e)) => Err(format!("could not cancel cluster job {job_id} on {shown}: {e}")),
                        Err(_) => Err(format!(
                            "could not cancel cluster job {job_id}: {shown} did not answer in {CANCEL_WAIT:?}"
                        )),
                    }
                })
            })
            .map_err(|e| e.to_string())
            .and_then(|thread| thread.join().unwrap_or_else(|_| Err("the cancelling thread panicked".to_string())));
        if let Err(e) = sent {
            log::warn!("{e}");
            if let Some(notice) = &self.notice {
                notice(&e);
            }
        }
    }
}

/// Runs the job and returns its result's batches, in the order of the final stage's partitions.
pub async fn run(request: JobRequest) -> Result<impl Stream<Item = Result<RecordBatch>> + Send> {
    let max = request.ballista.grpc_client_max_message_size();
    let shown = request.shown.clone();
    let mut client = SchedulerGrpcClient::connect(request.scheduler.clone())
        .await
        .map_err(|e| exec_datafusion_err!("cannot reach the cluster's scheduler at {shown}: {e}"))?
        .max_encoding_message_size(max)
        .max_decoding_message_size(max);
    let settings = request
        .config
        .options()
        .entries()
        .into_iter()
        .map(|e| KeyValuePair {
            key: e.key,
            value: e.value,
        })
        .collect();
    let mut submit = tonic::Request::new(ExecuteQueryParams {
        session_id: request.session_id.clone(),
        settings,
        operation_id: uuid::Uuid::new_v4().to_string(),
        query: Some(Query::PhysicalPlan(request.plan)),
    });
    ballista_core::version::insert_version_header(submit.metadata_mut());
    let submitted = client
        .execute_query(submit)
        .await
        .map_err(|e| {
            exec_datafusion_err!("the scheduler at {shown} refused the job: {}", e.message())
        })?
        .into_inner();
    let job_id = match submitted.result {
        Some(execute_query_result::Result::Success(s)) => s.job_id,
        Some(execute_query_result::Result::Failure(f)) => {
            return exec_err!("the scheduler at {shown} refused the job: {:?}", f.failure)
        }
        None => return exec_err!("the scheduler at {shown} answered the job with nothing"),
    };
    let mut guard = CancelOnDrop {
        scheduler: request.scheduler.clone(),
        shown: shown.clone(),
        job_id: Some(job_id.clone()),
        notice: request.notice.clone(),
    };
    let started = std::time::Instant::now();
    let mut told = Duration::ZERO;
    let locations = loop {
        let status = client
            .get_job_status(GetJobStatusParams {
                job_id: job_id.clone(),
            })
            .await
            .map_err(|e| {
                exec_datafusion_err!(
                    "lost the scheduler at {shown} during job {job_id}: {}",
                    e.message()
                )
            })?
            .into_inner()
            .status
            .and_then(|s| s.status);
        match status {
            None | Some(job_status::Status::Queued(_)) | Some(job_status::Status::Running(_)) => {
                // A long job says it is still going (Ballista's status carries no task counts).
                let waited = started.elapsed();
                if waited >= told + PROGRESS {
                    told = waited;
                    if let Some(notice) = &request.notice {
                        let state = match status {
                            Some(job_status::Status::Running(_)) => "running",
                            _ => "queued",
                        };
                        notice(&format!(
                            "cluster job {job_id} on {shown}: {state}, {} s so far",
                            waited.as_secs()
                        ));
                    }
                }
                tokio::time::sleep(POLL).await
            }
            Some(job_status::Status::Failed(f)) => {
                guard.disarm();
                return exec_err!("cluster job {job_id} failed: {}", f.error);
            }
            Some(job_status::Status::Successful(s)) => {
                guard.disarm();
                break s.partition_location;
            }
        }
    };
    let grpc = GrpcClientConfig::from(&request.ballista);
    let fetches = locations.into_iter().map(move |location| {
        futures::stream::once(fetch(location, max, grpc.clone())).try_flatten()
    });
    Ok(futures::stream::iter(fetches).flatten())
}

/// One partition of a finished job's result, from the executor that holds it.
async fn fetch(
    location: PartitionLocation,
    max: usize,
    grpc: GrpcClientConfig,
) -> Result<SendableRecordBatchStream> {
    let layout = location.layout();
    let (Some(executor), Some(partition)) = (location.executor_meta, location.partition_id) else {
        return exec_err!("the scheduler gave a result partition without its executor");
    };
    let port = u16::try_from(executor.port)
        .map_err(|_| exec_datafusion_err!("executor {} has port {}", executor.id, executor.port))?;
    let mut client = BallistaClient::try_new(
        &executor.host,
        port,
        max,
        false,
        None,
        grpc.io_retries_times,
        grpc.io_retry_wait_time_ms,
        0,
        0,
    )
    .await
    .map_err(|e| {
        exec_datafusion_err!(
            "cannot reach executor {} at {}:{port} for a result: {e}",
            executor.id,
            executor.host
        )
    })?;
    client
        .fetch_partition(
            &executor.id,
            &partition.into(),
            location.file_id,
            layout,
            true,
        )
        .await
        .map_err(|e| e.into_datafusion())
}
