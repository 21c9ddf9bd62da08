//! From named columns to a model design: y, X and the random-effect terms.
//!
//! The estimation code works on numbers only; this module evaluates the parsed formula against a
//! [`Frame`]: it drops rows with NULLs in used columns, turns categorical variables into sorted
//! levels and treatment contrasts (R's `model.matrix` rules), evaluates functions such as
//! `log(x)` and `I(x^2)`, removes aliased fixed-effect columns, builds each random-effect term
//! (its model columns and grouping factor) and orders the terms as lme4 does.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::formula::{self, deparse, err_at, r_number, Expr, TermSet};
use super::{Column, Frame, LmmError, LmmOptions};

/// How one atom (variable or function call) of a model enters the model matrix.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum AtomKind {
    /// A numeric value per row (the evaluated expression).
    Numeric,
    /// A categorical variable with its sorted levels.
    Categorical {
        /// The raw column the levels come from (`nitro` for `factor(nitro)`).
        variable: String,
        /// Level labels, in level order.
        levels: Vec<String>,
        /// Level values when the variable is numeric.
        numeric_levels: Option<Vec<f64>>,
    },
}

/// One atom of a model specification.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AtomSpec {
    /// R's deparsed label (`log(omega)`, `factor(nitro)`).
    pub label: String,
    /// The expression.
    pub expr: Expr,
    /// Numeric or categorical.
    pub kind: AtomKind,
}

/// One term: its atoms and, for each, whether it is coded by contrasts (else full indicators).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TermSpec {
    /// Atom indices in order.
    pub atoms: Vec<usize>,
    /// Per atom: treatment contrasts (true) or one indicator per level (false).
    pub contrast: Vec<bool>,
}

/// A model-matrix specification that can rebuild rows for new variable values (emmeans).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FixedSpec {
    /// Whether there is an intercept column.
    pub intercept: bool,
    /// Atoms.
    pub atoms: Vec<AtomSpec>,
    /// Terms in column order.
    pub terms: Vec<TermSpec>,
    /// Indices (into all generated columns) of the columns kept after rank checks.
    pub kept: Vec<usize>,
    /// Means of the raw numeric variables used by numeric atoms, over the rows used.
    pub numeric_means: Vec<(String, f64)>,
}

/// The value of an atom at one row or grid point.
#[derive(Clone, Copy, Debug)]
pub enum AtomValue {
    /// Level index of a categorical atom.
    Level(usize),
    /// Value of a numeric atom.
    Value(f64),
}

impl FixedSpec {
    /// The number of generated columns (before dropping aliased ones), as `f64` so that the
    /// product of many factors' levels cannot overflow.
    pub fn width(&self) -> f64 {
        let mut width = f64::from(u8::from(self.intercept));
        for t in &self.terms {
            let mut w = 1.0;
            for (j, &a) in t.atoms.iter().enumerate() {
                if let AtomKind::Categorical { levels, .. } = &self.atoms[a].kind {
                    w *= levels.len().saturating_sub(usize::from(t.contrast[j])) as f64;
                }
            }
            width += w;
        }
        width
    }

    /// Names of all generated columns (before dropping aliased ones).
    pub fn all_column_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        if self.intercept {
            names.push("(Intercept)".to_string());
        }
        for t in &self.terms {
            let mut acc: Vec<String> = vec![String::new()];
            for (j, &a) in t.atoms.iter().enumerate() {
                let atom = &self.atoms[a];
                let parts: Vec<String> = match &atom.kind {
                    AtomKind::Numeric => vec![atom.label.clone()],
                    AtomKind::Categorical { levels, .. } => {
                        let skip = usize::from(t.contrast[j]);
                        levels
                            .iter()
                            .skip(skip)
                            .map(|l| format!("{}{}", atom.label, l))
                            .collect()
                    }
                };
                // First atom varies fastest.
                let mut next = Vec::with_capacity(acc.len() * parts.len());
                for p in &parts {
                    for a in &acc {
                        next.push(if a.is_empty() {
                            p.clone()
                        } else {
                            format!("{a}:{p}")
                        });
                    }
                }
                acc = next;
            }
            names.extend(acc);
        }
        names
    }

    /// One full row (all generated columns) for the given atom values.
    pub fn full_row(&self, values: &[AtomValue]) -> Vec<f64> {
        let mut row = Vec::new();
        if self.intercept {
            row.push(1.0);
        }
        for t in &self.terms {
            let mut acc: Vec<f64> = vec![1.0];
            for (j, &a) in t.atoms.iter().enumerate() {
                let parts: Vec<f64> = match (&self.atoms[a].kind, values[a]) {
                    (AtomKind::Numeric, AtomValue::Value(v)) => vec![v],
                    (AtomKind::Categorical { levels, .. }, AtomValue::Level(l)) => {
                        let skip = usize::from(t.contrast[j]);
                        (skip..levels.len())
                            .map(|k| if k == l { 1.0 } else { 0.0 })
                            .collect()
                    }
                    _ => vec![f64::NAN],
                };
                let mut next = Vec::with_capacity(acc.len() * parts.len());
                for p in &parts {
                    for a in &acc {
                        next.push(a * p);
                    }
                }
                acc = next;
            }
            row.extend(acc);
        }
        row
    }

    /// One row of the kept columns.
    pub fn row(&self, values: &[AtomValue]) -> Vec<f64> {
        let full = self.full_row(values);
        self.kept.iter().map(|&k| full[k]).collect()
    }
}

