//! Scale-out: trustql statements run on an Apache DataFusion Ballista 55 cluster, for the
//! experiments (an explainer run for every user of a large dataset, scoring tens of millions of
//! pairs) that outgrow one machine. Built only with the `cluster` feature.
//!
//! - [`scheduler`] and [`executor`]: `trustql scheduler` and `trustql executor`, Ballista's
//!   scheduler and executor processes whose sessions hold every trustql function and the
//!   `trustql.*` settings ([`node`]).
//! - [`ship`]: the client's side. A [`crate::Session`] opened with [`ClusterOptions`]
//!   (`trustql --cluster df://host:50050`) plans every statement itself (model DDL, the model
//!   registry, table functions and in-memory tables stay on the client) and sends the physical
//!   plan of the work that reads tables to the cluster.
//! - [`standalone`]: a scheduler and executors inside the calling process, on localhost ports
//!   (`trustql --cluster local`), for trying things out and for the tests; plans really travel
//!   through gRPC and protobuf.
//!
//! Models: every node opens the model store at the path it is given (`--models`, the same shared
//! directory on every machine: NFS, EFS, a parallel file system), loads models on first use and
//! caches them; a cached model is checked against its file's identity (size, modification time,
//! inode) on every lookup, so one replaced with `CREATE OR REPLACE MODEL` on the client is read
//! again and never served stale.

pub mod executor;
pub mod job;
pub mod log;
pub mod node;
pub mod scheduler;
pub mod ship;
pub mod standalone;

use ballista_core::config::TaskSchedulingPolicy;
use ballista_core::extension::SessionConfigExt;
use datafusion::common::{plan_err, Result};
use datafusion::prelude::SessionConfig;

pub use ship::{ClusterClient, ClusterExec, ShipToCluster};

/// How tasks reach executors on every trustql cluster: executors ask the scheduler for work
/// when they have a free slot (pull), rather than the scheduler sending it to the slots it
/// counts free (push, Ballista's default).
///
/// Ballista 55's push scheduling never gives back the slots of tasks whose stage was rolled
/// back after an executor was lost, nor those of a cancelled job's tasks (apache/datafusion-
/// ballista#2418): a survivor with one slot then never gets the lost work and the job waits
/// forever (seen here with an executor killed mid-job; tests/cluster.rs), and after a Ctrl-C the
/// cluster takes no more work. Under pull each executor counts its own slots, so neither can
/// happen. The cost: a cancelled job's tasks that are already running finish their partition
/// (no new ones start), since the scheduler has no channel to interrupt them.
pub const SCHEDULING: TaskSchedulingPolicy = TaskSchedulingPolicy::PullStaged;

/// A client session's config on a cluster: `config` with Ballista's settings (so that `SET
/// ballista.*` works on the client and travels with each plan) and Ballista's restrictions on
/// DataFusion's (those its own clients get: no dynamic filters, which cannot cross stage
/// boundaries; no physical scalar subqueries; sort-merge rather than hash joins, which spill;
/// string columns as `Utf8` rather than `Utf8View`), except that round-robin repartitioning stays
/// on: [`ship`] turns it into hash shuffles.
pub fn client_config(config: SessionConfig) -> SessionConfig {
    config
        .upgrade_for_ballista()
        .with_round_robin_repartition(true)
}

/// Ballista's default scheduler port.
pub const DEFAULT_SCHEDULER_PORT: u16 = 50050;

/// Where a client session's cluster is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterOptions {
    /// The scheduler's gRPC address, `http://host:port`.
    pub scheduler: String,
    /// The address as the user gave it, for messages.
    pub shown: String,
}

impl ClusterOptions {
    /// The cluster `address` names: a scheduler's address (see [`ClusterOptions::parse`]), or
    /// `local` / `local:N`, which starts a scheduler and N executors (1 to 64) in this process,
    /// on the current tokio runtime, over the model store `model_dir`, the machine's cores
    /// shared among them.
    pub async fn open(address: &str, model_dir: &std::path::Path) -> Result<Self> {
        let executors = match address.strip_prefix("local") {
            Some("") => Some(1),
            Some(n) => n.strip_prefix(':').and_then(|n| n.parse::<usize>().ok()),
            None => None,
        };
        match executors {
            Some(n @ 1..=64) => {
                let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
                standalone::start(model_dir.to_path_buf(), n, (cores / n).max(1)).await
            }
            Some(_) => plan_err!("bad cluster '{address}': local:N takes 1 to 64 executors"),
            None => Self::parse(address),
        }
    }

    /// Reads a scheduler address: `df://host:port`, `df://host` (port 50050), `http://host:port`
    /// or `host:port`.
    pub fn parse(address: &str) -> Result<Self> {
        let shown = address.trim().to_string();
        let rest = shown
            .strip_prefix("df://")
            .or_else(|| shown.strip_prefix("http://"))
            .unwrap_or(&shown)
            .trim_end_matches('/');
        if rest.is_empty() || rest.contains('/') || rest.contains("://") {
            return plan_err!(
                "bad cluster address '{shown}': expected df://host:port (or host:port)"
            );
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') || host.ends_with(']') => {
                match port.parse::<u16>() {
                    Ok(p) if p > 0 => (host, p),
                    _ => {
                        return plan_err!(
                            "bad cluster address '{shown}': port '{port}' is not a number from \
                             1 to 65535"
                        )
                    }
                }
            }
            _ => (rest, DEFAULT_SCHEDULER_PORT),
        };
        if host.is_empty() {
            return plan_err!("bad cluster address '{shown}': no host");
        }
        Ok(Self {
            scheduler: format!("http://{host}:{port}"),
            shown,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let p = |s: &str| ClusterOptions::parse(s).map(|o| o.scheduler);
        assert_eq!(p("df://node1:50050").unwrap(), "http://node1:50050");
        assert_eq!(p("df://node1").unwrap(), "http://node1:50050");
        assert_eq!(p("http://10.0.0.2:6000/").unwrap(), "http://10.0.0.2:6000");
        assert_eq!(p("localhost:7").unwrap(), "http://localhost:7");
        for bad in [
            "",
            "df://",
            "df://h:0",
            "df://h:x",
            "df://h:70000",
            "s3://b/k",
            "df://:5",
        ] {
            let e = ClusterOptions::parse(bad).unwrap_err().to_string();
            assert!(e.contains("bad cluster address"), "{bad}: {e}");
        }
    }
}
