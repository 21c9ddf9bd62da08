//! The `trustql` command: a REPL, or scripts and statements run from the command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use trustql::print::{Format, MaxWidth};
use trustql::repl::variables::{parse_assignment, Variables};
use trustql::repl::Repl;
use trustql::script::{Flow, PrintOptions, ScriptError, Shell, Source};
use trustql::status::{StatusMode, StatusOutput};
use trustql::{Session, SessionOptions};

const AFTER_HELP: &str = "\
Scripts:
  A script is SQL statements ending with ';' and backslash commands, each on a line of its own
  between statements (\\? in the REPL lists them). -c takes the same text as a script.

  -v NAME=VALUE (or \\set NAME VALUE in a script) defines a variable: ${NAME} in later
  statements and commands is replaced by VALUE before the statement is read, everywhere except
  in comments (-- and /* */), including inside quotes; the value is inserted as it is, so write
  '${NAME}' for a string. $${ stands for a literal ${. An undefined variable is an error that
  names the file, line and column.

  \\i FILE (or \\include FILE) runs another script; a relative FILE is found in the directory
  of the script that includes it (the current directory for -c and the REPL). Includes nest at
  most 16 deep; a file that includes itself is an error.

  Example: trustql -v dataset=lastfm -c 'SELECT * FROM ${dataset}_results'

Width:
  Tables wider than the terminal are fitted to it: long values are cut with '…', and if that
  is not enough, middle columns are left out (a note names them). Output to a file or a pipe,
  and the csv, json, ndjson and markdown formats, are never cut. --maxwidth N sets the limit
  (0 = none); \\maxwidth N|auto changes it in the REPL.";

/// SQL for machine-learning trustworthiness experiments.
#[derive(Parser, Debug)]
#[command(name = "trustql", version, about, after_help = AFTER_HELP)]
struct Args {
    /// Run the statements of a SQL script, stopping at the first failing one (repeatable).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    files: Vec<PathBuf>,

    /// Run SQL statements (repeatable; run before any -f files).
    #[arg(short = 'c', long = "command", value_name = "SQL")]
    commands: Vec<String>,

    /// Output format: table, csv, json, ndjson or markdown.
    #[arg(long, default_value = "table", value_parser = parse_format)]
    format: Format,

    /// Print at most N rows of each result (0 = all). Default: 40 in the REPL, all otherwise.
    #[arg(long, value_name = "N")]
    maxrows: Option<usize>,

    /// Fit tables into N columns (0 = no limit). Default: the terminal's width when printing to
    /// a terminal, no limit otherwise.
    #[arg(long, value_name = "N")]
    maxwidth: Option<usize>,

    /// Define a script variable: ${NAME} in statements and commands becomes VALUE (repeatable).
    #[arg(short = 'v', long = "set", value_name = "NAME=VALUE", value_parser = parse_assignment)]
    variables: Vec<(String, String)>,

    /// Print the statements of the -c and -f scripts, after variables and includes are
    /// expanded, instead of running them.
    #[arg(long)]
    dry_run: bool,

    /// Model store directory (on a cluster, the same shared directory on every node).
    #[arg(long = "models", value_name = "DIR", default_value = trustql::DEFAULT_MODEL_DIR,
          global = true)]
    models: PathBuf,

    /// Quiet: print results only (no row counts, timings or progress).
    #[arg(short, long)]
    quiet: bool,

    /// Report the status of long work (rows done, rate, time left) every SECONDS (default 2)
    /// also when stderr is not a terminal, one line per report. On a terminal the status is
    /// always shown, on one line that rewrites itself; -q turns it off.
    #[arg(long, value_name = "SECONDS", num_args = 0..=1, default_missing_value = "2",
          value_parser = parse_seconds)]
    progress: Option<std::time::Duration>,

    /// Run statements on a Ballista cluster: the scheduler's address (df://host:50050), or
    /// `local` / `local:N` for a scheduler and N executors (default 1) inside this process.
    /// Needs a build with `--features cluster`.
    #[arg(long, value_name = "URL")]
    cluster: Option<String>,

    #[command(subcommand)]
    node: Option<Node>,
}

