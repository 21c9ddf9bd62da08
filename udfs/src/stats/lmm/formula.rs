//! The lme4 formula language: tokenizer, parser and term expansion.
//!
//! A model is written as text (`Reaction ~ Days + (Days | Subject)`) and must become an ordered
//! list of fixed-effect terms and random-effect terms before any data is touched; this module
//! does that with R's semantics (operators `+ - * / : ^`, intercept control with `0`/`1`/`-1`,
//! terms ordered by degree, random terms `(lhs | g)` / `(lhs || g)`, nesting `a/b`).
//! Errors carry the character offset (0-based) of the offending token.
//!
//! Formulas come from SQL text, so no formula may crash the engine: nesting deeper than
//! [`MAX_NESTING`] (parentheses, calls, unary operators, powers), trees deeper than
//! [`MAX_TREE_DEPTH`] (long chains of operators) and expansions to more than [`MAX_TERMS`] terms
//! are errors with a position, which bounds the stack every recursive pass over a parsed formula
//! needs, and the work of expanding it.

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
    /// A quoted string (`'cr'`, `"tp"`), only meaningful as an argument of `s()`, and its
    /// offset.
    Str(String, usize),
    /// A named argument of a call (`k = 10`): the name, the value and the name's offset.
    Named(String, Box<Expr>, usize),
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Num(f64, String),
    Op(char),
    LParen,
    RParen,
    Comma,
    Equals,
    Str(String),
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
        Tok::Equals => "'='".to_string(),
        Tok::Str(s) => format!("'{s}'"),
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
        if c == '\'' || c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != c {
                i += 1;
            }
            if i >= chars.len() {
                return Err(err_at(
                    format!("unterminated string at position {start}"),
                    start,
                ));
            }
            out.push((Tok::Str(chars[start + 1..i].iter().collect()), start));
            i += 1;
            continue;
        }
        let tok = match c {
            '(' => Tok::LParen,
            '=' => Tok::Equals,
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

/// The deepest nesting of parentheses, function calls, unary operators and `^` powers the parser
/// accepts. The parser is recursive descent, so nesting costs stack: without a limit a formula of
/// 50,000 parentheses overflows the stack of the thread that plans the query and aborts the
/// process. lme4 formulas nest a handful of levels.
pub const MAX_NESTING: usize = 256;

/// The deepest expression tree a formula may parse to. Left-associative chains (`a + b + c`)
/// parse without recursion but build a tree as deep as the chain is long, and every later pass
/// over the tree (term expansion, evaluation, printing, saving the model) recurses on it.
pub const MAX_TREE_DEPTH: usize = 1024;

/// The most model terms one side of a formula may expand to (`(a + b + ... )^k` and `a*b*c*...`
/// grow exponentially).
pub const MAX_TERMS: usize = 4096;

struct Parser {
    toks: Vec<(Tok, usize)>,
    i: usize,
    end: usize,
    /// Currently open parentheses, calls, unary operators and powers.
    nesting: usize,
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

/// An expression with the depth of its tree.
type Parsed = (Expr, usize);

/// A node over children of depth `child`, or the error of a tree deeper than [`MAX_TREE_DEPTH`].
fn node(e: Expr, child: usize, pos: usize) -> Result<Parsed, LmmError> {
    let depth = child + 1;
    if depth > MAX_TREE_DEPTH {
        return Err(err_at(
            format!(
                "formula nests operators deeper than {MAX_TREE_DEPTH} at position {pos} \
                 (a chain of more than {MAX_TREE_DEPTH} terms or operators; split the model)"
            ),
            pos,
        ));
    }
    Ok((e, depth))
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

    /// Opens one level of nesting at `pos` (`what` is "parentheses" or "operators").
    fn open(&mut self, what: &str, pos: usize) -> Result<(), LmmError> {
        if self.nesting >= MAX_NESTING {
            return Err(err_at(
                format!("formula nests {what} deeper than {MAX_NESTING} at position {pos}"),
                pos,
            ));
        }
        self.nesting += 1;
        Ok(())
    }

    fn expr(&mut self, min_prec: u8) -> Result<Parsed, LmmError> {
        let (mut lhs, mut depth) = self.prefix()?;
        while let Some((Tok::Op(op), pos)) = self.peek().cloned() {
            let Some((prec, right)) = binding(op) else {
                break;
            };
            if prec < min_prec {
                break;
            }
            self.i += 1;
            // A right-associative operator recurses once per operator of the chain.
            if right {
                self.open("operators", pos)?;
            }
            let next = if right { prec } else { prec + 1 };
            let rhs = self.expr(next);
            if right {
                self.nesting -= 1;
            }
            let (rhs, rdepth) = rhs?;
            (lhs, depth) = node(
                Expr::Bin(op, Box::new(lhs), Box::new(rhs), pos),
                depth.max(rdepth),
                pos,
            )?;
        }
        Ok((lhs, depth))
    }

    /// Parses one operand of a unary operator at `pos`.
    fn unary(&mut self, pos: usize) -> Result<Parsed, LmmError> {
        self.i += 1;
        self.open("operators", pos)?;
        // Unary minus binds tighter than ':' but looser than '^'.
        let e = self.expr(6);
        self.nesting -= 1;
        e
    }

    fn prefix(&mut self) -> Result<Parsed, LmmError> {
        let Some((tok, pos)) = self.peek().cloned() else {
            return Err(self.unexpected());
        };
        match tok {
            Tok::Op('-') => {
                let (e, depth) = self.unary(pos)?;
                node(Expr::Neg(Box::new(e)), depth, pos)
            }
            Tok::Op('+') => self.unary(pos),
            Tok::Num(v, _) => {
                self.i += 1;
                Ok((Expr::Num(v), 1))
            }
            Tok::Str(text) => {
                self.i += 1;
                Ok((Expr::Str(text, pos), 1))
            }
            Tok::Ident(name) => {
                self.i += 1;
                let Some(&(Tok::LParen, open_pos)) = self.peek() else {
                    return Ok((Expr::Var(name, pos), 1));
                };
                self.i += 1;
                if let Some((Tok::RParen, _)) = self.peek() {
                    return Err(err_at(
                        format!("function {name}() needs an argument at position {pos}"),
                        pos,
                    ));
                }
                self.open("parentheses", open_pos)?;
                let args = self.arguments();
                self.nesting -= 1;
                let (args, depth) = args?;
                node(Expr::Call(name, args, pos), depth, pos)
            }
            Tok::LParen => {
                self.i += 1;
                self.open("parentheses", pos)?;
                let e = self.expr(2);
                self.nesting -= 1;
                let (e, depth) = e?;
                match self.peek() {
                    Some((Tok::RParen, _)) => {
                        self.i += 1;
                        node(Expr::Paren(Box::new(e)), depth, pos)
                    }
                    _ => Err(self.unexpected()),
                }
            }
            _ => Err(self.unexpected()),
        }
    }

    /// The arguments of a call, after its '(' and up to and including its ')'.
    fn arguments(&mut self) -> Result<(Vec<Expr>, usize), LmmError> {
        let mut args = Vec::new();
        let mut depth = 0;
        loop {
            // A named argument `name = value` (mgcv's `s(x, k = 10)`).
            let named = match (self.toks.get(self.i), self.toks.get(self.i + 1)) {
                (Some((Tok::Ident(name), pos)), Some((Tok::Equals, _))) => {
                    Some((name.clone(), *pos))
                }
                _ => None,
            };
            if named.is_some() {
                self.i += 2;
            }
            let (a, d) = self.expr(2)?;
            let a = match named {
                Some((name, pos)) => Expr::Named(name, Box::new(a), pos),
                None => a,
            };
            args.push(a);
            depth = depth.max(d);
            match self.peek() {
                Some((Tok::Comma, _)) => self.i += 1,
                Some((Tok::RParen, _)) => {
                    self.i += 1;
                    return Ok((args, depth));
                }
                _ => return Err(self.unexpected()),
            }
        }
    }
}

/// Parses a whole formula `response ~ rhs`.
///
/// Nesting deeper than [`MAX_NESTING`] and trees deeper than [`MAX_TREE_DEPTH`] are errors with
/// a position, so that no formula can exhaust the stack here or in the passes over its tree.
pub fn parse(src: &str) -> Result<(Expr, Expr), LmmError> {
    let toks = tokenize(src)?;
    let end = src.chars().count();
    let mut p = Parser {
        toks,
        i: 0,
        end,
        nesting: 0,
    };
    let (e, _) = p.expr(1)?;
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
            "the formula at position 0 has no response and '~' (e.g. y ~ x + (1 | g))",
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
        Expr::Str(t, _) => format!("\"{t}\""),
        Expr::Named(n, v, _) => format!("{n} = {}", deparse(v)),
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
        Expr::Neg(x) | Expr::Paren(x) | Expr::Named(_, x, _) => variables(x, out),
        Expr::Str(..) => {}
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

/// The error of a side of a formula that expands to more than [`MAX_TERMS`] terms.
fn too_many_terms(pos: usize) -> LmmError {
    err_at(
        format!("the formula expands to more than {MAX_TERMS} terms at position {pos}"),
        pos,
    )
}

/// The most products of two term lists one interaction may form before removing repeats.
const MAX_PRODUCTS: usize = 1 << 20;

/// Every product of a term of `a` with a term of `b`, in order, without repeats; more than
/// [`MAX_TERMS`] products (or [`MAX_PRODUCTS`] before removing repeats) is an error at the
/// operator's position `pos`.
fn interact(a: &[Term], b: &[Term], pos: usize) -> Result<Vec<Term>, LmmError> {
    if a.len().saturating_mul(b.len()) > MAX_PRODUCTS {
        return Err(err_at(
            format!(
                "the interaction at position {pos} multiplies {} terms by {} (more than \
                 {MAX_PRODUCTS} products)",
                a.len(),
                b.len()
            ),
            pos,
        ));
    }
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for x in a {
        for y in b {
            let mut t: Term = x.iter().chain(y.iter()).copied().collect();
            t.sort_unstable();
            t.dedup();
            if seen.insert(t.clone()) {
                out.push(t);
                if out.len() > MAX_TERMS {
                    return Err(too_many_terms(pos));
                }
            }
        }
    }
    Ok(out)
}

/// `terms`, checked against [`MAX_TERMS`].
fn bounded(terms: Vec<Term>, pos: usize) -> Result<Vec<Term>, LmmError> {
    if terms.len() > MAX_TERMS {
        return Err(too_many_terms(pos));
    }
    Ok(terms)
}

struct Expander<'a> {
    atoms: Vec<(String, Expr)>,
    bars: Option<&'a mut Vec<Bar>>,
    /// Where smooth calls (`s(...)`) go when the formula is mgcv's (`None`: lme4's, where `s`
    /// is an unknown function).
    smooths: Option<&'a mut Vec<Expr>>,
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
            Expr::Call(f, _, _) if f == "s" && self.smooths.is_some() => {
                if let Some(smooths) = self.smooths.as_deref_mut() {
                    smooths.push(e.clone());
                }
                Ok(Partial::default())
            }
            Expr::Str(_, pos) | Expr::Named(_, _, pos) => Err(err_at(
                format!(
                    "'{}' at position {pos} cannot be a model term (strings and named arguments \
                     belong inside s(...))",
                    deparse(e)
                ),
                *pos,
            )),
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
                if let Some(Expr::Named(_, _, p) | Expr::Str(_, p)) = args.first() {
                    return Err(err_at(
                        format!(
                            "function '{f}' takes a column or an expression, not '{}' \
                             (position {p})",
                            deparse(&args[0])
                        ),
                        *p,
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
                        terms: bounded(terms, *pos)?,
                        removed: bounded(removed, *pos)?,
                        intercept: b.intercept.or(a.intercept),
                    })
                }
                '*' | ':' => {
                    let a = self.expand(l)?;
                    let b = self.expand(r)?;
                    let prod = interact(&a.terms, &b.terms, *pos)?;
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
                        terms: bounded(terms, *pos)?,
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
                    for t in interact(&[all], &b.terms, *pos)? {
                        push_unique(&mut terms, t);
                    }
                    Ok(Partial {
                        terms: bounded(terms, *pos)?,
                        removed: Vec::new(),
                        intercept: None,
                    })
                }
                '^' => {
                    let a = self.expand(l)?;
                    let k = match r.as_ref() {
                        Expr::Num(v) if *v >= 1.0 && v.fract() == 0.0 => *v,
                        _ => {
                            return Err(err_at(
                                format!("'^' needs a positive integer power at position {pos}"),
                                *pos,
                            ))
                        }
                    };
                    // Powers beyond the number of atoms add nothing: stop at the fixed point
                    // (so that `(a + b)^1e18` does not loop 10^18 times).
                    let mut terms = a.terms.clone();
                    let mut power = 1.0;
                    while power < k {
                        let before = terms.len();
                        for t in interact(&terms, &a.terms, *pos)? {
                            push_unique(&mut terms, t);
                        }
                        terms = bounded(terms, *pos)?;
                        if terms.len() == before {
                            break;
                        }
                        power += 1.0;
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
        smooths: None,
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
        smooths: None,
    };
    let p = ex.expand(e)?;
    let atoms = std::mem::take(&mut ex.atoms);
    Ok(finish(p, atoms))
}

/// Expands the right-hand side of an mgcv (`gam`) model: the parametric terms, expanded as in
/// lme4's fixed part, and the smooth calls `s(...)` in order of appearance (parsed by
/// `stats::gam::formula`). Random-effects bars are refused.
pub fn expand_gam(rhs: &Expr) -> Result<(TermSet, Vec<Expr>), LmmError> {
    let mut smooths = Vec::new();
    let mut ex = Expander {
        atoms: Vec::new(),
        bars: None,
        smooths: Some(&mut smooths),
    };
    let p = ex.expand(rhs)?;
    let atoms = std::mem::take(&mut ex.atoms);
    Ok((finish(p, atoms), smooths))
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
        Expr::Num(_) | Expr::Neg(_) | Expr::Str(..) | Expr::Named(..) => Err(LmmError::new(
            format!("'{}' cannot be a grouping factor", deparse(e)),
        )),
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

    /// `n` nested parentheses around `x`.
    fn nested(n: usize) -> String {
        format!("y ~ {}x{}", "(".repeat(n), ")".repeat(n))
    }

    #[test]
    fn nesting_is_limited_with_a_position() {
        // 50,000 parentheses overflowed the stack before the limit; now an error at the
        // first '(' past the limit (position 4 + 256).
        let e = parse(&nested(50_000)).unwrap_err();
        assert_eq!(
            e.message,
            "formula nests parentheses deeper than 256 at position 260"
        );
        assert_eq!(e.position, Some(260));
        // The limit itself is allowed, one more is not.
        let (_, rhs) = parse(&nested(MAX_NESTING)).unwrap();
        assert_eq!(deparse(&rhs).len(), 2 * MAX_NESTING + 1);
        let e = parse(&nested(MAX_NESTING + 1)).unwrap_err();
        assert_eq!(e.position, Some(4 + MAX_NESTING));
        // Function calls nest like parentheses; the position is the call's '('.
        let calls = format!("y ~ {}x{}", "log(".repeat(300), ")".repeat(300));
        let e = parse(&calls).unwrap_err();
        assert_eq!(
            e.message,
            format!(
                "formula nests parentheses deeper than 256 at position {}",
                4 + 4 * 256 + 3
            )
        );
        // Unary operators and right-associative powers recurse too.
        let e = parse(&format!("y ~ {}x", "- ".repeat(50_000))).unwrap_err();
        assert_eq!(
            e.message,
            format!(
                "formula nests operators deeper than 256 at position {}",
                4 + 2 * 256
            )
        );
        let e = parse(&format!("y ~ {}x", "+".repeat(50_000))).unwrap_err();
        assert!(e.message.contains("operators deeper than 256"), "{e}");
        let e = parse(&format!("y ~ x{}", "^2".repeat(50_000))).unwrap_err();
        assert_eq!(
            e.message,
            format!(
                "formula nests operators deeper than 256 at position {}",
                5 + 2 * 256
            )
        );
        // Unbalanced deep input fails on the limit, not on the missing ')'.
        let e = parse(&format!("y ~ {}", "(".repeat(50_000))).unwrap_err();
        assert!(e.message.contains("deeper than 256"), "{e}");
    }

    #[test]
    fn long_chains_are_limited() {
        // A chain of + builds a tree as deep as it is long, without recursion in the parser.
        let chain = |n: usize| {
            let terms: Vec<String> = (0..n).map(|i| format!("x{i}")).collect();
            format!("y ~ {}", terms.join(" + "))
        };
        let (_, rhs) = parse(&chain(1000)).unwrap();
        let (ts, _) = expand_rhs(&rhs).unwrap();
        assert_eq!(ts.terms.len(), 1000);
        let e = parse(&chain(50_000)).unwrap_err();
        assert!(
            e.message
                .starts_with("formula nests operators deeper than 1024 at position"),
            "{e}"
        );
        // The error is at the operator that makes the tree too deep: the 1024th '+' (the
        // chain x0 + x1 + ... is one level deeper per '+').
        let text = chain(50_000);
        let plus = text.match_indices('+').nth(MAX_TREE_DEPTH - 1).unwrap().0;
        assert_eq!(e.position, Some(plus));
    }

    #[test]
    fn expansion_is_bounded() {
        // Powers stop at the fixed point: (a + b)^k for huge k is (a + b)^2.
        let (_, rhs) = parse("y ~ (a + b)^1e18").unwrap();
        let (ts, _) = expand_rhs(&rhs).unwrap();
        assert_eq!(labels(&ts), vec!["a", "b", "a:b"]);
        // 2^26 - 1 terms are refused.
        let atoms: Vec<String> = ('a'..='z').map(String::from).collect();
        let (_, rhs) = parse(&format!("y ~ {}", atoms.join("*"))).unwrap();
        let e = expand_rhs(&rhs).unwrap_err();
        assert!(
            e.message
                .contains("expands to more than 4096 terms at position"),
            "{e}"
        );
        let (_, rhs) = parse(&format!("y ~ ({})^26", atoms.join("+"))).unwrap();
        let e = expand_rhs(&rhs).unwrap_err();
        assert!(e.message.contains("more than 4096 terms"), "{e}");
        // 2000 × 2000 products are refused before forming them.
        let xs: Vec<String> = (0..2000).map(|i| format!("x{i}")).collect();
        let zs: Vec<String> = (0..2000).map(|i| format!("z{i}")).collect();
        let big = format!("y ~ ({}):({})", xs.join("+"), zs.join("+"));
        // (Each side is a chain of 2000 terms: too deep for the parser already.)
        assert!(parse(&big).is_err());
        let names = |prefix: &str, from: usize| -> String {
            let v: Vec<String> = (from..from + 1000)
                .map(|i| format!("{prefix}{i}"))
                .collect();
            format!("({})", v.join("+"))
        };
        // 1000 × 1000 products are formed, but give more than 4096 terms.
        let (_, rhs) = parse(&format!("y ~ {}:{}", names("x", 0), names("z", 0))).unwrap();
        let e = expand_rhs(&rhs).unwrap_err();
        assert!(e.message.contains("more than 4096 terms"), "{e}");
        // 2000 × 2000 are not even formed.
        let two = |p: &str| format!("({} + {})", names(p, 0), names(p, 1000));
        let (_, rhs) = parse(&format!("y ~ {}:{}", two("x"), two("z"))).unwrap();
        let e = expand_rhs(&rhs).unwrap_err();
        assert!(e.message.contains("multiplies 2000 terms by 2000"), "{e}");
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

/// Random strings and token soups never panic the parser, the term expansion or the design
/// builder, and every error says what is wrong (syntax errors with a position).
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::super::{frame, Column, Frame, LmmOptions};
    use super::*;

    fn config() -> ProptestConfig {
        ProptestConfig {
            cases: 300,
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }

    /// A small frame whose columns random formulas may name.
    fn data() -> Frame {
        let n = 12;
        Frame {
            names: ["y", "x", "a", "b", "g", "λ"].map(String::from).to_vec(),
            columns: vec![
                Column::Float((0..n).map(|i| Some((i * i % 7) as f64 + 0.5)).collect()),
                Column::Float((0..n).map(|i| Some(i as f64 - 3.0)).collect()),
                Column::Text((0..n).map(|i| Some(["p", "q"][i % 2].into())).collect()),
                Column::Int((0..n).map(|i| Some((i % 3) as i64)).collect()),
                Column::Int((0..n).map(|i| Some((i % 4) as i64)).collect()),
                Column::Bool((0..n).map(|i| Some(i % 5 == 0)).collect()),
            ],
        }
    }

    fn token() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => prop::sample::select(vec![
                "(", ")", "~", "+", "-", "*", "/", ":", "^", "|", "||", ",", "`", " ",
            ])
            .prop_map(String::from),
            3 => prop::sample::select(vec![
                "y", "x", "a", "b", "g", "λ", "log", "I", "factor", "exp", "0", "1", "2",
            ])
            .prop_map(String::from),
            1 => "[a-zA-Z._][a-zA-Z0-9._]{0,6}",
            1 => "[0-9]{1,4}(\\.[0-9]{0,3})?(e[-+]?[0-9]{1,3})?",
            1 => "\\PC{1,3}",
        ]
    }

    /// Checks one formula end to end; any panic fails the property.
    fn check(text: &str) -> Result<(), TestCaseError> {
        match parse(text) {
            Err(e) => {
                prop_assert!(!e.message.is_empty());
                // Every parse error is a syntax error with a position, and says it.
                prop_assert!(e.position.is_some(), "{:?}", e);
                prop_assert!(e.message.contains("position"), "{}", e.message);
            }
            Ok((_, rhs)) => {
                let _ = deparse(&rhs);
                match expand_rhs(&rhs) {
                    Err(e) => prop_assert!(!e.message.is_empty()),
                    Ok((_, bars)) => {
                        for bar in &bars {
                            if let Err(e) = expand_plain(&bar.lhs) {
                                prop_assert!(!e.message.is_empty());
                            }
                            if let Err(e) = expand_group(&bar.group) {
                                prop_assert!(!e.message.is_empty());
                            }
                        }
                    }
                }
                if let Err(e) = frame::build(text, &data(), &LmmOptions::default()) {
                    prop_assert!(!e.message.is_empty());
                }
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn random_strings(text in "\\PC{0,80}") {
            check(&text)?;
        }

        #[test]
        fn formula_characters(text in "[yxabg λ()~+*/:^|,.0-9eI`-]{0,80}") {
            check(&text)?;
        }

        #[test]
        fn token_soups(tokens in prop::collection::vec(token(), 0..60)) {
            check(&tokens.concat())?;
        }

        #[test]
        fn formulas_with_soup_right_sides(tokens in prop::collection::vec(token(), 0..40)) {
            check(&format!("y ~ {} + (1 | g)", tokens.concat()))?;
        }

        #[test]
        fn deep_nesting(
            opens in prop::collection::vec(
                prop::sample::select(vec!["(", "log(", "-", "+", "x^"]),
                200..320,
            )
        ) {
            let closes: String = opens
                .iter()
                .rev()
                .map(|o| if o.ends_with('(') { ")" } else { "" })
                .collect();
            check(&format!("y ~ {}x{closes}", opens.concat()))?;
        }
    }
}
