//! The lme4 formula language: tokenizer, parser and term expansion.
//!
//! A model is written as text (`Reaction ~ Days + (Days | Subject)`) and must become an ordered
//! list of fixed-effect terms and random-effect terms before any data is touched; this module
//! does that with R's semantics (operators `+ - * / : ^`, intercept control with `0`/`1`/`-1`,
//! terms ordered by degree, random terms `(lhs | g)` / `(lhs || g)`, nesting `a/b`).
//! Errors carry the character offset (0-based) of the offending token.

use serde::{Deserialize, Serialize};

use super::LmmError;

/// A parsed expression of the formula language.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Expr {
    /// A column name and its character offset in the formula.
    Var(String, usize),
    /// A number literal.
    Num(f64),
    /// A function call (`log(x)`, `I(x^2)`, `factor(g)`) and its offset.
    Call(String, Vec<Expr>, usize),
    /// A binary operator: one of `~ + - * / : ^ |` or `‖` for `||`, and its offset.
    Bin(char, Box<Expr>, Box<Expr>, usize),
    /// Unary minus.
    Neg(Box<Expr>),
    /// Parentheses as written.
    Paren(Box<Expr>),
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Num(f64, String),
    Op(char),
    LParen,
    RParen,
    Comma,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident(s) => format!("'{s}'"),
        Tok::Num(_, s) => format!("'{s}'"),
        Tok::Op('‖') => "'||'".to_string(),
        Tok::Op(c) => format!("'{c}'"),
        Tok::LParen => "'('".to_string(),
        Tok::RParen => "')'".to_string(),
        Tok::Comma => "','".to_string(),
    }
}

/// A formula error at a character offset.
pub(crate) fn err_at(message: impl Into<String>, pos: usize) -> LmmError {
    LmmError {
        message: message.into(),
        position: Some(pos),
        formula: None,
    }
}

fn tokenize(src: &str) -> Result<Vec<(Tok, usize)>, LmmError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        if c.is_ascii_digit() || (c == '.' && i + 1 < chars.len() && chars[i + 1].is_ascii_digit())
        {
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                let mut j = i + 1;
                if j < chars.len() && (chars[j] == '+' || chars[j] == '-') {
                    j += 1;
                }
                if j < chars.len() && chars[j].is_ascii_digit() {
                    i = j;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            let text: String = chars[start..i].iter().collect();
            let v: f64 = text.parse().map_err(|_| {
                err_at(
                    format!("malformed number '{text}' at position {start}"),
                    start,
                )
            })?;
            out.push((Tok::Num(v, text), start));
            continue;
        }
        if c.is_alphabetic() || c == '.' || c == '_' {
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '.' || chars[i] == '_')
            {
                i += 1;
            }
            out.push((Tok::Ident(chars[start..i].iter().collect()), start));
            continue;
        }
        if c == '`' {
            i += 1;
            while i < chars.len() && chars[i] != '`' {
                i += 1;
            }
            if i >= chars.len() {
                return Err(err_at(
                    format!("unterminated quoted name at position {start}"),
                    start,
                ));
            }
            out.push((Tok::Ident(chars[start + 1..i].iter().collect()), start));
            i += 1;
            continue;
        }
        let tok = match c {
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            ',' => Tok::Comma,
            '|' if i + 1 < chars.len() && chars[i + 1] == '|' => {
                i += 1;
                Tok::Op('‖')
            }
            '~' | '+' | '-' | '*' | '/' | ':' | '^' | '|' => Tok::Op(c),
            _ => {
                return Err(err_at(
                    format!("unexpected character '{c}' at position {start}"),
                    start,
                ))
            }
        };
        i += 1;
        out.push((tok, start));
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    i: usize,
    end: usize,
}

fn binding(op: char) -> Option<(u8, bool)> {
    // (precedence, right-associative)
    match op {
        '~' => Some((1, false)),
        '|' | '‖' => Some((2, false)),
        '+' | '-' => Some((3, false)),
        '*' | '/' => Some((4, false)),
        ':' => Some((5, false)),
        '^' => Some((7, true)),
        _ => None,
    }
}

