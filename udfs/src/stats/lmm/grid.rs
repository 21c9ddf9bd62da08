//! Reference grids: what estimated marginal means and joint tests need from a fitted model.
//!
//! emmeans works on any model with coefficients β̂, their covariance V and a way to predict at a
//! point of the *reference grid* (every factor's levels crossed with numeric covariates at chosen
//! values). The mixed models (`lmer`) and the GAMs (`gam`) both provide that through
//! [`GridModel`], so `emmeans`, `emmeans_pairs` and `joint_tests` are written once, here and in
//! the modules that use it, for both.

use nalgebra::DMatrix;
use serde::{Deserialize, Serialize};

use super::formula::{self, Expr};
use super::frame::{AtomKind, AtomValue, FixedSpec};

/// What a grid variable is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum GridKind {
    /// A factor with its level labels (and their values when the raw variable is numeric).
    Factor {
        levels: Vec<String>,
        numeric: Option<Vec<f64>>,
    },
    /// A numeric covariate and its mean over the rows used.
    Numeric { mean: f64 },
}

/// One variable of the reference grid: a raw variable of the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GridVar {
    /// The raw variable's name (`nitro` for `factor(nitro)`).
    pub name: String,
    /// Other names it may be called by (atom labels such as `factor(nitro)`).
    pub aliases: Vec<String>,
    /// Factor or numeric.
    pub kind: GridKind,
    /// An expression that evaluates the variable as the model saw it (`factor(nitro)`), for
    /// reading new data.
    pub expr: Expr,
}

/// A value of each grid variable at one grid point: a level index (factors) or a value.
pub type GridPoint = [AtomValue];

/// A fitted model that emmeans and joint tests can work on.
pub trait GridModel {
    /// The grid's variables, in the order R's reference grid lists them (order of appearance).
    fn grid_vars(&self) -> Vec<GridVar>;
    /// The linear function (one coefficient per β) that predicts at `point` (one value per
    /// [`GridModel::grid_vars`] entry).
    fn linfct(&self, vars: &[GridVar], point: &GridPoint) -> Vec<f64>;
    /// β̂.
    fn coefficients(&self) -> &[f64];
    /// The covariance of β̂.
    fn covariance(&self) -> DMatrix<f64>;
    /// Degrees of freedom of Lβ̂ (∞ for asymptotic inference).
    fn df_for(&self, l: &[f64]) -> f64;
    /// The model's terms as sets of grid variables (indices into `vars`): emmeans' joint tests
    /// test a set of variables only when some model term contains all of them.
    fn term_vars(&self, vars: &[GridVar]) -> Vec<Vec<usize>>;
}

/// The grid variables of a parametric (fixed-effect) specification, in order of appearance:
/// categorical atoms give their raw variable as a factor, numeric atoms every raw variable they
/// use, at its mean.
pub(crate) fn parametric_vars(spec: &FixedSpec) -> Vec<GridVar> {
    let mut vars: Vec<GridVar> = Vec::new();
    for a in &spec.atoms {
        match &a.kind {
            AtomKind::Categorical {
                variable,
                levels,
                numeric_levels,
            } => {
                if let Some(v) = vars.iter_mut().find(|v| v.name == *variable) {
                    if !v.aliases.contains(&a.label) {
                        v.aliases.push(a.label.clone());
                    }
                    continue;
                }
                vars.push(GridVar {
                    name: variable.clone(),
                    aliases: vec![a.label.clone()],
                    kind: GridKind::Factor {
                        levels: levels.clone(),
                        numeric: numeric_levels.clone(),
                    },
                    expr: a.expr.clone(),
                });
            }
            AtomKind::Numeric => {
                let mut raw = Vec::new();
                formula::variables(&a.expr, &mut raw);
                for (name, pos) in raw {
                    if vars.iter().any(|v| v.name == name) {
                        continue;
                    }
                    let mean = spec
                        .numeric_means
                        .iter()
                        .find(|(n, _)| *n == name)
                        .map_or(f64::NAN, |(_, m)| *m);
                    vars.push(GridVar {
                        expr: Expr::Var(name.clone(), pos),
                        name,
                        aliases: Vec::new(),
                        kind: GridKind::Numeric { mean },
                    });
                }
            }
        }
    }
    vars
}

/// The value of the numeric grid variable `name` at `point` (NaN if it is not one).
pub(crate) fn numeric_value(vars: &[GridVar], point: &GridPoint, name: &str) -> Option<f64> {
    let i = vars.iter().position(|v| v.name == name)?;
    match point.get(i)? {
        AtomValue::Value(x) => Some(*x),
        AtomValue::Level(_) => None,
    }
}

