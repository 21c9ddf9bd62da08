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

use datafusion::common::{exec_datafusion_err, plan_err};
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

/// Why a script stopped.
#[derive(Debug)]
pub enum Cause {
    /// DataFusion or trustql refused or failed a statement or command.
    Sql(DataFusionError),
    /// The script itself is wrong: an undefined variable, an include cycle, a file that
    /// cannot be read, a command inside a statement.
    Script(String),
}

impl From<DataFusionError> for Cause {
    fn from(e: DataFusionError) -> Self {
        Cause::Sql(e)
    }
}

impl From<String> for Cause {
    fn from(message: String) -> Self {
        Cause::Script(message)
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cause::Sql(e) => write!(f, "{e}"),
            Cause::Script(message) => f.write_str(message),
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
    pub error: Cause,
    /// `FILE:LINE` of each `\i` that led to the script, innermost first.
    pub included_from: Vec<String>,
}

impl ScriptError {
    fn new(error: Cause) -> Self {
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
    pub fn file(path: &Path) -> std::result::Result<Source, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        // A byte-order mark (as some Windows editors save scripts) would hide a first-line
        // command.
        let text = match text.strip_prefix('\u{feff}') {
            Some(rest) => rest.to_string(),
            None => text,
        };
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
        let source = Source::file(path).map_err(|e| ScriptError::new(Cause::Script(e)))?;
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
                        "a backslash command must be on a line of its own after a finished \
                         statement: end the statement before it with ';'"
                            .to_string(),
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
        error: impl Into<Cause>,
    ) -> ScriptError {
        ScriptError {
            source: source.located.then(|| source.name.clone()),
            line,
            what,
            error: error.into(),
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
        ScriptError::new(Cause::Script(format!(
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
        // `./` parts add nothing to the messages that name the file.
        let path: PathBuf = source
            .dir
            .join(file)
            .components()
            .filter(|c| !matches!(c, std::path::Component::CurDir))
            .collect();
        let fail = |shell: &Self, message: String| shell.located(source, line, "command", message);
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
                    return plan_err!("no function named '{name}' (\\h lists trustql functions)")
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
    let outcome = tokio::select! {
        r = &mut work => r.map_err(|e| exec_datafusion_err!("the statement stopped unexpectedly: {e}")),
        _ = running.interrupted() => {
            cancel.store(true, Ordering::Relaxed);
            work.abort();
            // The statement stops when its task is dropped, which is also when the work it
            // started elsewhere stops (a cluster job is cancelled on its scheduler then): wait
            // for that, briefly, since the process may exit next.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), &mut work).await;
            Err(DataFusionError::Execution("cancelled (Ctrl-C)".to_string()))
        }
    };
    drop(running);
    // A status line on the terminal goes before the result or the error is printed.
    session.end_status();
    let (schema, batches) = outcome??;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SessionOptions;

    fn session(dir: &Path) -> Session {
        Session::with_options(SessionOptions {
            model_dir: dir.join("models"),
            progress: None,
            status: None,
        })
        .unwrap()
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    }

    fn csv() -> PrintOptions {
        PrintOptions {
            format: Format::Csv,
            quiet: true,
            ..PrintOptions::default()
        }
    }

    /// Runs `text` as `-c #1` (dry run or not) with `vars`; the output, or the error's text.
    fn run(text: &str, vars: &[(&str, &str)], dry_run: bool) -> Result<String, String> {
        let dir = tempfile::tempdir().unwrap();
        let (s, rt) = (session(dir.path()), runtime());
        let mut shell = Shell::new(&s, &rt, csv());
        shell.dry_run = dry_run;
        for (k, v) in vars {
            shell.vars.set(k, v).unwrap();
        }
        let mut out = Vec::new();
        let result = shell.run_source(&Source::inline("-c #1", text), &mut out);
        result
            .map(|_| String::from_utf8(out).unwrap())
            .map_err(|e| e.to_string())
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Runs the script file at `path` (dry run); the output, or the error's text.
    fn run_file(path: &Path, dry_run: bool) -> Result<String, String> {
        let dir = tempfile::tempdir().unwrap();
        let (s, rt) = (session(dir.path()), runtime());
        let mut shell = Shell::new(&s, &rt, csv());
        shell.dry_run = dry_run;
        let mut out = Vec::new();
        let result = shell.run_file(path, &mut out);
        result
            .map(|_| String::from_utf8(out).unwrap())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn scripts_are_cut_into_statements_and_commands() {
        let text = "SELECT 1;\n  \\set x 1\nSELECT '\n\\not a command';\n-- \\nor this\n\
                    /* \\nor\n\\this */ SELECT 2;\n\\q";
        let got = pieces(text);
        assert_eq!(
            got,
            vec![
                Piece::Sql("SELECT 1;\n", 0),
                Piece::Command("\\set x 1", 12),
                Piece::Sql(&text[21..text.len() - 2], 21),
                Piece::Command("\\q", text.len() - 2),
            ]
        );
        // A command inside an unfinished statement.
        assert_eq!(pieces("SELECT 1\n\\i x.sql\n;"), vec![Piece::Misplaced(9)]);
        // A backslash after other text on its line is SQL (DataFusion will refuse it).
        assert_eq!(
            pieces("SELECT 1; \\q"),
            vec![Piece::Sql("SELECT 1; \\q", 0)]
        );
    }

    #[test]
    fn variables_are_replaced_before_statements_are_split() {
        let out = run(
            "\\set t (VALUES (1), (2)) AS v(x)\nSELECT sum(x) AS s FROM ${t}; SELECT '${name}' AS n",
            &[("name", "a;b")],
            false,
        )
        .unwrap();
        assert_eq!(out, "s\n3\nn\na;b\n");
        // Dry run: the statements, expanded, one after the other.
        let out = run(
            "-- ${not_needed} in a comment\nSELECT ${x} /* ${nor_here} */ + 1;\n\\set x 2\nSELECT ${x};",
            &[("x", "1")],
            true,
        )
        .unwrap();
        assert_eq!(out, "SELECT 1 /* ${nor_here} */ + 1;\nSELECT 2;\n");
        // \unset, and a value that refers to another variable when it is set.
        let out = run(
            "\\set a 1\n\\set b ${a}0\n\\unset a\nSELECT ${b};",
            &[],
            true,
        )
        .unwrap();
        assert_eq!(out, "SELECT 10;\n");
        let e = run("\\set a 1\n\\unset a\nSELECT ${a};", &[], true).unwrap_err();
        assert!(e.contains("-c #1:3:8: undefined variable ${a}"), "{e}");
    }

    #[test]
    fn an_undefined_variable_names_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let script = write(
            dir.path(),
            "s.sql",
            "SELECT 1;\n-- ${fine}\nSELECT 'ünï', ${dataset}_x FROM t;\n",
        );
        let e = run_file(&script, false).unwrap_err();
        let expected = format!(
            "{}:3:15: undefined variable ${{dataset}}; define it with -v dataset=VALUE or \\set dataset VALUE",
            script.display()
        );
        assert_eq!(e, expected);
        let e = run("SELECT ${x", &[], true).unwrap_err();
        assert!(
            e.starts_with("-c #1:1:8: '${' must start a variable reference"),
            "{e}"
        );
        // In a command too.
        let e = run("SELECT 1;\n\\i ${nope}.sql", &[], true).unwrap_err();
        assert!(
            e.starts_with("-c #1:2:4: undefined variable ${nope}"),
            "{e}"
        );
    }

    #[test]
    fn a_byte_order_mark_does_not_hide_a_first_line_command() {
        let dir = tempfile::tempdir().unwrap();
        let script = write(dir.path(), "bom.sql", "\u{feff}\\set x 1\nSELECT ${x};\n");
        assert_eq!(run_file(&script, true).unwrap(), "SELECT 1;\n");
    }

    #[test]
    fn includes_are_relative_to_the_including_script() {
        let dir = tempfile::tempdir().unwrap();
        let main = write(
            dir.path(),
            "a/main.sql",
            "\\set ds lastfm\n\\i sub/inc.sql\nSELECT 'back in main';\n",
        );
        write(
            dir.path(),
            "a/sub/inc.sql",
            "SELECT 'inc ${ds}';\n\\include other.sql\n",
        );
        write(dir.path(), "a/sub/other.sql", "SELECT 'other';\n");
        assert_eq!(
            run_file(&main, true).unwrap(),
            "SELECT 'inc lastfm';\nSELECT 'other';\nSELECT 'back in main';\n"
        );
        // The variables an include sets stay set, as in psql.
        let out = run_file(&main, false).unwrap();
        assert!(
            out.contains("inc lastfm") && out.contains("back in main"),
            "{out}"
        );
    }

    #[test]
    fn errors_in_included_files_name_the_file_line_and_includes() {
        let dir = tempfile::tempdir().unwrap();
        let main = write(
            dir.path(),
            "main.sql",
            "-- main\n\\i inc.sql\nSELECT 'never';\n",
        );
        let inc = write(
            dir.path(),
            "inc.sql",
            "SELECT 1;\n\nSELECT *\n  FROM no_such_table;\n",
        );
        let e = run_file(&main, false).unwrap_err();
        assert!(
            e.starts_with(&format!(
                "{}: error in the statement at line 3: ",
                inc.display()
            )) && e.contains("no_such_table")
                && e.ends_with(&format!("\n  included from {}:2", main.display())),
            "{e}"
        );
        let missing = write(dir.path(), "missing.sql", "SELECT 1;\n\\i nowhere.sql\n");
        let e = run_file(&missing, false).unwrap_err();
        assert!(
            e.starts_with(&format!(
                "{}: error in the command at line 2: ",
                missing.display()
            )) && e.contains("cannot read")
                && e.contains("nowhere.sql"),
            "{e}"
        );
    }

    #[test]
    fn include_cycles_and_deep_includes_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), "a.sql", "SELECT 1;\n\\i b.sql\n");
        write(dir.path(), "b.sql", "\\i ./a.sql\n");
        let e = run_file(&a, true).unwrap_err();
        let (a_name, b_name) = (a.display(), dir.path().join("b.sql").display().to_string());
        assert!(
            e.contains(&format!(
                "error in the command at line 1: include cycle: {a_name} → {b_name} → "
            )) && e.contains("a.sql\n  included from"),
            "{e}"
        );
        // Itself.
        let me = write(dir.path(), "me.sql", "\\i me.sql\n");
        assert!(run_file(&me, true).unwrap_err().contains("include cycle"));
        // 16 nested includes run; 17 do not.
        for (depth, ok) in [(16, true), (17, false)] {
            let sub = dir.path().join(format!("chain{depth}"));
            for i in 0..depth {
                write(&sub, &format!("f{i}.sql"), &format!("\\i f{}.sql\n", i + 1));
            }
            write(&sub, &format!("f{depth}.sql"), "SELECT 'bottom';\n");
            let result = run_file(&sub.join("f0.sql"), true);
            if ok {
                assert_eq!(result.unwrap(), "SELECT 'bottom';\n");
            } else {
                let e = result.unwrap_err();
                assert!(e.contains("\\i nests more than 16 files deep"), "{e}");
            }
        }
    }

    #[test]
    fn statement_lines_count_in_the_script_not_the_values() {
        let e = run(
            "SELECT ${long};\n\nSELECT * FROM nope;",
            &[("long", "1 +\n 1 +\n 1")],
            false,
        )
        .unwrap_err();
        assert!(
            e.starts_with("-c #1: error in the statement at line 3: "),
            "{e}"
        );
        // Commands in the middle keep the count too.
        let e = run(
            "SELECT 1;\n\\set x 1\n\n\nSELECT * FROM nope${x};",
            &[],
            false,
        )
        .unwrap_err();
        assert!(
            e.starts_with("-c #1: error in the statement at line 5: "),
            "{e}"
        );
        let e = run("SELECT 1\n\\set x 1\n;", &[], false).unwrap_err();
        assert!(
            e.starts_with("-c #1: error in the command at line 2: a backslash command must"),
            "{e}"
        );
    }

    #[test]
    fn commands_run_in_scripts() {
        let out = run(
            "\\format json\nSELECT 1 AS x;\n\\format\n\\timing off\n\\maxrows 1\nSELECT * FROM (VALUES (1), (2)) t(y);\n\\set\n\\q\nSELECT 'never';",
            &[("v", "w")],
            false,
        )
        .unwrap();
        assert_eq!(out, "[{\"x\":1}]\nformat: json\n[{\"y\":1}]\nv = w\n");
        // A dry run prints the commands it does not run.
        let out = run("\\format json\n\\set a b\nSELECT '${a}';", &[], true).unwrap();
        assert_eq!(out, "\\format json\nSELECT 'b';\n");
        let e = run("\\nope", &[], true).unwrap_err();
        assert!(e.contains("unknown command \\nope"), "{e}");
    }
}
