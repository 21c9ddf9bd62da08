//! Quantile normalisation of one sample to N(0, 1): the maths of `quantile_normal`.
//!
//! It exists for thesis §3.3.1, where every dimension of the song-level descriptor vector
//! (feature set e) is mapped to a standard normal before the k-means dictionary is learnt. The
//! mapping is the one of scikit-learn's `QuantileTransformer(output_distribution='normal',
//! subsample=None)` fitted and applied to the same sample, so that a result can be checked
//! against it (`tests/reference/quantile_normal.json`, written by
//! `scripts/quantile_reference.py`). Written from scikit-learn's documentation and numpy's
//! definitions, step by step:
//!
//! 1. **References.** With n values and `n_quantiles` asked for, n_q = min(n_quantiles, n)
//!    reference levels r_j = j/(n_q − 1) (numpy's `linspace(0, 1, n_q)`: j·(1/(n_q − 1)), the
//!    last exactly 1; r = [0] when n_q = 1).
//! 2. **Quantiles.** q_j is the percentile 100·r_j of the values with numpy's default `linear`
//!    method: at the virtual index h = (n − 1)·r_j between the sorted values x₍⌊h⌋₎ and
//!    x₍⌊h⌋+1₎. The computations follow numpy's operation for operation (the percentile is
//!    taken at (100·r_j)/100, the interpolation is numpy's `_lerp`), and the quantiles are made
//!    non-decreasing by a running maximum, as scikit-learn does.
//! 3. **CDF.** A value's level is the mean of two piecewise-linear interpolations of (q, r):
//!    the forward one, which on a run of repeated quantiles takes the run's last level, and the
//!    backward one (−x against the reversed −q, −r), which takes its first; so a value that
//!    many quantiles share gets the middle of their levels. Each interpolation is numpy's
//!    `interp`. The middle is only nearly the rule: numpy's rounding can put the quantile next
//!    to a run of ties one ulp below the tied value (for 1, 2, 2, 3 the quantiles are 1,
//!    1.999…98, 2, 3), and then the backward interpolation lands elsewhere (2 gets level 2/3,
//!    not 1/2). scikit-learn gives exactly that, and so does this module, which is why step 2
//!    copies numpy's arithmetic.
//! 4. **Bounds.** A value below the smallest quantile + 1e-7 gets level 0, one above the
//!    largest − 1e-7 gets level 1 (an absolute 1e-7, whatever the scale of the data; when both
//!    hold, as for a constant sample, 0).
//! 5. **Normal scores.** Φ⁻¹ of the level ([`normal_quantile`], Wichura's AS241), clipped to
//!    Φ⁻¹(1e-7 − ε) .. Φ⁻¹(1 − (1e-7 − ε)) with ε = `f64::EPSILON`: −5.199 34 .. 5.199 34. So
//!    the smallest value of a sample, and every value of a constant one (or of a sample of one
//!    value), maps to −5.199 34, the largest to 5.199 34.

use super::LatentError;

/// Values this close (absolutely) to the smallest or largest quantile get level 0 or 1.
pub const BOUNDS_THRESHOLD: f64 = 1e-7;

/// The levels the normal scores are clipped to: 1e-7 − ε and 1 − (1e-7 − ε).
fn clip_levels() -> (f64, f64) {
    let low = BOUNDS_THRESHOLD - f64::EPSILON;
    (low, 1.0 - low)
}

/// The smallest and largest normal score: Φ⁻¹(1e-7 − ε) = −5.199 337 582 605 575 and
/// Φ⁻¹(1 − (1e-7 − ε)) = 5.199 337 582 703 42 (not quite symmetric: 1 − (1e-7 − ε) rounds).
pub fn clip_scores() -> (f64, f64) {
    let (low, high) = clip_levels();
    (normal_quantile(low), normal_quantile(high))
}

