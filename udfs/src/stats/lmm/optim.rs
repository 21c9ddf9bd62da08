//! Bound-constrained derivative-free minimisation of the profiled criterion over θ.
//!
//! The criterion has no cheap analytic gradient and θ's diagonal elements are bounded below by
//! zero (singular fits lie on that boundary), so lme4 uses a derivative-free bounded optimiser.
//! This module implements Nelder–Mead with projection onto the bounds, restarted from its best
//! point until a restart no longer improves, followed by a projected Newton polish that uses
//! central finite differences for the gradient and Hessian: variables on a bound with a gradient
//! pointing outwards stay fixed, the others take damped Newton steps with a backtracking line
//! search. The polish drives the gradient to finite-difference precision so that θ agrees with
//! lme4's BOBYQA optimum to about 1e-7 relative.

use nalgebra::{DMatrix, DVector};

use super::LmmError;

/// The outcome of a minimisation.
#[derive(Clone, Debug)]
pub struct OptResult {
    /// The minimiser.
    pub x: Vec<f64>,
    /// The minimum.
    pub f: f64,
    /// Objective evaluations used.
    pub evaluations: usize,
    /// Whether the tolerances were met within the budget.
    pub converged: bool,
    /// Why it stopped without converging.
    pub message: Option<String>,
}

/// An objective function of θ.
pub type Objective<'b> = dyn FnMut(&[f64]) -> Result<f64, LmmError> + 'b;

struct Counter<'a, 'b> {
    f: &'a mut Objective<'b>,
    exact: Option<&'a mut Objective<'b>>,
    lower: &'a [f64],
    evals: usize,
    max: usize,
    best_x: Vec<f64>,
    best_f: f64,
}

/// Raised internally when the evaluation budget is exhausted.
struct Budget;

enum Stop {
    Budget(Budget),
    Error(LmmError),
}

impl Counter<'_, '_> {
    fn eval(&mut self, x: &[f64]) -> Result<f64, Stop> {
        if self.evals >= self.max {
            return Err(Stop::Budget(Budget));
        }
        self.evals += 1;
        let v = (self.f)(x).map_err(Stop::Error)?;
        let v = if v.is_nan() { f64::INFINITY } else { v };
        if v < self.best_f {
            self.best_f = v;
            self.best_x = x.to_vec();
        }
        Ok(v)
    }

    /// Evaluation of the accurate objective for the polish, without the bound check (finite
    /// differences may step across a bound; the criterion depends on ΛΛᵀ only, so it is
    /// defined there) and without touching the best point.
    fn eval_free(&mut self, x: &[f64]) -> Result<f64, Stop> {
        if self.evals >= self.max {
            return Err(Stop::Budget(Budget));
        }
        self.evals += 1;
        let v = match self.exact.as_mut() {
            Some(e) => e(x),
            None => (self.f)(x),
        }
        .map_err(Stop::Error)?;
        Ok(if v.is_nan() { f64::INFINITY } else { v })
    }

    fn project(&self, x: &mut [f64]) {
        for (v, l) in x.iter_mut().zip(self.lower) {
            if *v < *l {
                *v = *l;
            }
        }
    }
}

