//! Parsing the model DDL, modelled on BigQuery ML:
//!
//! ```sql
//! CREATE [OR REPLACE] MODEL [IF NOT EXISTS] name OPTIONS (key = value, ...) AS query
//! SHOW MODELS
//! SHOW MODEL TYPES
//! DESCRIBE MODEL name      -- or DESC MODEL name
//! DROP MODEL [IF EXISTS] name
//! ```
//!
//! Names follow SQL identifier rules: unquoted names are lower-cased, "quoted" names are kept.
//! Option names are case-insensitive. Errors give the line and column within the statement.

use datafusion::common::plan_datafusion_err;
use datafusion::error::{DataFusionError, Result};
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Token, TokenWithSpan, Word};
use trustql_udfs::model::RawOptionValue;

use super::{tokenize, LineIndex};

/// A parsed model statement.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelStatement {
    Create {
        name: String,
        or_replace: bool,
        if_not_exists: bool,
        options: Vec<(String, RawOptionValue)>,
        query: String,
    },
    Show,
    ShowTypes,
    Describe {
        name: String,
    },
    Drop {
        name: String,
        if_exists: bool,
    },
}

struct Cursor<'a> {
    tokens: Vec<&'a TokenWithSpan>,
    pos: usize,
    text: &'a str,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<&'a TokenWithSpan> {
        self.tokens.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<&'a TokenWithSpan> {
        let t = self.peek();
        self.pos += 1;
        t
    }

    fn error(&self, what: &str) -> DataFusionError {
        match self.peek() {
            Some(t) => plan_datafusion_err!(
                "{what}, found '{}' at line {}, column {} of the statement",
                t.token,
                t.span.start.line,
                t.span.start.column
            ),
            None => plan_datafusion_err!("{what}, found the end of the statement"),
        }
    }

    fn is_keyword(&self, offset: usize, kw: Keyword) -> bool {
        matches!(self.tokens.get(self.pos + offset), Some(TokenWithSpan { token: Token::Word(w), .. }) if w.keyword == kw)
    }

    fn is_word(&self, offset: usize, word: &str) -> bool {
        matches!(self.tokens.get(self.pos + offset), Some(TokenWithSpan { token: Token::Word(w), .. }) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
    }

    fn eat_keyword(&mut self, kw: Keyword) -> bool {
        let yes = self.is_keyword(0, kw);
        if yes {
            self.pos += 1;
        }
        yes
    }

    fn expect_keyword(&mut self, kw: Keyword, what: &str) -> Result<()> {
        if self.eat_keyword(kw) {
            Ok(())
        } else {
            Err(self.error(what))
        }
    }

    fn name(&mut self, what: &str) -> Result<String> {
        match self.peek().map(|t| &t.token) {
            Some(Token::Word(w)) => {
                self.pos += 1;
                Ok(normalise(w))
            }
            _ => Err(self.error(&format!("expected {what}"))),
        }
    }

    fn expect_end(&self, statement: &str) -> Result<()> {
        if self.peek().is_some() {
            Err(self.error(&format!("unexpected text after {statement}")))
        } else {
            Ok(())
        }
    }
}

fn normalise(w: &Word) -> String {
    if w.quote_style.is_some() {
        w.value.clone()
    } else {
        w.value.to_lowercase()
    }
}

