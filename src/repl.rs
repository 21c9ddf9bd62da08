//! The interactive shell: line editing, persistent history, completion, highlighting,
//! multi-line statements and backslash commands.
//!
//! Statements end with `;` and may span lines. Backslash commands take one line:
//! `\d [table]`, `\h [function]`, `\models`, `\timing on|off`, `\format X`, `\maxrows N`,
//! `\i FILE`, `\?`, `\q`. Ctrl-C at the prompt clears the line; during a statement it cancels
//! the statement; Ctrl-D or `\q` leaves. History is kept in `$TRUSTQL_HISTORY`, or else
//! `<data dir>/trustql/history` (e.g. `~/.local/share/trustql/history`).

use std::borrow::Cow;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::Documentation;
use datafusion::sql::sqlparser::keywords::{Keyword, ALL_KEYWORDS};
use datafusion::sql::sqlparser::tokenizer::Token;
use nu_ansi_term::{Color, Style};
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Editor, Helper};

use crate::print::Format;
use crate::script::{run_script, run_statement, PrintOptions};
use crate::session::Session;
use crate::sql::{is_complete, split_statements, tokenize, LineIndex};

const PROMPT: &str = "trustql> ";
const CONTINUATION: &str = "     ..> ";

const COMMANDS: &[(&str, &str)] = &[
    ("\\d", "list tables and views; \\d NAME describes one"),
    (
        "\\h",
        "list trustql functions; \\h NAME shows a function's documentation and example",
    ),
    (
        "\\models",
        "list the models in the model store (SHOW MODELS)",
    ),
    (
        "\\timing",
        "\\timing on|off: print the elapsed time after each result",
    ),
    (
        "\\format",
        "\\format table|csv|json|ndjson|markdown: set the output format",
    ),
    (
        "\\maxrows",
        "\\maxrows N: print at most N rows of each result (0 = all)",
    ),
    ("\\i", "\\i FILE: run the statements of a SQL file"),
    (
        "\\plot",
        "\\plot 'FILE.svg|png' (kind 'scatter', x 'col', y 'col', ...): draw the last result (options as COPY ... (FORMAT plot, ...))",
    ),
    ("\\?", "this help"),
    ("\\q", "quit (or Ctrl-D)"),
];

/// Names the completer offers, refreshed after every statement.
#[derive(Debug, Default)]
struct Names {
    tables: Vec<String>,
    columns: Vec<String>,
    functions: Vec<String>,
    models: Vec<String>,
}

/// rustyline helper: completion, highlighting and multi-line validation.
struct ReplHelper {
    names: Arc<RwLock<Names>>,
    keywords: Vec<&'static str>,
    color: bool,
}

fn word_start(line: &str, pos: usize) -> usize {
    line[..pos]
        .char_indices()
        .rev()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_' || *c == '\\'))
        .map(|(i, c)| i + c.len_utf8())
        .unwrap_or(0)
}

impl ReplHelper {
    fn candidates(&self, line: &str, start: usize, prefix: &str) -> Vec<Pair> {
        let lower = prefix.to_lowercase();
        let mut out: Vec<String> = Vec::new();
        if prefix.starts_with('\\') {
            out.extend(COMMANDS.iter().map(|(c, _)| c.to_string()));
        } else if line.trim_start().starts_with("\\h") {
            if let Ok(n) = self.names.read() {
                out.extend(n.functions.iter().cloned());
            }
        } else if start > 0 && line[..start].ends_with('\'') {
            // Inside a string: model names, as in score('<TAB>
            if let Ok(n) = self.names.read() {
                out.extend(n.models.iter().cloned());
            }
        } else {
            if let Ok(n) = self.names.read() {
                out.extend(n.tables.iter().cloned());
                out.extend(n.columns.iter().cloned());
                out.extend(n.functions.iter().cloned());
            }
            let upper = prefix.chars().next().is_some_and(char::is_uppercase);
            out.extend(self.keywords.iter().map(|k| {
                if upper {
                    k.to_string()
                } else {
                    k.to_lowercase()
                }
            }));
        }
        let mut matched: Vec<String> = out
            .into_iter()
            .filter(|c| c.to_lowercase().starts_with(&lower) && c.len() >= prefix.len())
            .collect();
        matched.sort();
        matched.dedup();
        matched
            .into_iter()
            .map(|c| Pair {
                display: c.clone(),
                replacement: c,
            })
            .collect()
    }
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let start = word_start(line, pos);
        let prefix = &line[start..pos];
        if prefix.is_empty() {
            return Ok((pos, Vec::new()));
        }
        Ok((start, self.candidates(line, start, prefix)))
    }
}