fn nelder_mead(c: &mut Counter, x0: &[f64], step: f64, ftol: f64, xtol: f64) -> Result<bool, Stop> {
    let m = x0.len();
    let mut pts: Vec<Vec<f64>> = vec![x0.to_vec()];
    for i in 0..m {
        let mut x = x0.to_vec();
        let s = step * x0[i].abs().max(1.0);
        x[i] += s;
        pts.push(x);
    }
    let mut fs = Vec::with_capacity(m + 1);
    for p in &pts {
        fs.push(c.eval(p)?);
    }
    loop {
        let mut order: Vec<usize> = (0..=m).collect();
        order.sort_by(|&a, &b| {
            fs[a]
                .partial_cmp(&fs[b])
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        pts = order.iter().map(|&i| pts[i].clone()).collect();
        fs = order.iter().map(|&i| fs[i]).collect();
        let (fbest, fworst) = (fs[0], fs[m]);
        let spread_f = (fworst - fbest).abs();
        let spread_x = pts[1..]
            .iter()
            .flat_map(|p| {
                p.iter()
                    .zip(&pts[0])
                    .map(|(a, b)| (a - b).abs() / b.abs().max(1.0))
            })
            .fold(0.0, f64::max);
        if spread_f <= ftol * (fbest.abs() + 1e-10) && spread_x <= xtol {
            return Ok(true);
        }
        let mut centroid = vec![0.0; m];
        for p in &pts[..m] {
            for (cv, pv) in centroid.iter_mut().zip(p) {
                *cv += pv / m as f64;
            }
        }
        let along = |t: f64| -> Vec<f64> {
            centroid
                .iter()
                .zip(&pts[m])
                .map(|(cv, w)| cv + t * (cv - w))
                .collect()
        };
        let mut xr = along(1.0);
        c.project(&mut xr);
        let fr = c.eval(&xr)?;
        if fr < fs[0] {
            let mut xe = along(2.0);
            c.project(&mut xe);
            let fe = c.eval(&xe)?;
            if fe < fr {
                pts[m] = xe;
                fs[m] = fe;
            } else {
                pts[m] = xr;
                fs[m] = fr;
            }
            continue;
        }
        if fr < fs[m - 1] {
            pts[m] = xr;
            fs[m] = fr;
            continue;
        }
        let (mut xc, outside) = if fr < fs[m] {
            (along(0.5), true)
        } else {
            (along(-0.5), false)
        };
        c.project(&mut xc);
        let fc = c.eval(&xc)?;
        if (outside && fc <= fr) || (!outside && fc < fs[m]) {
            pts[m] = xc;
            fs[m] = fc;
            continue;
        }
        // Shrink towards the best point.
        for i in 1..=m {
            let p: Vec<f64> = pts[i]
                .iter()
                .zip(&pts[0])
                .map(|(a, b)| b + 0.5 * (a - b))
                .collect();
            fs[i] = c.eval(&p)?;
            pts[i] = p;
        }
    }
}

fn newton_polish(c: &mut Counter) -> Result<(Vec<f64>, f64), Stop> {
    let m = c.best_x.len();
    let mut x = c.best_x.clone();
    let mut f0 = c.eval_free(&x)?;
    for _ in 0..40 {
        let hs: Vec<f64> = x.iter().map(|v| 1e-3 * v.abs().max(0.05)).collect();
        // Gradient by the five-point stencil (error O(h⁴)); Hessian by central differences.
        let mut g = DVector::<f64>::zeros(m);
        let mut h = DMatrix::<f64>::zeros(m, m);
        let mut fp = vec![0.0; m];
        let mut fm = vec![0.0; m];
        for i in 0..m {
            let at = |c: &mut Counter, d: f64| -> Result<f64, Stop> {
                let mut xs = x.clone();
                xs[i] += d;
                c.eval_free(&xs)
            };
            fp[i] = at(c, hs[i])?;
            fm[i] = at(c, -hs[i])?;
            let fp2 = at(c, 2.0 * hs[i])?;
            let fm2 = at(c, -2.0 * hs[i])?;
            g[i] = (8.0 * (fp[i] - fm[i]) - (fp2 - fm2)) / (12.0 * hs[i]);
            h[(i, i)] = (fp[i] - 2.0 * f0 + fm[i]) / (hs[i] * hs[i]);
        }
        for i in 0..m {
            for j in 0..i {
                let mut xpp = x.clone();
                xpp[i] += hs[i];
                xpp[j] += hs[j];
                let mut xmm = x.clone();
                xmm[i] -= hs[i];
                xmm[j] -= hs[j];
                let fpp = c.eval_free(&xpp)?;
                let fmm = c.eval_free(&xmm)?;
                let v =
                    (fpp + fmm - fp[i] - fm[i] - fp[j] - fm[j] + 2.0 * f0) / (2.0 * hs[i] * hs[j]);
                h[(i, j)] = v;
                h[(j, i)] = v;
            }
        }
        if !g.iter().all(|v| v.is_finite()) || !h.iter().all(|v| v.is_finite()) {
            return Ok((x, f0));
        }
        // Active set: on the bound with the gradient pushing outwards.
        let free: Vec<usize> = (0..m)
            .filter(|&i| !(x[i] <= c.lower[i] + 1e-12 && g[i] >= 0.0))
            .collect();
        if free.is_empty() {
            return Ok((x, f0));
        }
        let nf = free.len();
        let gf = DVector::from_iterator(nf, free.iter().map(|&i| g[i]));
        let hf = DMatrix::from_fn(nf, nf, |a, b| h[(free[a], free[b])]);
        let mut lambda = 0.0;
        let mut dir = None;
        for _ in 0..30 {
            let mut hh = hf.clone();
            for a in 0..nf {
                hh[(a, a)] += lambda;
            }
            if let Some(ch) = hh.cholesky() {
                dir = Some(-ch.solve(&gf));
                break;
            }
            lambda = if lambda == 0.0 {
                1e-6 * hf.diagonal().amax().max(1e-8)
            } else {
                lambda * 10.0
            };
        }
        let Some(d) = dir else {
            return Ok((x, f0));
        };
        let mut t = 1.0;
        let mut accepted = None;
        for _ in 0..30 {
            let mut xn = x.clone();
            for (a, &i) in free.iter().enumerate() {
                xn[i] += t * d[a];
            }
            c.project(&mut xn);
            let fnew = c.eval_free(&xn)?;
            if fnew <= f0 {
                accepted = Some((xn, fnew));
                break;
            }
            t *= 0.5;
        }
        let Some((xn, fnew)) = accepted else {
            return Ok((x, f0));
        };
        let step: f64 = x
            .iter()
            .zip(&xn)
            .map(|(a, b)| ((a - b) / a.abs().max(0.05)).abs())
            .fold(0.0, f64::max);
        x = xn;
        f0 = fnew;
        if step <= 1e-9 {
            break;
        }
    }
    Ok((x, f0))
}

/// Minimises `f` from `x0` subject to `x ≥ lower`, within `max_evaluations` evaluations;
/// `exact`, when given, is a slower but more accurate version of `f` used by the final polish.
pub fn minimize<'a, 'b>(
    f: &'a mut Objective<'b>,
    exact: Option<&'a mut Objective<'b>>,
    x0: &[f64],
    lower: &[f64],
    max_evaluations: usize,
) -> Result<OptResult, LmmError> {
    let mut c = Counter {
        f,
        exact,
        lower,
        evals: 0,
        max: max_evaluations.max(1),
        best_x: x0.to_vec(),
        best_f: f64::INFINITY,
    };
    let mut x = x0.to_vec();
    c.project(&mut x);
    let run = |c: &mut Counter| -> Result<(), Stop> {
        c.eval(&x)?;
        let mut step = 0.1;
        for _ in 0..10 {
            let before = c.best_f;
            let start = c.best_x.clone();
            nelder_mead(c, &start, step, 1e-5, 1e-3)?;
            step = 0.02;
            if before - c.best_f <= 1e-7 * before.abs().max(1.0) {
                break;
            }
        }
        let (xp, fp) = newton_polish(c)?;
        c.best_x = xp;
        c.best_f = fp;
        Ok(())
    };
    match run(&mut c) {
        Ok(()) => Ok(OptResult {
            x: c.best_x,
            f: c.best_f,
            evaluations: c.evals,
            converged: true,
            message: None,
        }),
        Err(Stop::Budget(_)) => Ok(OptResult {
            message: Some(format!(
                "maximum number of function evaluations ({}) reached without convergence",
                c.max
            )),
            x: c.best_x,
            f: c.best_f,
            evaluations: c.evals,
            converged: false,
        }),
        Err(Stop::Error(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rosenbrock_and_bounds() {
        let mut f = |x: &[f64]| -> Result<f64, LmmError> {
            Ok((1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2))
        };
        let r = minimize(
            &mut f,
            None,
            &[-1.0, 1.0],
            &[f64::NEG_INFINITY, f64::NEG_INFINITY],
            10_000,
        )
        .unwrap();
        assert!(r.converged);
        assert!(
            (r.x[0] - 1.0).abs() < 1e-7 && (r.x[1] - 1.0).abs() < 1e-7,
            "{:?}",
            r.x
        );
        // Minimum outside the feasible set: lands on the bound.
        let mut g = |x: &[f64]| -> Result<f64, LmmError> {
            Ok((x[0] + 1.0).powi(2) + (x[1] - 2.0).powi(2))
        };
        let r = minimize(&mut g, None, &[1.0, 1.0], &[0.0, f64::NEG_INFINITY], 10_000).unwrap();
        assert!(
            r.x[0].abs() < 1e-12 && (r.x[1] - 2.0).abs() < 1e-7,
            "{:?}",
            r.x
        );
        // Budget exhaustion is reported.
        let r = minimize(&mut g, None, &[1.0, 1.0], &[0.0, f64::NEG_INFINITY], 5).unwrap();
        assert!(!r.converged && r.message.is_some());
    }
}
