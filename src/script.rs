//! Running statements, backslash commands and scripts, for `-c`, `-f`, `\i` and the REPL alike:
//! a [`Shell`] keeps what lasts between them (the print options, the script variables and the
//! files being included), so that a script does the same run with `-f`, `\i` or typed line by
//! line.
//!
//! A script is SQL statements, each ending with `;`, and backslash commands (`\i FILE`,
//! `\set NAME VALUE`, `\format csv`, ...; `\?` lists them), each on a line of its own between
//! statements. Before a statement or a command runs, every `${name}` in it is replaced by the
//! variable's value (`-v name=value` or `\set name value`); the rules, comments and the `$${`
//! escape are in [`crate::repl::variables`].
//!
//! `\i FILE` (or `\include FILE`) runs another script. A relative FILE is found in the
//! directory of the script that includes it (the current directory for `-c` and the REPL).
//! Includes nest at most [`MAX_INCLUDE_DEPTH`] deep, and a file that includes itself, directly or
//! through others, is an error. An error names the file and line of the failing statement and the
//! chain of includes that led to it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Instant;

use datafusion::error::{DataFusionError, Result};

use crate::print::{print_batches_within, Format, MaxWidth};
use crate::repl::commands::{self, Command};
use crate::repl::variables::{self, Mode, SpanKind, SubstituteError, Variables};
use crate::session::Session;
use crate::sql::split_statements;

/// How deep `\i` may nest.
pub const MAX_INCLUDE_DEPTH: usize = 16;

/// How results are printed.
#[derive(Debug, Clone)]
pub struct PrintOptions {
    pub format: Format,
    /// At most this many rows per result (`None`: all).
    pub max_rows: Option<usize>,
    /// How wide tables may be (other formats are never cut).
    pub max_width: MaxWidth,
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
            max_width: MaxWidth::Unlimited,
            quiet: false,
            timing: true,
        }
    }
}

/// A failed statement or command of a script.
#[derive(Debug)]
pub struct ScriptError {
    /// The script (a file, or `-c #N`) the failing statement or command is in; `None` when the
    /// error names its place itself, or for what is typed at the REPL's prompt.
    pub source: Option<String>,
    /// 1-based line of the script on which the failing statement or command starts (0 when
    /// not known).
    pub line: usize,
    /// "statement" or "command".
    pub what: &'static str,
    pub error: DataFusionError,
    /// `FILE:LINE` of each `\i` that led to the script, innermost first.
    pub included_from: Vec<String>,
}

impl ScriptError {
    fn new(error: DataFusionError) -> Self {
        Self {
            source: None,
            line: 0,
            what: "statement",
            error,
            included_from: Vec::new(),
        }
    }
}

impl std::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.source, self.line) {
            (Some(source), 0) => write!(f, "{source}: error: {}", self.error)?,
            (Some(source), line) => write!(
                f,
                "{source}: error in the {} at line {line}: {}",
                self.what, self.error
            )?,
            (None, _) => write!(f, "{}", self.error)?,
        }
        for at in &self.included_from {
            write!(f, "\n  included from {at}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScriptError {}

/// Text to run, and where it comes from.
#[derive(Debug, Clone)]
pub struct Source {
    /// The file's path as given, `-c #N`, or `<input>` for the REPL.
    pub name: String,
    /// The directory relative `\i` paths start from.
    pub dir: PathBuf,
    pub text: String,
    /// Whether errors name the source and line (not for what is typed at the REPL's prompt,
    /// where the error is printed right under it).
    located: bool,
}

impl Source {
    /// Reads a script file.
    pub fn file(path: &Path) -> Result<Source> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            DataFusionError::Execution(format!("cannot read {}: {e}", path.display()))
        })?;
        Ok(Source {
            name: path.display().to_string(),
            dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
            text,
            located: true,
        })
    }

    /// Statements given on the command line (`-c`); relative includes start from the current
    /// directory.
    pub fn inline(name: impl Into<String>, text: impl Into<String>) -> Source {
        Source {
            name: name.into(),
            dir: PathBuf::new(),
            text: text.into(),
            located: true,
        }
    }

    /// What is typed at the REPL's prompt.
    pub fn interactive(text: impl Into<String>) -> Source {
        Source {
            located: false,
            ..Source::inline("<input>", text)
        }
    }
}