/// The processes of a cluster (built with `--features cluster`).
#[derive(clap::Subcommand, Debug)]
enum Node {
    /// Run a cluster scheduler (Ballista's, with every trustql function and setting).
    Scheduler {
        /// Address to listen on (0.0.0.0: every interface).
        #[arg(long, default_value = "0.0.0.0")]
        bind: String,
        /// gRPC port for clients and executors.
        #[arg(long, default_value_t = 50050)]
        port: u16,
        /// Host name executors and clients reach this machine by.
        #[arg(long, default_value = "localhost")]
        external_host: String,
        /// Seconds without word from an executor before it counts as lost and its tasks run
        /// again elsewhere (at least 10: a busy executor asks for work every 5 s).
        #[arg(long, value_name = "SECONDS", default_value_t = 60)]
        executor_timeout: u64,
        /// Log level: error, warn, info, debug, trace (or RUST_LOG).
        #[arg(long)]
        log_level: Option<String>,
    },
    /// Run a cluster executor; its model store (--models) must be the directory the client's
    /// models are in (a shared file system when the machines differ).
    Executor {
        /// The scheduler, host:port.
        #[arg(long, default_value = "localhost:50050")]
        scheduler: String,
        /// Address to listen on.
        #[arg(long, default_value = "0.0.0.0")]
        bind: String,
        /// Host name others reach this executor by (default: this machine's bind address).
        #[arg(long)]
        external_host: Option<String>,
        /// Arrow Flight port (results and shuffle data are fetched there).
        #[arg(long, default_value_t = 50051)]
        port: u16,
        /// Tasks run at once (default: the machine's cores).
        #[arg(long)]
        vcores: Option<usize>,
        /// Directory for shuffle files (default: a temporary one).
        #[arg(long, value_name = "DIR")]
        work_dir: Option<PathBuf>,
        /// Log level: error, warn, info, debug, trace (or RUST_LOG).
        #[arg(long)]
        log_level: Option<String>,
    },
}

fn parse_seconds(s: &str) -> Result<std::time::Duration, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..=86_400.0).contains(&v) => {
            Ok(std::time::Duration::from_secs_f64(v))
        }
        _ => Err(format!("expected seconds between 0 and 86400, got '{s}'")),
    }
}

/// Keeps freed memory of the C allocator (which libtorch and Rust both use here) for reuse.
///
/// The explainers score batches of a few thousand rows at a time, and each pass allocates and
/// frees tensors of a few to tens of megabytes. With glibc's defaults, blocks of that size are
/// mapped and unmapped on every pass (or trimmed off the heap as soon as they are freed), and the
/// kernel zeroes fresh pages each time: on Last.fm's LIME and PDP workloads that page-fault work
/// took about a fifth of the run time. A fixed mmap threshold of 32 MiB (glibc's maximum) and a
/// trim threshold of 1 GiB keep those blocks on the heap; the cost is that up to 1 GiB of freed
/// memory may stay with the process instead of going back to the system.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is called before any other thread
    // exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}

/// Seconds between two returns of the C allocator's free memory to the system.
const TRIM_EVERY_SECS: u64 = 5;

/// Returns the C allocator's free memory to the system every [`TRIM_EVERY_SECS`] seconds, from a
/// thread of its own.
///
/// [`tune_allocator`] keeps freed blocks for reuse, and glibc keeps them per arena (one per
/// thread that allocated, up to eight per core): over a long statement the freed-but-kept memory
/// of all arenas grew without bound (the full Last.fm explainer run held 2.4 GB after its iNN
/// statement, whose live data are a few hundred megabytes). `malloc_trim` gives back every
/// arena's whole free pages; done every few seconds rather than after every free, it costs the
/// fresh-page work of [`tune_allocator`]'s note at most once per interval, not once per pass.
fn start_allocator_trimming() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let spawned = std::thread::Builder::new()
            .name("malloc-trim".to_string())
            .spawn(|| loop {
                std::thread::sleep(std::time::Duration::from_secs(TRIM_EVERY_SECS));
                // SAFETY: malloc_trim is thread-safe and only returns free memory to the system.
                unsafe {
                    libc::malloc_trim(0);
                }
            });
        // Without the thread the process only keeps more memory: nothing to report.
        drop(spawned);
    }
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
}

