//! emmeans' `joint_tests`: an F test of every model term, as a type-III-like ANOVA table that
//! works the same way for mixed models and GAMs.
//!
//! Thesis ch. 4 reports its GAMs as joint F tests (“F(4, 1793) = 1087 for transformation”);
//! emmeans computes them from the reference grid, not from sums of squares, so this module does
//! what emmeans 1.8.4's `joint_tests(model)` does:
//!
//! 1. The grid: every factor's levels crossed with every numeric covariate at its mean ± 1
//!    (emmeans' `cov.reduce = meanint`; or at its mean, `cov.reduce = mean`, [`CovReduce`]),
//!    the first variable varying fastest.
//! 2. Every set of grid variables that some model term contains (visited in emmeans' order:
//!    `a`, `a:b`, `a:b:c`, `a:c`, `b`, ...; reported by size, stable) is tested: the marginal
//!    means of its cells (equal weights over the other variables), their consecutive-difference
//!    interaction contrasts L, reduced to an orthonormal basis Q of L's row space (Gram–Schmidt in
//!    row order, rows dependent within 1e-7 dropped, as R's `qr`), and
//!    F = (Qβ̂)ᵀ (Q V Qᵀ)⁻¹ (Qβ̂) / r with r = rank; the denominator df is the smallest df of Q's rows
//!    (Satterthwaite for lmer, the residual df for a GAM, ∞ for asymptotic tests, where the
//!    p-value is χ²_r(rF)'s).
//! 3. `(confounded)`: the part of all the grid's contrasts that no tested term explains, with
//!    df1 = rank(all) − rank(tested) and F = (rank(all)·F_all − rank(tested)·F_tested) / df1,
//!    where the tested functions are the terms' Q rows rounded as R's `zapsmall` rounds them;
//!    reported only when df1 > 0 (as every term with df1 = 0 is left out).

use nalgebra::{DMatrix, DVector};
use serde::Serialize;

use super::dist::f_upper;
use super::frame::AtomValue;
use super::grid::{GridKind, GridModel};
use super::LmmError;

/// The largest grid (points × coefficients) a joint test builds.
const MAX_GRID_CELLS: usize = 50_000_000;

/// One row of the joint-tests table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JointTest {
    /// The term (`transformation`, `transformation:task`, `(confounded)`).
    pub term: String,
    /// Numerator df (the rank of the term's contrasts).
    pub df1: usize,
    /// Denominator df (∞ for asymptotic tests).
    pub df2: f64,
    /// F ratio.
    pub f_ratio: f64,
    /// p-value.
    pub p_value: f64,
}

/// A Wald test of the row space of L.
struct Wald {
    rank: usize,
    f: f64,
    df2: f64,
    q: Vec<DVector<f64>>,
}

/// Sets entries below 1e-7 in magnitude to zero (emmeans' `zapsm`).
fn zap(x: f64) -> f64 {
    if x.abs() < 1e-7 {
        0.0
    } else {
        x
    }
}

/// R's `zapsmall(x)` with 7 digits: rounds to 7 − ⌈log10 max|x|⌉ decimal places.
fn zapsmall(v: &DVector<f64>) -> DVector<f64> {
    let mx = v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    if mx == 0.0 {
        return v.clone();
    }
    let digits = (7.0 - mx.log10().ceil()).max(0.0);
    let scale = 10f64.powf(digits);
    v.map(|x| (x * scale).round() / scale)
}

