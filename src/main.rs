//! The `trustql` command: a REPL, or scripts and statements run from the command line.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use trustql::print::Format;
use trustql::repl::Repl;
use trustql::script::{run_script, PrintOptions};
use trustql::{Session, SessionOptions};

/// SQL for machine-learning trustworthiness experiments.
#[derive(Parser, Debug)]
#[command(name = "trustql", version, about)]
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

    /// Model store directory.
    #[arg(long = "models", value_name = "DIR", default_value = trustql::DEFAULT_MODEL_DIR)]
    models: PathBuf,

    /// Quiet: print results only (no row counts, timings or progress).
    #[arg(short, long)]
    quiet: bool,
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

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
}

fn main() -> ExitCode {
    tune_allocator();
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
    // Work cancelled with Ctrl-C may still be winding down; do not wait for it.
    runtime.shutdown_background();
    code
}

fn run(args: Args, runtime: &tokio::runtime::Runtime) -> ExitCode {
    let progress: Option<trustql::ProgressFn> = if args.quiet {
        None
    } else {
        Some(Arc::new(|line: &str| eprintln!("{line}")))
    };
    let session = match Session::with_options(SessionOptions {
        model_dir: args.models.clone(),
        progress,
    }) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("trustql: {e}");
            return ExitCode::FAILURE;
        }
    };
    let interactive = args.files.is_empty() && args.commands.is_empty();
    if let Err(e) = trustql::interrupt::install(!interactive) {
        eprintln!("trustql: {e}");
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
        quiet: args.quiet,
        timing: true,
    };
    if interactive {
        return match Repl::new(&session, opts).run(runtime) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("trustql: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let mut stdout = std::io::stdout();
    for (i, command) in args.commands.iter().enumerate() {
        if let Err(e) = runtime.block_on(run_script(&session, command, &opts, &mut stdout)) {
            eprintln!("-c #{}: {e}", i + 1);
            return ExitCode::FAILURE;
        }
    }
    for file in &args.files {
        let script = match std::fs::read_to_string(file) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("trustql: cannot read {}: {e}", file.display());
                return ExitCode::FAILURE;
            }
        };
        if let Err(e) = runtime.block_on(run_script(&session, &script, &opts, &mut stdout)) {
            eprintln!("{}: {e}", file.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
