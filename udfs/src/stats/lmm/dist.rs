//! Probability distributions for mixed-model inference.
//!
//! Fixed-effect tests and confidence intervals need the Student t distribution with fractional
//! (Satterthwaite) degrees of freedom and the standard normal; nothing in the crate provides them,
//! so this module implements them from standard numerical methods: the Lanczos log-gamma, the
//! regularised incomplete beta function by Lentz's continued fraction, the complementary error
//! function by its Maclaurin series (|x| < 2) or continued fraction (accurate to ~1e-15), and
//! quantiles by a safeguarded Newton iteration on the distribution function. The log-gamma,
//! digamma and regularised incomplete gamma functions here are also what the latent module's
//! LDA kernel and the seeded gamma sampler's tests use (one implementation of each).

use std::f64::consts::PI;

/// The natural logarithm of the gamma function for `x > 0` (Lanczos, g = 7, n = 9).
pub fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection formula.
        return (PI / (PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    0.5 * (2.0 * PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The digamma function ψ(x) = d ln Γ(x) / dx, accurate to about 1e-15 (absolute for |ψ| < 1,
/// relative above); NaN at the poles x = 0, −1, −2, … and for NaN.
///
/// For x > 0 the recurrence ψ(x) = ψ(x + 1) − 1/x lifts x to at least 10, where the asymptotic
/// series ψ(x) = ln x − 1/(2x) − Σ_{n≥1} B₂ₙ / (2n x²ⁿ) is summed to B₁₄ (the next term is below
/// 1e-17 there); for x < 0 the reflection ψ(x) = ψ(1 − x) − π / tan(πx).
pub fn digamma(x: f64) -> f64 {
    if x.is_nan() || x == f64::NEG_INFINITY {
        return f64::NAN;
    }
    if x == f64::INFINITY {
        return f64::INFINITY;
    }
    if x <= 0.0 {
        if x == x.floor() {
            return f64::NAN;
        }
        return digamma(1.0 - x) - PI / (PI * x).tan();
    }
    let mut x = x;
    let mut result = 0.0;
    while x < 10.0 {
        result -= 1.0 / x;
        x += 1.0;
    }
    let r = 1.0 / x;
    let r2 = r * r;
    // B₂ₙ / 2n for n = 1..7: 1/12, −1/120, 1/252, −1/240, 1/132, −691/32760, 1/12.
    let series = r2
        * (1.0 / 12.0
            - r2 * (1.0 / 120.0
                - r2 * (1.0 / 252.0
                    - r2 * (1.0 / 240.0
                        - r2 * (1.0 / 132.0 - r2 * (691.0 / 32760.0 - r2 / 12.0))))));
    result + x.ln() - 0.5 * r - series
}

/// Continued fraction for the incomplete beta function (modified Lentz).
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let qab = a + b;
    let qap = a + 1.0;
    let qam = a - 1.0;
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..10_000 {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-16 {
            break;
        }
    }
    h
}

/// The regularised incomplete beta function I_x(a, b).
pub fn inc_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    if x < (a + 1.0) / (a + b + 2.0) {
        ln_front.exp() * beta_cf(a, b, x) / a
    } else {
        1.0 - ln_front.exp() * beta_cf(b, a, 1.0 - x) / b
    }
}

/// The complementary error function, accurate to about 1e-15 relative.
pub fn erfc(x: f64) -> f64 {
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    if x < 2.0 {
        // Maclaurin series of erf.
        let mut sum = x;
        let mut term = x;
        let x2 = x * x;
        let mut n = 0.0;
        loop {
            n += 1.0;
            term *= -x2 / n;
            let add = term / (2.0 * n + 1.0);
            sum += add;
            // `<=`: at x = 0 every term is 0 (a strict `<` never ended).
            if add.abs() <= 1e-17 * sum.abs() {
                break;
            }
        }
        1.0 - 2.0 / PI.sqrt() * sum
    } else {
        // Continued fraction (Lentz) for erfc.
        const TINY: f64 = 1e-300;
        let mut f = x;
        let mut c = x;
        let mut d = 0.0;
        for k in 1..500 {
            let a = k as f64 / 2.0;
            d = x + a * d;
            if d.abs() < TINY {
                d = TINY;
            }
            c = x + a / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            let del = c * d;
            f *= del;
            if (del - 1.0).abs() < 1e-16 {
                break;
            }
        }
        (-x * x).exp() / (f * PI.sqrt())
    }
}

/// The standard normal distribution function.
pub fn norm_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// The standard normal quantile function (Acklam's rational approximation refined by Newton).
pub fn norm_quantile(p: f64) -> f64 {
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let plow = 0.02425;
    let mut x = if p < plow {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - plow {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    for _ in 0..3 {
        let e = norm_cdf(x) - p;
        let u = e * (2.0 * PI).sqrt() * (x * x / 2.0).exp();
        x -= u / (1.0 + x * u / 2.0);
    }
    x
}

/// The Student t distribution function with `df` degrees of freedom (`df = ∞`: normal).
pub fn t_cdf(t: f64, df: f64) -> f64 {
    if !df.is_finite() || df > 1e10 {
        return norm_cdf(t);
    }
    if t.is_nan() || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    let x = df / (df + t * t);
    let tail = 0.5 * inc_beta(df / 2.0, 0.5, x);
    if t > 0.0 {
        1.0 - tail
    } else {
        tail
    }
}

/// The two-sided p-value of a t statistic with `df` degrees of freedom.
pub fn t_two_sided_p(t: f64, df: f64) -> f64 {
    if t.is_nan() || df.is_nan() {
        return f64::NAN;
    }
    if !df.is_finite() || df > 1e10 {
        return erfc(t.abs() / std::f64::consts::SQRT_2);
    }
    let x = df / (df + t * t);
    inc_beta(df / 2.0, 0.5, x).min(1.0)
}

/// The Student t quantile function with `df` degrees of freedom (`df = ∞`: normal).
pub fn t_quantile(p: f64, df: f64) -> f64 {
    if !df.is_finite() || df > 1e10 {
        return norm_quantile(p);
    }
    if df.is_nan() || df <= 0.0 || p.is_nan() {
        return f64::NAN;
    }
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    if p < 0.5 {
        return -t_quantile(1.0 - p, df);
    }
    // Bracket then bisect/Newton on the distribution function.
    let mut lo = 0.0;
    let mut hi = norm_quantile(p).max(1.0);
    while t_cdf(hi, df) < p {
        lo = hi;
        hi *= 2.0;
        if hi > 1e300 {
            return f64::INFINITY;
        }
    }
    let ln_c = ln_gamma((df + 1.0) / 2.0) - ln_gamma(df / 2.0) - 0.5 * (df * PI).ln();
    let mut x = 0.5 * (lo + hi);
    for _ in 0..200 {
        let f = t_cdf(x, df) - p;
        if f > 0.0 {
            hi = x;
        } else {
            lo = x;
        }
        let dens = (ln_c - (df + 1.0) / 2.0 * (1.0 + x * x / df).ln()).exp();
        let mut next = x - f / dens;
        if !(next > lo && next < hi) {
            next = 0.5 * (lo + hi);
        }
        if (next - x).abs() <= 1e-15 * x.abs().max(1e-300) {
            return next;
        }
        x = next;
    }
    x
}

/// The regularised upper incomplete gamma function Q(a, x) = Γ(a, x) / Γ(a), for `a > 0`,
/// `x ≥ 0`: the series for P = 1 − Q below x = a + 1, Lentz's continued fraction above.
pub fn gamma_q(a: f64, x: f64) -> f64 {
    if x.is_nan() || a.is_nan() || a <= 0.0 {
        return f64::NAN;
    }
    if x <= 0.0 {
        return 1.0;
    }
    if x.is_infinite() {
        return 0.0;
    }
    let ln_front = a * x.ln() - x - ln_gamma(a);
    if x < a + 1.0 {
        let mut term = 1.0 / a;
        let mut sum = term;
        let mut ap = a;
        for _ in 0..100_000 {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * 1e-17 {
                break;
            }
        }
        1.0 - sum * ln_front.exp()
    } else {
        const TINY: f64 = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / TINY;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..100_000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < TINY {
                d = TINY;
            }
            c = b + an / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < 4.0 * f64::EPSILON {
                break;
            }
        }
        ln_front.exp() * h
    }
}

/// The upper tail P(χ²_df > x) of the chi-squared distribution.
pub fn chisq_upper(x: f64, df: f64) -> f64 {
    gamma_q(df / 2.0, x / 2.0)
}

/// The upper tail P(F > f) of the F distribution with `d1`, `d2` df (`d2 = ∞`: χ²_d1 / d1).
pub fn f_upper(f: f64, d1: f64, d2: f64) -> f64 {
    if f.is_nan() || d1.is_nan() || d2.is_nan() {
        return f64::NAN;
    }
    if f <= 0.0 {
        return 1.0;
    }
    if !d2.is_finite() || d2 > 1e10 {
        return chisq_upper(f * d1, d1);
    }
    inc_beta(d2 / 2.0, d1 / 2.0, d2 / (d2 + d1 * f))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ψ against known values (Abramowitz & Stegun 6.3; ψ(1) = −γ, ψ(1/2) = −γ − 2 ln 2,
    /// ψ(n) = −γ + Σ_{j<n} 1/j, ψ(−1/2) = ψ(3/2) = 2 − γ − 2 ln 2 + ... via reflection), the
    /// recurrence, and the central difference of the Lanczos ln Γ.
    #[test]
    fn digamma_known_values_and_derivative_of_ln_gamma() {
        const EULER: f64 = 0.577_215_664_901_532_9;
        let harmonic = |n: usize| (1..n).map(|j| 1.0 / j as f64).sum::<f64>();
        let known = [
            (1.0, -EULER),
            (0.5, -EULER - 2.0 * 2f64.ln()),
            (1.5, 2.0 - EULER - 2.0 * 2f64.ln()),
            (2.0, 1.0 - EULER),
            (10.0, harmonic(10) - EULER),
            (100.0, harmonic(100) - EULER),
            // ψ(1/4) = −γ − π/2 − 3 ln 2; ψ(1/3) = −γ − π/(2√3) − (3/2) ln 3.
            (0.25, -EULER - PI / 2.0 - 3.0 * 2f64.ln()),
            (
                1.0 / 3.0,
                -EULER - PI / (2.0 * 3f64.sqrt()) - 1.5 * 3f64.ln(),
            ),
            // Reflection: ψ(−1/2) = ψ(3/2) (π/tan(−π/2) vanishes).
            (-0.5, 2.0 - EULER - 2.0 * 2f64.ln()),
            // Near 0: ψ(x) = −1/x − γ + (π²/6) x + O(x²).
            (1e-7, -1e7 - EULER + PI * PI / 6.0 * 1e-7),
        ];
        for (x, want) in known {
            let got = digamma(x);
            assert!(
                (got - want).abs() < 2e-15 * want.abs().max(1.0),
                "ψ({x}) = {got}, want {want}"
            );
        }
        for x in [0.013, 0.7, 3.3, 9.99, 10.0, 55.5, 1e4, 1e8] {
            let step = digamma(x + 1.0) - digamma(x) - 1.0 / x;
            assert!(
                step.abs() < 4e-15 * (digamma(x).abs() + 1.0 / x + 1.0),
                "{x}: {step}"
            );
            let h = 1e-5 * x;
            let fd = (ln_gamma(x + h) - ln_gamma(x - h)) / (2.0 * h);
            assert!(
                (fd - digamma(x)).abs() < 1e-7 * digamma(x).abs().max(1.0),
                "{x}: {fd} vs {}",
                digamma(x)
            );
        }
        assert!(digamma(0.0).is_nan() && digamma(-2.0).is_nan() && digamma(f64::NAN).is_nan());
        assert_eq!(digamma(f64::INFINITY), f64::INFINITY);
    }

    #[test]
    fn known_values() {
        // R: qt(0.975, 10) = 2.228138851986274; pt(2, 5) = 0.9490302605850709
        assert!((t_quantile(0.975, 10.0) - 2.228_138_851_986_274).abs() < 1e-12);
        assert!((t_cdf(2.0, 5.0) - 0.949_030_260_585_070_9).abs() < 1e-13);
        // qnorm(0.975) = 1.959963984540054, pnorm(-3) = 0.001349898031630095
        assert!((norm_quantile(0.975) - 1.959_963_984_540_054).abs() < 1e-13);
        assert!((norm_cdf(-3.0) - 0.001_349_898_031_630_095).abs() < 1e-16);
        // qt(0.975, 7.2838240856653) from the Oats reference interval half-width
        let half = 95.972_913_046_671_44 - 78.892_070_572_352_11;
        let q = half / 7.280_609_212_849_149;
        assert!((t_quantile(0.975, 7.283_824_085_665_3) - q).abs() < 1e-9);
        // pt(-1.5, 2.5)
        let p = t_cdf(-1.5, 2.5);
        assert!((t_cdf(t_quantile(p, 2.5), 2.5) - p).abs() < 1e-14);
        assert!((t_two_sided_p(2.0, 5.0) - 2.0 * (1.0 - 0.949_030_260_585_070_9)).abs() < 1e-13);
        assert!((ln_gamma(10.0) - 362_880f64.ln()).abs() < 1e-12);
        // erfc(0) = 1 and the normal median (the series once looped forever at 0).
        assert_eq!(erfc(0.0), 1.0);
        assert_eq!(norm_quantile(0.5), 0.0);
        assert_eq!(t_two_sided_p(0.0, f64::INFINITY), 1.0);
        // Closed forms: χ²₂ tail e^(−x/2); χ²₄ tail e^(−x/2)(1 + x/2); χ²₁ tail erfc(√(x/2));
        // F(1, d) tail = two-sided t tail at √f.
        for x in [0.3f64, 3.0, 30.0, 300.0] {
            let (e2, e4) = ((-x / 2.0).exp(), (-x / 2.0).exp() * (1.0 + x / 2.0));
            assert!((chisq_upper(x, 2.0) / e2 - 1.0).abs() < 1e-12, "{x}");
            assert!((chisq_upper(x, 4.0) / e4 - 1.0).abs() < 1e-12, "{x}");
            let e1 = erfc((x / 2.0).sqrt());
            assert!((chisq_upper(x, 1.0) / e1 - 1.0).abs() < 1e-10, "{x}");
            let t = t_two_sided_p(x.sqrt(), 7.5);
            assert!((f_upper(x, 1.0, 7.5) / t - 1.0).abs() < 1e-10, "{x}");
        }
        assert_eq!(f_upper(2.5, 3.0, f64::INFINITY), chisq_upper(7.5, 3.0));
    }
}