/// The Wald F test of H0: Lβ = 0 over the row space of `rows` (emmeans' `test(joint = TRUE)`).
fn wald(model: &dyn GridModel, rows: &[DVector<f64>]) -> Option<Wald> {
    let beta = DVector::from_column_slice(model.coefficients());
    // Orthonormal basis of the rows, in order (R: t(qr.Q(qr(t(L))))).
    let mut q: Vec<DVector<f64>> = Vec::new();
    let mut diag: Vec<f64> = Vec::new();
    for r in rows {
        let r = r.map(zap);
        let norm0 = r.norm();
        if norm0 == 0.0 {
            continue;
        }
        let mut v = r.clone();
        for _ in 0..2 {
            for b in &q {
                let c = b.dot(&v);
                v -= b * c;
            }
        }
        let norm = v.norm();
        if norm > 1e-7 * norm0 {
            diag.push(norm);
            q.push(v / norm);
        }
    }
    // R drops basis vectors whose diagonal of R rounds to zero relative to the largest.
    let dmax = diag.iter().fold(0.0f64, |m, d| m.max(*d));
    let q: Vec<DVector<f64>> = q
        .into_iter()
        .zip(&diag)
        .filter(|(_, d)| **d >= 0.5e-7 * dmax)
        .map(|(v, _)| v)
        .collect();
    let rank = q.len();
    if rank == 0 {
        return None;
    }
    let v = model.covariance();
    let p = beta.len();
    let mut qm = DMatrix::zeros(rank, p);
    for (i, row) in q.iter().enumerate() {
        qm.set_row(i, &row.transpose());
    }
    let z = &qm * &beta;
    let zcov = &qm * v * qm.transpose();
    let f = zcov.lu().solve(&z).map(|s| z.dot(&s) / rank as f64)?;
    let df2 = q
        .iter()
        .map(|r| model.df_for(r.as_slice()))
        .fold(f64::INFINITY, f64::min);
    Some(Wald { rank, f, df2, q })
}

/// Where the reference grid puts a numeric covariate (emmeans' `cov.reduce`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CovReduce {
    /// At its mean − 1 and mean + 1 (emmeans' `meanint`, the default of `joint_tests`): the
    /// covariate is tested too, and the factors' tests average over the two points.
    #[default]
    MeanInt,
    /// At its mean only (`cov.reduce = mean`): covariates are not tested, and the factors are
    /// compared at the covariate's mean, inside the data even where mean ± 1 is not (a
    /// magnitude rescaled to [0, 1]).
    Mean,
}

/// emmeans' `joint_tests` of a model (see the module docs), with `cov.reduce = meanint`.
pub fn joint_tests(model: &dyn GridModel) -> Result<Vec<JointTest>, LmmError> {
    joint_tests_with(model, CovReduce::MeanInt)
}

