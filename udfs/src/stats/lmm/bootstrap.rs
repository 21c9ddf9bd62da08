//! Parametric bootstrap intervals (lme4's `bootMer` / `confint(method = "boot")`).
//!
//! Wald intervals ignore the uncertainty of the variance parameters and are poor for standard
//! deviations near zero; the parametric bootstrap simulates responses from the fitted model,
//! y* = Xβ̂ + σ̂ (Z Λ_θ̂ u* + ε*) with u*, ε* standard normal, refits each from θ̂ and reports
//! percentile intervals (R's type-7 quantiles at 2.5 % and 97.5 %) of every parameter. The
//! generator is the crate's xoshiro256++ ([`crate::common::rng::Rng`]), so the same seed
//! gives the same intervals. Parameter names: fixed-effect column names, `sd_<term>|<group>`,
//! `cor_<term1>.<term2>|<group>`, `sigma`.

use serde::{Deserialize, Serialize};

use super::inference::optimise;
use super::pls::{theta_factors, x_times, z_times, CrossProducts};
use super::{LmmError, LmmFit};
use crate::common::rng::Rng;

/// A bootstrap percentile interval.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BootstrapInterval {
    /// Parameter name (see the module docs).
    pub parameter: String,
    /// The estimate from the original fit.
    pub estimate: f64,
    /// Lower 2.5 % percentile.
    pub lower: f64,
    /// Upper 97.5 % percentile.
    pub upper: f64,
    /// Successful refits that gave a finite value.
    pub replicates: usize,
}

/// R's type-7 quantile of sorted values.
fn quantile7(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let h = (sorted.len() - 1) as f64 * p;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Parameter names and values of a fit: β, SDs and correlations per term, σ.
fn parameters(fit: &LmmFit, theta: &[f64], beta: &[f64], sigma: f64) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = fit
        .design
        .x_names
        .iter()
        .cloned()
        .zip(beta.iter().copied())
        .collect();
    let k: Vec<usize> = fit.design.terms.iter().map(|t| t.k()).collect();
    for (term, t) in fit.design.terms.iter().zip(theta_factors(&k, theta)) {
        let cov = &t * t.transpose() * (sigma * sigma);
        let kt = term.k();
        for a in 0..kt {
            out.push((
                format!("sd_{}|{}", term.columns[a], term.group),
                cov[(a, a)].sqrt(),
            ));
        }
        for a in 0..kt {
            for b in a + 1..kt {
                let r = cov[(a, b)] / (cov[(a, a)] * cov[(b, b)]).sqrt();
                out.push((
                    format!("cor_{}.{}|{}", term.columns[a], term.columns[b], term.group),
                    r,
                ));
            }
        }
    }
    out.push(("sigma".into(), sigma));
    out
}

impl LmmFit {
    /// Parametric bootstrap with `n` simulations from `seed`; `control(done, total)` is called
    /// after each refit and may stop the run with an error.
    pub fn bootstrap(
        &self,
        n: usize,
        seed: u64,
        control: &mut dyn FnMut(usize, usize) -> Result<(), LmmError>,
    ) -> Result<Vec<BootstrapInterval>, LmmError> {
        let design = &self.design;
        let mut cp = CrossProducts::new(design, false);
        let k: Vec<usize> = design.terms.iter().map(|t| t.k()).collect();
        let tf = theta_factors(&k, &self.theta);
        let xb = x_times(design, &self.beta);
        let q = cp.q();
        let estimates = parameters(self, &self.theta, &self.beta, self.sigma);
        let mut samples: Vec<Vec<f64>> = vec![Vec::with_capacity(n); estimates.len()];
        let mut rng = Rng::new(seed);
        let nn = design.n;
        let p = design.p();
        for done in 0..n {
            let u = nalgebra::DVector::from_iterator(q, (0..q).map(|_| rng.normal()));
            let b = cp.lambda_times(&tf, &u);
            let zb = z_times(design, b.as_slice());
            let y: Vec<f64> = (0..nn)
                .map(|i| xb[i] + self.sigma * (zb[i] + rng.normal()))
                .collect();
            cp.set_response(design, &y);
            let mut quiet = |_: usize, _: f64| Ok(());
            let refit = optimise(design, &y, &cp, self.reml, &self.theta, 10_000, &mut quiet)
                .and_then(|res| {
                    let sol = cp.solve(&res.x)?;
                    let dof = if self.reml { nn - p } else { nn };
                    let sigma = (sol.r2 / dof as f64).sqrt();
                    Ok((res.x, sol.beta.iter().copied().collect::<Vec<f64>>(), sigma))
                });
            if let Ok((theta, beta, sigma)) = refit {
                for (slot, (_, v)) in samples
                    .iter_mut()
                    .zip(parameters(self, &theta, &beta, sigma))
                {
                    if v.is_finite() {
                        slot.push(v);
                    }
                }
            }
            control(done + 1, n)?;
        }
        Ok(estimates
            .into_iter()
            .zip(samples)
            .map(|((name, est), mut s)| {
                s.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
                BootstrapInterval {
                    parameter: name,
                    estimate: est,
                    lower: quantile7(&s, 0.025),
                    upper: quantile7(&s, 0.975),
                    replicates: s.len(),
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::quantile7;

    #[test]
    fn type7() {
        // quantile(1:10, c(0.025, 0.975)) = 1.225 9.775
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert!((quantile7(&v, 0.025) - 1.225).abs() < 1e-12);
        assert!((quantile7(&v, 0.975) - 9.775).abs() < 1e-12);
    }
}