impl Parser {
    fn peek(&self) -> Option<&(Tok, usize)> {
        self.toks.get(self.i)
    }

    fn unexpected(&self) -> LmmError {
        match self.peek() {
            Some((t, p)) => err_at(format!("unexpected {} at position {p}", describe(t)), *p),
            None => err_at(
                format!("unexpected end of formula at position {}", self.end),
                self.end,
            ),
        }
    }

    fn expr(&mut self, min_prec: u8) -> Result<Expr, LmmError> {
        let mut lhs = self.prefix()?;
        while let Some((Tok::Op(op), pos)) = self.peek().cloned() {
            let Some((prec, right)) = binding(op) else {
                break;
            };
            if prec < min_prec {
                break;
            }
            self.i += 1;
            let next = if right { prec } else { prec + 1 };
            let rhs = self.expr(next)?;
            lhs = Expr::Bin(op, Box::new(lhs), Box::new(rhs), pos);
        }
        Ok(lhs)
    }

    fn prefix(&mut self) -> Result<Expr, LmmError> {
        let Some((tok, pos)) = self.peek().cloned() else {
            return Err(self.unexpected());
        };
        match tok {
            Tok::Op('-') => {
                self.i += 1;
                // Unary minus binds tighter than ':' but looser than '^'.
                let e = self.expr(6)?;
                Ok(Expr::Neg(Box::new(e)))
            }
            Tok::Op('+') => {
                self.i += 1;
                self.expr(6)
            }
            Tok::Num(v, _) => {
                self.i += 1;
                Ok(Expr::Num(v))
            }
            Tok::Ident(name) => {
                self.i += 1;
                if let Some((Tok::LParen, _)) = self.peek() {
                    self.i += 1;
                    let mut args = Vec::new();
                    if let Some((Tok::RParen, _)) = self.peek() {
                        return Err(err_at(
                            format!("function {name}() needs an argument at position {pos}"),
                            pos,
                        ));
                    }
                    loop {
                        args.push(self.expr(2)?);
                        match self.peek() {
                            Some((Tok::Comma, _)) => self.i += 1,
                            Some((Tok::RParen, _)) => {
                                self.i += 1;
                                break;
                            }
                            _ => return Err(self.unexpected()),
                        }
                    }
                    Ok(Expr::Call(name, args, pos))
                } else {
                    Ok(Expr::Var(name, pos))
                }
            }
            Tok::LParen => {
                self.i += 1;
                let e = self.expr(2)?;
                match self.peek() {
                    Some((Tok::RParen, _)) => {
                        self.i += 1;
                        Ok(Expr::Paren(Box::new(e)))
                    }
                    _ => Err(self.unexpected()),
                }
            }
            _ => Err(self.unexpected()),
        }
    }
}

/// Parses a whole formula `response ~ rhs`.
pub fn parse(src: &str) -> Result<(Expr, Expr), LmmError> {
    let toks = tokenize(src)?;
    let end = src.chars().count();
    let mut p = Parser { toks, i: 0, end };
    let e = p.expr(1)?;
    if p.i < p.toks.len() {
        return Err(p.unexpected());
    }
    match e {
        Expr::Bin('~', lhs, rhs, _) => {
            if let Expr::Bin('~', _, _, pos) = *rhs {
                return Err(err_at(format!("unexpected '~' at position {pos}"), pos));
            }
            Ok((*lhs, *rhs))
        }
        _ => Err(err_at(
            "a formula needs a response and '~' (e.g. y ~ x + (1 | g))",
            0,
        )),
    }
}