/// emmeans' `joint_tests(model, cov.reduce = ...)`.
pub fn joint_tests_with(
    model: &dyn GridModel,
    cov_reduce: CovReduce,
) -> Result<Vec<JointTest>, LmmError> {
    let vars = model.grid_vars();
    if vars.is_empty() {
        return Err(LmmError::new(
            "joint tests need a factor or covariate in the model; this one has only an intercept",
        ));
    }
    let values: Vec<Vec<AtomValue>> = vars
        .iter()
        .map(|v| match &v.kind {
            GridKind::Factor { levels, .. } => (0..levels.len()).map(AtomValue::Level).collect(),
            GridKind::Numeric { mean } => match cov_reduce {
                CovReduce::MeanInt => {
                    vec![AtomValue::Value(mean - 1.0), AtomValue::Value(mean + 1.0)]
                }
                CovReduce::Mean => vec![AtomValue::Value(*mean)],
            },
        })
        .collect();
    let sizes: Vec<usize> = values.iter().map(Vec::len).collect();
    let n_points = sizes
        .iter()
        .try_fold(1usize, |acc, s| acc.checked_mul(*s))
        .filter(|n| {
            n.checked_mul(model.coefficients().len().max(1))
                .is_some_and(|c| c <= MAX_GRID_CELLS)
        })
        .ok_or_else(|| {
            LmmError::new(format!(
                "joint tests: the reference grid ({} points × {} coefficients) is too large",
                sizes
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join(" × "),
                model.coefficients().len()
            ))
        })?;
    let p = model.coefficients().len();
    // Grid points in order, the first variable fastest, and their linear functions.
    let mut idx = vec![0usize; vars.len()];
    let mut points: Vec<Vec<usize>> = Vec::with_capacity(n_points);
    let mut grid: Vec<DVector<f64>> = Vec::with_capacity(n_points);
    for _ in 0..n_points {
        let point: Vec<AtomValue> = idx.iter().enumerate().map(|(v, &i)| values[v][i]).collect();
        grid.push(DVector::from_vec(model.linfct(&vars, &point)));
        points.push(idx.clone());
        for (v, i) in idx.iter_mut().enumerate() {
            *i += 1;
            if *i < sizes[v] {
                break;
            }
            *i = 0;
        }
    }
    let terms = model.term_vars(&vars);
    let in_model = |set: &[usize]| terms.iter().any(|t| set.iter().all(|v| t.contains(v)));
    // Variable sets in emmeans' order.
    fn walk(these: Vec<usize>, n: usize, out: &mut Vec<Vec<usize>>) {
        let start = these.last().map_or(0, |l| l + 1);
        if !these.is_empty() {
            out.push(these.clone());
        }
        for i in start..n {
            let mut next = these.clone();
            next.push(i);
            walk(next, n, out);
        }
    }
    let mut sets = Vec::new();
    walk(Vec::new(), vars.len(), &mut sets);
    let mut results: Vec<(usize, JointTest)> = Vec::new();
    let mut tested: Vec<DVector<f64>> = Vec::new();
    for set in sets.iter().filter(|s| in_model(s)) {
        // Cell means of the set's variables (first fastest), equal weights over the rest.
        let cell_sizes: Vec<usize> = set.iter().map(|&v| sizes[v]).collect();
        let n_cells: usize = cell_sizes.iter().product();
        let mut cells = vec![DVector::<f64>::zeros(p); n_cells];
        let mut counts = vec![0usize; n_cells];
        for (pt, row) in points.iter().zip(&grid) {
            let mut c = 0;
            let mut stride = 1;
            for (j, &v) in set.iter().enumerate() {
                c += pt[v] * stride;
                stride *= cell_sizes[j];
            }
            cells[c] += row;
            counts[c] += 1;
        }
        for (c, n) in cells.iter_mut().zip(&counts) {
            *c /= (*n).max(1) as f64;
        }
        // Consecutive-difference interaction contrasts: the Kronecker product of each
        // variable's (m − 1) × m difference matrix, the first variable's contrast fastest.
        let con_sizes: Vec<usize> = cell_sizes.iter().map(|m| m - 1).collect();
        let n_con: usize = con_sizes.iter().product();
        let mut rows = Vec::with_capacity(n_con);
        for ci in 0..n_con {
            let mut jc = Vec::with_capacity(set.len());
            let mut rest = ci;
            for &m in &con_sizes {
                jc.push(rest % m);
                rest /= m;
            }
            let mut l = DVector::<f64>::zeros(p);
            for (cell, mean) in cells.iter().enumerate() {
                let mut coef = 1.0;
                let mut rest = cell;
                for (j, &m) in cell_sizes.iter().enumerate() {
                    let i = rest % m;
                    rest /= m;
                    coef *= if i == jc[j] {
                        -1.0
                    } else if i == jc[j] + 1 {
                        1.0
                    } else {
                        0.0
                    };
                }
                if coef != 0.0 {
                    l += mean * coef;
                }
            }
            rows.push(l);
        }
        let name = set
            .iter()
            .map(|&v| vars[v].name.as_str())
            .collect::<Vec<_>>()
            .join(":");
        let Some(w) = wald(model, &rows) else {
            continue;
        };
        tested.extend(w.q.iter().map(zapsmall));
        results.push((
            set.len(),
            JointTest {
                term: name,
                df1: w.rank,
                df2: w.df2,
                f_ratio: w.f,
                p_value: f_upper(w.f, w.rank as f64, w.df2),
            },
        ));
    }
    // Everything the grid can show that the terms do not.
    let all: Vec<DVector<f64>> = grid.windows(2).map(|w| &w[1] - &w[0]).collect();
    if let (Some(all), Some(t)) = (wald(model, &all), wald(model, &tested)) {
        if all.rank > t.rank {
            let df1 = all.rank - t.rank;
            let f = (all.rank as f64 * all.f - t.rank as f64 * t.f) / df1 as f64;
            results.push((
                usize::MAX,
                JointTest {
                    term: "(confounded)".to_string(),
                    df1,
                    df2: all.df2,
                    f_ratio: f,
                    p_value: f_upper(f, df1 as f64, all.df2),
                },
            ));
        }
    }
    results.sort_by_key(|(k, _)| *k);
    Ok(results.into_iter().map(|(_, t)| t).collect())
}
