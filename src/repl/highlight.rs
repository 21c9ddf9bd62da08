//! Syntax colours for the REPL's input line: keywords, strings, numbers and comments, from
//! DataFusion's own tokenizer so that the colours agree with how the statement will be read.

use std::borrow::Cow;

use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::Token;
use nu_ansi_term::{Color, Style};
use rustyline::highlight::{CmdKind, Highlighter};

use super::ReplHelper;
use crate::sql::{tokenize, LineIndex};

/// Colours SQL by token: keywords, strings, numbers and comments. `None` for a backslash
/// command or text the tokenizer refuses (an unterminated string, say), which stay plain.
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

#[cfg(test)]
mod tests {
    use super::*;

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