/// Formats a number as R prints it (`0.2`, `1`, `10`, `1e-05`).
pub fn r_number(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Inf".into() } else { "-Inf".into() };
    }
    if v == v.trunc() && v.abs() < 1e15 {
        return format!("{}", v as i64);
    }
    let a = v.abs();
    if !(1e-4..1e15).contains(&a) {
        let s = format!("{:e}", v);
        // Rust: 1e-5 -> "1e-5"; R: "1e-05".
        if let Some((m, e)) = s.split_once('e') {
            let (sign, digits) = match e.strip_prefix('-') {
                Some(d) => ("-", d),
                None => ("+", e),
            };
            let digits = if digits.len() < 2 {
                format!("0{digits}")
            } else {
                digits.to_string()
            };
            return format!("{m}e{sign}{digits}");
        }
        return s;
    }
    // Shortest representation that round-trips, limited to 15 significant digits as R does.
    let s = format!("{}", v);
    let sig: usize = s.chars().filter(|c| c.is_ascii_digit()).count();
    if sig > 15 {
        let t = format!("{:.*e}", 14, v);
        if let Ok(x) = t.parse::<f64>() {
            return format!("{}", x);
        }
    }
    s
}

/// R's deparse of an expression, as used for term and column names.
pub fn deparse(e: &Expr) -> String {
    match e {
        Expr::Var(n, _) => n.clone(),
        Expr::Num(v) => r_number(*v),
        Expr::Call(f, args, _) => {
            let a: Vec<String> = args.iter().map(deparse).collect();
            format!("{f}({})", a.join(", "))
        }
        Expr::Bin(op, l, r, _) => {
            let (l, r) = (deparse(l), deparse(r));
            match op {
                ':' | '^' | '/' => format!("{l}{op}{r}"),
                '‖' => format!("{l} || {r}"),
                _ => format!("{l} {op} {r}"),
            }
        }
        Expr::Neg(x) => format!("-{}", deparse(x)),
        Expr::Paren(x) => format!("({})", deparse(x)),
    }
}

/// The column names an expression reads, with the offset of their first use.
pub fn variables(e: &Expr, out: &mut Vec<(String, usize)>) {
    match e {
        Expr::Var(n, p) => {
            if !out.iter().any(|(m, _)| m == n) {
                out.push((n.clone(), *p));
            }
        }
        Expr::Num(_) => {}
        Expr::Call(_, args, _) => args.iter().for_each(|a| variables(a, out)),
        Expr::Bin(_, l, r, _) => {
            variables(l, out);
            variables(r, out);
        }
        Expr::Neg(x) | Expr::Paren(x) => variables(x, out),
    }
}

/// A model term: the sorted indices of its atoms (empty = intercept, never stored as a term).
pub type Term = Vec<usize>;

/// The expansion of a model side: atoms (variables or function calls, in order of first
/// appearance), terms in R's order, the intercept flag and random-effect bars found.
#[derive(Clone, Debug, Default)]
pub struct TermSet {
    /// Atom expressions (deparsed label, expression).
    pub atoms: Vec<(String, Expr)>,
    /// Terms ordered by degree then appearance.
    pub terms: Vec<Term>,
    /// Whether the model has an intercept.
    pub intercept: bool,
}

/// A random-effects bar as written: `(lhs | group)` or `(lhs || group)`.
#[derive(Clone, Debug)]
pub struct Bar {
    /// The left-hand side (model of the random effects).
    pub lhs: Expr,
    /// The grouping expression.
    pub group: Expr,
    /// `||`: uncorrelated terms.
    pub double: bool,
    /// Offset of the bar.
    pub pos: usize,
}

#[derive(Default, Clone)]
struct Partial {
    terms: Vec<Term>,
    removed: Vec<Term>,
    intercept: Option<bool>,
}

fn push_unique(v: &mut Vec<Term>, t: Term) {
    if !v.contains(&t) {
        v.push(t);
    }
}

fn interact(a: &[Term], b: &[Term]) -> Vec<Term> {
    let mut out = Vec::new();
    for x in a {
        for y in b {
            let mut t: Term = x.iter().chain(y.iter()).copied().collect();
            t.sort_unstable();
            t.dedup();
            push_unique(&mut out, t);
        }
    }
    out
}

