//! Estimated marginal means (emmeans' defaults) and their pairwise contrasts.
//!
//! Reporting "the mean of each explainer" from a model with other factors and covariates needs
//! a reference grid, not raw group means: every level of every factor in the fixed part crossed
//! with covariates at the mean of the raw variable (functions such as `log` applied afterwards,
//! as emmeans does) unless `at` gives values. The EMM of a level is the equal-weight average of
//! the grid predictions over the other factors' levels, its SE is √(L V Lᵀ) with V = vcov(β̂), and
//! intervals and tests use the fit's df method (Satterthwaite or asymptotic). Pairwise contrasts
//! are Holm-adjusted within each combination of `at` values.

use nalgebra::DVector;
use serde::{Deserialize, Serialize};

use super::dist::{t_quantile, t_two_sided_p};
use super::frame::AtomValue;
use super::grid::{GridKind, GridModel};
use super::{LmmError, LmmFit};

/// One estimated marginal mean.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EmmRow {
    /// Level label of the factor.
    pub level: String,
    /// Values of the `at` variables with several values, for this row.
    pub at: Vec<(String, f64)>,
    /// The EMM.
    pub emmean: f64,
    /// Standard error.
    pub se: f64,
    /// Degrees of freedom (∞ when asymptotic).
    pub df: f64,
    /// Lower 95 % limit.
    pub lower: f64,
    /// Upper 95 % limit.
    pub upper: f64,
}

/// One pairwise contrast.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContrastRow {
    /// `"a - b"`.
    pub contrast: String,
    /// Values of the `at` variables for this family.
    pub at: Vec<(String, f64)>,
    /// Estimate.
    pub estimate: f64,
    /// Standard error.
    pub se: f64,
    /// Degrees of freedom.
    pub df: f64,
    /// t ratio.
    pub t_ratio: f64,
    /// Adjusted two-sided p-value.
    pub p_value: f64,
}

/// EMMs and contrasts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Emmeans {
    /// One row per level (and `at` combination).
    pub means: Vec<EmmRow>,
    /// Pairwise contrasts.
    pub contrasts: Vec<ContrastRow>,
    /// The p-value adjustment of the contrasts (`"holm"`).
    pub adjustment: &'static str,
}

struct FactorVar {
    name: String,
    aliases: Vec<String>,
    levels: Vec<String>,
    numeric: Option<Vec<f64>>,
    allowed: Vec<usize>,
}

fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].partial_cmp(&p[b]).unwrap_or(std::cmp::Ordering::Equal));
    let mut out = vec![0.0; m];
    let mut running: f64 = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        let adj = ((m - rank) as f64 * p[i]).min(1.0);
        running = running.max(adj);
        out[i] = running;
    }
    out
}

impl LmmFit {
    /// EMMs of `factor` (a raw variable such as `nitro`, or an atom label such as
    /// `factor(nitro)`), with `at` giving values for numeric variables (several values: one
    /// row per value) or restricting the levels of numeric-coded factors.
    pub fn emmeans(&self, factor: &str, at: &[(String, Vec<f64>)]) -> Result<Emmeans, LmmError> {
        emmeans(self, factor, at)
    }
}

