//! The backslash commands (`\d`, `\i`, `\set`, ...), which the REPL and scripts share: one enum
//! of parsed commands, and one table of names, usage and help per command, from which `\?`
//! and the completion of command names are generated, so that a new command is added in one
//! place. They run in [`crate::script::Shell::execute`].
//!
//! A command takes the rest of its line; a trailing `;` is ignored.

use datafusion::common::plan_datafusion_err;
use std::path::PathBuf;

use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::Documentation;

use crate::print::{Format, MaxWidth};
use crate::session::Session;

/// A parsed backslash command.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `\d`: list tables and views.
    ListTables,
    /// `\d NAME`: describe a table or view.
    Describe(String),
    /// `\h`: list the trustql functions.
    ListFunctions,
    /// `\h NAME`: a function's documentation.
    FunctionHelp(String),
    /// `\models`: `SHOW MODELS`.
    Models,
    /// `\timing [on|off]` (no argument: toggle).
    Timing(Option<bool>),
    /// `\format [X]` (no argument: show the format).
    Format(Option<Format>),
    /// `\maxrows N` (0: all).
    MaxRows(usize),
    /// `\maxwidth [N|auto]` (no argument: show the limit).
    MaxWidth(Option<MaxWidth>),
    /// `\i FILE`.
    Include(String),
    /// `\set` (list) or `\set NAME [VALUE]`.
    Set(Option<(String, String)>),
    /// `\unset NAME`.
    Unset(String),
    /// `\plot 'FILE' (options)`.
    Plot {
        path: PathBuf,
        options: Vec<(String, crate::plot::OptionValue)>,
    },
    /// `\?`.
    Help,
    /// `\q`.
    Quit,
}

/// The kinds of command, in the order `\?` lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Describe,
    Functions,
    Models,
    Timing,
    Format,
    MaxRows,
    MaxWidth,
    Include,
    Set,
    Unset,
    Plot,
    Help,
    Quit,
}

/// A command's names (the first is the one `\?` shows), usage and help.
#[derive(Debug, Clone, Copy)]
pub struct Info {
    pub names: &'static [&'static str],
    pub usage: &'static str,
    pub about: &'static str,
}

impl Kind {
    pub const ALL: [Kind; 13] = [
        Kind::Describe,
        Kind::Functions,
        Kind::Models,
        Kind::Timing,
        Kind::Format,
        Kind::MaxRows,
        Kind::MaxWidth,
        Kind::Include,
        Kind::Set,
        Kind::Unset,
        Kind::Plot,
        Kind::Help,
        Kind::Quit,
    ];

    pub fn info(self) -> Info {
        let (names, usage, about): (&'static [&'static str], _, _) = match self {
            Kind::Describe => (
                &["\\d"],
                "\\d [NAME]",
                "list tables and views; \\d NAME describes one",
            ),
            Kind::Functions => (
                &["\\h"],
                "\\h [NAME]",
                "list trustql functions; \\h NAME shows a function's documentation and example",
            ),
            Kind::Models => (
                &["\\models"],
                "\\models",
                "list the models in the model store (SHOW MODELS)",
            ),
            Kind::Timing => (
                &["\\timing"],
                "\\timing [on|off]",
                "print the elapsed time after each result (no argument: toggle)",
            ),
            Kind::Format => (
                &["\\format"],
                "\\format [FORMAT]",
                "set the output format: table, csv, json, ndjson or markdown",
            ),
            Kind::MaxRows => (
                &["\\maxrows"],
                "\\maxrows N",
                "print at most N rows of each result (0 = all)",
            ),
            Kind::MaxWidth => (
                &["\\maxwidth"],
                "\\maxwidth [N|auto]",
                "fit tables into N columns (0 = no limit; auto = the terminal's width)",
            ),
            Kind::Include => (
                &["\\i", "\\include"],
                "\\i FILE",
                "run a SQL script (a relative FILE is found beside the script that includes it)",
            ),
            Kind::Set => (
                &["\\set"],
                "\\set [NAME [VALUE]]",
                "set a variable: ${NAME} in later statements is replaced by VALUE (no argument: list them)",
            ),
            Kind::Unset => (&["\\unset"], "\\unset NAME", "remove a variable"),
            Kind::Plot => (
                &["\\plot"],
                "\\plot 'FILE' (OPTIONS)",
                "draw the last result into FILE.svg or .png; OPTIONS as COPY ... (FORMAT plot, kind 'scatter', x 'col', y 'col', ...)",
            ),
            Kind::Help => (&["\\?", "\\help"], "\\?", "this help"),
            Kind::Quit => (&["\\q", "\\quit"], "\\q", "quit (or Ctrl-D)"),
        };
        Info {
            names,
            usage,
            about,
        }
    }

    /// The kind a command name (with its backslash) stands for.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.info().names.contains(&name))
    }
}

/// Every command name, for completion.
pub fn names() -> impl Iterator<Item = &'static str> {
    Kind::ALL
        .into_iter()
        .flat_map(|k| k.info().names.iter().copied())
}