struct Expander<'a> {
    atoms: Vec<(String, Expr)>,
    bars: Option<&'a mut Vec<Bar>>,
}

const FUNCTIONS: &[&str] = &[
    "log",
    "log2",
    "log10",
    "log1p",
    "exp",
    "sqrt",
    "abs",
    "I",
    "factor",
    "as.factor",
];

impl Expander<'_> {
    fn atom(&mut self, e: &Expr) -> usize {
        let label = deparse(e);
        if let Some(i) = self.atoms.iter().position(|(l, _)| *l == label) {
            return i;
        }
        self.atoms.push((label, e.clone()));
        self.atoms.len() - 1
    }

    fn expand(&mut self, e: &Expr) -> Result<Partial, LmmError> {
        match e {
            Expr::Num(v) => {
                if *v == 1.0 {
                    Ok(Partial {
                        intercept: Some(true),
                        ..Default::default()
                    })
                } else if *v == 0.0 {
                    Ok(Partial {
                        intercept: Some(false),
                        ..Default::default()
                    })
                } else {
                    Err(LmmError::new(format!(
                        "the number {} cannot be a model term (only 0 and 1 set the intercept)",
                        r_number(*v)
                    )))
                }
            }
            Expr::Var(..) => {
                let i = self.atom(e);
                Ok(Partial {
                    terms: vec![vec![i]],
                    ..Default::default()
                })
            }
            Expr::Call(f, args, pos) => {
                if !FUNCTIONS.contains(&f.as_str()) {
                    return Err(err_at(
                        format!(
                            "unknown function '{f}' at position {pos} (known: {})",
                            FUNCTIONS.join(", ")
                        ),
                        *pos,
                    ));
                }
                if args.len() != 1 {
                    return Err(err_at(
                        format!("function '{f}' takes one argument (position {pos})"),
                        *pos,
                    ));
                }
                let i = self.atom(e);
                Ok(Partial {
                    terms: vec![vec![i]],
                    ..Default::default()
                })
            }
            Expr::Paren(inner) => {
                if let Expr::Bin(op @ ('|' | '‖'), l, r, pos) = inner.as_ref() {
                    return match self.bars.as_deref_mut() {
                        Some(bars) => {
                            bars.push(Bar {
                                lhs: (**l).clone(),
                                group: (**r).clone(),
                                double: *op == '‖',
                                pos: *pos,
                            });
                            Ok(Partial::default())
                        }
                        None => Err(err_at(
                            format!("nested random-effects term at position {pos}"),
                            *pos,
                        )),
                    };
                }
                self.expand(inner)
            }
            Expr::Neg(inner) => {
                let p = self.expand(inner)?;
                Ok(Partial {
                    terms: Vec::new(),
                    removed: p.terms,
                    intercept: p.intercept.map(|b| !b),
                })
            }
            Expr::Bin(op, l, r, pos) => match op {
                '+' | '-' => {
                    let a = self.expand(l)?;
                    let mut b = self.expand(r)?;
                    if *op == '-' {
                        b = Partial {
                            terms: Vec::new(),
                            removed: b.terms,
                            intercept: b.intercept.map(|x| !x),
                        };
                    }
                    let mut terms = a.terms;
                    for t in b.terms {
                        push_unique(&mut terms, t);
                    }
                    let mut removed = a.removed;
                    removed.extend(b.removed);
                    Ok(Partial {
                        terms,
                        removed,
                        intercept: b.intercept.or(a.intercept),
                    })
                }
                '*' | ':' => {
                    let a = self.expand(l)?;
                    let b = self.expand(r)?;
                    let prod = interact(&a.terms, &b.terms);
                    let mut terms = Vec::new();
                    if *op == '*' {
                        for t in a.terms.iter().chain(b.terms.iter()) {
                            push_unique(&mut terms, t.clone());
                        }
                    }
                    for t in prod {
                        push_unique(&mut terms, t);
                    }
                    Ok(Partial {
                        terms,
                        removed: Vec::new(),
                        intercept: None,
                    })
                }
                '/' => {
                    let a = self.expand(l)?;
                    let b = self.expand(r)?;
                    let mut all: Term = a.terms.iter().flatten().copied().collect();
                    all.sort_unstable();
                    all.dedup();
                    let mut terms = a.terms.clone();
                    for t in interact(&[all], &b.terms) {
                        push_unique(&mut terms, t);
                    }
                    Ok(Partial {
                        terms,
                        removed: Vec::new(),
                        intercept: None,
                    })
                }
                '^' => {
                    let a = self.expand(l)?;
                    let k = match r.as_ref() {
                        Expr::Num(v) if *v >= 1.0 && v.fract() == 0.0 => *v as usize,
                        _ => {
                            return Err(err_at(
                                format!("'^' needs a positive integer power at position {pos}"),
                                *pos,
                            ))
                        }
                    };
                    let mut terms = a.terms.clone();
                    for _ in 1..k {
                        let prod = interact(&terms, &a.terms);
                        for t in prod {
                            push_unique(&mut terms, t);
                        }
                    }
                    Ok(Partial {
                        terms,
                        removed: Vec::new(),
                        intercept: None,
                    })
                }
                '|' | '‖' => Err(err_at(
                    format!("a random-effects term must be in parentheses, e.g. (1 | g) (position {pos})"),
                    *pos,
                )),
                _ => Err(err_at(format!("unexpected '{op}' at position {pos}"), *pos)),
            },
        }
    }
}

