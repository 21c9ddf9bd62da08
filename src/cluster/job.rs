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
use tonic::transport::Channel;

/// How often the job's status is asked for.
const POLL: Duration = Duration::from_millis(50);

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
}

/// Cancels the job on the scheduler when dropped before [`CancelOnDrop::disarm`].
struct CancelOnDrop {
    scheduler: SchedulerGrpcClient<Channel>,
    job_id: Option<String>,
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
        let mut scheduler = self.scheduler.clone();
        // Dropped inside the runtime that ran the statement; without one there is no job left
        // to reach.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let params = CancelJobParams {
                    job_id: job_id.clone(),
                };
                if let Err(e) = scheduler.cancel_job(params).await {
                    log::warn!("could not cancel cluster job {job_id}: {}", e.message());
                }
            });
        }
    }
}

/// Runs the job and returns its result's batches, in the order of the final stage's partitions.
pub async fn run(request: JobRequest) -> Result<impl Stream<Item = Result<RecordBatch>> + Send> {
    let max = request.ballista.grpc_client_max_message_size();
    let shown = request.shown.clone();
    let scheduler = SchedulerGrpcClient::connect(request.scheduler.clone())
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
    let mut client = scheduler.clone();
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
        scheduler,
        job_id: Some(job_id.clone()),
    };
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