/// The text `\?` prints.
pub fn help_text() -> String {
    let mut s = String::new();
    for kind in Kind::ALL {
        let info = kind.info();
        s.push_str(&format!("  {:<24} {}\n", info.usage, info.about));
    }
    s.push_str(
        "  Statements end with ';' and may span lines. SHOW MODEL TYPES lists the model types.\n",
    );
    s
}

fn usage(kind: Kind) -> DataFusionError {
    plan_datafusion_err!("usage: {}", kind.info().usage)
}

impl Command {
    /// Parses a command line (starting with `\`).
    pub fn parse(line: &str) -> Result<Command> {
        let text = line.trim().trim_end_matches(';').trim();
        let (name, arg) = match text.split_once(char::is_whitespace) {
            Some((c, a)) => (c, a.trim()),
            None => (text, ""),
        };
        let kind = Kind::from_name(name).ok_or_else(|| {
            plan_datafusion_err!("unknown command {name} (\\? lists the commands)")
        })?;
        let no_argument = |command: Command| {
            if arg.is_empty() {
                Ok(command)
            } else {
                Err(usage(kind))
            }
        };
        match kind {
            Kind::Describe if arg.is_empty() => Ok(Command::ListTables),
            Kind::Describe => Ok(Command::Describe(arg.to_string())),
            Kind::Functions if arg.is_empty() => Ok(Command::ListFunctions),
            Kind::Functions => Ok(Command::FunctionHelp(arg.to_string())),
            Kind::Models => no_argument(Command::Models),
            Kind::Timing => match arg.to_ascii_lowercase().as_str() {
                "on" => Ok(Command::Timing(Some(true))),
                "off" => Ok(Command::Timing(Some(false))),
                "" => Ok(Command::Timing(None)),
                _ => Err(DataFusionError::Plan("usage: \\timing on|off".to_string())),
            },
            Kind::Format if arg.is_empty() => Ok(Command::Format(None)),
            Kind::Format => arg
                .parse::<Format>()
                .map(|f| Command::Format(Some(f)))
                .map_err(DataFusionError::Plan),
            Kind::MaxRows => arg
                .parse()
                .map(Command::MaxRows)
                .map_err(|_| DataFusionError::Plan("usage: \\maxrows N (0 = all)".to_string())),
            Kind::MaxWidth if arg.is_empty() => Ok(Command::MaxWidth(None)),
            Kind::MaxWidth => arg
                .parse::<MaxWidth>()
                .map(|w| Command::MaxWidth(Some(w)))
                .map_err(|e| plan_datafusion_err!("usage: \\maxwidth [N|auto]: {e}")),
            Kind::Include if arg.is_empty() => Err(usage(kind)),
            Kind::Include => Ok(Command::Include(arg.to_string())),
            Kind::Set if arg.is_empty() => Ok(Command::Set(None)),
            Kind::Set => {
                let (name, value) = match arg.split_once(char::is_whitespace) {
                    Some((n, v)) => (n, v.trim()),
                    None => (arg, ""),
                };
                super::variables::check_name(name).map_err(DataFusionError::Plan)?;
                Ok(Command::Set(Some((name.to_string(), value.to_string()))))
            }
            Kind::Unset if arg.is_empty() || arg.contains(char::is_whitespace) => Err(usage(kind)),
            Kind::Unset => Ok(Command::Unset(arg.to_string())),
            Kind::Plot => {
                let (path, options) = parse_plot(arg)?;
                Ok(Command::Plot { path, options })
            }
            Kind::Help => no_argument(Command::Help),
            Kind::Quit => no_argument(Command::Quit),
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Command::ListTables | Command::Describe(_) => Kind::Describe,
            Command::ListFunctions | Command::FunctionHelp(_) => Kind::Functions,
            Command::Models => Kind::Models,
            Command::Timing(_) => Kind::Timing,
            Command::Format(_) => Kind::Format,
            Command::MaxRows(_) => Kind::MaxRows,
            Command::MaxWidth(_) => Kind::MaxWidth,
            Command::Include(_) => Kind::Include,
            Command::Set(_) => Kind::Set,
            Command::Unset(_) => Kind::Unset,
            Command::Plot { .. } => Kind::Plot,
            Command::Help => Kind::Help,
            Command::Quit => Kind::Quit,
        }
    }
}

/// `'path' (option value, ...)` of `\plot`.
fn parse_plot(arg: &str) -> Result<(PathBuf, Vec<(String, crate::plot::OptionValue)>)> {
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
    Ok((PathBuf::from(path), options))
}

/// The SQL `\d` runs.
pub const LIST_TABLES_SQL: &str =
    "SELECT table_schema AS schema, table_name AS name, table_type AS type \
     FROM information_schema.tables WHERE table_schema <> 'information_schema' \
     ORDER BY table_schema, table_name";

/// The functions of the session's library (trustql's and a program's own, not DataFusion's),
/// sorted.
pub fn function_names(session: &Session) -> Vec<String> {
    let mut names: Vec<String> = session
        .library()
        .functions()
        .into_iter()
        .map(|(name, _, _)| name)
        .collect();
    names.sort();
    names
}

