//! The SQL that trustql adds to DataFusion's: splitting scripts into statements (with the line
//! each starts on, for error messages) and the model DDL (`CREATE MODEL`, `SHOW MODELS`,
//! `DESCRIBE MODEL`, `DROP MODEL`), which DataFusion's parser does not know.

pub mod model_ddl;

use datafusion::common::plan_err;
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

/// The deepest expression nesting a statement may have (see [`check_nesting`]).
pub const MAX_NESTING: usize = 400;

/// Refuses a statement whose expressions nest deeper than [`MAX_NESTING`], before DataFusion
/// plans it: DataFusion's parser limits the nesting of parentheses (50), but a chain such as
/// `1 + 1 + ... + 1` with thousands of terms parses into a tree thousands of levels deep, and
/// planning it recursively overflows the stack of the thread and aborts the process. The depth
/// is estimated from the tokens without building a tree: every open parenthesis or bracket
/// adds a level, and so does every binary operator in a chain at one level (a comma or a clause
/// keyword ends the chain).
pub fn check_nesting(sql: &str) -> Result<()> {
    use datafusion::sql::sqlparser::keywords::Keyword;
    // Tokenizing fails only on text DataFusion's parser would refuse too; it reports that.
    let Ok(tokens) = tokenize(sql) else {
        return Ok(());
    };
    // The chain length at each open level, outermost first.
    let mut levels: Vec<usize> = vec![0];
    let mut depth = 1usize;
    for tok in &tokens {
        let chain_ends = match &tok.token {
            Token::LParen | Token::LBracket | Token::LBrace => {
                levels.push(0);
                depth += 1;
                false
            }
            Token::RParen | Token::RBracket | Token::RBrace => {
                if levels.len() > 1 {
                    if let Some(chain) = levels.pop() {
                        depth -= chain + 1;
                    }
                }
                false
            }
            Token::Comma | Token::SemiColon => true,
            Token::Word(w) => match w.keyword {
                Keyword::AND | Keyword::OR | Keyword::LIKE | Keyword::ILIKE | Keyword::IS => {
                    if let Some(chain) = levels.last_mut() {
                        *chain += 1;
                        depth += 1;
                    }
                    false
                }
                Keyword::SELECT
                | Keyword::FROM
                | Keyword::WHERE
                | Keyword::GROUP
                | Keyword::HAVING
                | Keyword::ORDER
                | Keyword::LIMIT
                | Keyword::WHEN
                | Keyword::THEN
                | Keyword::ELSE
                | Keyword::END
                | Keyword::ON
                | Keyword::UNION
                | Keyword::AS => true,
                _ => false,
            },
            Token::Plus
            | Token::Minus
            | Token::Mul
            | Token::Div
            | Token::Mod
            | Token::StringConcat
            | Token::Eq
            | Token::DoubleEq
            | Token::Neq
            | Token::Lt
            | Token::Gt
            | Token::LtEq
            | Token::GtEq
            | Token::Caret
            | Token::Ampersand
            | Token::Pipe
            | Token::ShiftLeft
            | Token::ShiftRight
            | Token::DoubleColon => {
                if let Some(chain) = levels.last_mut() {
                    *chain += 1;
                    depth += 1;
                }
                false
            }
            _ => false,
        };
        if chain_ends {
            if let Some(chain) = levels.last_mut() {
                depth -= *chain;
                *chain = 0;
            }
        }
        if depth > MAX_NESTING {
            return plan_err!(
                "the statement nests expressions more than {MAX_NESTING} levels deep (at line {}, \
                 column {}); split the expression, for example into a subquery or several columns",
                tok.span.start.line,
                tok.span.start.column
            );
        }
    }
    Ok(())
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
    fn deep_chains_are_refused_and_wide_statements_are_not() {
        let chain = |n: usize| format!("SELECT {}", vec!["1"; n].join(" + "));
        assert!(check_nesting(&chain(MAX_NESTING - 5)).is_ok());
        let e = check_nesting(&chain(5000)).unwrap_err().to_string();
        assert!(
            e.contains("more than 400 levels deep (at line 1, column"),
            "{e}"
        );
        // Many short expressions are wide, not deep.
        let wide = format!(
            "SELECT {} FROM t WHERE {}",
            vec!["a + b * c"; 2000].join(", "),
            vec!["x = 1"; 100].join(" OR ")
        );
        assert!(check_nesting(&wide).is_ok());
        // Parentheses count as levels too, with the chains inside them.
        let nested = format!("SELECT {}1{}", "(1 + ".repeat(300), ")".repeat(300));
        assert!(check_nesting(&nested).is_err());
        let shallow = format!("SELECT {}1{}", "(1 + ".repeat(100), ")".repeat(100));
        assert!(check_nesting(&shallow).is_ok());
    }

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