/// Parses `sql` as a model statement; `Ok(None)` when it is not one (DataFusion handles it).
pub fn parse(sql: &str) -> Result<Option<ModelStatement>> {
    // Cheap test first: only statements that mention MODEL(S) can be ours.
    let upper = sql.to_ascii_uppercase();
    if !upper.contains("MODEL") {
        return Ok(None);
    }
    let Ok(all) = tokenize(sql) else {
        return Ok(None);
    };
    let tokens: Vec<&TokenWithSpan> = all
        .iter()
        .filter(|t| {
            !matches!(
                t.token,
                Token::Whitespace(_) | Token::EOF | Token::SemiColon
            )
        })
        .collect();
    let mut c = Cursor {
        tokens,
        pos: 0,
        text: sql,
    };
    if c.is_keyword(0, Keyword::SHOW) && c.is_word(1, "models") {
        c.pos += 2;
        c.expect_end("SHOW MODELS")?;
        return Ok(Some(ModelStatement::Show));
    }
    if c.is_keyword(0, Keyword::SHOW) && c.is_word(1, "model") && c.is_word(2, "types") {
        c.pos += 3;
        c.expect_end("SHOW MODEL TYPES")?;
        return Ok(Some(ModelStatement::ShowTypes));
    }
    if (c.is_keyword(0, Keyword::DESCRIBE) || c.is_keyword(0, Keyword::DESC))
        && c.is_word(1, "model")
    {
        c.pos += 2;
        let name = c.name("a model name after DESCRIBE MODEL")?;
        c.expect_end("DESCRIBE MODEL name")?;
        return Ok(Some(ModelStatement::Describe { name }));
    }
    if c.is_keyword(0, Keyword::DROP) && c.is_word(1, "model") {
        c.pos += 2;
        let if_exists = if c.is_keyword(0, Keyword::IF) {
            c.pos += 1;
            c.expect_keyword(Keyword::EXISTS, "expected EXISTS after DROP MODEL IF")?;
            true
        } else {
            false
        };
        let name = c.name("a model name after DROP MODEL")?;
        c.expect_end("DROP MODEL name")?;
        return Ok(Some(ModelStatement::Drop { name, if_exists }));
    }
    let create_model = c.is_keyword(0, Keyword::CREATE)
        && (c.is_word(1, "model")
            || (c.is_keyword(1, Keyword::OR)
                && c.is_keyword(2, Keyword::REPLACE)
                && c.is_word(3, "model")));
    if !create_model {
        return Ok(None);
    }
    parse_create(&mut c).map(Some)
}

fn parse_create(c: &mut Cursor<'_>) -> Result<ModelStatement> {
    c.pos += 1; // CREATE
    let or_replace = if c.is_keyword(0, Keyword::OR) {
        c.pos += 2;
        true
    } else {
        false
    };
    c.pos += 1; // MODEL
    let if_not_exists = if c.is_keyword(0, Keyword::IF) {
        c.pos += 1;
        c.expect_keyword(Keyword::NOT, "expected NOT EXISTS after CREATE MODEL IF")?;
        c.expect_keyword(Keyword::EXISTS, "expected EXISTS after CREATE MODEL IF NOT")?;
        true
    } else {
        false
    };
    if or_replace && if_not_exists {
        return Err(DataFusionError::Plan(
            "CREATE OR REPLACE MODEL and IF NOT EXISTS cannot be used together".to_string(),
        ));
    }
    let name = c.name("a model name after CREATE MODEL")?;
    let mut options = Vec::new();
    if c.eat_keyword(Keyword::OPTIONS) {
        if !matches!(c.next().map(|t| &t.token), Some(Token::LParen)) {
            c.pos -= 1;
            return Err(c.error("expected '(' after OPTIONS"));
        }
        loop {
            if matches!(c.peek().map(|t| &t.token), Some(Token::RParen)) && options.is_empty() {
                c.pos += 1;
                break;
            }
            let key = match c.peek().map(|t| &t.token) {
                Some(Token::Word(w)) => {
                    c.pos += 1;
                    w.value.to_lowercase()
                }
                _ => return Err(c.error("expected an option name in OPTIONS (...)")),
            };
            if !matches!(c.peek().map(|t| &t.token), Some(Token::Eq)) {
                return Err(c.error(&format!("expected '=' after option '{key}'")));
            }
            c.pos += 1;
            let value = option_value(c, &key)?;
            options.push((key, value));
            match c.next().map(|t| &t.token) {
                Some(Token::Comma) => continue,
                Some(Token::RParen) => break,
                _ => {
                    c.pos -= 1;
                    return Err(c.error("expected ',' or ')' in OPTIONS (...)"));
                }
            }
        }
    }
    let Some(as_token) = c.peek() else {
        return Err(c.error("expected AS followed by the training query"));
    };
    if !c.eat_keyword(Keyword::AS) {
        return Err(c.error("expected OPTIONS (...) or AS followed by the training query"));
    }
    if c.peek().is_none() {
        return Err(c.error("expected the training query after AS"));
    }
    let offset = LineIndex::new(c.text).offset(as_token.span.end);
    let query = c.text[offset..]
        .trim()
        .trim_end_matches(';')
        .trim()
        .to_string();
    Ok(ModelStatement::Create {
        name,
        or_replace,
        if_not_exists,
        options,
        query,
    })
}

