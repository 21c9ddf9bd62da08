//! The p-value of a smooth term, as mgcv 1.8-41's `summary.gam` computes it (Wood 2013,
//! Biometrika 100(1), 221–228).
//!
//! A smooth's Wald statistic d with a fractionally truncated pseudo-inverse (see `test_stat`)
//! follows, under the null, a weighted sum of χ²₁ variables Σ λᵢ χ²₁; with the scale estimated
//! on r residual df the p-value is P(Σ λᵢ χ²₁ − (d / r) χ²_r > 0) (r rounded to a whole
//! number). mgcv 1.8-41 evaluates that probability with Davies' (1980) inversion of the
//! characteristic function at an absolute accuracy of 2e-5 (`psum.chisq`); this module inverts
//! the same characteristic function by Imhof's (1961) integral, evaluated by adaptive
//! Gauss–Kronrod quadrature to about 1e-13 absolute, so the two agree within Davies' accuracy.
//! Below 1e-9, where any inversion is only absolute noise (mgcv then reports numbers near 0),
//! the p-value is Liu, Tang & Zhang's (2009) moment-matched non-central χ² approximation
//! integrated over the scale's distribution (mgcv's older `liu2` and `simf`), which keeps tiny
//! p-values positive and ordered. Both signs of the fractional mixing are evaluated and the
//! p-values averaged; with a whole-number rank the F distribution is used, as in mgcv.

use crate::stats::lmm::dist::{f_upper, gamma_q, ln_gamma};

/// P(χ²_df ≤ x).
fn chisq_lower(x: f64, df: f64) -> f64 {
    1.0 - gamma_q(df / 2.0, x / 2.0)
}

/// The χ² quantile: the x with P(χ²_df ≤ x) = p, for 0 < p < 1 (safeguarded Newton).
pub(crate) fn chisq_quantile(p: f64, df: f64) -> f64 {
    let a = df / 2.0;
    let ln_norm = a * 2f64.ln() + ln_gamma(a);
    let density = |x: f64| ((a - 1.0) * x.ln() - x / 2.0 - ln_norm).exp();
    let (mut lo, mut hi) = (0.0, df.max(1.0));
    while chisq_lower(hi, df) < p {
        lo = hi;
        hi *= 2.0;
    }
    // Wilson–Hilferty start.
    let z = crate::stats::lmm::dist::norm_quantile(p);
    let h = 2.0 / (9.0 * df);
    let mut x = (df * (1.0 - h + z * h.sqrt()).powi(3)).clamp(lo, hi);
    if !(x > lo && x < hi) {
        x = 0.5 * (lo + hi);
    }
    for _ in 0..200 {
        let f = chisq_lower(x, df) - p;
        if f > 0.0 {
            hi = x;
        } else {
            lo = x;
        }
        let mut next = x - f / density(x);
        if !(next > lo && next < hi) {
            next = 0.5 * (lo + hi);
        }
        if (next - x).abs() <= 1e-14 * x.abs() {
            return next;
        }
        x = next;
    }
    x
}

/// P(X > x) for X non-central χ² with `df` degrees of freedom and non-centrality `ncp`: the
/// Poisson(ncp / 2) mixture of central upper tails, summed outward from the Poisson mode.
pub(crate) fn nchisq_upper(x: f64, df: f64, ncp: f64) -> f64 {
    if ncp <= 0.0 {
        return gamma_q(df / 2.0, x / 2.0);
    }
    let lambda = ncp / 2.0;
    let weight = |j: f64| (-lambda + j * lambda.ln() - ln_gamma(j + 1.0)).exp();
    let term = |j: f64| weight(j) * gamma_q(df / 2.0 + j, x / 2.0);
    let mode = lambda.floor();
    let mut sum = term(mode);
    let mut j = mode + 1.0;
    loop {
        let w = weight(j);
        sum += w * gamma_q(df / 2.0 + j, x / 2.0);
        if w < 1e-18 || j > mode + 10_000.0 {
            break;
        }
        j += 1.0;
    }
    let mut j = mode - 1.0;
    while j >= 0.0 {
        let w = weight(j);
        sum += w * gamma_q(df / 2.0 + j, x / 2.0);
        if w < 1e-18 {
            break;
        }
        j -= 1.0;
    }
    sum.min(1.0)
}

