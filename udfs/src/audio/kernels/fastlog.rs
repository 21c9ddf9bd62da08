//! A natural logarithm for `f32` that vectorises: the dB scaling of a mel spectrogram takes a
//! logarithm of every value, and libm's `logf` is a scalar call that costs a sixth of an MFCC
//! computation. The float32 feature path uses this one.
//!
//! Method (the classic Cephes `logf` reduction): write `x = m·2^e` with `m` in `[√½, √2)`, so
//! that `ln x = e·ln 2 + ln(1 + f)` with `f = m − 1` in `[−0.293, 0.414)`; `ln(1 + f)` is
//! `f − f²/2 + f³·P(f)` with Cephes' degree-8 polynomial `P`, and `ln 2` is split into a part
//! exact in `f32` (`0.693359375`) and a small correction. Branch-free (selects only), so a loop
//! over a slice compiles to SIMD code. Accurate to two ulps for positive normal numbers (asserted
//! in the tests against `f64::ln` on a sweep of 24 decades); callers clamp their inputs to a
//! positive floor (`amin`) far above the subnormal range, which is not handled.

/// `ln 2` split so that `e·LN2_HI` is exact for the exponents of `f32`.
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// `√½`.
const SQRT_HALF: f32 = std::f32::consts::FRAC_1_SQRT_2;
/// Cephes' coefficients of `P`, highest degree first.
const P: [f32; 9] = [
    7.037_683_6e-2,
    -1.151_461e-1,
    1.167_699_9e-1,
    -1.242_014_1e-1,
    1.424_932_3e-1,
    -1.666_805_8e-1,
    2.000_071_4e-1,
    -2.499_999_4e-1,
    3.333_333e-1,
];

/// `ln x` for a positive normal `x` (see the module docs); other inputs give meaningless values.
#[inline(always)]
pub fn ln_f32(x: f32) -> f32 {
    let bits = x.to_bits();
    // x = m·2^e with m in [0.5, 1).
    let e = ((bits >> 23) & 0xff) as i32 - 126;
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f00_0000);
    // Move m into [√½, √2): below √½, double it and lower the exponent.
    let low = m < SQRT_HALF;
    let e = e - i32::from(low);
    let f = if low { m + m - 1.0 } else { m - 1.0 };
    let z = f * f;
    let mut p = P[0];
    for c in &P[1..] {
        p = p * f + c;
    }
    let ef = e as f32;
    let y = p * f * z + ef * LN2_LO - 0.5 * z;
    f + y + ef * LN2_HI
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Units in the last place of `exact` (as f32) between `ours` and `exact`.
    fn ulps(ours: f32, exact: f64) -> f64 {
        let e32 = (exact as f32).abs();
        let ulp = f64::from(f32::from_bits(e32.to_bits() + 1)) - f64::from(e32);
        (f64::from(ours) - exact).abs() / ulp
    }

    #[test]
    fn within_two_ulps_over_24_decades() {
        let (mut worst, mut worst_abs): (f64, f64) = (0.0, 0.0);
        let n = 1_000_000;
        for i in 0..=n {
            let x = (10f64.powf(-12.0 + 24.0 * i as f64 / n as f64)) as f32;
            let exact = f64::from(x).ln();
            let ours = ln_f32(x);
            if exact.abs() > 1e-3 {
                worst = worst.max(ulps(ours, exact));
            } else {
                worst_abs = worst_abs.max((f64::from(ours) - exact).abs());
            }
        }
        assert!(worst <= 2.0, "worst {worst} ulp");
        assert!(worst_abs < 1e-9, "worst absolute error near 1: {worst_abs}");
    }

    #[test]
    fn powers_of_two_and_the_ends_of_the_range() {
        assert_eq!(ln_f32(1.0), 0.0);
        for k in -125..=127 {
            let x = 2f32.powi(k);
            let exact = f64::from(k) * std::f64::consts::LN_2;
            assert!(k == 0 || ulps(ln_f32(x), exact) <= 1.0, "2^{k}");
        }
        for x in [
            std::f32::consts::E,
            f32::MAX,
            f32::MIN_POSITIVE,
            1e-10,
            0.999_999_9,
        ] {
            assert!(ulps(ln_f32(x), f64::from(x).ln()) <= 2.0, "{x}");
        }
    }
}