fn main() -> ExitCode {
    tune_allocator();
    start_allocator_trimming();
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("trustql: could not start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = run(args, &runtime);
    // Work cancelled with Ctrl-C may still be winding down on a blocking thread (training stops
    // at its next mini-batch). Exiting under it tore libtorch down while the thread was inside
    // it, and the process died of a segmentation fault instead of exiting with its code; so the
    // work gets a few seconds to stop, and if it has not, the process leaves without running
    // C++ static destructors.
    let waited = std::time::Instant::now();
    runtime.shutdown_timeout(WIND_DOWN);
    if waited.elapsed() >= WIND_DOWN {
        use std::io::Write;
        let _ = std::io::stdout().flush();
        let _ = std::io::stderr().flush();
        // SAFETY: _exit ends the process at once; output is flushed above, and every file
        // trustql writes is renamed into place only when complete.
        unsafe { libc::_exit(if code == ExitCode::SUCCESS { 0 } else { 1 }) }
    }
    code
}

/// How long cancelled work may take to stop when the CLI exits.
const WIND_DOWN: std::time::Duration = std::time::Duration::from_secs(5);

fn run(args: Args, runtime: &tokio::runtime::Runtime) -> ExitCode {
    if let Some(node) = &args.node {
        return run_node(node, &args, runtime);
    }
    let output = StatusOutput::new(StatusMode::choose(args.quiet, args.progress.is_some()));
    let progress: Option<trustql::ProgressFn> = if args.quiet {
        None
    } else {
        Some(output.progress_fn())
    };
    let status = output.sink(args.progress.unwrap_or(trustql::status::DEFAULT_INTERVAL));
    let options = SessionOptions {
        model_dir: args.models.clone(),
        progress,
        status,
    };
    let session = match &args.cluster {
        None => Session::with_options(options),
        Some(address) => open_on_cluster(options, address, runtime),
    };
    let session = match session {
        Ok(s) => s,
        Err(e) => {
            eprintln!("trustql: {e}");
            return ExitCode::FAILURE;
        }
    };
    let interactive = args.files.is_empty() && args.commands.is_empty();
    // The REPL installs the handler itself (after its line editor takes SIGINT).
    if !interactive {
        if let Err(e) = trustql::interrupt::install(true) {
            eprintln!("trustql: {e}");
        }
    }
    let max_rows = match args.maxrows {
        Some(0) => None,
        Some(n) => Some(n),
        None if interactive => Some(40),
        None => None,
    };
    let opts = PrintOptions {
        format: args.format,
        max_rows,
        max_width: args
            .maxwidth
            .map_or(MaxWidth::Terminal, MaxWidth::from_columns),
        quiet: args.quiet,
        timing: true,
    };
    let mut variables = Variables::new();
    for (name, value) in &args.variables {
        if let Err(e) = variables.set(name, value) {
            eprintln!("trustql: {e}");
            return ExitCode::FAILURE;
        }
    }
    if interactive {
        if args.dry_run {
            eprintln!("trustql: --dry-run needs statements to show (-c or -f)");
            return ExitCode::FAILURE;
        }
        return match Repl::new(&session, opts)
            .with_variables(variables)
            .run(runtime)
        {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("trustql: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let mut shell = Shell::new(&session, runtime, opts);
    shell.vars = variables;
    shell.dry_run = args.dry_run;
    let mut stdout = std::io::stdout();
    let inline = args
        .commands
        .iter()
        .enumerate()
        .map(|(i, command)| Source::inline(format!("-c #{}", i + 1), command.as_str()));
    for source in inline {
        if let Some(code) = finished(shell.run_source(&source, &mut stdout)) {
            return code;
        }
    }
    for file in &args.files {
        if let Some(code) = finished(shell.run_file(file, &mut stdout)) {
            return code;
        }
    }
    ExitCode::SUCCESS
}

/// The exit code when a script ends the run: `\q` (success) or an error (reported here).
fn finished(result: Result<Flow, ScriptError>) -> Option<ExitCode> {
    match result {
        Ok(Flow::Continue) => None,
        Ok(Flow::Quit) => Some(ExitCode::SUCCESS),
        Err(e) => {
            if e.source.is_none() {
                eprintln!("trustql: {e}");
            } else {
                eprintln!("{e}");
            }
            Some(ExitCode::FAILURE)
        }
    }
}

#[cfg(not(feature = "cluster"))]
const NO_CLUSTER: &str = "this trustql was built without the cluster feature; build it with \
     `cargo build --release --features cluster`";

/// A session on the cluster at `address` (`local[:N]` starts one in this process).
#[cfg(feature = "cluster")]
fn open_on_cluster(
    options: SessionOptions,
    address: &str,
    runtime: &tokio::runtime::Runtime,
) -> datafusion::error::Result<Session> {
    // In-process nodes (`local[:N]`) log like separate ones, when asked to (RUST_LOG).
    if address.starts_with("local") {
        if let Ok(level) = std::env::var("RUST_LOG") {
            trustql::cluster::log::init(&level)
                .map_err(datafusion::error::DataFusionError::Plan)?;
        }
    }
    let cluster = runtime.block_on(trustql::cluster::ClusterOptions::open(
        address,
        &options.model_dir,
    ))?;
    Session::with_cluster(options, cluster)
}

#[cfg(not(feature = "cluster"))]
fn open_on_cluster(
    _options: SessionOptions,
    _address: &str,
    _runtime: &tokio::runtime::Runtime,
) -> datafusion::error::Result<Session> {
    Err(datafusion::error::DataFusionError::Plan(
        NO_CLUSTER.to_string(),
    ))
}

/// Runs a scheduler or an executor until the process is stopped.
#[cfg(feature = "cluster")]
fn run_node(node: &Node, args: &Args, runtime: &tokio::runtime::Runtime) -> ExitCode {
    use trustql::cluster::{executor, log, scheduler};
    let level = match node {
        Node::Scheduler { log_level, .. } | Node::Executor { log_level, .. } => log_level.clone(),
    };
    let level = level
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "warn".to_string());
    if let Err(e) = log::init(&level) {
        eprintln!("trustql: {e}");
        return ExitCode::FAILURE;
    }
    let result = match node {
        Node::Scheduler {
            bind,
            port,
            external_host,
            executor_timeout,
            ..
        } => runtime.block_on(scheduler::run(scheduler::SchedulerSettings {
            bind_host: bind.clone(),
            port: *port,
            external_host: external_host.clone(),
            model_dir: args.models.clone(),
            executor_timeout_seconds: *executor_timeout,
        })),
        Node::Executor {
            scheduler,
            bind,
            external_host,
            port,
            vcores,
            work_dir,
            ..
        } => match scheduler
            .rsplit_once(':')
            .map(|(h, p)| (h, p.parse::<u16>()))
        {
            Some((host, Ok(scheduler_port))) if !host.is_empty() => {
                runtime.block_on(executor::run(executor::ExecutorSettings {
                    scheduler_host: host.to_string(),
                    scheduler_port,
                    bind_host: bind.clone(),
                    port: *port,
                    external_host: external_host.clone(),
                    vcores: vcores.unwrap_or_else(|| {
                        std::thread::available_parallelism().map_or(1, |n| n.get())
                    }),
                    model_dir: args.models.clone(),
                    work_dir: work_dir.clone(),
                }))
            }
            _ => {
                eprintln!("trustql: bad --scheduler '{scheduler}': expected host:port");
                return ExitCode::FAILURE;
            }
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("trustql: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(not(feature = "cluster"))]
fn run_node(_node: &Node, _args: &Args, _runtime: &tokio::runtime::Runtime) -> ExitCode {
    eprintln!("trustql: {NO_CLUSTER}");
    ExitCode::FAILURE
}