/// Whether to go on after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// `\q`: stop.
    Quit,
}

/// One piece of a script, with its byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece<'t> {
    /// Statements (and comments) between commands.
    Sql(&'t str, usize),
    /// A backslash command's line.
    Command(&'t str, usize),
    /// A backslash command inside an unfinished statement.
    Misplaced(usize),
}

/// Cuts a script into statements and backslash commands: a command is a line whose first
/// non-blank character is `\`, outside strings and comments, after a finished statement.
fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut from = 0;
    'script: while from < text.len() {
        let rest = &text[from..];
        // Whether text of a statement not yet ended with `;` came before.
        let mut pending = false;
        for (kind, range) in variables::spans(rest) {
            match kind {
                SpanKind::Comment => {}
                SpanKind::Quoted => pending = true,
                SpanKind::Code => {
                    for (i, c) in rest[range.clone()].char_indices() {
                        let at = range.start + i;
                        let line_start = || rest[..at].rfind('\n').map_or(0, |n| n + 1);
                        match c {
                            ';' => pending = false,
                            '\\' if rest[line_start()..at].trim().is_empty() => {
                                let line_start = line_start();
                                if pending {
                                    out.push(Piece::Misplaced(from + at));
                                    return out;
                                }
                                if !rest[..line_start].trim().is_empty() {
                                    out.push(Piece::Sql(&rest[..line_start], from));
                                }
                                let end = rest[at..].find('\n').map_or(rest.len(), |n| at + n);
                                out.push(Piece::Command(rest[at..end].trim_end(), from + at));
                                from += (end + 1).min(rest.len());
                                continue 'script;
                            }
                            c if !c.is_whitespace() => pending = true,
                            _ => {}
                        }
                    }
                }
            }
        }
        if !rest.trim().is_empty() {
            out.push(Piece::Sql(rest, from));
        }
        break;
    }
    out
}

/// Byte offset of the start of 1-based `line` of `text`.
fn line_offset(text: &str, line: usize) -> usize {
    if line <= 1 {
        return 0;
    }
    text.match_indices('\n')
        .nth(line - 2)
        .map_or(text.len(), |(i, _)| i + 1)
}

/// Runs statements and backslash commands against a session.
pub struct Shell<'a> {
    session: &'a Session,
    runtime: &'a tokio::runtime::Runtime,
    pub opts: PrintOptions,
    pub vars: Variables,
    /// Print the statements (after substitution and includes) instead of running them.
    pub dry_run: bool,
    /// The files being run, outermost first: (canonical path, name as given).
    files: Vec<(PathBuf, String)>,
    /// How many `\i` are running.
    depth: usize,
}

impl<'a> Shell<'a> {
    pub fn new(
        session: &'a Session,
        runtime: &'a tokio::runtime::Runtime,
        opts: PrintOptions,
    ) -> Self {
        Self {
            session,
            runtime,
            opts,
            vars: Variables::new(),
            dry_run: false,
            files: Vec::new(),
            depth: 0,
        }
    }

