//! Script variables: `-v name=value` and `\set name value` define them, and `${name}` in a
//! statement or a backslash command is replaced by the value before the statement is split and
//! parsed, so that one script can serve several data sets (psql's `-v` and `:name`, with the
//! `${name}` syntax of shells).
//!
//! The rules:
//! - a name is a letter or `_` followed by letters, digits or `_`;
//! - in SQL, `${name}` is replaced everywhere (in string literals and quoted identifiers too)
//!   except in comments (`-- ...` and `/* ... */`), which are left as they are, so that a
//!   comment may show `${name}` and a commented-out statement does not need its variables;
//! - in a backslash command (`\i`, `\set`, ...) it is replaced everywhere on the line;
//! - a variable holds from where it is set to the end of the run, includes and all (`\set` in
//!   a script replaces a value given with `-v`, as in psql);
//! - the value is inserted as it is (not quoted, and not searched for `${...}` again), so write
//!   `'${name}'` where the value is a string;
//! - `$${` stands for a literal `${`; a `${` that does not start `${name}` is an error, and so
//!   is a name that is not defined, with the file, line and column of the reference.
//!
//! The scanner here also finds where SQL strings and comments start and end, for the script
//! runner ([`crate::script`]), which must tell a backslash command from text inside a statement.

use std::collections::BTreeMap;
use std::ops::Range;

/// The defined variables, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Variables {
    values: BTreeMap<String, String>,
}

impl Variables {
    pub fn new() -> Self {
        Self::default()
    }

    /// Defines (or redefines) `name`; the name must be valid (see [`check_name`]).
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        check_name(name)?;
        self.values.insert(name.to_string(), value.to_string());
        Ok(())
    }

    /// Removes `name`; whether it was defined.
    pub fn unset(&mut self, name: &str) -> bool {
        self.values.remove(name).is_some()
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// The variables in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// Checks a variable name: a letter or `_`, then letters, digits or `_`.
pub fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "invalid variable name '{name}': use a letter or '_' followed by letters, digits or '_'"
        ))
    }
}

/// Parses `name=value` (the argument of `-v`).
pub fn parse_assignment(s: &str) -> Result<(String, String), String> {
    let Some((name, value)) = s.split_once('=') else {
        return Err(format!("expected NAME=VALUE, got '{s}'"));
    };
    check_name(name)?;
    Ok((name.to_string(), value.to_string()))
}

/// What a stretch of SQL text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SpanKind {
    /// Outside strings and comments.
    Code,
    /// A string literal, a quoted identifier or a dollar-quoted string, quotes included.
    Quoted,
    /// A `--` comment (without its line end) or a `/* */` comment (nested ones included).
    Comment,
}

/// Splits SQL text into stretches of code, quoted text and comments. An unterminated string
/// or comment runs to the end of the text. `$${` is code (the escape of a literal `${`), not
/// the start of a dollar-quoted string.
pub(crate) fn spans(text: &str) -> Vec<(SpanKind, Range<usize>)> {
    let bytes = text.as_bytes();
    let mut out: Vec<(SpanKind, Range<usize>)> = Vec::new();
    let mut push = |kind: SpanKind, range: Range<usize>| {
        if range.is_empty() {
            return;
        }
        match out.last_mut() {
            Some((k, r)) if *k == kind && r.end == range.start && kind == SpanKind::Code => {
                r.end = range.end;
            }
            _ => out.push((kind, range)),
        }
    };
    let mut code_start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let end = match bytes[i] {
            b'\'' | b'"' => Some((SpanKind::Quoted, quoted_end(bytes, i))),
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                let end = text[i..].find('\n').map_or(text.len(), |n| i + n);
                Some((SpanKind::Comment, end))
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                Some((SpanKind::Comment, block_comment_end(bytes, i)))
            }
            b'$' => dollar_tag(text, i).map(|tag| {
                let body = i + tag.len();
                let end = text[body..]
                    .find(tag)
                    .map_or(text.len(), |n| body + n + tag.len());
                (SpanKind::Quoted, end)
            }),
            _ => None,
        };
        match end {
            Some((kind, end)) => {
                push(SpanKind::Code, code_start..i);
                push(kind, i..end);
                i = end;
                code_start = end;
            }
            None => i += 1,
        }
    }
    push(SpanKind::Code, code_start..text.len());
    out
}

/// The end of the string or quoted identifier opened at `start` (a doubled quote continues it).
fn quoted_end(bytes: &[u8], start: usize) -> usize {
    let quote = bytes[start];
    let mut i = start + 1;
    while i < bytes.len() {
        if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    bytes.len()
}

/// The end of the block comment opened at `start`; nested comments are counted.
fn block_comment_end(bytes: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while i + 1 < bytes.len() {
        match (bytes[i], bytes[i + 1]) {
            (b'/', b'*') => {
                depth += 1;
                i += 2;
            }
            (b'*', b'/') => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return i;
                }
            }
            _ => i += 1,
        }
    }
    bytes.len()
}