impl Hinter for ReplHelper {
    type Hint = String;
}

/// Colours SQL by token: keywords, strings, numbers and comments.
pub fn highlight_sql(line: &str) -> Option<String> {
    if line.trim_start().starts_with('\\') {
        return None;
    }
    let tokens = tokenize(line).ok()?;
    let index = LineIndex::new(line);
    let mut out = String::with_capacity(line.len() * 2);
    let mut at = 0;
    for t in &tokens {
        if t.token == Token::EOF {
            continue;
        }
        let (a, b) = (index.offset(t.span.start), index.offset(t.span.end));
        if a < at || b < a || b > line.len() {
            return None;
        }
        out.push_str(&line[at..a]);
        let text = &line[a..b];
        let style = match &t.token {
            Token::Word(w) if w.quote_style.is_none() && w.keyword != Keyword::NoKeyword => {
                Some(Style::new().bold().fg(Color::Blue))
            }
            Token::SingleQuotedString(_)
            | Token::DoubleQuotedString(_)
            | Token::EscapedStringLiteral(_)
            | Token::DollarQuotedString(_) => Some(Style::new().fg(Color::Green)),
            Token::Number(..) => Some(Style::new().fg(Color::Yellow)),
            Token::Whitespace(w)
                if w.to_string().starts_with("--") || w.to_string().starts_with("/*") =>
            {
                Some(Style::new().dimmed())
            }
            _ => None,
        };
        match style {
            Some(s) => out.push_str(&s.paint(text).to_string()),
            None => out.push_str(text),
        }
        at = b;
    }
    out.push_str(&line[at..]);
    Some(out)
}

impl Highlighter for ReplHelper {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        if !self.color {
            return Cow::Borrowed(line);
        }
        match highlight_sql(line) {
            Some(s) => Cow::Owned(s),
            None => Cow::Borrowed(line),
        }
    }

    fn highlight_char(&self, _line: &str, _pos: usize, kind: CmdKind) -> bool {
        self.color && kind != CmdKind::MoveCursor
    }
}

impl Validator for ReplHelper {
    fn validate(&self, ctx: &mut ValidationContext<'_>) -> rustyline::Result<ValidationResult> {
        let input = ctx.input().trim();
        if input.is_empty() || input.starts_with('\\') || is_complete(input) {
            Ok(ValidationResult::Valid(None))
        } else {
            Ok(ValidationResult::Incomplete)
        }
    }
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

/// `'path' (option value, ...)` of `\\plot`.
fn parse_plot_command(
    arg: &str,
) -> Result<(std::path::PathBuf, Vec<(String, crate::plot::OptionValue)>)> {
    use datafusion::sql::sqlparser::tokenizer::Token;
    let usage = || {
        DataFusionError::Plan(
            "usage: \\plot 'FILE.svg' (kind 'scatter', x 'column', y 'column', ...)".to_string(),
        )
    };
    let tokens = crate::sql::tokenize(arg)?;
    let tokens: Vec<_> = tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .collect();
    let Some(Token::SingleQuotedString(path)) = tokens.first().map(|t| &t.token) else {
        return Err(usage());
    };
    if !matches!(tokens.get(1).map(|t| &t.token), Some(Token::LParen)) {
        return Err(usage());
    }
    let options = crate::plot::parse_options(&tokens[1..])?;
    Ok((std::path::PathBuf::from(path), options))
}

/// The interactive shell over a session.
pub struct Repl<'a> {
    session: &'a Session,
    opts: PrintOptions,
}