/// EMMs of `factor` in any [`GridModel`] (see [`LmmFit::emmeans`]).
pub fn emmeans(
    model: &dyn GridModel,
    factor: &str,
    at: &[(String, Vec<f64>)],
) -> Result<Emmeans, LmmError> {
    let vars = model.grid_vars();
    let mut factors: Vec<FactorVar> = Vec::new();
    let mut numeric: Vec<(String, Vec<f64>)> = Vec::new();
    for v in &vars {
        match &v.kind {
            GridKind::Factor { levels, numeric } => factors.push(FactorVar {
                name: v.name.clone(),
                aliases: v.aliases.clone(),
                levels: levels.clone(),
                numeric: numeric.clone(),
                allowed: (0..levels.len()).collect(),
            }),
            GridKind::Numeric { mean } => numeric.push((v.name.clone(), vec![*mean])),
        }
    }
    let target = factors
        .iter()
        .find(|f| f.name == factor || f.aliases.iter().any(|a| a == factor))
        .map(|f| f.name.clone())
        .ok_or_else(|| {
            let names: Vec<&str> = factors.iter().map(|f| f.name.as_str()).collect();
            LmmError::new(format!(
                "'{factor}' is not a factor of the fixed effects (factors: {})",
                names.join(", ")
            ))
        })?;
    for (name, values) in at {
        if let Some(f) = factors.iter_mut().find(|f| f.name == *name) {
            let Some(nl) = &f.numeric else {
                return Err(LmmError::new(format!(
                    "'at' values for the text factor '{name}' are not supported"
                )));
            };
            f.allowed = (0..nl.len())
                .filter(|&i| {
                    values
                        .iter()
                        .any(|v| (v - nl[i]).abs() <= 1e-9 * nl[i].abs().max(1.0))
                })
                .collect();
            if f.allowed.is_empty() {
                return Err(LmmError::new(format!("no level of '{name}' matches 'at'")));
            }
        } else if let Some(slot) = numeric.iter_mut().find(|(n, _)| n == name) {
            if values.is_empty() {
                return Err(LmmError::new(format!("'at' gives no values for '{name}'")));
            }
            slot.1 = values.clone();
        } else {
            return Err(LmmError::new(format!(
                "'at' names '{name}', which is not a variable of the fixed effects"
            )));
        }
    }
    let grid_vars: Vec<usize> = (0..numeric.len())
        .filter(|&i| numeric[i].1.len() > 1)
        .collect();
    let mut at_combos: Vec<Vec<usize>> = vec![Vec::new()];
    for &g in &grid_vars {
        let mut next = Vec::new();
        for c in &at_combos {
            for v in 0..numeric[g].1.len() {
                let mut c2 = c.clone();
                c2.push(v);
                next.push(c2);
            }
        }
        at_combos = next;
    }
    let ti = factors
        .iter()
        .position(|f| f.name == target)
        .ok_or_else(|| LmmError::new("internal: factor not found"))?;
    let others: Vec<usize> = (0..factors.len()).filter(|&i| i != ti).collect();
    let mut other_combos: Vec<Vec<usize>> = vec![Vec::new()];
    for &o in &others {
        let mut next = Vec::new();
        for c in &other_combos {
            for &lv in &factors[o].allowed {
                let mut c2 = c.clone();
                c2.push(lv);
                next.push(c2);
            }
        }
        other_combos = next;
    }
    let p = model.coefficients().len();
    let v = model.covariance();
    let beta = DVector::from_column_slice(model.coefficients());
    let mut means = Vec::new();
    let mut contrasts = Vec::new();
    for combo in &at_combos {
        let at_values: Vec<(String, f64)> = grid_vars
            .iter()
            .zip(combo)
            .map(|(&g, &vi)| (numeric[g].0.clone(), numeric[g].1[vi]))
            .collect();
        let num_value = |name: &str| -> Option<f64> {
            if let Some(pos) = grid_vars.iter().position(|&g| numeric[g].0 == name) {
                return Some(numeric[grid_vars[pos]].1[combo[pos]]);
            }
            numeric.iter().find(|(n, _)| n == name).map(|(_, v)| v[0])
        };
        let mut ls: Vec<(String, DVector<f64>)> = Vec::new();
        for &lv in &factors[ti].allowed {
            let mut l = DVector::<f64>::zeros(p);
            for oc in &other_combos {
                let level_of = |var: &str| -> Option<usize> {
                    if var == target {
                        return Some(lv);
                    }
                    others
                        .iter()
                        .position(|&o| factors[o].name == var)
                        .map(|pos| oc[pos])
                };
                let point: Vec<AtomValue> = vars
                    .iter()
                    .map(|gv| match &gv.kind {
                        GridKind::Factor { .. } => {
                            AtomValue::Level(level_of(&gv.name).unwrap_or(0))
                        }
                        GridKind::Numeric { .. } => {
                            AtomValue::Value(num_value(&gv.name).unwrap_or(f64::NAN))
                        }
                    })
                    .collect();
                let row = model.linfct(&vars, &point);
                for (j, x) in row.iter().enumerate() {
                    l[j] += x / other_combos.len() as f64;
                }
            }
            ls.push((factors[ti].levels[lv].clone(), l));
        }
        for (label, l) in &ls {
            let est = l.dot(&beta);
            let se = (l.transpose() * &v * l)[(0, 0)].sqrt();
            let df = model.df_for(l.as_slice());
            let q = t_quantile(0.975, df);
            means.push(EmmRow {
                level: label.clone(),
                at: at_values.clone(),
                emmean: est,
                se,
                df,
                lower: est - q * se,
                upper: est + q * se,
            });
        }
        let mut fam = Vec::new();
        for i in 0..ls.len() {
            for j in i + 1..ls.len() {
                let l = &ls[i].1 - &ls[j].1;
                let est = l.dot(&beta);
                let se = (l.transpose() * &v * &l)[(0, 0)].sqrt();
                let df = model.df_for(l.as_slice());
                let t = est / se;
                fam.push(ContrastRow {
                    contrast: format!("{} - {}", ls[i].0, ls[j].0),
                    at: at_values.clone(),
                    estimate: est,
                    se,
                    df,
                    t_ratio: t,
                    p_value: t_two_sided_p(t, df),
                });
            }
        }
        let raw: Vec<f64> = fam.iter().map(|c| c.p_value).collect();
        for (c, adj) in fam.iter_mut().zip(holm(&raw)) {
            c.p_value = adj;
        }
        contrasts.extend(fam);
    }
    Ok(Emmeans {
        means,
        contrasts,
        adjustment: "holm",
    })
}

#[cfg(test)]
mod tests {
    use super::holm;

    #[test]
    fn holm_matches_r() {
        // p.adjust(c(0.01, 0.04, 0.03, 0.2), "holm") = 0.04 0.09 0.09 0.20
        let a = holm(&[0.01, 0.04, 0.03, 0.2]);
        let e = [0.04, 0.09, 0.09, 0.2];
        for (x, y) in a.iter().zip(e) {
            assert!((x - y).abs() < 1e-12);
        }
    }
}