/// The opening tag (`$$` or `$tag$`) of a dollar-quoted string at `i`, if one starts there.
fn dollar_tag(text: &str, i: usize) -> Option<&str> {
    let rest = &text[i + 1..];
    if rest.starts_with("${") {
        return None; // `$${`: the escape of a literal `${`
    }
    let tag_len = rest
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '_'))
        .map_or(rest.len(), |(n, _)| n);
    let tag = &rest[..tag_len];
    if tag.starts_with(|c: char| c.is_ascii_digit()) || !rest[tag_len..].starts_with('$') {
        return None; // `$1` (a placeholder) or a lone `$`
    }
    Some(&text[i..i + tag_len + 2])
}

/// A reference that could not be replaced, with its byte offset in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubstituteError {
    Undefined { name: String, offset: usize },
    Malformed { offset: usize },
}

/// Text after substitution, with what is needed to map its offsets back to the original.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Substituted {
    pub text: String,
    /// Runs of the new text, in order: (start in the new text, start in the original, whether
    /// the run is an inserted value, which maps to the start of its reference).
    runs: Vec<(usize, usize, bool)>,
}

impl Substituted {
    /// The offset in the original text of offset `at` of the new text.
    pub fn original_offset(&self, at: usize) -> usize {
        let i = self.runs.partition_point(|&(new, _, _)| new <= at);
        match i.checked_sub(1).map(|i| self.runs[i]) {
            Some((new, old, false)) => old + (at - new),
            Some((_, old, true)) => old,
            None => at,
        }
    }
}

/// Where `${name}` is replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// SQL: everywhere except comments.
    Sql,
    /// A backslash command: everywhere.
    Command,
}

/// Replaces every `${name}` of `text` by its value (see the module documentation).
pub fn substitute(
    text: &str,
    vars: &Variables,
    mode: Mode,
) -> Result<Substituted, SubstituteError> {
    let regions = match mode {
        Mode::Sql => spans(text),
        Mode::Command => vec![(SpanKind::Code, 0..text.len())],
    };
    let mut out = Substituted {
        text: String::with_capacity(text.len()),
        runs: vec![(0, 0, false)],
    };
    for (kind, range) in regions {
        if kind == SpanKind::Comment {
            out.text.push_str(&text[range]);
            continue;
        }
        let mut at = range.start;
        while let Some(n) = text[at..range.end].find('$') {
            let dollar = at + n;
            let rest = &text[dollar..range.end];
            if rest.starts_with("$${") {
                out.text.push_str(&text[at..dollar + 1]);
                out.text.push('{');
                at = dollar + 3;
                out.runs.push((out.text.len(), at, false));
            } else if let Some(inner) = rest.strip_prefix("${") {
                let name_len = inner
                    .find('}')
                    .ok_or(SubstituteError::Malformed { offset: dollar })?;
                let name = &inner[..name_len];
                if check_name(name).is_err() {
                    return Err(SubstituteError::Malformed { offset: dollar });
                }
                let value = vars.get(name).ok_or_else(|| SubstituteError::Undefined {
                    name: name.to_string(),
                    offset: dollar,
                })?;
                out.text.push_str(&text[at..dollar]);
                out.runs.push((out.text.len(), dollar, true));
                out.text.push_str(value);
                at = dollar + 2 + name_len + 1;
                out.runs.push((out.text.len(), at, false));
            } else {
                out.text.push_str(&text[at..dollar + 1]);
                at = dollar + 1;
            }
        }
        out.text.push_str(&text[at..range.end]);
    }
    Ok(out)
}