fn finish(p: Partial, atoms: Vec<(String, Expr)>) -> TermSet {
    let mut terms: Vec<Term> = p
        .terms
        .into_iter()
        .filter(|t| !t.is_empty() && !p.removed.contains(t))
        .collect();
    // R orders terms by degree, keeping the order of appearance within a degree.
    terms.sort_by_key(|t| t.len());
    TermSet {
        atoms,
        terms,
        intercept: p.intercept.unwrap_or(true),
    }
}

/// Expands the right-hand side of a model: fixed terms plus the random-effect bars.
pub fn expand_rhs(rhs: &Expr) -> Result<(TermSet, Vec<Bar>), LmmError> {
    let mut bars = Vec::new();
    let mut ex = Expander {
        atoms: Vec::new(),
        bars: Some(&mut bars),
    };
    let p = ex.expand(rhs)?;
    let atoms = std::mem::take(&mut ex.atoms);
    Ok((finish(p, atoms), bars))
}

/// Expands the left-hand side of a random-effects bar (no bars allowed inside).
pub fn expand_plain(e: &Expr) -> Result<TermSet, LmmError> {
    let mut ex = Expander {
        atoms: Vec::new(),
        bars: None,
    };
    let p = ex.expand(e)?;
    let atoms = std::mem::take(&mut ex.atoms);
    Ok(finish(p, atoms))
}

