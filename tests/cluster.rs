//! The cluster (feature `cluster`, `src/cluster/`): statements on Ballista give the embedded
//! engine's results. In-process clusters (a scheduler and executors on localhost ports, plans
//! really serialised and sent through gRPC) run a sample of the `.slt` files, the settings and
//! model-store checks; separate processes (`trustql scheduler`, two `trustql executor`s) run the
//! quick explainer experiment, with one executor killed in the middle, and give the embedded
//! run's results; Ctrl-C in the client cancels its job on the scheduler.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::slt::{run_file, Open};
use datafusion::arrow::util::pretty::pretty_format_batches;
use trustql::cluster::standalone;
use trustql::{Session, SessionOptions};

/// A session on a fresh in-process cluster of two executors over `models`; the notices of parts
/// kept on the client go to `notices`.
async fn on_local_cluster(
    models: PathBuf,
    notices: Option<Arc<Mutex<Vec<String>>>>,
) -> datafusion::error::Result<Session> {
    let cluster = standalone::start(models.clone(), 2, 1).await?;
    let progress: Option<trustql::ProgressFn> = notices.map(|n| {
        Arc::new(move |line: &str| n.lock().unwrap().push(line.to_string())) as trustql::ProgressFn
    });
    Session::with_cluster(
        SessionOptions {
            model_dir: models,
            progress,
            status: None,
        },
        cluster,
    )
}

/// A session on this machine over `models`.
fn embedded(models: PathBuf) -> Session {
    Session::with_options(SessionOptions {
        model_dir: models,
        progress: None,
        status: None,
    })
    .unwrap()
}

fn local_cluster() -> Open {
    Arc::new(|models| Box::pin(on_local_cluster(models, None)))
}