/// One random-effects term `(columns | group)`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReTerm {
    /// Grouping factor name (`Subject`, `cask:batch`).
    pub group: String,
    /// Level labels of the grouping factor.
    pub levels: Vec<String>,
    /// Column names of the term's model matrix (`(Intercept)`, `Days`).
    pub columns: Vec<String>,
    /// Level index per row.
    pub index: Vec<usize>,
    /// Model-matrix values, row-major n × k.
    pub values: Vec<f64>,
}

impl ReTerm {
    /// Number of columns k.
    pub fn k(&self) -> usize {
        self.columns.len()
    }

    /// Number of levels.
    pub fn nlev(&self) -> usize {
        self.levels.len()
    }
}

/// A complete model design.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Design {
    /// The formula as given.
    pub formula: String,
    /// The response label.
    pub response: String,
    /// Rows used.
    pub n: usize,
    /// Rows dropped because of NULLs in used columns.
    pub rows_dropped: usize,
    /// Response.
    pub y: Vec<f64>,
    /// Fixed-effect matrix (kept columns), n × p column-major.
    pub x: Vec<f64>,
    /// Names of the kept columns.
    pub x_names: Vec<String>,
    /// Names of columns dropped as aliased.
    pub dropped_columns: Vec<String>,
    /// The fixed-effect specification.
    pub fixed: FixedSpec,
    /// Random-effect terms in lme4's order.
    pub terms: Vec<ReTerm>,
}

impl Design {
    /// Number of fixed-effect columns.
    pub fn p(&self) -> usize {
        self.x_names.len()
    }

    /// Total number of random effects q.
    pub fn q(&self) -> usize {
        self.terms.iter().map(|t| t.k() * t.nlev()).sum()
    }

    /// Number of θ parameters.
    pub fn n_theta(&self) -> usize {
        self.terms.iter().map(|t| t.k() * (t.k() + 1) / 2).sum()
    }

    /// x[i, j].
    pub fn x_at(&self, i: usize, j: usize) -> f64 {
        self.x[j * self.n + i]
    }
}

#[derive(Clone, Debug, PartialEq, PartialOrd)]
enum Key {
    Bool(bool),
    Num(f64),
    Str(String),
}

fn key_label(k: &Key) -> String {
    match k {
        Key::Bool(true) => "TRUE".into(),
        Key::Bool(false) => "FALSE".into(),
        Key::Num(v) => r_number(*v),
        Key::Str(s) => s.clone(),
    }
}

struct Cat {
    codes: Vec<usize>,
    levels: Vec<String>,
    numeric: Option<Vec<f64>>,
}

/// Keys of a categorical variable, refusing NaN: NaN has no place among sorted levels (it is
/// not equal to itself), and SQL NULL, not NaN, marks a missing value.
fn numeric_keys(
    label: &str,
    keys: impl Iterator<Item = Result<Key, LmmError>>,
) -> Result<Vec<Key>, LmmError> {
    let keys = keys.collect::<Result<Vec<Key>, LmmError>>()?;
    let nan = keys
        .iter()
        .filter(|k| matches!(k, Key::Num(v) if v.is_nan()))
        .count();
    if nan > 0 {
        return Err(LmmError::new(format!(
            "the categorical variable '{label}' is NaN in {nan} of the rows used; a level must \
             be a number (remove those rows or make them NULL: rows with NULLs are dropped)"
        )));
    }
    Ok(keys)
}

fn categorize(keys: Vec<Key>) -> Cat {
    let mut distinct = keys.clone();
    distinct.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    distinct.dedup();
    let numeric = if distinct.iter().all(|k| matches!(k, Key::Num(_))) {
        Some(
            distinct
                .iter()
                .map(|k| if let Key::Num(v) = k { *v } else { f64::NAN })
                .collect(),
        )
    } else {
        None
    };
    let codes = keys
        .iter()
        .map(|k| {
            distinct
                .binary_search_by(|d| d.partial_cmp(k).unwrap_or(std::cmp::Ordering::Equal))
                .unwrap_or(0)
        })
        .collect();
    Cat {
        codes,
        levels: distinct.iter().map(key_label).collect(),
        numeric,
    }
}