/// mgcv's `liu2`: P(Σ λᵢ χ²₁ > x) by Liu, Tang & Zhang's non-central χ² approximation.
pub(crate) fn liu2(x: f64, lambda: &[f64]) -> f64 {
    let c1: f64 = lambda.iter().sum();
    let c2: f64 = lambda.iter().map(|l| l * l).sum();
    let c3: f64 = lambda.iter().map(|l| l * l * l).sum();
    let c4: f64 = lambda.iter().map(|l| l * l * l * l).sum();
    let s1 = c3 / c2.powf(1.5);
    let s2 = c4 / (c2 * c2);
    let sigma_q = (2.0 * c2).sqrt();
    let t = (x - c1) / sigma_q;
    let (a, delta, l) = if s1 * s1 > s2 {
        let a = 1.0 / (s1 - (s1 * s1 - s2).sqrt());
        let delta = s1 * a * a * a - a * a;
        (a, delta, a * a - 2.0 * delta)
    } else {
        if c3 == 0.0 {
            return if x < c1 { 1.0 } else { 0.0 };
        }
        (1.0 / s1, 0.0, c2 * c2 * c2 / (c3 * c3))
    };
    let mu_x = l + delta;
    let sigma_x = std::f64::consts::SQRT_2 * a;
    nchisq_upper(t * sigma_x + mu_x, l, delta)
}

/// The quadrature nodes of [`simf`]: χ²_df quantiles at (i − ½) / 50, i = 1..50, over df.
pub(crate) fn simf_nodes(df: f64) -> Vec<f64> {
    const NQ: usize = 50;
    (0..NQ)
        .map(|i| chisq_quantile((i as f64 + 0.5) / NQ as f64, df) / df)
        .collect()
}

/// mgcv's `simf`: P(Σ aᵢ χ²₁ / (χ²_df / df) > x) by a 50-point quadrature over the χ²_df
/// (`nodes` from [`simf_nodes`]).
pub(crate) fn simf(x: f64, a: &[f64], nodes: &[f64]) -> f64 {
    nodes.iter().map(|q| liu2(x * q, a)).sum::<f64>() / nodes.len() as f64
}

/// P(Σⱼ λⱼ χ²_{hⱼ} > 0) by Imhof's formula: ½ + (1/π) ∫₀^∞ sin θ(u) / (u ρ(u)) du with
/// θ(u) = ½ Σ hⱼ atan(λⱼ u) and ρ(u) = Π (1 + λⱼ² u²)^{hⱼ/4}.
pub(crate) fn imhof_upper(lambda: &[f64], h: &[f64]) -> f64 {
    let integrand = |u: f64| -> f64 {
        if u == 0.0 {
            // The limit θ'(0) = ½ Σ hⱼ λⱼ.
            return 0.5 * lambda.iter().zip(h).map(|(l, h)| l * h).sum::<f64>();
        }
        let theta: f64 = 0.5
            * lambda
                .iter()
                .zip(h)
                .map(|(l, h)| h * (l * u).atan())
                .sum::<f64>();
        let ln_rho: f64 = lambda
            .iter()
            .zip(h)
            .map(|(l, h)| 0.25 * h * (l * l * u * u).ln_1p())
            .sum();
        theta.sin() / (u * ln_rho.exp())
    };
    // The integrand is below 1e-18 beyond `upper`: 1 / (u ρ(u)) bounds it.
    let mut upper = 1.0;
    let bound = |u: f64| -> f64 {
        let ln_rho: f64 = lambda
            .iter()
            .zip(h)
            .map(|(l, h)| 0.25 * h * (l * l * u * u).ln_1p())
            .sum();
        1.0 / (u * ln_rho.exp())
    };
    while bound(upper) > 1e-18 && upper < 1e12 {
        upper *= 2.0;
    }
    let integral = adaptive_gk(&integrand, 0.0, upper, 1e-13, 2000);
    0.5 + integral / std::f64::consts::PI
}