/// The grouping factors of a bar: `a` → [[a]], `a:b` → [[a, b]], `a/b` → [[a], [b, a]]
/// (lme4 names the nested factor `b:a`). Each group is a list of component expressions.
pub fn expand_group(e: &Expr) -> Result<Vec<Vec<Expr>>, LmmError> {
    match e {
        Expr::Paren(x) => expand_group(x),
        Expr::Var(..) | Expr::Call(..) => Ok(vec![vec![e.clone()]]),
        Expr::Bin(':', l, r, _) => {
            let a = expand_group(l)?;
            let b = expand_group(r)?;
            let mut out = Vec::new();
            for x in &a {
                for y in &b {
                    out.push(x.iter().chain(y.iter()).cloned().collect());
                }
            }
            Ok(out)
        }
        Expr::Bin('/', l, r, _) => {
            // a/b = a + b:a ; (a/b)/c = a + b:a + c:b:a
            let a = expand_group(l)?;
            let b = expand_group(r)?;
            let Some(outer) = a.last().cloned() else {
                return Ok(b);
            };
            let mut out = a;
            for y in b {
                let mut g = y;
                g.extend(outer.iter().cloned());
                out.push(g);
            }
            Ok(out)
        }
        Expr::Bin('+', l, r, _) => {
            let mut a = expand_group(l)?;
            a.extend(expand_group(r)?);
            Ok(a)
        }
        Expr::Bin(op, _, _, pos) => Err(err_at(
            format!("operator '{op}' cannot build a grouping factor (position {pos})"),
            *pos,
        )),
        Expr::Num(_) | Expr::Neg(_) => Err(LmmError::new(format!(
            "'{}' cannot be a grouping factor",
            deparse(e)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(ts: &TermSet) -> Vec<String> {
        ts.terms
            .iter()
            .map(|t| {
                t.iter()
                    .map(|&i| ts.atoms[i].0.clone())
                    .collect::<Vec<_>>()
                    .join(":")
            })
            .collect()
    }

    #[test]
    fn expands_operators() {
        let (_, rhs) = parse("y ~ a*b + c - a:b").unwrap();
        let (ts, bars) = expand_rhs(&rhs).unwrap();
        assert_eq!(labels(&ts), vec!["a", "b", "c"]);
        assert!(ts.intercept && bars.is_empty());
        let (_, rhs) = parse("y ~ a:b + a + 0").unwrap();
        let (ts, _) = expand_rhs(&rhs).unwrap();
        assert_eq!(labels(&ts), vec!["a", "a:b"]);
        assert!(!ts.intercept);
        let (_, rhs) = parse("y ~ -1 + log(x) + I(x^2) + a/b").unwrap();
        let (ts, _) = expand_rhs(&rhs).unwrap();
        assert_eq!(labels(&ts), vec!["log(x)", "I(x^2)", "a", "a:b"]);
        assert!(!ts.intercept);
        let (_, rhs) = parse("y ~ (a+b+c)^2").unwrap();
        let (ts, _) = expand_rhs(&rhs).unwrap();
        assert_eq!(labels(&ts), vec!["a", "b", "c", "a:b", "a:c", "b:c"]);
        let (_, rhs) = parse("y ~ x + (1 + x | g) + (x || h)").unwrap();
        let (ts, bars) = expand_rhs(&rhs).unwrap();
        assert_eq!(labels(&ts), vec!["x"]);
        assert_eq!(bars.len(), 2);
        assert!(bars[1].double && !bars[0].double);
    }

    #[test]
    fn groups() {
        let (_, rhs) = parse("y ~ (1 | a/b)").unwrap();
        let (_, bars) = expand_rhs(&rhs).unwrap();
        let g = expand_group(&bars[0].group).unwrap();
        let names: Vec<String> = g
            .iter()
            .map(|c| c.iter().map(deparse).collect::<Vec<_>>().join(":"))
            .collect();
        assert_eq!(names, vec!["a", "b:a"]);
    }

    #[test]
    fn errors_have_positions() {
        let e = parse("y ~ x + (1 | g))").unwrap_err();
        assert_eq!(e.position, Some(15));
        assert!(e.message.contains("unexpected ')' at position 15"));
        let e = parse("y ~ x + ").unwrap_err();
        assert_eq!(e.position, Some(8));
        let e = parse("y ~ x $ z").unwrap_err();
        assert_eq!(e.position, Some(6));
        let e = parse("y ~ (x | g").unwrap_err();
        assert!(e.message.contains("end of formula"));
        let (_, rhs) = parse("y ~ foo(x)").unwrap();
        assert_eq!(expand_rhs(&rhs).unwrap_err().position, Some(4));
    }

    #[test]
    fn numbers_like_r() {
        assert_eq!(r_number(0.2), "0.2");
        assert_eq!(r_number(1.0), "1");
        assert_eq!(r_number(10.0), "10");
        assert_eq!(r_number(1e-5), "1e-05");
        assert_eq!(r_number(0.1 + 0.2), "0.3");
        assert_eq!(
            deparse(&parse("y ~ I(x * 2 + x^2/3)").unwrap().1),
            "I(x * 2 + x^2/3)"
        );
    }
}