enum AtomData {
    Numeric(Vec<f64>),
    Cat(Cat, String),
}

struct Ctx<'a> {
    data: &'a Frame,
    rows: &'a [usize],
    factors: &'a [String],
}

impl Ctx<'_> {
    fn column(&self, name: &str, pos: usize) -> Result<&Column, LmmError> {
        self.data.column(name).ok_or_else(|| {
            err_at(
                format!(
                    "unknown column '{name}' at position {pos}; available: {}",
                    self.data.names.join(", ")
                ),
                pos,
            )
        })
    }

    fn keys(&self, name: &str, pos: usize) -> Result<Vec<Key>, LmmError> {
        let col = self.column(name, pos)?;
        let keys: Vec<Key> = self
            .rows
            .iter()
            .map(|&i| match col {
                Column::Float(v) => Key::Num(v[i].unwrap_or(f64::NAN)),
                Column::Int(v) => Key::Num(v[i].unwrap_or(0) as f64),
                Column::Text(v) => Key::Str(v[i].clone().unwrap_or_default()),
                Column::Bool(v) => Key::Bool(v[i].unwrap_or(false)),
            })
            .collect();
        numeric_keys(name, keys.into_iter().map(Ok))
    }

    fn is_categorical_column(&self, name: &str, pos: usize) -> Result<bool, LmmError> {
        Ok(match self.column(name, pos)? {
            Column::Text(_) | Column::Bool(_) => true,
            _ => self.factors.iter().any(|f| f == name),
        })
    }

    fn numeric(&self, e: &Expr) -> Result<Vec<f64>, LmmError> {
        let out = match e {
            Expr::Var(name, pos) => {
                let col = self.column(name, *pos)?;
                match col {
                    Column::Float(v) => self
                        .rows
                        .iter()
                        .map(|&i| v[i].unwrap_or(f64::NAN))
                        .collect(),
                    Column::Int(v) => self
                        .rows
                        .iter()
                        .map(|&i| v[i].unwrap_or(0) as f64)
                        .collect(),
                    _ => {
                        return Err(err_at(
                            format!("column '{name}' is not numeric (position {pos})"),
                            *pos,
                        ))
                    }
                }
            }
            Expr::Num(v) => vec![*v; self.rows.len()],
            Expr::Paren(x) => self.numeric(x)?,
            Expr::Neg(x) => self.numeric(x)?.into_iter().map(|v| -v).collect(),
            Expr::Str(_, pos) | Expr::Named(_, _, pos) => {
                return Err(err_at(
                    format!("'{}' is not a number (position {pos})", deparse(e)),
                    *pos,
                ))
            }
            Expr::Call(f, args, pos) => {
                let Some(arg) = args.first() else {
                    return Err(err_at(format!("{f}() needs an argument"), *pos));
                };
                let x = self.numeric(arg)?;
                let g: fn(f64) -> f64 = match f.as_str() {
                    "log" => f64::ln,
                    "log2" => f64::log2,
                    "log10" => f64::log10,
                    "log1p" => f64::ln_1p,
                    "exp" => f64::exp,
                    "sqrt" => f64::sqrt,
                    "abs" => f64::abs,
                    "I" => |v| v,
                    _ => {
                        return Err(err_at(
                            format!("function '{f}' cannot be used here (position {pos})"),
                            *pos,
                        ))
                    }
                };
                x.into_iter().map(g).collect()
            }
            Expr::Bin(op, l, r, pos) => {
                let a = self.numeric(l)?;
                let b = self.numeric(r)?;
                let g: fn(f64, f64) -> f64 = match op {
                    '+' => |x, y| x + y,
                    '-' => |x, y| x - y,
                    '*' => |x, y| x * y,
                    '/' => |x, y| x / y,
                    '^' => f64::powf,
                    _ => {
                        return Err(err_at(
                            format!(
                                "operator '{op}' cannot be used in arithmetic (position {pos})"
                            ),
                            *pos,
                        ))
                    }
                };
                a.into_iter().zip(b).map(|(x, y)| g(x, y)).collect()
            }
        };
        Ok(out)
    }

    fn atom(&self, e: &Expr) -> Result<AtomData, LmmError> {
        match e {
            Expr::Var(name, pos) if self.is_categorical_column(name, *pos)? => Ok(AtomData::Cat(
                categorize(self.keys(name, *pos)?),
                name.clone(),
            )),
            Expr::Call(f, args, _) if f == "factor" || f == "as.factor" => match args.first() {
                Some(Expr::Var(name, pos)) => Ok(AtomData::Cat(
                    categorize(self.keys(name, *pos)?),
                    name.clone(),
                )),
                Some(other) => {
                    let label = deparse(other);
                    let v = self.numeric(other)?;
                    let keys = numeric_keys(&label, v.into_iter().map(|x| Ok(Key::Num(x))))?;
                    Ok(AtomData::Cat(categorize(keys), label))
                }
                None => Err(LmmError::new("factor() needs an argument")),
            },
            _ => {
                let v = self.numeric(e)?;
                finite(&format!("the predictor '{}'", deparse(e)), &v)?;
                Ok(AtomData::Numeric(v))
            }
        }
    }
}