    pub fn session(&self) -> &'a Session {
        self.session
    }

    /// Runs a script file (as `-f` does).
    pub fn run_file(&mut self, path: &Path, out: &mut dyn Write) -> Result<Flow, ScriptError> {
        let source = Source::file(path).map_err(ScriptError::new)?;
        self.run_in_file(path, &source, out)
    }

    /// Runs `source`, read from `path`, keeping track of the files being run.
    fn run_in_file(
        &mut self,
        path: &Path,
        source: &Source,
        out: &mut dyn Write,
    ) -> Result<Flow, ScriptError> {
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        self.files.push((canonical, source.name.clone()));
        let result = self.run_source(source, out);
        self.files.pop();
        result
    }

    /// Runs every statement and command of `source` in order, stopping at the first failure
    /// or at `\q`.
    pub fn run_source(
        &mut self,
        source: &Source,
        out: &mut dyn Write,
    ) -> Result<Flow, ScriptError> {
        for piece in pieces(&source.text) {
            match piece {
                Piece::Sql(text, offset) => self.run_sql(source, text, offset, out)?,
                Piece::Command(text, offset) => {
                    if self.run_command(source, text, offset, out)? == Flow::Quit {
                        return Ok(Flow::Quit);
                    }
                }
                Piece::Misplaced(offset) => {
                    let (line, _) = variables::line_column(&source.text, offset);
                    return Err(self.located(
                        source,
                        line,
                        "command",
                        DataFusionError::Plan(
                            "a backslash command must be on a line of its own after a finished \
                             statement: end the statement before it with ';'"
                                .to_string(),
                        ),
                    ));
                }
            }
        }
        Ok(Flow::Continue)
    }

    /// An error of the statement or command at `line` of `source`.
    fn located(
        &self,
        source: &Source,
        line: usize,
        what: &'static str,
        error: DataFusionError,
    ) -> ScriptError {
        ScriptError {
            source: source.located.then(|| source.name.clone()),
            line,
            what,
            error,
            included_from: Vec::new(),
        }
    }

    /// The error of a `${...}` that could not be replaced, at `offset` + its offset.
    fn substitute_error(&self, source: &Source, offset: usize, e: SubstituteError) -> ScriptError {
        let (at, message) = match e {
            SubstituteError::Undefined { name, offset: o } => (
                offset + o,
                format!(
                    "undefined variable ${{{name}}}; define it with -v {name}=VALUE or \\set {name} VALUE"
                ),
            ),
            SubstituteError::Malformed { offset: o } => (
                offset + o,
                "'${' must start a variable reference ${name} (a letter or '_', then letters, \
                 digits or '_'); write '$${' for a literal '${'"
                    .to_string(),
            ),
        };
        let (line, column) = variables::line_column(&source.text, at);
        ScriptError::new(DataFusionError::Plan(format!(
            "{}:{line}:{column}: {message}",
            source.name
        )))
    }

    /// Runs the statements of `text`, which starts at byte `offset` of `source`.
    fn run_sql(
        &mut self,
        source: &Source,
        text: &str,
        offset: usize,
        out: &mut dyn Write,
    ) -> Result<(), ScriptError> {
        let expanded = variables::substitute(text, &self.vars, Mode::Sql)
            .map_err(|e| self.substitute_error(source, offset, e))?;
        let first_line = variables::line_column(&source.text, offset).0;
        let statements = split_statements(&expanded.text)
            .map_err(|error| self.located(source, first_line, "statement", error))?;
        for s in statements {
            let at = offset + expanded.original_offset(line_offset(&expanded.text, s.line));
            let line = variables::line_column(&source.text, at).0;
            if self.dry_run {
                writeln!(out, "{};", s.text).map_err(|e| {
                    self.located(
                        source,
                        line,
                        "statement",
                        DataFusionError::External(Box::new(e)),
                    )
                })?;
                continue;
            }
            self.runtime
                .block_on(run_statement(self.session, &s.text, &self.opts, out))
                .map_err(|error| self.located(source, line, "statement", error))?;
        }
        Ok(())
    }

    /// Runs the command line `text`, at byte `offset` of `source`.
    fn run_command(
        &mut self,
        source: &Source,
        text: &str,
        offset: usize,
        out: &mut dyn Write,
    ) -> Result<Flow, ScriptError> {
        let line = variables::line_column(&source.text, offset).0;
        let expanded = variables::substitute(text, &self.vars, Mode::Command)
            .map_err(|e| self.substitute_error(source, offset, e))?;
        let command = Command::parse(&expanded.text)
            .map_err(|error| self.located(source, line, "command", error))?;
        if let Command::Include(file) = command {
            return self.include(source, line, &file, out);
        }
        let keeps_going = matches!(command, Command::Set(_) | Command::Unset(_) | Command::Quit);
        if self.dry_run && !keeps_going {
            writeln!(out, "{}", expanded.text.trim()).map_err(|e| {
                self.located(
                    source,
                    line,
                    "command",
                    DataFusionError::External(Box::new(e)),
                )
            })?;
            return Ok(Flow::Continue);
        }
        self.execute(command, out)
            .map_err(|error| self.located(source, line, "command", error))
    }

    /// `\i file`, at `line` of `source`.
    fn include(
        &mut self,
        source: &Source,
        line: usize,
        file: &str,
        out: &mut dyn Write,
    ) -> Result<Flow, ScriptError> {
        let path = source.dir.join(file);
        let fail = |shell: &Self, message: String| {
            shell.located(source, line, "command", DataFusionError::Plan(message))
        };
        let canonical = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if let Some(i) = self.files.iter().position(|(p, _)| *p == canonical) {
            let chain: Vec<&str> = self.files[i..].iter().map(|(_, n)| n.as_str()).collect();
            return Err(fail(
                self,
                format!("include cycle: {} → {}", chain.join(" → "), path.display()),
            ));
        }
        if self.depth >= MAX_INCLUDE_DEPTH {
            return Err(fail(
                self,
                format!(
                    "\\i nests more than {MAX_INCLUDE_DEPTH} files deep (at {})",
                    path.display()
                ),
            ));
        }
        let child =
            Source::file(&path).map_err(|error| self.located(source, line, "command", error))?;
        self.depth += 1;
        let result = self.run_in_file(&path, &child, out);
        self.depth -= 1;
        result.map_err(|mut e| {
            if source.located {
                e.included_from.push(format!("{}:{line}", source.name));
            }
            e
        })
    }

    /// Runs a parsed command (`\i` goes through [`Shell::run_source`], which knows the
    /// including script).
    pub fn execute(&mut self, command: Command, out: &mut dyn Write) -> Result<Flow> {
        let io = |e: std::io::Error| DataFusionError::External(Box::new(e));
        match command {
            Command::Quit => return Ok(Flow::Quit),
            Command::Help => write!(out, "{}", commands::help_text()).map_err(io)?,
            Command::ListTables => self.sql(commands::LIST_TABLES_SQL, out)?,
            Command::Describe(name) => self.sql(&format!("DESCRIBE {name}"), out)?,
            Command::Models => self.sql("SHOW MODELS", out)?,
            Command::ListFunctions => {
                write!(out, "{}", commands::function_list(self.session)).map_err(io)?
            }
            Command::FunctionHelp(name) => match commands::documentation(self.session, &name) {
                Some(doc) => {
                    write!(out, "{}", commands::format_documentation(&name, &doc)).map_err(io)?
                }
                None => {
                    return Err(DataFusionError::Plan(format!(
                        "no function named '{name}' (\\h lists trustql functions)"
                    )))
                }
            },
            Command::Timing(on) => self.opts.timing = on.unwrap_or(!self.opts.timing),
            Command::Format(None) => writeln!(out, "format: {}", self.opts.format).map_err(io)?,
            Command::Format(Some(format)) => self.opts.format = format,
            Command::MaxRows(n) => self.opts.max_rows = (n > 0).then_some(n),
            Command::MaxWidth(None) => {
                writeln!(out, "maxwidth: {}", self.opts.max_width).map_err(io)?
            }
            Command::MaxWidth(Some(width)) => self.opts.max_width = width,
            Command::Set(None) => {
                for (name, value) in self.vars.iter() {
                    writeln!(out, "{name} = {value}").map_err(io)?;
                }
            }
            Command::Set(Some((name, value))) => self
                .vars
                .set(&name, &value)
                .map_err(DataFusionError::Plan)?,
            Command::Unset(name) => {
                self.vars.unset(&name);
            }
            Command::Include(file) => {
                // Not from a script: relative to the current directory.
                let source = Source::interactive(String::new());
                return self
                    .include(&source, 0, &file, out)
                    .map_err(|e| DataFusionError::Plan(e.to_string()));
            }
            Command::Plot { path, options } => {
                let batch = self.session.plot_last(&path, &options)?;
                print_batches_within(
                    out,
                    &batch.schema(),
                    std::slice::from_ref(&batch),
                    self.opts.format,
                    self.opts.max_rows,
                    self.opts.max_width.columns(),
                )?;
            }
        }
        Ok(Flow::Continue)
    }

    /// Runs one statement of a command.
    fn sql(&self, sql: &str, out: &mut dyn Write) -> Result<()> {
        self.runtime
            .block_on(run_statement(self.session, sql, &self.opts, out))
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
    print_batches_within(
        out,
        &schema,
        &batches,
        opts.format,
        opts.max_rows,
        opts.max_width.columns(),
    )?;
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