/// The 7-point Gauss and 15-point Kronrod rules on [a, b]: (Kronrod estimate, error estimate).
fn gauss_kronrod(f: &dyn Fn(f64) -> f64, a: f64, b: f64) -> (f64, f64) {
    const XK: [f64; 8] = [
        0.991_455_371_120_812_6,
        0.949_107_912_342_758_5,
        0.864_864_423_359_769_1,
        0.741_531_185_599_394_4,
        0.586_087_235_467_691_1,
        0.405_845_151_377_397_2,
        0.207_784_955_007_898_5,
        0.0,
    ];
    const WK: [f64; 8] = [
        0.022_935_322_010_529_22,
        0.063_092_092_629_978_55,
        0.104_790_010_322_250_2,
        0.140_653_259_715_525_9,
        0.169_004_726_639_267_9,
        0.190_350_578_064_785_4,
        0.204_432_940_075_298_9,
        0.209_482_141_084_728,
    ];
    const WG: [f64; 4] = [
        0.129_484_966_168_869_7,
        0.279_705_391_489_276_7,
        0.381_830_050_505_118_9,
        0.417_959_183_673_469_4,
    ];
    let c = 0.5 * (a + b);
    let h = 0.5 * (b - a);
    let fc = f(c);
    let mut k = WK[7] * fc;
    let mut g = WG[3] * fc;
    for i in 0..7 {
        let (f1, f2) = (f(c - h * XK[i]), f(c + h * XK[i]));
        k += WK[i] * (f1 + f2);
        if i % 2 == 1 {
            g += WG[i / 2] * (f1 + f2);
        }
    }
    (k * h, ((k - g) * h).abs())
}

/// ∫ₐᵇ f by globally adaptive Gauss–Kronrod quadrature: the panel with the largest error
/// estimate is halved until the summed error is below `tol` or there are `max_panels` panels.
fn adaptive_gk(f: &dyn Fn(f64) -> f64, a: f64, b: f64, tol: f64, max_panels: usize) -> f64 {
    let (est, err) = gauss_kronrod(f, a, b);
    let mut panels = vec![(a, b, est, err)];
    while panels.len() < max_panels {
        let total: f64 = panels.iter().map(|p| p.3).sum();
        if total <= tol {
            break;
        }
        let (i, _) = panels
            .iter()
            .enumerate()
            .fold(
                (0, f64::NEG_INFINITY),
                |m, (i, p)| if p.3 > m.1 { (i, p.3) } else { m },
            );
        let (pa, pb, _, _) = panels.swap_remove(i);
        let m = 0.5 * (pa + pb);
        let (e1, r1) = gauss_kronrod(f, pa, m);
        let (e2, r2) = gauss_kronrod(f, m, pb);
        panels.push((pa, m, e1, r1));
        panels.push((m, pb, e2, r2));
    }
    panels.iter().map(|p| p.2).sum()
}

/// P(Σ λᵢ χ²₁ > x · χ²_r / r) for a whole r: mgcv's `psum.chisq(0, c(λ, −x/r), df = c(1, …, r))`.
/// Below 1e-9 the Liu et al. approximation over the scale's distribution on `residual_df`.
pub(crate) fn mixture_upper(x: f64, lambda: &[f64], r: f64, residual_df: f64) -> f64 {
    let mut l: Vec<f64> = lambda.to_vec();
    let mut h = vec![1.0; lambda.len()];
    l.push(-x / r);
    h.push(r);
    let p = imhof_upper(&l, &h);
    if p >= 1e-9 {
        p.min(1.0)
    } else {
        simf(x, lambda, &simf_nodes(residual_df))
    }
}