/// An error when `values` (of `what`, e.g. "the response 'y'") has NaN or infinite values:
/// lmer refuses them rather than dropping rows silently (SQL NULL marks a missing value, and rows
/// with NULLs are dropped).
fn finite(what: &str, values: &[f64]) -> Result<(), LmmError> {
    let nan = values.iter().filter(|v| v.is_nan()).count();
    let inf = values.iter().filter(|v| v.is_infinite()).count();
    if nan + inf == 0 {
        return Ok(());
    }
    let kinds = match (nan, inf) {
        (0, _) => "infinite".to_string(),
        (_, 0) => "NaN".to_string(),
        _ => format!("NaN ({nan}) or infinite ({inf})"),
    };
    Err(LmmError::new(format!(
        "{what} is {kinds} in {} of the {} rows used; a model needs finite numbers (remove those \
         rows or make them NULL: rows with NULLs are dropped)",
        nan + inf,
        values.len()
    )))
}

/// The largest absolute value, printed as R prints numbers.
fn max_abs(values: &[f64]) -> String {
    r_number(values.iter().fold(0.0_f64, |m, v| m.max(v.abs())))
}

/// An error when the sum of squares of `values` (finite numbers) overflows or vanishes: the
/// cross-products of the fit would be infinite, or zero for nonzero data, and every estimate NaN.
fn scale(what: &str, name: &str, values: &[f64]) -> Result<(), LmmError> {
    let ss: f64 = values.iter().map(|v| v * v).sum();
    if !ss.is_finite() {
        return Err(LmmError::new(format!(
            "{what} has values too large to fit (max |{name}| = {}); rescale it",
            max_abs(values)
        )));
    }
    if ss < f64::MIN_POSITIVE && values.iter().any(|v| *v != 0.0) {
        return Err(LmmError::new(format!(
            "{what} has values too small to fit (max |{name}| = {}); rescale it",
            max_abs(values)
        )));
    }
    Ok(())
}

/// Builds a model specification and its evaluated atoms from a term set.
fn spec_of(ts: &TermSet, ctx: &Ctx) -> Result<(FixedSpec, Vec<AtomData>), LmmError> {
    let mut atoms = Vec::new();
    let mut data = Vec::new();
    for (label, e) in &ts.atoms {
        let d = ctx.atom(e)?;
        let kind = match &d {
            AtomData::Numeric(_) => AtomKind::Numeric,
            AtomData::Cat(c, var) => AtomKind::Categorical {
                variable: var.clone(),
                levels: c.levels.clone(),
                numeric_levels: c.numeric.clone(),
            },
        };
        atoms.push(AtomSpec {
            label: label.clone(),
            expr: e.clone(),
            kind,
        });
        data.push(d);
    }
    let mut terms = Vec::new();
    for t in &ts.terms {
        let contrast = t
            .iter()
            .map(|a| {
                let rest: Vec<usize> = t.iter().copied().filter(|b| b != a).collect();
                if rest.is_empty() {
                    ts.intercept
                } else {
                    ts.terms.contains(&rest)
                }
            })
            .collect();
        terms.push(TermSpec {
            atoms: t.clone(),
            contrast,
        });
    }
    let spec = FixedSpec {
        intercept: ts.intercept,
        atoms,
        terms,
        kept: Vec::new(),
        numeric_means: Vec::new(),
    };
    Ok((spec, data))
}

fn atom_values(data: &[AtomData], i: usize) -> Vec<AtomValue> {
    data.iter()
        .map(|d| match d {
            AtomData::Numeric(v) => AtomValue::Value(v[i]),
            AtomData::Cat(c, _) => AtomValue::Level(c.codes[i]),
        })
        .collect()
}

/// Columns (column-major, all generated columns) of a specification.
fn matrix_of(spec: &FixedSpec, data: &[AtomData], n: usize) -> (Vec<Vec<f64>>, Vec<String>) {
    let names = spec.all_column_names();
    let rows: Vec<Vec<f64>> = (0..n)
        .map(|i| spec.full_row(&atom_values(data, i)))
        .collect();
    let cols = (0..names.len())
        .map(|j| rows.iter().map(|r| r[j]).collect())
        .collect();
    (cols, names)
}