impl<'a> Repl<'a> {
    pub fn new(session: &'a Session, opts: PrintOptions) -> Self {
        Self { session, opts }
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
        let mut editor: Editor<ReplHelper, DefaultHistory> =
            Editor::with_config(config).map_err(readline_error)?;
        editor.set_helper(Some(helper));
        let history = history_path();
        if let Some(h) = &history {
            if let Some(dir) = h.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            let _ = editor.load_history(h);
        }
        if !self.opts.quiet {
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
        self.refresh(runtime, &names);
        let mut buffer = String::new();
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
                    let command = text.starts_with('\\');
                    if !command && !is_complete(&text) {
                        continue;
                    }
                    buffer.clear();
                    let _ = editor.add_history_entry(text.as_str());
                    if let Some(h) = &history {
                        let _ = editor.save_history(h);
                    }
                    if command {
                        match self.command(runtime, &text) {
                            Ok(true) => break,
                            Ok(false) => {}
                            Err(e) => eprintln!("Error: {e}"),
                        }
                    } else {
                        self.statements(runtime, &text);
                    }
                    self.refresh(runtime, &names);
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
        Ok(())
    }

    fn statements(&self, runtime: &tokio::runtime::Runtime, text: &str) {
        let statements = match split_statements(text) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("Error: {e}");
                return;
            }
        };
        let mut stdout = std::io::stdout();
        for s in statements {
            if let Err(e) = runtime.block_on(run_statement(
                self.session,
                &s.text,
                &self.opts,
                &mut stdout,
            )) {
                eprintln!("Error: {e}");
                break;
            }
        }
    }

    /// Runs a backslash command; `Ok(true)` means quit.
    fn command(&mut self, runtime: &tokio::runtime::Runtime, text: &str) -> Result<bool> {
        let text = text.trim().trim_end_matches(';').trim();
        let (cmd, arg) = match text.split_once(char::is_whitespace) {
            Some((c, a)) => (c, a.trim()),
            None => (text, ""),
        };
        let mut stdout = std::io::stdout();
        let run = |sql: &str, out: &mut dyn Write| {
            runtime.block_on(run_statement(self.session, sql, &self.opts, out))
        };
        match cmd {
            "\\q" | "\\quit" => return Ok(true),
            "\\?" | "\\help" => {
                for (c, d) in COMMANDS {
                    println!("  {c:<9} {d}");
                }
                println!("  Statements end with ';' and may span lines. SHOW MODEL TYPES lists the model types.");
            }
            "\\d" if arg.is_empty() => run(
                "SELECT table_schema AS schema, table_name AS name, table_type AS type \
                 FROM information_schema.tables WHERE table_schema <> 'information_schema' \
                 ORDER BY table_schema, table_name",
                &mut stdout,
            )?,
            "\\d" => run(&format!("DESCRIBE {arg}"), &mut stdout)?,
            "\\models" => run("SHOW MODELS", &mut stdout)?,
            "\\h" if arg.is_empty() => {
                let mut names: Vec<String> = self.trustql_function_names();
                names.sort();
                println!(
                    "trustql functions (\\h NAME for one; SHOW FUNCTIONS lists every function):"
                );
                for chunk in names.chunks(6) {
                    println!("  {}", chunk.join("  "));
                }
            }
            "\\h" => match self.documentation(arg) {
                Some(doc) => print!("{}", format_documentation(arg, &doc)),
                None => {
                    return Err(DataFusionError::Plan(format!(
                        "no function named '{arg}' (\\h lists trustql functions)"
                    )))
                }
            },
            "\\timing" => match arg.to_ascii_lowercase().as_str() {
                "on" => self.opts.timing = true,
                "off" => self.opts.timing = false,
                "" => self.opts.timing = !self.opts.timing,
                _ => return Err(DataFusionError::Plan("usage: \\timing on|off".to_string())),
            },
            "\\format" => {
                if arg.is_empty() {
                    println!("format: {}", self.opts.format);
                } else {
                    self.opts.format = arg.parse::<Format>().map_err(DataFusionError::Plan)?;
                }
            }
            "\\maxrows" => {
                let n: usize = arg.parse().map_err(|_| {
                    DataFusionError::Plan("usage: \\maxrows N (0 = all)".to_string())
                })?;
                self.opts.max_rows = (n > 0).then_some(n);
            }
            "\\plot" => {
                let (path, options) = parse_plot_command(arg)?;
                let batch = self.session.plot_last(&path, &options)?;
                crate::print::print_batches(
                    &mut stdout,
                    &batch.schema(),
                    std::slice::from_ref(&batch),
                    self.opts.format,
                    self.opts.max_rows,
                )?;
            }
            "\\i" => {
                if arg.is_empty() {
                    return Err(DataFusionError::Plan("usage: \\i FILE".to_string()));
                }
                let script = std::fs::read_to_string(arg)
                    .map_err(|e| DataFusionError::Execution(format!("cannot read {arg}: {e}")))?;
                runtime
                    .block_on(run_script(self.session, &script, &self.opts, &mut stdout))
                    .map_err(|e| DataFusionError::Execution(format!("{arg}: {e}")))?;
            }
            _ => {
                return Err(DataFusionError::Plan(format!(
                    "unknown command {cmd} (\\? lists the commands)"
                )))
            }
        }
        Ok(false)
    }

    /// The functions of the trustql library (not DataFusion's own).
    fn trustql_function_names(&self) -> Vec<String> {
        let catalog: Arc<dyn trustql_udfs::ModelCatalog> = self.session.registry().clone();
        trustql_udfs::scalar_functions(catalog)
            .iter()
            .map(|f| f.name().to_string())
            .chain(
                trustql_udfs::aggregate_functions()
                    .iter()
                    .map(|f| f.name().to_string()),
            )
            .chain(
                trustql_udfs::table_function_docs()
                    .into_iter()
                    .map(|(name, _)| name.to_string()),
            )
            .collect()
    }

    fn documentation(&self, name: &str) -> Option<Documentation> {
        let state = self.session.context().state();
        let name = name.trim().trim_end_matches("()").to_lowercase();
        state
            .scalar_functions()
            .get(&name)
            .and_then(|f| f.documentation().cloned())
            .or_else(|| {
                state
                    .aggregate_functions()
                    .get(&name)
                    .and_then(|f| f.documentation().cloned())
            })
            .or_else(|| {
                state
                    .window_functions()
                    .get(&name)
                    .and_then(|f| f.documentation().cloned())
            })
            .or_else(|| {
                // Table functions carry no documentation in DataFusion; the library exposes theirs.
                trustql_udfs::table_function_docs()
                    .into_iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, doc)| doc.clone())
            })
    }

    fn refresh(&self, runtime: &tokio::runtime::Runtime, names: &Arc<RwLock<Names>>) {
        let ctx = self.session.context();
        let state = ctx.state();
        let mut fresh = Names::default();
        fresh
            .functions
            .extend(state.scalar_functions().keys().cloned());
        fresh
            .functions
            .extend(state.aggregate_functions().keys().cloned());
        fresh
            .functions
            .extend(state.window_functions().keys().cloned());
        for catalog_name in ctx.catalog_names() {
            let Some(catalog) = ctx.catalog(&catalog_name) else {
                continue;
            };
            for schema_name in catalog.schema_names() {
                if schema_name == "information_schema" {
                    continue;
                }
                let Some(schema) = catalog.schema(&schema_name) else {
                    continue;
                };
                for table in schema.table_names() {
                    if let Ok(Some(provider)) = runtime.block_on(schema.table(&table)) {
                        fresh
                            .columns
                            .extend(provider.schema().fields().iter().map(|f| f.name().clone()));
                    }
                    fresh.tables.push(table);
                }
            }
        }
        if let Ok((models, _)) = self.session.registry().list() {
            fresh.models = models.into_iter().map(|(h, _)| h.name).collect();
        }
        fresh.columns.sort();
        fresh.columns.dedup();
        if let Ok(mut n) = names.write() {
            *n = fresh;
        }
    }
}