/// The text `\h` prints.
pub fn function_list(session: &Session) -> String {
    let mut s =
        "trustql functions (\\h NAME for one; SHOW FUNCTIONS lists every function):\n".to_string();
    for chunk in function_names(session).chunks(6) {
        s.push_str(&format!("  {}\n", chunk.join("  ")));
    }
    s
}

/// A function's documentation, from DataFusion's registries or the library's table functions.
pub fn documentation(session: &Session, name: &str) -> Option<Documentation> {
    let state = session.context().state();
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
            // Table functions carry no documentation in DataFusion; the library keeps theirs.
            session.library().documentation(&name)
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Command {
        Command::parse(s).unwrap()
    }

    fn error(s: &str) -> String {
        Command::parse(s).unwrap_err().to_string()
    }

    #[test]
    fn parses_every_command() {
        assert_eq!(parse("\\d"), Command::ListTables);
        assert_eq!(parse("\\d  plays ;"), Command::Describe("plays".into()));
        assert_eq!(parse("\\h"), Command::ListFunctions);
        assert_eq!(parse("\\h tau_ap"), Command::FunctionHelp("tau_ap".into()));
        assert_eq!(parse("\\models;"), Command::Models);
        assert_eq!(parse("\\timing"), Command::Timing(None));
        assert_eq!(parse("\\timing OFF"), Command::Timing(Some(false)));
        assert_eq!(parse("\\format"), Command::Format(None));
        assert_eq!(
            parse("\\format md"),
            Command::Format(Some(Format::Markdown))
        );
        assert_eq!(parse("\\maxrows 0"), Command::MaxRows(0));
        assert_eq!(parse("\\maxwidth"), Command::MaxWidth(None));
        assert_eq!(
            parse("\\maxwidth 100"),
            Command::MaxWidth(Some(MaxWidth::Columns(100)))
        );
        assert_eq!(
            parse("\\maxwidth 0"),
            Command::MaxWidth(Some(MaxWidth::Unlimited))
        );
        assert_eq!(
            parse("\\maxwidth auto"),
            Command::MaxWidth(Some(MaxWidth::Terminal))
        );
        assert_eq!(parse("\\i a b.sql"), Command::Include("a b.sql".into()));
        assert_eq!(parse("\\include x.sql"), Command::Include("x.sql".into()));
        assert_eq!(parse("\\set"), Command::Set(None));
        assert_eq!(
            parse("\\set label  Last.fm 2K (HetRec 2011) "),
            Command::Set(Some(("label".into(), "Last.fm 2K (HetRec 2011)".into())))
        );
        assert_eq!(
            parse("\\set empty"),
            Command::Set(Some(("empty".into(), "".into())))
        );
        assert_eq!(parse("\\unset x"), Command::Unset("x".into()));
        assert_eq!(parse("\\?"), Command::Help);
        assert_eq!(parse("\\help"), Command::Help);
        assert_eq!(parse("\\quit"), Command::Quit);
        match parse("\\plot 'a.svg' (kind 'scatter', x 'a', y 'b')") {
            Command::Plot { path, options } => {
                assert_eq!(path, PathBuf::from("a.svg"));
                assert_eq!(options.len(), 3);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_commands_say_how_to_write_them() {
        assert!(error("\\nope").contains("unknown command \\nope (\\? lists the commands)"));
        assert!(error("\\format nope").contains("unknown format 'nope'"));
        assert!(error("\\timing maybe").contains("usage: \\timing on|off"));
        assert!(error("\\maxrows x").contains("usage: \\maxrows N"));
        assert!(error("\\maxwidth wide").contains("\\maxwidth"));
        assert!(error("\\i").contains("usage: \\i FILE"));
        assert!(error("\\set 1x y").contains("invalid variable name '1x'"));
        assert!(error("\\unset").contains("usage: \\unset NAME"));
        assert!(error("\\models extra").contains("usage: \\models"));
        assert!(error("\\plot a.svg").contains("usage: \\plot"));
    }

    #[test]
    fn every_kind_has_a_unique_name_help_and_round_trips() {
        let all: Vec<&str> = names().collect();
        let mut unique = all.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(all.len(), unique.len(), "{all:?}");
        let help = help_text();
        for kind in Kind::ALL {
            let info = kind.info();
            assert!(help.contains(info.usage), "{help}");
            for name in info.names {
                assert_eq!(Kind::from_name(name), Some(kind));
                assert!(info.usage.starts_with(info.names[0]));
            }
        }
        // Parsed commands report the kind they were parsed as.
        for (line, kind) in [
            ("\\d t", Kind::Describe),
            ("\\h x", Kind::Functions),
            ("\\set a b", Kind::Set),
            ("\\i f", Kind::Include),
            ("\\maxwidth 3", Kind::MaxWidth),
        ] {
            assert_eq!(parse(line).kind(), kind);
        }
    }
}