/// Below this relative residual a response counts as reproduced exactly (rounding leaves about
/// 1e-16 relative; any real measurement leaves far more).
pub(crate) const EXACT_FIT: f64 = 1e-10;

/// An error when the fixed effects alone reproduce `y` (its least-squares residual on the
/// n × p column-major `x` is below [`EXACT_FIT`] of its norm): the residual variance is then 0
/// and the likelihood unbounded, so no estimate would be finite.
fn exact_fixed_fit(response: &str, y: &[f64], x: &[f64], n: usize) -> Result<(), LmmError> {
    let norm0 = y.iter().map(|v| v * v).sum::<f64>().sqrt();
    let mut basis: Vec<Vec<f64>> = Vec::new();
    for c in x.chunks_exact(n.max(1)) {
        let mut r = c.to_vec();
        for _ in 0..2 {
            for b in &basis {
                let d: f64 = r.iter().zip(b).map(|(x, y)| x * y).sum();
                r.iter_mut().zip(b).for_each(|(x, y)| *x -= d * y);
            }
        }
        let norm = r.iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm > 0.0 {
            r.iter_mut().for_each(|x| *x /= norm);
            basis.push(r);
        }
    }
    let mut r = y.to_vec();
    for _ in 0..2 {
        for b in &basis {
            let d: f64 = r.iter().zip(b).map(|(x, y)| x * y).sum();
            r.iter_mut().zip(b).for_each(|(x, y)| *x -= d * y);
        }
    }
    let relative = r.iter().map(|v| v * v).sum::<f64>().sqrt() / norm0;
    if relative < EXACT_FIT {
        return Err(LmmError::new(format!(
            "the fixed effects reproduce the response '{response}' exactly (relative residual \
             {relative:.1e}): there is no residual variation to model"
        )));
    }
    Ok(())
}

/// Indices of the columns kept by a sequential rank check (tolerance 1e-7 relative).
pub(crate) fn independent_columns(cols: &[Vec<f64>]) -> Vec<usize> {
    let mut basis: Vec<Vec<f64>> = Vec::new();
    let mut kept = Vec::new();
    for (j, c) in cols.iter().enumerate() {
        let norm0 = c.iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm0 == 0.0 {
            continue;
        }
        let mut r = c.clone();
        for _ in 0..2 {
            for b in &basis {
                let d: f64 = r.iter().zip(b).map(|(x, y)| x * y).sum();
                r.iter_mut().zip(b).for_each(|(x, y)| *x -= d * y);
            }
        }
        let norm = r.iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm > 1e-7 * norm0 {
            r.iter_mut().for_each(|x| *x /= norm);
            basis.push(r);
            kept.push(j);
        }
    }
    kept
}

/// The rows a model uses and its parametric (fixed-effect) part: shared by `lmer` (the fixed
/// effects) and `gam` (the parametric terms).
pub(crate) struct FixedPart {
    /// The response label.
    pub response: String,
    /// Rows used.
    pub n: usize,
    /// Rows dropped for NULLs.
    pub rows_dropped: usize,
    /// The response.
    pub y: Vec<f64>,
    /// Kept columns, n × p column-major.
    pub x: Vec<f64>,
    /// Names of the kept columns.
    pub x_names: Vec<String>,
    /// Names of columns dropped as aliased.
    pub dropped_columns: Vec<String>,
    /// The specification (rebuilds rows for new values).
    pub fixed: FixedSpec,
    /// Indices (into the frame) of the rows used.
    pub rows: Vec<usize>,
}

/// A variable evaluated on the rows a model uses: numbers, or a factor's level codes and labels.
pub(crate) enum Variable {
    /// A numeric expression's values.
    Numeric(Vec<f64>),
    /// A categorical variable: level index per row and the sorted level labels.
    Factor {
        /// Level index per row.
        codes: Vec<usize>,
        /// Level labels in level order.
        levels: Vec<String>,
    },
}

/// Evaluates `e` (a column or an expression) on `rows` of `data`, as a model term would be:
/// text, boolean and `factors` columns and `factor(...)` are categorical.
pub(crate) fn variable(
    data: &Frame,
    rows: &[usize],
    options: &LmmOptions,
    e: &Expr,
) -> Result<Variable, LmmError> {
    let ctx = Ctx {
        data,
        rows,
        factors: &options.factors,
    };
    Ok(match ctx.atom(e)? {
        AtomData::Numeric(v) => Variable::Numeric(v),
        AtomData::Cat(c, _) => Variable::Factor {
            codes: c.codes,
            levels: c.levels,
        },
    })
}