/// The level label of the factor grid variable `name` at `point`.
pub(crate) fn level_label<'a>(
    vars: &'a [GridVar],
    point: &GridPoint,
    name: &str,
) -> Option<&'a str> {
    let i = vars.iter().position(|v| v.name == name)?;
    match (&vars[i].kind, point.get(i)?) {
        (GridKind::Factor { levels, .. }, AtomValue::Level(l)) => {
            levels.get(*l).map(String::as_str)
        }
        _ => None,
    }
}

/// The parametric model-matrix row (kept columns) of `spec` at a grid point.
pub(crate) fn parametric_row(spec: &FixedSpec, vars: &[GridVar], point: &GridPoint) -> Vec<f64> {
    let env = |name: &str| numeric_value(vars, point, name);
    let values: Vec<AtomValue> = spec
        .atoms
        .iter()
        .map(|a| match &a.kind {
            AtomKind::Categorical {
                variable, levels, ..
            } => {
                // Map by label in case the atom's levels differ from the variable's.
                let li = level_label(vars, point, variable)
                    .and_then(|lb| levels.iter().position(|x| x == lb))
                    .unwrap_or(0);
                AtomValue::Level(li)
            }
            AtomKind::Numeric => AtomValue::Value(eval_scalar(&a.expr, &env).unwrap_or(f64::NAN)),
        })
        .collect();
    spec.row(&values)
}

/// The terms of `spec` as sets of grid variables.
pub(crate) fn parametric_terms(spec: &FixedSpec, vars: &[GridVar]) -> Vec<Vec<usize>> {
    spec.terms
        .iter()
        .map(|t| {
            let mut set = Vec::new();
            for &a in &t.atoms {
                let atom = &spec.atoms[a];
                let names: Vec<String> = match &atom.kind {
                    AtomKind::Categorical { variable, .. } => vec![variable.clone()],
                    AtomKind::Numeric => {
                        let mut raw = Vec::new();
                        formula::variables(&atom.expr, &mut raw);
                        raw.into_iter().map(|(n, _)| n).collect()
                    }
                };
                for n in names {
                    if let Some(i) = vars.iter().position(|v| v.name == n) {
                        if !set.contains(&i) {
                            set.push(i);
                        }
                    }
                }
            }
            set.sort_unstable();
            set
        })
        .collect()
}

/// Evaluates a numeric expression of grid variables (R's functions as the formula language
/// knows them); `None` where it uses something that is not a number.
pub(crate) fn eval_scalar(e: &Expr, env: &dyn Fn(&str) -> Option<f64>) -> Option<f64> {
    Some(match e {
        Expr::Var(n, _) => env(n)?,
        Expr::Num(v) => *v,
        Expr::Paren(x) => eval_scalar(x, env)?,
        Expr::Neg(x) => -eval_scalar(x, env)?,
        Expr::Str(..) | Expr::Named(..) => return None,
        Expr::Call(f, args, _) => {
            let x = eval_scalar(args.first()?, env)?;
            match f.as_str() {
                "log" => x.ln(),
                "log2" => x.log2(),
                "log10" => x.log10(),
                "log1p" => x.ln_1p(),
                "exp" => x.exp(),
                "sqrt" => x.sqrt(),
                "abs" => x.abs(),
                "I" => x,
                _ => return None,
            }
        }
        Expr::Bin(op, l, r, _) => {
            let (a, b) = (eval_scalar(l, env)?, eval_scalar(r, env)?);
            match op {
                '+' => a + b,
                '-' => a - b,
                '*' => a * b,
                '/' => a / b,
                '^' => a.powf(b),
                _ => return None,
            }
        }
    })
}

impl GridModel for super::LmmFit {
    fn grid_vars(&self) -> Vec<GridVar> {
        parametric_vars(&self.design.fixed)
    }

    fn linfct(&self, vars: &[GridVar], point: &GridPoint) -> Vec<f64> {
        parametric_row(&self.design.fixed, vars, point)
    }

    fn coefficients(&self) -> &[f64] {
        &self.beta
    }

    fn covariance(&self) -> DMatrix<f64> {
        self.vcov()
    }

    fn df_for(&self, l: &[f64]) -> f64 {
        super::LmmFit::df_for(self, l)
    }

    fn term_vars(&self, vars: &[GridVar]) -> Vec<Vec<usize>> {
        parametric_terms(&self.design.fixed, vars)
    }
}
