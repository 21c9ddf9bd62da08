//! The SQL that trustql adds to DataFusion's: splitting scripts into statements (with the line
//! each starts on, for error messages) and the model DDL (`CREATE MODEL`, `SHOW MODELS`,
//! `DESCRIBE MODEL`, `DROP MODEL`), which DataFusion's parser does not know.

pub mod model_ddl;

use datafusion::error::{DataFusionError, Result};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer};

/// One statement of a script.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// The statement's text, without the terminating `;`.
    pub text: String,
    /// The 1-based line of the script the statement starts on.
    pub line: usize,
}

/// Tokenizes `sql` keeping the source text of each token (no unescaping).
pub(crate) fn tokenize(sql: &str) -> Result<Vec<TokenWithSpan>> {
    Tokenizer::new(&GenericDialect {}, sql)
        .with_unescape(false)
        .tokenize_with_location()
        .map_err(|e| DataFusionError::SQL(Box::new(e.into()), None))
}

/// Byte offsets of each line start, to turn token locations into offsets.
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self { text, starts }
    }

    /// Byte offset of a 1-based (line, column-in-characters) location.
    pub(crate) fn offset(&self, loc: Location) -> usize {
        let Some(&start) = self.starts.get((loc.line as usize).saturating_sub(1)) else {
            return self.text.len();
        };
        let col = (loc.column as usize).saturating_sub(1);
        self.text[start..]
            .char_indices()
            .nth(col)
            .map(|(i, _)| start + i)
            .unwrap_or(self.text.len())
    }
}

fn is_trivia(t: &Token) -> bool {
    matches!(t, Token::Whitespace(_))
}

/// Splits a script into statements at top-level semicolons (those outside strings, quoted
/// identifiers and comments). Statements that hold only comments are dropped. A UTF-8
/// byte-order mark at the start (as some Windows editors save scripts) is skipped.
pub fn split_statements(script: &str) -> Result<Vec<Statement>> {
    let script = script.strip_prefix('\u{feff}').unwrap_or(script);
    let tokens = tokenize(script)?;
    let index = LineIndex::new(script);
    let mut out = Vec::new();
    let mut start: Option<&TokenWithSpan> = None;
    let mut last: Option<&TokenWithSpan> = None;
    let mut push = |start: Option<&TokenWithSpan>, last: Option<&TokenWithSpan>| {
        if let (Some(s), Some(l)) = (start, last) {
            let (a, b) = (index.offset(s.span.start), index.offset(l.span.end));
            let text = script[a..b.max(a)].trim().to_string();
            if !text.is_empty() {
                out.push(Statement {
                    text,
                    line: s.span.start.line as usize,
                });
            }
        }
    };
    for tok in &tokens {
        match &tok.token {
            Token::SemiColon => {
                push(start, last);
                start = None;
                last = None;
            }
            Token::EOF => {}
            t if is_trivia(t) => {}
            _ => {
                if start.is_none() {
                    start = Some(tok);
                }
                last = Some(tok);
            }
        }
    }
    push(start, last);
    Ok(out)
}

/// Whether `text` ends a complete statement (its last significant token is `;`), for the REPL.
pub fn is_complete(text: &str) -> bool {
    match tokenize(text) {
        Ok(tokens) => tokens
            .iter()
            .rev()
            .find(|t| !is_trivia(&t.token) && t.token != Token::EOF)
            .is_some_and(|t| t.token == Token::SemiColon),
        // An unterminated string or comment: keep reading lines.
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let s = split_statements("\u{feff}SELECT 1;\nSELECT 2").unwrap();
        let got: Vec<(&str, usize)> = s.iter().map(|s| (s.text.as_str(), s.line)).collect();
        assert_eq!(got, vec![("SELECT 1", 1), ("SELECT 2", 2)]);
        // Only at the start: elsewhere it is text, and DataFusion says so.
        let s = split_statements("SELECT '\u{feff}'").unwrap();
        assert_eq!(s[0].text, "SELECT '\u{feff}'");
    }

    #[test]
    fn splits_with_lines_and_ignores_semicolons_in_strings_and_comments() {
        let script = "-- header; comment\nSELECT 1;\n\nSELECT ';' AS s,\n  \"a;b\"\nFROM t; /* c; */\n  SELECT 'é' ;\nSELECT 3";
        let s = split_statements(script).unwrap();
        let got: Vec<(&str, usize)> = s.iter().map(|s| (s.text.as_str(), s.line)).collect();
        assert_eq!(
            got,
            vec![
                ("SELECT 1", 2),
                ("SELECT ';' AS s,\n  \"a;b\"\nFROM t", 4),
                ("SELECT 'é'", 7),
                ("SELECT 3", 8)
            ]
        );
    }

    #[test]
    fn comment_only_statements_are_dropped() {
        assert!(split_statements("-- nothing\n; /* x */ ;")
            .unwrap()
            .is_empty());
    }

    #[test]
    fn completeness() {
        assert!(is_complete("SELECT 1;"));
        assert!(is_complete("SELECT 1; -- done"));
        assert!(!is_complete("SELECT 1"));
        assert!(!is_complete("SELECT ';"));
        assert!(!is_complete("SELECT 1 /* ; "));
    }
}