/// The quantiles of one sample at n_q reference levels (steps 1 and 2 of the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct QuantileFit {
    /// The reference levels r_j, from 0 to 1.
    pub references: Vec<f64>,
    /// The sample's quantiles q_j at those levels, non-decreasing.
    pub quantiles: Vec<f64>,
    /// −q and −r reversed, for the backward interpolation.
    neg_quantiles: Vec<f64>,
    neg_references: Vec<f64>,
}

/// numpy's `_lerp(a, b, t)`: a + (b − a)·t, computed from b's side when t ≥ 0.5. A difference
/// that overflows (values near ±f64::MAX) is taken on halved values instead of giving inf or
/// NaN.
fn lerp(a: f64, b: f64, t: f64) -> f64 {
    let diff = b - a;
    if !diff.is_finite() {
        let (a, b) = (a * 0.5, b * 0.5);
        return 2.0 * lerp(a, b, t);
    }
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

/// numpy's `interp(x, xp, fp)` for a non-decreasing, non-empty `xp`: fp[0] left of xp, the
/// last fp right of it, else the linear interpolation on the last segment [xp[j], xp[j+1])
/// with xp[j] ≤ x (so on a run of equal xp, the run's last fp).
fn interp(x: f64, xp: &[f64], fp: &[f64]) -> f64 {
    let last = xp.len() - 1;
    if x < xp[0] {
        return fp[0];
    }
    if x > xp[last] {
        return fp[last];
    }
    // The last j with xp[j] ≤ x (x ≥ xp[0], so there is one).
    let j = xp.partition_point(|&q| q <= x).saturating_sub(1);
    if j >= last || xp[j] == x {
        return fp[j.min(last)];
    }
    let width = xp[j + 1] - xp[j];
    if width.is_finite() {
        let slope = (fp[j + 1] - fp[j]) / width;
        return slope * (x - xp[j]) + fp[j];
    }
    // The width overflowed (values near ±f64::MAX): the fraction of the way on halved values
    // (a slope of 1/width would be subnormal).
    let t = (x * 0.5 - xp[j] * 0.5) / (xp[j + 1] * 0.5 - xp[j] * 0.5);
    fp[j] + t * (fp[j + 1] - fp[j])
}

impl QuantileFit {
    /// Fits the quantiles of `values` (finite numbers, at least one) at
    /// n_q = min(`n_quantiles`, n) levels.
    pub fn new(values: &[f64], n_quantiles: usize) -> Result<Self, LatentError> {
        if values.is_empty() {
            return Err(LatentError::Empty("no values to normalise".to_string()));
        }
        if n_quantiles == 0 {
            return Err(LatentError::Shape(
                "n_quantiles must be at least 1".to_string(),
            ));
        }
        if let Some(&bad) = values.iter().find(|v| !v.is_finite()) {
            return Err(LatentError::NotFinite {
                what: "the value",
                value: bad,
            });
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let n_q = n_quantiles.min(n);
        let references: Vec<f64> = if n_q == 1 {
            vec![0.0]
        } else {
            let step = 1.0 / (n_q - 1) as f64;
            (0..n_q)
                .map(|j| if j + 1 == n_q { 1.0 } else { j as f64 * step })
                .collect()
        };
        let top = (n - 1) as f64;
        let mut quantiles = Vec::with_capacity(n_q);
        let mut running = f64::NEG_INFINITY;
        for &r in &references {
            // numpy's percentile divides the percent by 100 again.
            let level = (r * 100.0) / 100.0;
            let h = top * level;
            let q = if h >= top {
                sorted[n - 1]
            } else {
                let below = h.floor();
                let i = below as usize;
                lerp(sorted[i], sorted[i + 1], h - below)
            };
            running = running.max(q);
            quantiles.push(running);
        }
        let neg_quantiles = quantiles.iter().rev().map(|v| -v).collect();
        let neg_references = references.iter().rev().map(|v| -v).collect();
        Ok(Self {
            references,
            quantiles,
            neg_quantiles,
            neg_references,
        })
    }

    /// The level of `x` in [0, 1] (steps 3 and 4 of the module docs).
    pub fn level(&self, x: f64) -> f64 {
        let q = &self.quantiles;
        if x - BOUNDS_THRESHOLD < q[0] {
            return 0.0;
        }
        if x + BOUNDS_THRESHOLD > q[q.len() - 1] {
            return 1.0;
        }
        let forward = interp(x, q, &self.references);
        let backward = interp(-x, &self.neg_quantiles, &self.neg_references);
        0.5 * (forward - backward)
    }

    /// The normal scores of `xs`: Φ⁻¹ of their levels, clipped (step 5 of the module docs).
    pub fn scores(&self, xs: &[f64]) -> Vec<f64> {
        let (low, high) = clip_scores();
        xs.iter()
            .map(|&x| normal_quantile(self.level(x)).clamp(low, high))
            .collect()
    }
}

/// Normal scores of `values`, fitted on the values themselves with at most `n_quantiles`
/// quantiles (the module docs); one score per value, in order.
pub fn quantile_normal(values: &[f64], n_quantiles: usize) -> Result<Vec<f64>, LatentError> {
    let fit = QuantileFit::new(values, n_quantiles)?;
    Ok(fit.scores(values))
}

/// Evaluates the polynomial with coefficients `c` (constant first) at `x` (Horner).
fn poly(c: &[f64; 8], x: f64) -> f64 {
    c.iter().rev().fold(0.0, |acc, &k| acc * x + k)
}

/// The standard normal quantile function Φ⁻¹(p): Wichura's algorithm AS241 (PPND16, Applied
/// Statistics 37 (1988) 477–484), about 1e-16 relative. −∞ for p ≤ 0, +∞ for p ≥ 1, NaN for NaN.
// The coefficients are written digit for digit as AS241 publishes them.
#[allow(clippy::excessive_precision)]
pub fn normal_quantile(p: f64) -> f64 {
    // Central region, |p − 0.5| ≤ 0.425: x = q·A(r)/B(r) with r = 0.180625 − q².
    const A: [f64; 8] = [
        3.387_132_872_796_366_608,
        1.331_416_678_917_843_774_5e2,
        1.971_590_950_306_551_442_7e3,
        1.373_169_376_550_946_112_5e4,
        4.592_195_393_154_987_145_7e4,
        6.726_577_092_700_870_085_3e4,
        3.343_057_558_358_812_810_5e4,
        2.509_080_928_730_122_672_7e3,
    ];
    const B: [f64; 8] = [
        1.0,
        4.231_333_070_160_091_125_2e1,
        6.871_870_074_920_579_083e2,
        5.394_196_021_424_751_107_7e3,
        2.121_379_430_158_659_586_7e4,
        3.930_789_580_009_271_061e4,
        2.872_908_573_572_194_267_4e4,
        5.226_495_278_852_854_561e3,
    ];
    // Intermediate tail, r = √(−ln min(p, 1 − p)) ≤ 5: C(r − 1.6)/D(r − 1.6).
    const C: [f64; 8] = [
        1.423_437_110_749_683_577_34,
        4.630_337_846_156_545_295_9,
        5.769_497_221_460_691_405_5,
        3.647_848_324_763_204_605_04,
        1.270_458_252_452_368_382_58,
        2.417_807_251_774_506_117_7e-1,
        2.272_384_498_926_918_458_33e-2,
        7.745_450_142_783_414_076_4e-4,
    ];
    const D: [f64; 8] = [
        1.0,
        2.053_191_626_637_758_821_87,
        1.676_384_830_183_803_849_4,
        6.897_673_349_851_000_045_5e-1,
        1.481_039_764_274_800_745_9e-1,
        1.519_866_656_361_645_719_66e-2,
        5.475_938_084_995_344_946e-4,
        1.050_750_071_644_416_843_24e-9,
    ];
    // Far tail, r > 5: E(r − 5)/F(r − 5).
    const E: [f64; 8] = [
        6.657_904_643_501_103_777_2,
        5.463_784_911_164_114_369_9,
        1.784_826_539_917_291_335_8,
        2.965_605_718_285_048_912_3e-1,
        2.653_218_952_657_612_309_3e-2,
        1.242_660_947_388_078_438_6e-3,
        2.711_555_568_743_487_578_15e-5,
        2.010_334_399_292_288_132_65e-7,
    ];
    const F: [f64; 8] = [
        1.0,
        5.998_322_065_558_879_376_9e-1,
        1.369_298_809_227_358_053_1e-1,
        1.487_536_129_085_061_485_25e-2,
        7.868_691_311_456_132_591e-4,
        1.846_318_317_510_054_681_8e-5,
        1.421_511_758_316_445_888_7e-7,
        2.044_263_103_389_939_785_64e-15,
    ];
    if p.is_nan() {
        return f64::NAN;
    }
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    let q = p - 0.5;
    if q.abs() <= 0.425 {
        let r = 0.180_625 - q * q;
        return q * poly(&A, r) / poly(&B, r);
    }
    // 1 − p is exact for p ≥ 0.5.
    let tail = if q < 0.0 { p } else { 1.0 - p };
    let r = (-tail.ln()).sqrt();
    let x = if r <= 5.0 {
        let r = r - 1.6;
        poly(&C, r) / poly(&D, r)
    } else {
        let r = r - 5.0;
        poly(&E, r) / poly(&F, r)
    };
    if q < 0.0 {
        -x
    } else {
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::rng::Rng;
    use crate::stats::lmm::dist::erfc;

    /// Φ(x) from the independent erfc of `stats::lmm::dist` (series / continued fraction).
    fn phi(x: f64) -> f64 {
        0.5 * erfc(-x / std::f64::consts::SQRT_2)
    }

    /// 1 − Φ(x), without cancellation.
    fn phi_upper(x: f64) -> f64 {
        0.5 * erfc(x / std::f64::consts::SQRT_2)
    }

    #[test]
    fn normal_quantile_inverts_an_independent_normal_cdf() {
        // Lower half: Φ(Φ⁻¹(p)) = p to 1e-12 relative, from 1e-300 to 0.5.
        let mut ps: Vec<f64> = (1..=300).map(|k| 10f64.powi(-k)).collect();
        ps.extend((1..500).map(|k| k as f64 / 1000.0));
        ps.extend([
            0.075,
            0.074_999_999,
            0.075_000_001,
            0.024_25,
            1e-7 - f64::EPSILON,
        ]);
        // exp(−25): where the far tail (r > 5) begins.
        ps.extend([(-25.0f64).exp(), (-25.0f64).exp() * 1.000_001]);
        let mut rng = Rng::new(3);
        ps.extend((0..2000).map(|_| rng.next_f64() * 0.5));
        ps.extend((0..500).map(|_| (-700.0 * rng.next_f64()).exp()));
        for &p in &ps {
            if p <= 0.0 || p > 0.5 {
                continue;
            }
            let x = normal_quantile(p);
            assert!(x <= 0.0, "p {p}: {x}");
            let back = phi(x);
            assert!(((back - p) / p).abs() < 1e-12, "p {p}: x {x}, Φ(x) {back}");
            // Upper half through the complement: 1 − Φ(Φ⁻¹(1 − p)) = p, where 1 − p is exact
            // only for p ≥ 2^-53; below that 1 − p rounds to 1.
            if p > 1e-15 {
                let upper = 1.0 - p;
                let x = normal_quantile(upper);
                let tail = 1.0 - upper;
                let back = phi_upper(x);
                assert!(
                    ((back - tail) / tail).abs() < 1e-12,
                    "p {upper}: x {x}, 1 − Φ(x) {back}"
                );
            }
        }
    }

    #[test]
    fn normal_quantile_known_values_and_limits() {
        // qnorm in R: 0.975 → 1.959963984540054, 0.84134474606854293 (Φ(1)) → 1,
        // 1e-10 → -6.361340902404056.
        assert!((normal_quantile(0.975) - 1.959_963_984_540_054).abs() < 1e-15);
        assert!((normal_quantile(phi(1.0)) - 1.0).abs() < 1e-14);
        assert!((normal_quantile(1e-10) + 6.361_340_902_404_056).abs() < 1e-13);
        assert_eq!(normal_quantile(0.5), 0.0);
        assert_eq!(normal_quantile(0.0), f64::NEG_INFINITY);
        assert_eq!(normal_quantile(-1.0), f64::NEG_INFINITY);
        assert_eq!(normal_quantile(1.0), f64::INFINITY);
        assert!(normal_quantile(f64::NAN).is_nan());
        // Odd: Φ⁻¹(1 − p) = −Φ⁻¹(p) (p = 2^-k, so that 1 − p is exact).
        for p in [
            0.25,
            0.125,
            0.0625,
            2f64.powi(-10),
            2f64.powi(-20),
            2f64.powi(-40),
        ] {
            assert!((normal_quantile(1.0 - p) + normal_quantile(p)).abs() < 1e-14);
        }
    }

    /// numpy's linear percentile, written the textbook way: x₍ₖ₎ + (h − k)(x₍ₖ₊₁₎ − x₍ₖ₎) with
    /// h = (n − 1)·p and k = ⌊h⌋ (no care for rounding or overflow).
    fn naive_percentile(sorted: &[f64], p: f64) -> f64 {
        let h = (sorted.len() - 1) as f64 * p;
        let k = h.floor() as usize;
        if k + 1 >= sorted.len() {
            return sorted[sorted.len() - 1];
        }
        sorted[k] + (h - k as f64) * (sorted[k + 1] - sorted[k])
    }

    fn random_values(rng: &mut Rng, n: usize, ties: bool) -> Vec<f64> {
        (0..n)
            .map(|_| {
                if ties {
                    (rng.next_f64() * 6.0).floor()
                } else {
                    rng.normal() * 3.0 + 1.0
                }
            })
            .collect()
    }

    #[test]
    fn quantiles_are_the_linear_percentiles() {
        let mut rng = Rng::new(11);
        for &(n, n_q, ties) in &[
            (1, 1000, false),
            (2, 1000, false),
            (7, 3, false),
            (50, 10, true),
            (333, 1000, false),
            (1000, 1000, false),
            (5000, 1000, false),
            (5000, 37, true),
        ] {
            let values = random_values(&mut rng, n, ties);
            let fit = QuantileFit::new(&values, n_q).unwrap();
            let expected_levels = n_q.min(n);
            assert_eq!(fit.references.len(), expected_levels);
            assert_eq!(fit.quantiles.len(), expected_levels);
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            for (j, (&r, &q)) in fit.references.iter().zip(&fit.quantiles).enumerate() {
                let level = if expected_levels == 1 {
                    0.0
                } else {
                    j as f64 / (expected_levels - 1) as f64
                };
                assert!((r - level).abs() < 1e-15, "n {n}: r_{j} {r} vs {level}");
                let want = naive_percentile(&sorted, level);
                assert!(
                    (q - want).abs() <= 1e-12 * (1.0 + want.abs()),
                    "n {n}, n_q {n_q}: q_{j} {q} vs {want}"
                );
            }
            assert_eq!(fit.quantiles[0], sorted[0]);
            assert_eq!(*fit.quantiles.last().unwrap(), sorted[n - 1]);
            assert!(fit.quantiles.windows(2).all(|w| w[0] <= w[1]));
        }
    }

    /// With at least as many quantiles as values, every value is a quantile: counted by rank,
    /// independently of the interpolations, the smallest value has level 0, the largest 1, a
    /// value of rank k (from 0) without ties k/(n − 1), and one whose sorted positions run from
    /// i to k a level in [i/(n − 1), k/(n − 1)] (where in that range depends on how numpy
    /// rounds the quantiles next to the run; the scikit-learn references pin it down).
    #[test]
    fn levels_of_a_fully_quantiled_sample_follow_the_ranks() {
        let mut rng = Rng::new(5);
        for &(n, ties) in &[(2, false), (5, false), (9, true), (200, false), (999, true)] {
            let values = random_values(&mut rng, n, ties);
            let fit = QuantileFit::new(&values, 1000).unwrap();
            let (low, high) = clip_scores();
            let scores = fit.scores(&values);
            let min = values.iter().cloned().fold(f64::INFINITY, f64::min);
            let max = values.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let top = (n - 1) as f64;
            for (&x, &z) in values.iter().zip(&scores) {
                let below = values.iter().filter(|&&v| v < x).count();
                let at = values.iter().filter(|&&v| v == x).count();
                let level = fit.level(x);
                let (first, last) = if x == min {
                    (0.0, 0.0)
                } else if x == max {
                    (1.0, 1.0)
                } else {
                    (below as f64 / top, (below + at - 1) as f64 / top)
                };
                assert!(
                    level >= first - 1e-14 && level <= last + 1e-14,
                    "n {n}: level of {x} is {level}, not in [{first}, {last}]"
                );
                if first == last {
                    let want = normal_quantile(first).clamp(low, high);
                    assert!((z - want).abs() < 1e-12, "n {n}: {x} → {z} vs {want}");
                }
            }
        }
    }

    /// Between quantiles the level is linear in x: checked against a direct search of the
    /// segment, on samples with more values than quantiles and no ties.
    #[test]
    fn levels_interpolate_between_quantiles() {
        let mut rng = Rng::new(8);
        let values = random_values(&mut rng, 3000, false);
        for n_q in [2, 10, 1000] {
            let fit = QuantileFit::new(&values, n_q).unwrap();
            let (q, r) = (&fit.quantiles, &fit.references);
            for &x in values.iter().take(400) {
                let level = fit.level(x);
                if x - BOUNDS_THRESHOLD < q[0] || x + BOUNDS_THRESHOLD > q[n_q - 1] {
                    assert!(level == 0.0 || level == 1.0);
                    continue;
                }
                let j = (0..n_q - 1).find(|&j| q[j] <= x && x <= q[j + 1]).unwrap();
                let want = r[j] + (x - q[j]) / (q[j + 1] - q[j]) * (r[j + 1] - r[j]);
                assert!((level - want).abs() < 1e-12, "{x}: {level} vs {want}");
            }
            // The level is non-decreasing in x.
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            let levels: Vec<f64> = sorted.iter().map(|&x| fit.level(x)).collect();
            assert!(levels.windows(2).all(|w| w[0] <= w[1]));
        }
    }

    #[test]
    fn bounds_constant_samples_and_single_values() {
        let (low, high) = clip_scores();
        // scikit-learn's clips (scipy's norm.ppf): not symmetric, as 1 − (1e-7 − ε) rounds.
        assert!((low + 5.199_337_582_605_575).abs() < 1e-13, "{low}");
        assert!((high - 5.199_337_582_703_42).abs() < 1e-13, "{high}");
        // A constant sample and a single value: the lower bound wins.
        assert_eq!(quantile_normal(&[2.5; 7], 1000).unwrap(), vec![low; 7]);
        assert_eq!(quantile_normal(&[-3.0], 1000).unwrap(), vec![low]);
        // Two values: the extremes.
        assert_eq!(quantile_normal(&[4.0, 1.0], 1000).unwrap(), vec![high, low]);
        // Within 1e-7 of the smallest or largest value: the extremes as well.
        let z = quantile_normal(&[0.0, 0.5e-7, 0.5, 1.0 - 0.5e-7, 1.0], 1000).unwrap();
        assert_eq!(z[0], low);
        assert_eq!(z[1], low);
        assert_eq!(z[2], 0.0);
        assert_eq!(z[3], high);
        assert_eq!(z[4], high);
        // Values spread over less than 1e-7 all fall within the bounds.
        let tiny: Vec<f64> = (0..10).map(|i| i as f64 * 1e-9).collect();
        let z = quantile_normal(&tiny, 1000).unwrap();
        assert!(z.iter().all(|&v| v == low), "{z:?}");
        // n_quantiles = 1: one quantile, the minimum; everything is at a bound, all but the
        // minimum at the upper one.
        assert_eq!(
            quantile_normal(&[1.0, 2.0, 3.0], 1).unwrap(),
            vec![low, high, high]
        );
    }

    #[test]
    fn huge_values_give_finite_scores() {
        let values = [-f64::MAX, -1e308, 0.0, 1e308, f64::MAX, 5e307, -7e307];
        for n_q in [3, 4, 1000] {
            let z = quantile_normal(&values, n_q).unwrap();
            assert!(z.iter().all(|v| v.is_finite()), "{z:?}");
            // Order is kept.
            let mut pairs: Vec<(f64, f64)> = values.iter().cloned().zip(z).collect();
            pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
            assert!(pairs.windows(2).all(|w| w[0].1 <= w[1].1), "{pairs:?}");
        }
        // The halved interpolation agrees with the plain one where both work.
        assert_eq!(lerp(1.0, 3.0, 0.25), 1.5);
        assert_eq!(lerp(-f64::MAX, f64::MAX, 0.5), 0.0);
        assert_eq!(interp(0.0, &[-f64::MAX, f64::MAX], &[0.0, 1.0]), 0.5);
    }

    #[test]
    fn refuses_what_has_no_score() {
        let e = quantile_normal(&[1.0, f64::NAN], 10).unwrap_err();
        assert_eq!(e.to_string(), "the value must be finite, got NaN");
        let e = quantile_normal(&[f64::NEG_INFINITY], 10).unwrap_err();
        assert_eq!(e.to_string(), "the value must be finite, got -inf");
        let e = quantile_normal(&[], 10).unwrap_err();
        assert!(matches!(e, LatentError::Empty(_)));
        let e = quantile_normal(&[1.0], 0).unwrap_err();
        assert!(matches!(e, LatentError::Shape(_)));
    }

    /// Inputs and scikit-learn 1.6.1's outputs, written by `scripts/quantile_reference.py`.
    #[derive(serde::Deserialize)]
    struct Reference {
        cases: Vec<Case>,
        /// (p written as text, Φ⁻¹(p)): serde_json may read a number one ulp off, and next to
        /// 1 one ulp of p moves Φ⁻¹ by 1e-10; Rust's own parsing is exact.
        normal_ppf: Vec<(String, f64)>,
    }

    #[derive(serde::Deserialize)]
    struct Case {
        name: String,
        n_quantiles: usize,
        values: Vec<f64>,
        expected: Vec<f64>,
    }

    fn reference() -> Reference {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/reference/quantile_normal.json"
        );
        let text = std::fs::read_to_string(path).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn agrees_with_scikit_learn() {
        let reference = reference();
        assert!(reference.cases.len() >= 10);
        for case in &reference.cases {
            let z = quantile_normal(&case.values, case.n_quantiles).unwrap();
            assert_eq!(z.len(), case.expected.len(), "{}", case.name);
            let worst = z
                .iter()
                .zip(&case.expected)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(worst < 1e-9, "{}: differs by {worst}", case.name);
        }
    }

    #[test]
    fn normal_quantile_agrees_with_scipy() {
        let reference = reference();
        assert!(reference.normal_ppf.len() > 20);
        for (p, x) in &reference.normal_ppf {
            let (p, x) = (p.parse::<f64>().unwrap(), *x);
            let ours = normal_quantile(p);
            assert!(
                (ours - x).abs() <= 1e-13 * x.abs().max(1.0),
                "Φ⁻¹({p}) = {ours}, scipy {x}"
            );
        }
    }
}