fn option_value(c: &mut Cursor<'_>, key: &str) -> Result<RawOptionValue> {
    let negative = matches!(c.peek().map(|t| &t.token), Some(Token::Minus));
    if negative {
        c.pos += 1;
    }
    let value = match c.peek().map(|t| &t.token) {
        Some(Token::SingleQuotedString(s)) if !negative => {
            RawOptionValue::Text(s.replace("''", "'"))
        }
        Some(Token::Number(n, _)) => {
            RawOptionValue::Number(if negative { format!("-{n}") } else { n.clone() })
        }
        Some(Token::Word(w)) if !negative && w.quote_style.is_none() => {
            match w.value.to_ascii_lowercase().as_str() {
                "true" => RawOptionValue::Bool(true),
                "false" => RawOptionValue::Bool(false),
                _ => RawOptionValue::Word(w.value.clone()),
            }
        }
        _ => {
            return Err(c.error(&format!(
                "expected a value for option '{key}' (a number, 'text', true or false)"
            )))
        }
    };
    c.pos += 1;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_with_options_and_query() {
        let s = parse(
            "CREATE OR REPLACE MODEL Fm64\n OPTIONS (type = 'fm', DIM = 64, lr = 0.001, shift = -2, verbose = true, solver = cg)\n AS SELECT \"user\", item FROM t;",
        )
        .unwrap()
        .unwrap();
        let ModelStatement::Create {
            name,
            or_replace,
            if_not_exists,
            options,
            query,
        } = s
        else {
            panic!("not a create: {s:?}")
        };
        assert_eq!(name, "fm64");
        assert!(or_replace && !if_not_exists);
        assert_eq!(query, "SELECT \"user\", item FROM t");
        assert_eq!(
            options,
            vec![
                ("type".to_string(), RawOptionValue::Text("fm".into())),
                ("dim".to_string(), RawOptionValue::Number("64".into())),
                ("lr".to_string(), RawOptionValue::Number("0.001".into())),
                ("shift".to_string(), RawOptionValue::Number("-2".into())),
                ("verbose".to_string(), RawOptionValue::Bool(true)),
                ("solver".to_string(), RawOptionValue::Word("cg".into())),
            ]
        );
    }

    #[test]
    fn other_statements() {
        assert_eq!(parse("show models").unwrap(), Some(ModelStatement::Show));
        assert_eq!(
            parse("SHOW MODEL TYPES").unwrap(),
            Some(ModelStatement::ShowTypes)
        );
        assert_eq!(
            parse("DESC MODEL \"MyModel\"").unwrap(),
            Some(ModelStatement::Describe {
                name: "MyModel".into()
            })
        );
        assert_eq!(
            parse("DROP MODEL IF EXISTS m").unwrap(),
            Some(ModelStatement::Drop {
                name: "m".into(),
                if_exists: true
            })
        );
        assert_eq!(parse("SELECT * FROM models").unwrap(), None);
        assert_eq!(parse("CREATE TABLE model AS SELECT 1").unwrap(), None);
    }

    #[test]
    fn errors_say_where() {
        let e = parse("CREATE MODEL m OPTIONS (dim 64) AS SELECT 1")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("expected '=' after option 'dim', found '64' at line 1, column 29"),
            "{e}"
        );
        let e = parse("CREATE MODEL m OPTIONS (type = 'x')")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("expected AS followed by the training query, found the end"),
            "{e}"
        );
        let e = parse("CREATE MODEL m WITH (type = 'x') AS SELECT 1")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("expected OPTIONS (...) or AS followed by the training query, found 'WITH'"),
            "{e}"
        );
        let e = parse("CREATE MODEL m AS").unwrap_err().to_string();
        assert!(e.contains("expected the training query after AS"), "{e}");
        let e = parse("CREATE MODEL OPTIONS (a = 1) AS SELECT 1")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("expected '(' after OPTIONS") || e.contains("expected OPTIONS"),
            "{e}"
        );
        let e = parse("DROP MODEL a b").unwrap_err().to_string();
        assert!(
            e.contains("unexpected text after DROP MODEL name, found 'b'"),
            "{e}"
        );
    }
}
