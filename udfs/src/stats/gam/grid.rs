//! Predictions from a fitted GAM: at reference-grid points (for emmeans and joint tests) and on
//! new rows (to draw the smooths).
//!
//! A prediction's linear function is the parametric row (built by the lmer code from the stored
//! [`FixedSpec`](crate::stats::lmm::FixedSpec)) followed by every smooth's basis row at the
//! covariate's value, times the identifiability constraint, times its `by` multiplier (the
//! numeric `by` value, or 1 for the smooth of the point's factor level and 0 for the others).
//! Outside the covariate's range the cubic regression spline continues linearly, as mgcv's does.

use nalgebra::{DMatrix, DVector};

use super::{by_components, By, GamFit};
use crate::stats::lmm::formula::{self, deparse, Expr};
use crate::stats::lmm::frame::{variable, AtomValue, Variable};
use crate::stats::lmm::grid::{
    eval_scalar, level_label, numeric_value, parametric_row, parametric_terms, GridKind, GridModel,
    GridPoint, GridVar,
};
use crate::stats::lmm::{Column, Frame, LmmError, LmmOptions};

/// The raw variable a `by` component or covariate expression reads.
fn raw_name(e: &Expr) -> Option<String> {
    let mut raw = Vec::new();
    formula::variables(e, &mut raw);
    raw.into_iter().next().map(|(n, _)| n)
}

/// The level label of a factor `by` at a grid point (`EN.AE` for `interaction(a, b)`).
fn by_label(by: &Expr, vars: &[GridVar], point: &GridPoint) -> Option<String> {
    match by_components(by) {
        Some((comps, dotted)) => {
            let mut parts = Vec::with_capacity(comps.len());
            for c in &comps {
                parts.push(level_label(vars, point, &raw_name(c)?)?.to_string());
            }
            Some(parts.join(if dotted { "." } else { ":" }))
        }
        None => level_label(vars, point, &raw_name(by)?).map(str::to_string),
    }
}

impl GridModel for GamFit {
    fn grid_vars(&self) -> Vec<GridVar> {
        self.grid.clone()
    }

    fn linfct(&self, vars: &[GridVar], point: &GridPoint) -> Vec<f64> {
        let mut row = parametric_row(&self.fixed, vars, point);
        row.resize(self.beta.len(), 0.0);
        let env = |name: &str| numeric_value(vars, point, name);
        let mut basis_row = Vec::new();
        for sm in &self.smooths {
            let multiplier = match (&sm.by, &sm.by_expr) {
                (By::None, _) => 1.0,
                (By::Numeric(_), Some(e)) => eval_scalar(e, &env).unwrap_or(f64::NAN),
                (By::Level(_, level), Some(e)) => {
                    if by_label(e, vars, point).as_deref() == Some(level.as_str()) {
                        1.0
                    } else {
                        0.0
                    }
                }
                _ => f64::NAN,
            };
            if multiplier == 0.0 {
                continue;
            }
            let x = eval_scalar(&sm.x, &env).unwrap_or(f64::NAN);
            let k = sm.basis.k();
            basis_row.resize(k, 0.0);
            sm.basis.row(x, &mut basis_row);
            let out = &mut row[sm.first..sm.first + sm.n_coef];
            if sm.z.is_empty() {
                for (o, b) in out.iter_mut().zip(&basis_row) {
                    *o = b * multiplier;
                }
            } else {
                for (j, o) in out.iter_mut().enumerate() {
                    let v: f64 = (0..k).map(|i| basis_row[i] * sm.z[i * sm.n_coef + j]).sum();
                    *o = v * multiplier;
                }
            }
        }
        row
    }

    fn coefficients(&self) -> &[f64] {
        &self.beta
    }

    fn covariance(&self) -> DMatrix<f64> {
        let p = self.beta.len();
        DMatrix::from_row_slice(p, p, &self.vp)
    }

    /// emmeans uses a GAM's residual df n − Σ edf for every linear function.
    fn df_for(&self, _l: &[f64]) -> f64 {
        self.residual_df()
    }