/// The rows without NULLs in any variable of `lhs`, `fixed_ts` or `extra`, the response and the
/// parametric model matrix (aliased columns dropped), with the checks every model makes.
pub(crate) fn fixed_part(
    data: &Frame,
    lhs: &Expr,
    fixed_ts: &TermSet,
    extra: &[Expr],
    options: &LmmOptions,
) -> Result<FixedPart, LmmError> {
    let nrows = data.columns.first().map_or(0, Column::len);
    // Every variable used, checked to exist; rows with NULLs are dropped.
    let mut vars = Vec::new();
    formula::variables(lhs, &mut vars);
    for (_, e) in &fixed_ts.atoms {
        formula::variables(e, &mut vars);
    }
    for e in extra {
        formula::variables(e, &mut vars);
    }
    let mut used_cols = Vec::new();
    for (name, pos) in &vars {
        match data.column(name) {
            Some(c) => used_cols.push(c),
            None => {
                return Err(err_at(
                    format!(
                        "unknown column '{name}' at position {pos}; available: {}",
                        data.names.join(", ")
                    ),
                    *pos,
                ))
            }
        }
    }
    let rows: Vec<usize> = (0..nrows)
        .filter(|&i| used_cols.iter().all(|c| !c.is_null(i)))
        .collect();
    let n = rows.len();
    let rows_dropped = nrows - n;
    if n == 0 {
        return Err(LmmError::new(
            "no rows without NULLs in the model's columns",
        ));
    }
    let ctx = Ctx {
        data,
        rows: &rows,
        factors: &options.factors,
    };

    // Response.
    if let Expr::Var(name, pos) = lhs {
        if ctx.is_categorical_column(name, *pos)? {
            return Err(err_at(
                format!("the response '{name}' is not numeric"),
                *pos,
            ));
        }
    }
    let y = ctx.numeric(lhs)?;
    let response = deparse(lhs);
    finite(&format!("the response '{response}'"), &y)?;
    if y.iter().all(|v| *v == y[0]) {
        return Err(LmmError::new(format!(
            "the response '{response}' is constant ({} in all {n} rows used): there is no \
             variation to model",
            r_number(y[0])
        )));
    }
    scale(&format!("the response '{response}'"), &response, &y)?;

    // Fixed effects.
    let (mut fixed, fdata) = spec_of(fixed_ts, &ctx)?;
    let width = fixed.width();
    super::check_memory(
        &format!("the fixed-effect model matrix ({n} rows × {width} columns)"),
        3.0 * 8.0 * n as f64 * width,
        options.memory_limit,
    )?;
    let (cols, names) = matrix_of(&fixed, &fdata, n);
    // Every column is checked before the rank check, which cannot judge overflowing columns.
    for (c, name) in cols.iter().zip(&names) {
        let what = format!("the fixed-effect column '{name}'");
        finite(&what, c)?;
        scale(&what, name, c)?;
    }
    let kept = independent_columns(&cols);
    let dropped_columns: Vec<String> = (0..names.len())
        .filter(|j| !kept.contains(j))
        .map(|j| names[j].clone())
        .collect();
    let x_names: Vec<String> = kept.iter().map(|&j| names[j].clone()).collect();
    let mut x = Vec::with_capacity(n * kept.len());
    for &j in &kept {
        x.extend_from_slice(&cols[j]);
    }
    fixed.kept = kept;
    exact_fixed_fit(&response, &y, &x, n)?;
    let mut raw_numeric = Vec::new();
    for a in &fixed.atoms {
        if let AtomKind::Numeric = a.kind {
            formula::variables(&a.expr, &mut raw_numeric);
        }
    }
    for (name, pos) in raw_numeric {
        let v = ctx.numeric(&Expr::Var(name.clone(), pos))?;
        finite(&format!("the variable '{name}'"), &v)?;
        let mean = v.iter().sum::<f64>() / n as f64;
        fixed.numeric_means.push((name, mean));
    }

    Ok(FixedPart {
        response,
        n,
        rows_dropped,
        y,
        x,
        x_names,
        dropped_columns,
        fixed,
        rows,
    })
}

/// Checks that `data`'s columns have equal lengths and that `options.factors` names columns of
/// it.
pub(crate) fn check_frame(data: &Frame, options: &LmmOptions) -> Result<(), LmmError> {
    let nrows = data.columns.first().map_or(0, Column::len);
    if data.names.len() != data.columns.len() {
        return Err(LmmError::new(
            "frame has different numbers of names and columns",
        ));
    }
    if let Some((i, _)) = data
        .columns
        .iter()
        .enumerate()
        .find(|(_, c)| c.len() != nrows)
    {
        return Err(LmmError::new(format!(
            "column '{}' has {} rows, expected {nrows}",
            data.names[i],
            data.columns[i].len()
        )));
    }
    if let Some(absent) = options.factors.iter().find(|f| data.column(f).is_none()) {
        return Err(LmmError::new(format!(
            "option 'factors' names column '{absent}', which the data (the AS query) does not \
             have; its columns are: {}",
            data.names.join(", ")
        )));
    }
    Ok(())
}