/// 1-based line and column (in characters) of byte `offset` of `text`.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Variables {
        let mut v = Variables::new();
        for (k, val) in pairs {
            v.set(k, val).unwrap();
        }
        v
    }

    fn sql(text: &str, v: &Variables) -> Result<String, SubstituteError> {
        substitute(text, v, Mode::Sql).map(|s| s.text)
    }

    #[test]
    fn replaces_in_code_strings_and_identifiers_but_not_comments() {
        let v = vars(&[("ds", "lastfm"), ("dir", "lastfm-2k")]);
        assert_eq!(
            sql("SELECT * FROM ${ds}_train -- ${ds} stays\n", &v).unwrap(),
            "SELECT * FROM lastfm_train -- ${ds} stays\n"
        );
        assert_eq!(
            sql("LOCATION '../data/${dir}/x.parquet' AS \"${ds}\"", &v).unwrap(),
            "LOCATION '../data/lastfm-2k/x.parquet' AS \"lastfm\""
        );
        assert_eq!(
            sql("/* ${nope} /* nested ${nope} */ still */ ${ds}", &v).unwrap(),
            "/* ${nope} /* nested ${nope} */ still */ lastfm"
        );
        // `--` inside a string is not a comment.
        assert_eq!(sql("SELECT '-- ${ds}'", &v).unwrap(), "SELECT '-- lastfm'");
        // A comment-looking `--` inside an undefined reference's comment does not hide code
        // on the next line.
        assert_eq!(
            sql("-- ${undefined}\nSELECT ${ds}", &v).unwrap(),
            "-- ${undefined}\nSELECT lastfm"
        );
    }

    #[test]
    fn values_are_inserted_once_and_as_they_are() {
        let v = vars(&[("a", "${b}"), ("b", "x"), ("e", "ln(1 + value)")]);
        assert_eq!(sql("${a}${b}", &v).unwrap(), "${b}x");
        assert_eq!(
            sql("SELECT ${e} AS v", &v).unwrap(),
            "SELECT ln(1 + value) AS v"
        );
    }

    #[test]
    fn escapes_dollars_and_placeholders() {
        let v = vars(&[("x", "1")]);
        assert_eq!(sql("SELECT '$${x}', ${x}", &v).unwrap(), "SELECT '${x}', 1");
        assert_eq!(
            sql("SELECT $1, $name, 'a$b'", &v).unwrap(),
            "SELECT $1, $name, 'a$b'"
        );
        // A dollar-quoted string is text like any string: references in it are replaced.
        assert_eq!(sql("SELECT $$a ${x}$$", &v).unwrap(), "SELECT $$a 1$$");
        // ... and a `--` inside it is not a comment.
        assert_eq!(sql("SELECT $t$--${x}$t$", &v).unwrap(), "SELECT $t$--1$t$");
    }

    #[test]
    fn undefined_and_malformed_references_are_errors_with_their_offset() {
        let v = vars(&[("x", "1")]);
        assert_eq!(
            sql("SELECT ${x},\n  ${y}", &v),
            Err(SubstituteError::Undefined {
                name: "y".into(),
                offset: 15
            })
        );
        assert_eq!(line_column("SELECT ${x},\n  ${y}", 15), (2, 3));
        assert_eq!(
            sql("SELECT ${x", &v),
            Err(SubstituteError::Malformed { offset: 7 })
        );
        assert_eq!(
            sql("SELECT ${1x}", &v),
            Err(SubstituteError::Malformed { offset: 7 })
        );
    }

    #[test]
    fn commands_are_replaced_everywhere() {
        let v = vars(&[("ds", "lastfm")]);
        let s = substitute("\\i common/${ds}.sql -- ${ds}", &v, Mode::Command).unwrap();
        assert_eq!(s.text, "\\i common/lastfm.sql -- lastfm");
    }

    #[test]
    fn offsets_map_back_to_the_original() {
        let v = vars(&[("long", "a\nb\nc"), ("s", "")]);
        let original = "SELECT ${long},\n${s}x";
        let s = substitute(original, &v, Mode::Sql).unwrap();
        assert_eq!(s.text, "SELECT a\nb\nc,\nx");
        // `,` after the value.
        let comma = s.text.find(',').unwrap();
        assert_eq!(s.original_offset(comma), original.find(',').unwrap());
        // Inside the value: the reference.
        assert_eq!(s.original_offset(9), 7);
        // `x` after an empty value.
        assert_eq!(s.original_offset(s.text.len() - 1), original.len() - 1);
        assert_eq!(s.original_offset(0), 0);
    }

    #[test]
    fn names_and_assignments() {
        assert!(check_name("dataset_2").is_ok());
        assert!(check_name("_x").is_ok());
        assert!(check_name("2x").is_err());
        assert!(check_name("").is_err());
        assert!(check_name("a-b").is_err());
        assert_eq!(
            parse_assignment("label=Last.fm 2K = x").unwrap(),
            ("label".to_string(), "Last.fm 2K = x".to_string())
        );
        assert_eq!(parse_assignment("x=").unwrap(), ("x".into(), "".into()));
        assert!(parse_assignment("novalue")
            .unwrap_err()
            .contains("NAME=VALUE"));
        assert!(parse_assignment("a b=1")
            .unwrap_err()
            .contains("invalid variable name"));
    }

    #[test]
    fn spans_find_strings_and_comments() {
        let text = "a 'b''c' -- d\n\"e\" /* f */ $$g$$ $1";
        let kinds: Vec<(SpanKind, &str)> = spans(text)
            .into_iter()
            .map(|(k, r)| (k, &text[r]))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (SpanKind::Code, "a "),
                (SpanKind::Quoted, "'b''c'"),
                (SpanKind::Code, " "),
                (SpanKind::Comment, "-- d"),
                (SpanKind::Code, "\n"),
                (SpanKind::Quoted, "\"e\""),
                (SpanKind::Code, " "),
                (SpanKind::Comment, "/* f */"),
                (SpanKind::Code, " "),
                (SpanKind::Quoted, "$$g$$"),
                (SpanKind::Code, " $1"),
            ]
        );
        // Unterminated: to the end.
        assert_eq!(spans("'abc").last().map(|s| s.0), Some(SpanKind::Quoted));
        assert_eq!(spans("/* abc").last().map(|s| s.0), Some(SpanKind::Comment));
    }
}
