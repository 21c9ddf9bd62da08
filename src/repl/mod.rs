//! The interactive shell: line editing, persistent history, completion, highlighting,
//! multi-line statements and backslash commands, over the same [`Shell`] that runs scripts.
//!
//! Statements end with `;` and may span lines. Backslash commands take one line (`\?` lists
//! them: `\d`, `\h`, `\models`, `\timing`, `\format`, `\maxrows`, `\maxwidth`, `\i`, `\set`,
//! `\unset`, `\plot`, `\q`). `${name}` in a statement or command is replaced by the variable's
//! value ([`variables`]). Ctrl-C at the prompt clears the line; during a statement it cancels
//! the statement; Ctrl-D or `\q` leaves. History is kept in `$TRUSTQL_HISTORY`, or else
//! `<data dir>/trustql/history` (e.g. `~/.local/share/trustql/history`).
//!
//! The parts: [`commands`] (the backslash commands, shared with scripts), [`variables`]
//! (`${name}` substitution, shared with scripts), and the rustyline helper's completion,
//! highlighting and validation in their own modules.

pub mod commands;
mod completion;
mod highlight;
mod validate;
pub mod variables;

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use datafusion::error::{DataFusionError, Result};
use datafusion::sql::sqlparser::keywords::ALL_KEYWORDS;
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{Editor, Helper};

pub use commands::format_documentation;
pub use highlight::highlight_sql;
pub use validate::is_ready;

use crate::script::{Flow, PrintOptions, Shell, Source};
use crate::session::Session;
use completion::Names;
use variables::Variables;

const PROMPT: &str = "trustql> ";
const CONTINUATION: &str = "     ..> ";

/// rustyline helper: completion ([`completion`]), highlighting ([`highlight`]) and multi-line
/// validation ([`validate`]).
struct ReplHelper {
    names: Arc<RwLock<Names>>,
    keywords: Vec<&'static str>,
    color: bool,
}

impl Helper for ReplHelper {}

/// Where the history is kept.
pub fn history_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("TRUSTQL_HISTORY") {
        return Some(PathBuf::from(p));
    }
    dirs::data_local_dir()
        .or_else(dirs::home_dir)
        .map(|d| d.join("trustql").join("history"))
}

/// The interactive shell over a session.
pub struct Repl<'a> {
    session: &'a Session,
    opts: PrintOptions,
    vars: Variables,
}

impl<'a> Repl<'a> {
    pub fn new(session: &'a Session, opts: PrintOptions) -> Self {
        Self {
            session,
            opts,
            vars: Variables::new(),
        }
    }

    /// Starts with these variables defined (`-v`).
    pub fn with_variables(mut self, vars: Variables) -> Self {
        self.vars = vars;
        self
    }

    /// Reads and runs statements until `\q` or end of input.
    pub fn run(&mut self, runtime: &tokio::runtime::Runtime) -> Result<()> {
        let color = std::io::IsTerminal::is_terminal(&std::io::stdout())
            && std::env::var_os("NO_COLOR").is_none();
        let names = Arc::new(RwLock::new(Names::default()));
        let helper = ReplHelper {
            names: names.clone(),
            keywords: ALL_KEYWORDS.to_vec(),
            color,
        };
        let config = rustyline::Config::builder()
            .auto_add_history(false)
            .completion_type(rustyline::CompletionType::List)
            .max_history_size(10_000)
            .map_err(readline_error)?
            .build();
        // Ctrl-C cancels a running statement (and is a key at the prompt). The editor takes
        // SIGINT when it is created (to report it while it waits for a key): take it back.
        if let Err(e) = crate::interrupt::install(false) {
            eprintln!("trustql: {e}");
        }
        let mut editor: Editor<ReplHelper, DefaultHistory> =
            Editor::with_config(config).map_err(readline_error)?;
        crate::interrupt::reclaim();
        editor.set_helper(Some(helper));
        let history = history_path();
        if let Some(h) = &history {
            if let Some(dir) = h.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            let _ = editor.load_history(h);
        }
        let mut shell = Shell::new(self.session, runtime, self.opts.clone());
        shell.vars = self.vars.clone();
        if !shell.opts.quiet {
            eprintln!(
                "trustql {} on DataFusion; device {}. End statements with ';'. \\? for help, \\q to quit.",
                env!("CARGO_PKG_VERSION"),
                runtime
                    .block_on(self.session.execute("SELECT trustql_device()"))
                    .ok()
                    .and_then(|b| first_string(&b))
                    .unwrap_or_else(|| "unknown".to_string())
            );
        }
        Names::refresh(&names, self.session, runtime);
        let mut buffer = String::new();
        let mut stdout = std::io::stdout();
        loop {
            let prompt = if buffer.is_empty() {
                PROMPT
            } else {
                CONTINUATION
            };
            match editor.readline(prompt) {
                Ok(line) => {
                    if buffer.is_empty() && line.trim().is_empty() {
                        continue;
                    }
                    if !buffer.is_empty() {
                        buffer.push('\n');
                    }
                    buffer.push_str(&line);
                    let text = buffer.trim().to_string();
                    if !is_ready(&text) {
                        continue;
                    }
                    buffer.clear();
                    let _ = editor.add_history_entry(text.as_str());
                    if let Some(h) = &history {
                        let _ = editor.save_history(h);
                    }
                    match shell.run_source(&Source::interactive(text), &mut stdout) {
                        Ok(Flow::Quit) => break,
                        Ok(Flow::Continue) => {}
                        Err(e) => eprintln!("Error: {e}"),
                    }
                    Names::refresh(&names, self.session, runtime);
                }
                Err(ReadlineError::Interrupted) => {
                    buffer.clear();
                    eprintln!("^C");
                }
                Err(ReadlineError::Eof) => break,
                Err(e) => return Err(readline_error(e)),
            }
        }
        if let Some(h) = &history {
            let _ = editor.save_history(h);
        }
        self.opts = shell.opts;
        self.vars = shell.vars;
        Ok(())
    }
}

fn first_string(batches: &[datafusion::arrow::array::RecordBatch]) -> Option<String> {
    use datafusion::arrow::array::{Array, AsArray};
    let b = batches.first()?;
    let col = b.column(0).as_string_opt::<i32>()?;
    (col.len() > 0).then(|| col.value(0).to_string())
}

fn readline_error(e: ReadlineError) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}