async fn text(session: &Session, sql: &str) -> String {
    let batches = session
        .execute(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    pretty_format_batches(&batches).unwrap().to_string()
}

/// `.slt` files whose statements read tables and call trustql's functions (scalar, aggregate,
/// window; models trained on the client and used by the executors), run on a cluster: their
/// expected results are the embedded engine's.
const SLT_SAMPLE: &[&str] = &[
    "sql/ranking/aggregates.slt",
    "sql/ranking/lists.slt",
    "sql/models/mostpop.slt",
    "sql/recsys/eval.slt",
    "sql/explain/explainers.slt",
    "sql/audio/features.slt",
    "sql/latent/kmeans.slt",
    "sql/engine/files.slt",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slt_sample_gives_the_embedded_results_on_a_local_cluster() {
    let shared = common::shared();
    let mut failed = Vec::new();
    let only = std::env::var("TRUSTQL_SLT").ok();
    for file in SLT_SAMPLE {
        if only.as_ref().is_some_and(|o| !file.contains(o.as_str())) {
            continue;
        }
        eprintln!("{file} on a local cluster");
        if let Err(e) = run_file(&common::repo().join(file), &shared, local_cluster()).await {
            failed.push(format!("{file}:\n{e}"));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_over_tables_runs_on_the_executors_and_the_rest_stays() {
    let dir = tempfile::tempdir().unwrap();
    let notices = Arc::new(Mutex::new(Vec::new()));
    let s = on_local_cluster(dir.path().join("models"), Some(notices.clone()))
        .await
        .unwrap();
    s.execute(
        "CREATE TABLE t AS SELECT * FROM (VALUES (1, [3, 2, 1]), (2, [1, 2, 3])) AS v(id, r)",
    )
    .await
    .unwrap();
    let plan = text(&s, "EXPLAIN SELECT id, tau_ap(r, [3, 1, 2]) FROM t").await;
    assert!(
        plan.contains("ClusterExec: scheduler=http://localhost:"),
        "{plan}"
    );
    // The same statement on this machine, through DataFusion alone.
    let local = embedded(dir.path().join("models"));
    local
        .execute(
            "CREATE TABLE t AS SELECT * FROM (VALUES (1, [3, 2, 1]), (2, [1, 2, 3])) AS v(id, r)",
        )
        .await
        .unwrap();
    let q = "SELECT id, tau_ap(r, [3, 1, 2]) AS t FROM t ORDER BY id";
    assert_eq!(text(&s, q).await, text(&local, q).await);
    // A UNION stays on the client, its inputs go to the cluster, and it says so.
    let q = "SELECT id FROM t UNION ALL SELECT 7 AS id ORDER BY id";
    assert_eq!(text(&s, q).await, text(&local, q).await);
    assert!(notices
        .lock()
        .unwrap()
        .join("\n")
        .contains("UnionExec: a UNION"));
    notices.lock().unwrap().clear();
    // Constant queries stay on the client.
    let plan = text(&s, "EXPLAIN SELECT tau_ap([1, 2], [2, 1])").await;
    assert!(!plan.contains("ClusterExec"), "{plan}");
    assert!(notices.lock().unwrap().is_empty());

    // A table function's scan has no protobuf encoding: it runs on the client, and the session
    // says so.
    let wav = common::shared().join("data/audio/noise/applause.wav");
    let sql = format!("SELECT count(*) AS n FROM read_audio('{}')", wav.display());
    assert!(text(&s, &sql).await.contains("| 1 |"));
    let said = notices.lock().unwrap().join("\n");
    assert!(
        said.contains("runs on the client: ReadAudioExec: no protobuf encoding"),
        "{said}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_reach_the_executors() {
    // Ballista drops settings a node's config cannot take: `trustql.memory_limit` must arrive,
    // or the executor would take its default (half the machine) and compute.
    let dir = tempfile::tempdir().unwrap();
    let s = on_local_cluster(dir.path().join("models"), None)
        .await
        .unwrap();
    s.execute("CREATE TABLE ten AS SELECT array_repeat(0.25, 22050) AS clip")
        .await
        .unwrap();
    let q = "SELECT array_length(mfcc(clip, 22050, 20)) AS frames FROM ten";
    assert!(text(&s, &format!("EXPLAIN {q}"))
        .await
        .contains("ClusterExec"));
    assert!(text(&s, q).await.contains("| 44 "), "{}", text(&s, q).await);
    s.execute("SET trustql.memory_limit = '16KiB'")
        .await
        .unwrap();
    let e = s.execute(q).await.unwrap_err().to_string();
    assert!(e.contains("over the session's limit of 16.0 KiB"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_model_is_never_served_stale_by_the_executors() {
    let dir = tempfile::tempdir().unwrap();
    let s = on_local_cluster(dir.path().join("models"), None)
        .await
        .unwrap();
    s.execute("CREATE TABLE users AS SELECT * FROM (VALUES (1), (2)) AS u(\"user\")")
        .await
        .unwrap();
    let q = "SELECT \"user\", score('pop', \"user\", 10) AS s FROM users ORDER BY \"user\"";
    s.execute(
        "CREATE MODEL pop OPTIONS (type = 'mostpop') AS SELECT * FROM (VALUES (1, 10, 1.0), \
         (2, 10, 1.0), (1, 20, 1.0)) AS t(\"user\", item, value)",
    )
    .await
    .unwrap();
    let before = text(&s, q).await;
    s.execute(
        "CREATE OR REPLACE MODEL pop OPTIONS (type = 'mostpop') AS SELECT * FROM (VALUES \
         (1, 20, 1.0), (2, 20, 1.0), (1, 10, 1.0)) AS t(\"user\", item, value)",
    )
    .await
    .unwrap();
    let after = text(&s, q).await;
    assert_ne!(before, after, "the executors served the replaced model");
    // The same session run embedded gives the same scores.
    let local = embedded(dir.path().join("models"));
    local
        .execute("CREATE TABLE users AS SELECT * FROM (VALUES (1), (2)) AS u(\"user\")")
        .await
        .unwrap();
    assert_eq!(after, text(&local, q).await);
}

// ---- The quick explainer experiment: embedded, in-process cluster, separate processes ----

const EXPERIMENT: &str = "sql/experiments/explain_lastfm_quick.sql";

/// A working directory where the experiment's relative paths resolve: `../shared` is the shared
/// data, `results/explain/` its output.
fn workdir(root: &Path, name: &str) -> PathBuf {
    let work = root.join(name);
    std::fs::create_dir_all(work.join("results/explain")).unwrap();
    let shared = root.join("shared");
    if !shared.exists() {
        std::os::unix::fs::symlink(common::shared(), &shared).unwrap();
    }
    work
}

fn trustql(work: &Path, models: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trustql"));
    c.current_dir(work).arg("-q").arg("--models").arg(models);
    c
}

/// The experiment's client, its standard error in `work/stderr.log`.
fn run_experiment(work: &Path, models: &Path, cluster: Option<&str>) -> Child {
    let mut c = trustql(work, models);
    if let Some(url) = cluster {
        c.args(["--cluster", url]);
    }
    c.arg("-f")
        .arg(common::repo().join(EXPERIMENT))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(work.join("stderr.log")).unwrap())
        .spawn()
        .unwrap()
}

/// How long one run of the experiment may take before the test calls it hung (a debug build
/// takes one to three minutes; a Ballista job that never ends would otherwise hang the suite).
const RUN_LIMIT: Duration = Duration::from_secs(600);

/// Waits for the client in `work` to end, within [`RUN_LIMIT`]; its exit status.
fn ended(mut child: Child, work: &Path, what: &str) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what} did not end within {RUN_LIMIT:?}; its standard error:\n{}",
                stderr(work)
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn stderr(work: &Path) -> String {
    std::fs::read_to_string(work.join("stderr.log")).unwrap_or_default()
}

fn finished(child: Child, work: &Path, what: &str) {
    let status = ended(child, work, what);
    assert!(status.success(), "{what} failed:\n{}", stderr(work));
}

/// The experiment's output, as text (every value, shortest round-trip form).
async fn results(work: &Path) -> String {
    let s = embedded(work.join("unused-models"));
    let file = work.join("results/explain/lastfm_quick.parquet");
    text(
        &s,
        &format!(
            "SELECT * FROM '{}' ORDER BY recsys, dim, explainer, omega, \"user\"",
            file.display()
        ),
    )
    .await
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A process killed when the test ends, however it ends.
struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn node(models: &Path, args: &[String], log: Option<&Path>) -> Node {
    let stderr = match log {
        Some(path) => Stdio::from(std::fs::File::create(path).unwrap()),
        None => Stdio::null(),
    };
    let child = Command::new(env!("CARGO_BIN_EXE_trustql"))
        .arg("--models")
        .arg(models)
        .args(args)
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    Node(child)
}

/// The ids of the jobs the scheduler's log (at level info) names after `marker`.
fn jobs(log: &str, marker: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| l.split_once(marker))
        .map(|(_, rest)| rest.trim_end_matches(']').to_string())
        .collect()
}

/// Waits until a job submitted after this call has been running for a second on the scheduler
/// that writes `log`, while `client` (working in `work`) runs; that job's id.
fn long_job(log: &Path, client: &mut Child, work: &Path) -> String {
    let read = || std::fs::read_to_string(log).unwrap_or_default();
    let before = jobs(&read(), "Job submitted: [").len();
    let started = Instant::now();
    let mut seen: Option<String> = None;
    loop {
        assert!(
            started.elapsed() < RUN_LIMIT,
            "no job of the client ran for a second"
        );
        assert!(
            client.try_wait().unwrap().is_none(),
            "the client ended before one of its jobs ran for a second:\n{}",
            stderr(work)
        );
        let text = read();
        let done = jobs(&text, "Job finished successfully: [");
        let open = jobs(&text, "Job submitted: [")
            .into_iter()
            .skip(before)
            .find(|j| !done.contains(j));
        if let Some(job) = open.as_ref().filter(|_| open == seen) {
            return job.clone();
        }
        seen = open;
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// An executor process with one task slot, logging to `log`.
fn executor(models: &Path, scheduler: u16, log: &Path) -> Node {
    let args = [
        "executor".to_string(),
        "--scheduler".to_string(),
        format!("localhost:{scheduler}"),
        "--bind".to_string(),
        "127.0.0.1".to_string(),
        "--external-host".to_string(),
        "localhost".to_string(),
        "--port".to_string(),
        free_port().to_string(),
        "--vcores".to_string(),
        "1".to_string(),
        "--log-level".to_string(),
        "info".to_string(),
    ];
    node(models, &args, Some(log))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quick_explainer_experiment_gives_the_embedded_results_on_clusters() {
    let root = tempfile::tempdir().unwrap();
    let models = root.path().join("models");

    // Embedded, training the four models on the way.
    let embedded = workdir(root.path(), "embedded");
    finished(
        run_experiment(&embedded, &models, None),
        &embedded,
        "the embedded run",
    );
    let expected = results(&embedded).await;
    assert!(expected.lines().count() > 17_000, "{}", &expected[..500]);

    // A scheduler and two executors in the client's process.
    let local = workdir(root.path(), "local");
    finished(
        run_experiment(&local, &models, Some("local:2")),
        &local,
        "the run on local:2",
    );
    assert!(
        results(&local).await == expected,
        "local:2 differs from the embedded run"
    );

    // A scheduler and two executors as processes; one executor is killed while the experiment
    // runs, and Ballista runs its tasks again on the other.
    let port = free_port();
    let scheduler_log = root.path().join("scheduler.log");
    let _scheduler = node(
        &models,
        &[
            "scheduler".to_string(),
            "--bind".to_string(),
            "127.0.0.1".to_string(),
            "--port".to_string(),
            port.to_string(),
            "--executor-timeout".to_string(),
            "10".to_string(),
            "--log-level".to_string(),
            "info".to_string(),
        ],
        Some(&scheduler_log),
    );
    let logs = [
        root.path().join("executor1.log"),
        root.path().join("executor2.log"),
    ];
    let _first = executor(&models, port, &logs[0]);
    let mut second = executor(&models, port, &logs[1]);
    // Both executors ask the scheduler for work (so it listens too) before the client starts.
    let start = Instant::now();
    while !logs.iter().all(|log| {
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .contains("Starting poll work loop")
    }) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the executors did not start within a minute:\n{}",
            std::fs::read_to_string(&scheduler_log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let processes = workdir(root.path(), "processes");
    let url = format!("df://localhost:{port}");
    let mut client = run_experiment(&processes, &models, Some(&url));
    // The kill lands in a job that has been running for a second (the fidelity statements'
    // jobs take seconds, their tasks on both executors).
    long_job(&scheduler_log, &mut client, &processes);
    second.0.kill().unwrap();
    second.0.wait().unwrap();
    finished(
        client,
        &processes,
        "the run on the processes, an executor killed",
    );
    assert!(
        results(&processes).await == expected,
        "the processes' run differs from the embedded run"
    );
    // The scheduler noticed the loss (and so ran the lost executor's work again).
    let noticed = (0..20).any(|_| {
        let log = std::fs::read_to_string(&scheduler_log).unwrap_or_default();
        log.contains("Removing executor") || {
            std::thread::sleep(Duration::from_millis(500));
            false
        }
    });
    assert!(noticed, "the scheduler never noticed the killed executor");

    // Ctrl-C while a job runs: the client stops and the scheduler cancels the job (no task of it
    // starts any more). The signal is sent while a job has been running for a second
    // (the fidelity statements' jobs take seconds), so that it lands in one.
    let cancelled = workdir(root.path(), "cancelled");
    let mut client = run_experiment(&cancelled, &models, Some(&url));
    let running = long_job(&scheduler_log, &mut client, &cancelled);
    let pid = client.id().to_string();
    let sent = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(sent.success());
    let status = ended(client, &cancelled, "the client after Ctrl-C");
    assert!(!status.success(), "the client went on after Ctrl-C");
    assert!(
        stderr(&cancelled).contains("cancelled (Ctrl-C)"),
        "{}",
        stderr(&cancelled)
    );
    // The scheduler has cancelled the job by the time the client has exited.
    let marker = format!("Job cancelled: [{running}]");
    let noticed = (0..20).any(|_| {
        std::fs::read_to_string(&scheduler_log)
            .unwrap_or_default()
            .contains(&marker)
            || {
                std::thread::sleep(Duration::from_millis(250));
                false
            }
    });
    assert!(noticed, "the scheduler never cancelled job {running}");
}