/// Builds the design of `formula` on `data`.
pub fn build(formula_text: &str, data: &Frame, options: &LmmOptions) -> Result<Design, LmmError> {
    check_frame(data, options)?;
    let (lhs, rhs) = formula::parse(formula_text)?;
    let (fixed_ts, bars) = formula::expand_rhs(&rhs)?;

    // Expand bars: (lhs | a/b) → one bar per grouping factor; (x || g) → one per term.
    struct Bar1 {
        ts: TermSet,
        group: Vec<Expr>,
    }
    let mut bars1 = Vec::new();
    for bar in &bars {
        let ts = formula::expand_plain(&bar.lhs)?;
        if ts.terms.is_empty() && !ts.intercept {
            return Err(err_at(
                format!("random-effects term at position {} has no columns", bar.pos),
                bar.pos,
            ));
        }
        let groups = formula::expand_group(&bar.group)?;
        let parts: Vec<TermSet> = if bar.double {
            let mut v = Vec::new();
            if ts.intercept {
                v.push(TermSet {
                    atoms: ts.atoms.clone(),
                    terms: Vec::new(),
                    intercept: true,
                });
            }
            for t in &ts.terms {
                v.push(TermSet {
                    atoms: ts.atoms.clone(),
                    terms: vec![t.clone()],
                    intercept: false,
                });
            }
            v
        } else {
            vec![ts]
        };
        for g in &groups {
            for p in &parts {
                bars1.push(Bar1 {
                    ts: p.clone(),
                    group: g.clone(),
                });
            }
        }
    }

    let mut extra = Vec::new();
    for b in &bars1 {
        extra.extend(b.ts.atoms.iter().map(|(_, e)| e.clone()));
        extra.extend(b.group.iter().cloned());
    }
    let FixedPart {
        response,
        n,
        rows_dropped,
        y,
        x,
        x_names,
        dropped_columns,
        fixed,
        rows,
    } = fixed_part(data, &lhs, &fixed_ts, &extra, options)?;
    let ctx = Ctx {
        data,
        rows: &rows,
        factors: &options.factors,
    };

    // Random effects.
    let mut terms = Vec::new();
    for b in &bars1 {
        let (spec, rdata) = spec_of(&b.ts, &ctx)?;
        let width = spec.width();
        super::check_memory(
            &format!("a random-effects model matrix ({n} rows × {width} columns)"),
            3.0 * 8.0 * n as f64 * width,
            options.memory_limit,
        )?;
        let (cols, columns) = matrix_of(&spec, &rdata, n);
        let k = columns.len();
        for (c, name) in cols.iter().zip(&columns) {
            let what = format!("the random-effect column '{name}'");
            finite(&what, c)?;
            scale(&what, name, c)?;
        }
        let mut values = vec![0.0; n * k];
        for (j, c) in cols.iter().enumerate() {
            for i in 0..n {
                values[i * k + j] = c[i];
            }
        }
        // Grouping factor: combination of components, levels sorted by component levels.
        let mut comps = Vec::new();
        for e in &b.group {
            let from_numbers = |x: &Expr| -> Result<Vec<Key>, LmmError> {
                let v = ctx.numeric(x)?;
                numeric_keys(&deparse(x), v.into_iter().map(|x| Ok(Key::Num(x))))
            };
            let keys = match e {
                Expr::Var(name, pos) => ctx.keys(name, *pos)?,
                Expr::Call(f, args, _) if f == "factor" || f == "as.factor" => match args.first() {
                    Some(Expr::Var(name, pos)) => ctx.keys(name, *pos)?,
                    Some(other) => from_numbers(other)?,
                    None => return Err(LmmError::new("factor() needs an argument")),
                },
                other => from_numbers(other)?,
            };
            comps.push(categorize(keys));
        }
        let group = b.group.iter().map(deparse).collect::<Vec<_>>().join(":");
        let tuples: Vec<Vec<usize>> = (0..n)
            .map(|i| comps.iter().map(|c| c.codes[i]).collect())
            .collect();
        let mut distinct = tuples.clone();
        distinct.sort();
        distinct.dedup();
        let lookup: HashMap<&Vec<usize>, usize> =
            distinct.iter().enumerate().map(|(i, t)| (t, i)).collect();
        let index: Vec<usize> = tuples
            .iter()
            .map(|t| lookup.get(t).copied().unwrap_or(0))
            .collect();
        let levels: Vec<String> = distinct
            .iter()
            .map(|t| {
                t.iter()
                    .zip(&comps)
                    .map(|(&c, comp)| comp.levels[c].clone())
                    .collect::<Vec<_>>()
                    .join(":")
            })
            .collect();
        if levels.len() < 2 {
            return Err(LmmError::new(format!(
                "grouping factor '{group}' has a single level; random effects need at least two"
            )));
        }
        if levels.len() >= n {
            return Err(LmmError::new(format!(
                "number of levels of each grouping factor must be < number of observations \
                 (problems: {group}: {} levels, {n} observations)",
                levels.len()
            )));
        }
        if levels.len() * k >= n {
            return Err(LmmError::new(format!(
                "number of observations (={n}) <= number of random effects (={}) for term \
                 ({} | {group}); the random-effects parameters and the residual variance are \
                 probably unidentifiable",
                levels.len() * k,
                columns.join(" + ")
            )));
        }
        terms.push(ReTerm {
            group,
            levels,
            columns,
            index,
            values,
        });
    }
    // lme4 orders terms by decreasing number of levels (stable).
    terms.sort_by_key(|t| std::cmp::Reverse(t.nlev()));
    if terms.is_empty() {
        return Err(LmmError::new(
            "no random-effects terms: a mixed model needs at least one (x | g) term",
        ));
    }

    Ok(Design {
        formula: formula_text.to_string(),
        response,
        n,
        rows_dropped,
        y,
        x,
        x_names,
        dropped_columns,
        fixed,
        terms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> Frame {
        Frame {
            names: vec!["y".into(), "x".into(), "f".into(), "g".into(), "n".into()],
            columns: vec![
                Column::Float((0..24).map(|i| Some(i as f64 * 1.5 + 2.0)).collect()),
                Column::Float((0..24).map(|i| Some((i % 5) as f64 + 1.0)).collect()),
                Column::Text(
                    (0..24)
                        .map(|i| Some(["b", "a", "c"][i % 3].to_string()))
                        .collect(),
                ),
                Column::Int((0..24).map(|i| Some((i % 4) as i64)).collect()),
                Column::Float(
                    (0..24)
                        .map(|i| {
                            if i == 3 {
                                None
                            } else {
                                Some([0.2, 0.0, 0.4, 0.0][i % 4])
                            }
                        })
                        .collect(),
                ),
            ],
        }
    }

    #[test]
    fn columns_like_r() {
        let d = build(
            "y ~ f * log(x) + factor(n) + (1 | g)",
            &frame(),
            &LmmOptions::default(),
        )
        .unwrap();
        assert_eq!(
            d.x_names,
            vec![
                "(Intercept)",
                "fb",
                "fc",
                "log(x)",
                "factor(n)0.2",
                "factor(n)0.4",
                "fb:log(x)",
                "fc:log(x)"
            ]
        );
        assert_eq!(d.rows_dropped, 1);
        assert_eq!(d.n, 23);
        let d = build("y ~ 0 + f + (1 | g)", &frame(), &LmmOptions::default()).unwrap();
        assert_eq!(d.x_names, vec!["fa", "fb", "fc"]);
        let d = build(
            "y ~ x + (x || g) + (1 | g:f)",
            &frame(),
            &LmmOptions::default(),
        )
        .unwrap();
        assert_eq!(d.terms.len(), 3);
        assert_eq!(d.terms[0].group, "g:f");
        assert_eq!(d.terms[0].levels[0], "0:a");
        assert_eq!(d.terms[2].columns, vec!["x"]);
    }

    #[test]
    fn errors() {
        let o = LmmOptions::default();
        let e = build("y ~ z + (1 | g)", &frame(), &o).unwrap_err();
        assert_eq!(e.position, Some(4));
        assert!(e.message.contains("unknown column 'z'") && e.message.contains("available"));
        let e = build("f ~ x + (1 | g)", &frame(), &o).unwrap_err();
        assert!(e.message.contains("not numeric"));
        let mut fr = frame();
        fr.columns[3] = Column::Int(vec![Some(1); 24]);
        let e = build("y ~ x + (1 | g)", &fr, &o).unwrap_err();
        assert!(e.message.contains("single level"));
        let e = build("y ~ x + (1 | y)", &frame(), &o).unwrap_err();
        assert!(
            e.message.contains("must be < number of observations"),
            "{e}"
        );
    }

    #[test]
    fn rank_deficiency_drops_columns() {
        let mut fr = frame();
        fr.names.push("x2".into());
        fr.columns.push(Column::Float(
            (0..24)
                .map(|i| Some(2.0 * ((i % 5) as f64 + 1.0)))
                .collect(),
        ));
        let d = build("y ~ x + x2 + (1 | g)", &fr, &LmmOptions::default()).unwrap();
        assert_eq!(d.x_names, vec!["(Intercept)", "x"]);
        assert_eq!(d.dropped_columns, vec!["x2"]);
    }
}