    /// The parametric terms, then every smooth's covariate and `by` variables as main effects
    /// (mgcv's model terms list each variable a smooth uses as a term of its own).
    fn term_vars(&self, vars: &[GridVar]) -> Vec<Vec<usize>> {
        let mut terms = parametric_terms(&self.fixed, vars);
        let mut single = |name: Option<String>| {
            if let Some(i) = name.and_then(|n| vars.iter().position(|v| v.name == n)) {
                if !terms.contains(&vec![i]) {
                    terms.push(vec![i]);
                }
            }
        };
        for sm in &self.smooths {
            single(raw_name(&sm.x));
            if let Some(by) = &sm.by_expr {
                match by_components(by) {
                    Some((comps, _)) => comps.iter().for_each(|c| single(raw_name(c))),
                    None => single(raw_name(by)),
                }
            }
        }
        terms
    }
}

/// One prediction: the linear predictor and its standard error (from Vp).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prediction {
    pub fit: f64,
    pub se: f64,
}

impl GamFit {
    /// Predictions at every row of `data` (`None` where a variable the model uses is NULL).
    /// Factor levels the fit did not see and missing columns are errors that name them.
    pub fn predict(&self, data: &Frame) -> Result<Vec<Option<Prediction>>, LmmError> {
        let n = data.columns.first().map_or(0, Column::len);
        let vars = &self.grid;
        let mut used = Vec::new();
        for v in vars {
            formula::variables(&v.expr, &mut used);
        }
        let mut cols = Vec::new();
        for (name, _) in &used {
            match data.column(name) {
                Some(c) => cols.push(c),
                None => {
                    return Err(LmmError::new(format!(
                    "the model uses the column '{name}', which the new rows lack (they have: {})",
                    data.names.join(", ")
                )))
                }
            }
        }
        let rows: Vec<usize> = (0..n)
            .filter(|&i| cols.iter().all(|c| !c.is_null(i)))
            .collect();
        let opts = LmmOptions {
            factors: self.factors.clone(),
            ..LmmOptions::default()
        };
        // Each grid variable's value per row used.
        let mut values: Vec<Vec<AtomValue>> = Vec::with_capacity(vars.len());
        for v in vars {
            let evaluated = if rows.is_empty() {
                Vec::new()
            } else {
                match (&v.kind, variable(data, &rows, &opts, &v.expr)?) {
                    (GridKind::Factor { levels, .. }, Variable::Factor { codes, levels: new }) => {
                        let map: Vec<usize> = new
                            .iter()
                            .map(|l| {
                                levels.iter().position(|x| x == l).ok_or_else(|| {
                                    LmmError::new(format!(
                                        "'{}' has the level '{l}', which the fitted data did not \
                                         have (levels: {})",
                                        deparse(&v.expr),
                                        levels.join(", ")
                                    ))
                                })
                            })
                            .collect::<Result<_, _>>()?;
                        codes.iter().map(|&c| AtomValue::Level(map[c])).collect()
                    }
                    (GridKind::Numeric { .. }, Variable::Numeric(x)) => {
                        x.into_iter().map(AtomValue::Value).collect()
                    }
                    (GridKind::Factor { .. }, Variable::Numeric(_)) => {
                        return Err(LmmError::new(format!(
                            "'{}' is numeric in the new rows but categorical in the model",
                            v.name
                        )))
                    }
                    (GridKind::Numeric { .. }, Variable::Factor { .. }) => {
                        return Err(LmmError::new(format!(
                            "'{}' is categorical in the new rows but numeric in the model",
                            v.name
                        )))
                    }
                }
            };
            values.push(evaluated);
        }
        let beta = DVector::from_column_slice(&self.beta);
        let vp = self.covariance();
        let mut out = vec![None; n];
        let mut point = vec![AtomValue::Value(0.0); vars.len()];
        for (r, &row) in rows.iter().enumerate() {
            for (slot, v) in point.iter_mut().zip(&values) {
                *slot = v[r];
            }
            let l = DVector::from_vec(self.linfct(vars, &point));
            let fit = l.dot(&beta);
            let se = (l.transpose() * &vp * &l)[(0, 0)].max(0.0).sqrt();
            out[row] = Some(Prediction { fit, se });
        }
        Ok(out)
    }
}
