//! A small deterministic pseudo-random generator for the kernels.
//!
//! Every random choice of a kernel (initial factors, random start blocks) takes a `seed: u64`, and
//! a model trained twice with the same seed must be bit-identical. An external crate's generator
//! may change its stream between versions, so the kernels use this self-contained one instead:
//! xoshiro256++ (Blackman & Vigna), seeded through SplitMix64. Its output for a given seed never
//! changes. It is not cryptographically secure and is not meant to be. Beyond uniform bits it
//! draws standard normals, bounded integers and gamma variates ([`Rng::gamma`]), and
//! [`Rng::stream`] gives each sub-task of a parallel computation its own seeded stream.

/// The xoshiro256++ generator, seeded through SplitMix64.
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
}

/// One step of SplitMix64: advances `state` and returns the next output.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// A generator whose whole stream is determined by `seed` (any value, zero included).
    pub fn new(seed: u64) -> Rng {
        let mut state = seed;
        let s = [
            splitmix64(&mut state),
            splitmix64(&mut state),
            splitmix64(&mut state),
            splitmix64(&mut state),
        ];
        Rng { s }
    }

    /// The next 64 uniformly random bits.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// A uniform `f64` in `[0, 1)`, with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform `f32` in `[0, 1)`, with 24 random bits.
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (1.0 / (1u32 << 24) as f32)
    }

    /// A standard normal `f64` (Box–Muller; one of the pair is discarded so that each call
    /// consumes exactly two draws).
    pub fn normal(&mut self) -> f64 {
        // 1 - u is in (0, 1], so the logarithm is finite.
        let u1 = 1.0 - self.next_f64();
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// A uniform integer in `[0, n)` (Lemire's multiply-shift; `0` when `n` is `0`).
    pub fn below(&mut self, n: u64) -> u64 {
        Rng::scale_below(self.next_u64(), n)
    }

    /// [`Rng::below`]'s map of 64 random bits `bits` to `[0, n)`, for callers that draw
    /// [`Rng::next_u64`] ahead: `Rng::scale_below(rng.next_u64(), n)` is `rng.below(n)`.
    pub fn scale_below(bits: u64, n: u64) -> u64 {
        ((u128::from(bits) * u128::from(n)) >> 64) as u64
    }

    /// A generator for sub-task `ids` (e.g. iteration and document) of a computation seeded
    /// with `seed`: its stream depends only on `seed` and `ids`, so work split across threads
    /// draws the same numbers whatever the thread count. Each id is mixed in with a SplitMix64
    /// step; different `ids` give unrelated streams, and none is `Rng::new(seed)`'s.
    pub fn stream(seed: u64, ids: &[u64]) -> Rng {
        let mut state = seed;
        let mut z = splitmix64(&mut state);
        for &id in ids {
            let mut s = z ^ id.wrapping_mul(0xD1B5_4A32_D192_ED03);
            z = splitmix64(&mut s);
        }
        Rng::new(z)
    }

    /// A draw from the gamma distribution with shape a > 0 and scale θ > 0 (density
    /// x^(a−1) e^(−x/θ) / (Γ(a) θ^a), mean aθ, variance aθ²); NaN when either is not positive and
    /// finite.
    ///
    /// Marsaglia & Tsang (2000), "A simple method for generating gamma variables": for a ≥ 1,
    /// with d = a − 1/3 and c = 1/√(9d), draw a standard normal x ([`Rng::normal`]) until
    /// v = (1 + cx)³ > 0, then u = 1 − U[0, 1) ∈ (0, 1]; accept dv when u < 1 − 0.0331 x⁴ (the
    /// squeeze) or ln u < x²/2 + d(1 − v + ln v), else start again. For a < 1 the boost
    /// Gamma(a) = Gamma(a + 1) · u^(1/a), with u drawn after the Gamma(a + 1) draw.
    pub fn gamma(&mut self, shape: f64, scale: f64) -> f64 {
        let valid = |v: f64| v > 0.0 && v.is_finite();
        if !valid(shape) || !valid(scale) {
            return f64::NAN;
        }
        if shape < 1.0 {
            let g = self.gamma(shape + 1.0, 1.0);
            let u = 1.0 - self.next_f64();
            return g * u.powf(1.0 / shape) * scale;
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let (x, v) = loop {
                let x = self.normal();
                let v = 1.0 + c * x;
                if v > 0.0 {
                    break (x, v * v * v);
                }
            };
            let u = 1.0 - self.next_f64();
            let x2 = x * x;
            if u < 1.0 - 0.0331 * x2 * x2 || u.ln() < 0.5 * x2 + d * (1.0 - v + v.ln()) {
                return d * v * scale;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let mut a = Rng::new(42);
        let mut b = Rng::new(42);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        let mut c = Rng::new(43);
        assert_ne!(Rng::new(42).next_u64(), c.next_u64());
    }

    #[test]
    fn known_stream() {
        // SplitMix64 from 0 gives this well-known first output.
        let mut state = 0u64;
        assert_eq!(splitmix64(&mut state), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn ranges_and_moments() {
        let mut rng = Rng::new(7);
        let n = 200_000;
        let (mut sum, mut sum2) = (0.0, 0.0);
        for _ in 0..n {
            let u = rng.next_f64();
            assert!((0.0..1.0).contains(&u));
            let f = rng.next_f32();
            assert!((0.0..1.0).contains(&f));
            assert!(rng.below(10) < 10);
            let z = rng.normal();
            sum += z;
            sum2 += z * z;
        }
        let mean = sum / n as f64;
        let var = sum2 / n as f64 - mean * mean;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.02, "var {var}");
        assert_eq!(rng.below(0), 0);
    }

    #[test]
    fn streams_repeat_and_differ() {
        let first = |seed: u64, ids: &[u64]| Rng::stream(seed, ids).next_u64();
        assert_eq!(first(5, &[1, 2]), first(5, &[1, 2]));
        let others = [
            first(5, &[2, 1]),
            first(5, &[1, 3]),
            first(6, &[1, 2]),
            first(5, &[1]),
            first(5, &[]),
            Rng::new(5).next_u64(),
        ];
        for o in others {
            assert_ne!(first(5, &[1, 2]), o);
        }
    }

    /// n seeded draws of Gamma(shape, scale).
    fn gamma_draws(shape: f64, scale: f64, n: usize, seed: u64) -> Vec<f64> {
        let mut rng = Rng::new(seed);
        (0..n).map(|_| rng.gamma(shape, scale)).collect()
    }

    /// The sample mean and variance of the draws against the gamma distribution's aθ and aθ²,
    /// within 5 standard errors (the variance of the sample variance is σ⁴(2 + 6/a)/n).
    #[test]
    fn gamma_mean_and_variance() {
        let n = 200_000;
        for (i, &(shape, scale)) in [
            (0.1, 1.0),
            (0.5, 2.0),
            (1.0, 1.0),
            (2.5, 0.3),
            (100.0, 0.01),
        ]
        .iter()
        .enumerate()
        {
            let x = gamma_draws(shape, scale, n, 100 + i as u64);
            assert!(x.iter().all(|&v| v >= 0.0 && v.is_finite()));
            let nf = n as f64;
            let mean = x.iter().sum::<f64>() / nf;
            let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (nf - 1.0);
            let (m, v) = (shape * scale, shape * scale * scale);
            let se_mean = (v / nf).sqrt();
            let se_var = v * ((2.0 + 6.0 / shape) / nf).sqrt();
            assert!(
                (mean - m).abs() < 5.0 * se_mean,
                "a {shape}: mean {mean} vs {m}"
            );
            assert!(
                (var - v).abs() < 5.0 * se_var,
                "a {shape}: var {var} vs {v}"
            );
        }
    }

    /// The Kolmogorov–Smirnov statistic of `x` against the gamma CDF P(a, x/θ), the regularised
    /// lower incomplete gamma function of `stats::lmm::dist` (an independent implementation).
    fn ks_gamma(x: &[f64], shape: f64, scale: f64) -> f64 {
        use crate::stats::lmm::dist::gamma_q;
        let mut x = x.to_vec();
        x.sort_by(f64::total_cmp);
        let n = x.len() as f64;
        x.iter()
            .enumerate()
            .map(|(i, &v)| {
                let f = 1.0 - gamma_q(shape, v / scale);
                (f - i as f64 / n).max((i + 1) as f64 / n - f)
            })
            .fold(0.0, f64::max)
    }

    /// The draws pass a KS test at level 0.001 (critical value 1.95/√n), while the same draws
    /// against a gamma of shape 1.1a fail it (so the test can tell).
    #[test]
    fn gamma_passes_a_ks_test() {
        let n = 20_000;
        let critical = 1.95 / (n as f64).sqrt();
        for (i, &(shape, scale)) in [
            (0.2, 3.0),
            (0.9, 1.0),
            (1.0, 0.5),
            (4.0, 1.0),
            (100.0, 0.01),
        ]
        .iter()
        .enumerate()
        {
            let x = gamma_draws(shape, scale, n, 7 + i as u64);
            let d = ks_gamma(&x, shape, scale);
            assert!(d < critical, "a {shape}: D = {d} ≥ {critical}");
            let wrong = ks_gamma(&x, 1.1 * shape, scale);
            assert!(
                wrong > critical,
                "a {shape}: D = {wrong} against shape 1.1a"
            );
        }
    }

    #[test]
    fn gamma_rejects_bad_parameters() {
        let mut rng = Rng::new(1);
        for (a, s) in [
            (0.0, 1.0),
            (-1.0, 1.0),
            (1.0, 0.0),
            (f64::NAN, 1.0),
            (1.0, f64::INFINITY),
        ] {
            assert!(rng.gamma(a, s).is_nan(), "{a} {s}");
        }
    }
}