/// The p-value of a smooth's statistics `d` and `d1` (the two signs of the mixing) at the
/// reference rank `rank` = k + ν (k whole, ν its fraction; k1 = k + 1 when ν > 0), with the
/// scale estimated on `residual_df` degrees of freedom.
pub(crate) fn smooth_p_value(
    d: f64,
    d1: f64,
    rank: f64,
    k: usize,
    k1: usize,
    nu: f64,
    residual_df: f64,
) -> f64 {
    let mut rank1 = rank;
    let mut p = 2.0;
    let r = residual_df.round().max(1.0);
    if nu > 0.0 {
        let val = if k1 == 1 {
            rank1 = 1.0;
            vec![1.0]
        } else {
            let mut val = vec![1.0; k1];
            let rp = nu + 1.0;
            val[k - 1] = (rp + (rp * (2.0 - rp)).sqrt()) / 2.0;
            val[k1 - 1] = rp - val[k - 1];
            val
        };
        p = (mixture_upper(d, &val, r, residual_df) + mixture_upper(d1, &val, r, residual_df))
            / 2.0;
    }
    if p > 1.0 {
        p = (f_upper(d / rank1, rank1, residual_df) + f_upper(d1 / rank1, rank1, residual_df))
            / 2.0;
    }
    p.min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::lmm::dist::chisq_upper;

    #[test]
    fn quantiles_invert_the_distribution() {
        for df in [1.0, 2.5, 10.0, 1781.98] {
            for p in [0.01, 0.3, 0.5, 0.99] {
                let q = chisq_quantile(p, df);
                assert!((chisq_lower(q, df) - p).abs() < 1e-12, "{df} {p}");
            }
        }
        // χ²₂: the quantile is −2 ln(1 − p).
        assert!((chisq_quantile(0.7, 2.0) + 2.0 * 0.3f64.ln()).abs() < 1e-12);
    }

    /// The non-central χ² against a brute-force mixture (independent code: the Poisson weights
    /// summed from 0 with a direct recursion) and its central limit.
    #[test]
    fn noncentral_chisq() {
        assert_eq!(nchisq_upper(3.0, 4.0, 0.0), chisq_upper(3.0, 4.0));
        for (x, df, ncp) in [(5.0, 3.0, 2.0), (40.0, 7.5, 20.0), (1.0, 1.0, 0.3)] {
            let lambda: f64 = ncp / 2.0;
            let mut w = (-lambda).exp();
            let mut brute = 0.0;
            for j in 0..400 {
                brute += w * chisq_upper(x, df + 2.0 * j as f64);
                w *= lambda / (j + 1) as f64;
            }
            assert!((nchisq_upper(x, df, ncp) / brute - 1.0).abs() < 1e-12);
        }
    }

    /// With equal weights the mixture against χ²_r / r is an F ratio: Imhof's integral gives
    /// the F distribution's tail (an exact, independent check of the quadrature).
    #[test]
    fn imhof_reduces_to_f() {
        for (x, k, r) in [
            (7.5, 3usize, 380.0),
            (30.0, 4, 12.0),
            (2.0, 1, 40.0),
            (60.0, 8, 1000.0),
        ] {
            let lambda = vec![1.0; k];
            let mut l = lambda.clone();
            l.push(-x / r);
            let mut h = vec![1.0; k];
            h.push(r);
            let p = imhof_upper(&l, &h);
            let f = f_upper(x / k as f64, k as f64, r);
            assert!((p - f).abs() < 1e-11 + 1e-8 * f, "{x} {k} {r}: {p} vs {f}");
        }
    }

    /// With equal weights the mixture is exactly χ²_k, which liu2 reproduces; simf then gives
    /// the F distribution's tail (mgcv's own example: simf(4, rep(1, 3), 40) ≈ 1 − pf(4/3, 3, 40)).
    #[test]
    fn liu2_and_simf_reduce_to_chisq_and_f() {
        for x in [0.5, 3.0, 12.0] {
            let a = liu2(x, &[1.0, 1.0, 1.0]);
            assert!((a / chisq_upper(x, 3.0) - 1.0).abs() < 1e-6, "{x}");
        }
        let s = simf(4.0, &[1.0, 1.0, 1.0], &simf_nodes(40.0));
        let f = f_upper(4.0 / 3.0, 3.0, 40.0);
        assert!((s - f).abs() < 2e-3, "{s} vs {f}");
    }
}