/// A function's documentation as `\h` prints it.
pub fn format_documentation(name: &str, doc: &Documentation) -> String {
    let mut s = format!(
        "{name}  ({})\n\n{}\n\nSyntax: {}\n",
        doc.doc_section.label, doc.description, doc.syntax_example
    );
    if let Some(args) = &doc.arguments {
        s.push_str("\nArguments:\n");
        for (a, d) in args {
            s.push_str(&format!("  {a:<10} {d}\n"));
        }
    }
    if let Some(example) = &doc.sql_example {
        let body = example
            .trim()
            .trim_start_matches("```sql")
            .trim_end_matches("```")
            .trim_matches('\n');
        s.push_str(&format!("\nExample:\n{body}\n"));
    }
    if let Some(related) = &doc.related_udfs {
        s.push_str(&format!("\nRelated: {}\n", related.join(", ")));
    }
    s
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

#[cfg(test)]
mod tests {
    use super::*;

    fn helper() -> ReplHelper {
        let names = Names {
            tables: vec!["plays".into()],
            columns: vec!["user_id".into(), "item_id".into()],
            functions: vec!["tau_ap".into(), "tau_ap_a".into(), "score".into()],
            models: vec!["pop".into()],
        };
        ReplHelper {
            names: Arc::new(RwLock::new(names)),
            keywords: ALL_KEYWORDS.to_vec(),
            color: true,
        }
    }

    fn complete(line: &str) -> Vec<String> {
        let h = helper();
        let start = word_start(line, line.len());
        h.candidates(line, start, &line[start..])
            .into_iter()
            .map(|p| p.replacement)
            .collect()
    }

    #[test]
    fn completes_keywords_tables_columns_functions_models_and_commands() {
        assert!(complete("SEL").contains(&"SELECT".to_string()));
        assert!(complete("sel").contains(&"select".to_string()));
        // Tables complete beside the keywords that share the prefix (PLACING, PLAIN, PLAN, ...).
        let from = complete("select * from pla");
        assert!(
            from.contains(&"plays".to_string()) && from.contains(&"plan".to_string()),
            "{from:?}"
        );
        assert!(complete("select user_").contains(&"user_id".to_string()));
        assert_eq!(complete("select tau_ap"), vec!["tau_ap", "tau_ap_a"]);
        assert_eq!(complete("select score('po"), vec!["pop"]);
        assert_eq!(complete("\\mo"), vec!["\\models"]);
        assert_eq!(complete("\\h tau_ap_"), vec!["tau_ap_a"]);
    }

    #[test]
    fn highlights_tokens_and_keeps_text() {
        let line = "SELECT 'a;b', 42 -- note\nFROM t";
        let h = highlight_sql(line).unwrap();
        assert!(h.contains(
            &Style::new()
                .bold()
                .fg(Color::Blue)
                .paint("SELECT")
                .to_string()
        ));
        assert!(h.contains(&Style::new().fg(Color::Green).paint("'a;b'").to_string()));
        assert!(h.contains(&Style::new().fg(Color::Yellow).paint("42").to_string()));
        let plain: String = strip_ansi(&h);
        assert_eq!(plain, line);
    }

    fn strip_ansi(s: &str) -> String {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                for d in chars.by_ref() {
                    if d == 'm' {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }
}
