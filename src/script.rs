//! Running statements and scripts and printing their results, shared by `-c`, `-f`, the REPL
//! and `\i`.

use std::io::Write;
use std::sync::atomic::Ordering;
use std::time::Instant;

use datafusion::error::{DataFusionError, Result};

use crate::print::{print_batches, Format};
use crate::session::Session;
use crate::sql::split_statements;

/// How results are printed.
#[derive(Debug, Clone)]
pub struct PrintOptions {
    pub format: Format,
    /// At most this many rows per result (`None`: all).
    pub max_rows: Option<usize>,
    /// No row counts, timings or progress.
    pub quiet: bool,
    /// Print the elapsed time after each result.
    pub timing: bool,
}

impl Default for PrintOptions {
    fn default() -> Self {
        Self {
            format: Format::Table,
            max_rows: None,
            quiet: false,
            timing: true,
        }
    }
}

/// A failed statement of a script.
#[derive(Debug)]
pub struct ScriptError {
    /// 1-based line of the script on which the failing statement starts (0 when the script could
    /// not be split into statements).
    pub line: usize,
    pub error: DataFusionError,
}

impl std::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line > 0 {
            write!(
                f,
                "error in the statement at line {}: {}",
                self.line, self.error
            )
        } else {
            write!(f, "error: {}", self.error)
        }
    }
}

/// Runs one statement, printing its result to `out` and the row count and time to stderr.
/// Ctrl-C stops the statement (and any training it runs) with an error, not the process.
pub async fn run_statement(
    session: &Session,
    sql: &str,
    opts: &PrintOptions,
    out: &mut dyn Write,
) -> Result<()> {
    let start = Instant::now();
    // The statement runs as its own task: a CPU-bound plan never yields to this function, so
    // Ctrl-C is watched here while the work runs elsewhere, and aborted when it arrives.
    let worker = session.clone();
    let text = sql.to_string();
    let mut work = tokio::spawn(async move {
        let df = worker.sql(&text).await?;
        let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
        let batches = df.collect().await?;
        Ok::<_, DataFusionError>((schema, batches))
    });
    let cancel = session.cancel_flag();
    let running = crate::interrupt::Running::start();
    let (schema, batches) = tokio::select! {
        r = &mut work => r.map_err(|e| DataFusionError::Execution(format!("the statement stopped unexpectedly: {e}")))??,
        _ = running.interrupted() => {
            cancel.store(true, Ordering::Relaxed);
            work.abort();
            return Err(DataFusionError::Execution("cancelled (Ctrl-C)".to_string()));
        }
    };
    drop(running);
    // COPY's result (a row count or a figure's description) is not worth drawing.
    let copy = sql
        .trim_start()
        .get(..4)
        .is_some_and(|w| w.eq_ignore_ascii_case("copy"));
    if !schema.fields().is_empty() && !copy {
        session.set_last_result(crate::session::LastResult {
            schema: schema.clone(),
            batches: batches.clone(),
        });
    }
    let total: usize = batches.iter().map(|b| b.num_rows()).sum();
    print_batches(out, &schema, &batches, opts.format, opts.max_rows)?;
    out.flush()
        .map_err(|e| DataFusionError::External(Box::new(e)))?;
    if !opts.quiet && !schema.fields().is_empty() {
        let rows = if total == 1 {
            "1 row".to_string()
        } else {
            format!("{total} rows")
        };
        if opts.timing {
            eprintln!("{rows} in {:.3} s", start.elapsed().as_secs_f64());
        } else {
            eprintln!("{rows}");
        }
    } else if !opts.quiet && opts.timing {
        eprintln!("OK in {:.3} s", start.elapsed().as_secs_f64());
    }
    Ok(())
}

/// Runs every statement of `script` in order, stopping at the first failure.
pub async fn run_script(
    session: &Session,
    script: &str,
    opts: &PrintOptions,
    out: &mut dyn Write,
) -> std::result::Result<(), ScriptError> {
    let statements = split_statements(script).map_err(|error| ScriptError { line: 0, error })?;
    for s in statements {
        run_statement(session, &s.text, opts, out)
            .await
            .map_err(|error| ScriptError {
                line: s.line,
                error,
            })?;
    }
    Ok(())
}
