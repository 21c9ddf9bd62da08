//! Property tests of tick generation on many seeded random ranges.

mod common;

use common::Lcg;
use trustql_plot::ticks::{linear_labels, log_ticks, nice_step, nice_ticks};

/// True if `step` is 1, 2 or 5 times a power of ten.
fn is_125(step: f64) -> bool {
    let exp = step.log10().floor();
    let m = step / 10f64.powf(exp);
    [1.0, 2.0, 5.0, 10.0].iter().any(|c| (m - c).abs() < 1e-9)
}

#[test]
fn nice_ticks_on_random_ranges() {
    let mut rng = Lcg(2024);
    for _ in 0..5000 {
        let scale = 10f64.powf(rng.range(-8.0, 12.0));
        let lo = rng.range(-1.0, 1.0) * scale;
        let hi = lo + rng.range(1e-3, 10.0) * scale;
        let target = 3 + (rng.unit() * 6.0) as usize;
        let ticks = nice_ticks(lo, hi, target);
        assert!(
            (3..=10).contains(&ticks.len()),
            "{lo}..{hi} target {target}: {ticks:?}"
        );
        assert!(ticks
            .iter()
            .all(|t| *t >= lo - 1e-9 * scale && *t <= hi + 1e-9 * scale));
        let step = nice_step(lo, hi, target).unwrap();
        assert!(is_125(step), "step {step}");
        for w in ticks.windows(2) {
            assert!(((w[1] - w[0]) / step - 1.0).abs() < 1e-6);
        }
        let labels = linear_labels(&ticks, step);
        let mut dedup = labels.clone();
        dedup.dedup();
        assert_eq!(dedup.len(), labels.len(), "distinct labels {labels:?}");
        for l in &labels {
            assert!(l.len() <= 12, "short labels, got {l} for {ticks:?}");
            assert!(
                !l.contains("0000000") && !l.contains("9999999"),
                "float noise in {l}"
            );
        }
    }
}

#[test]
fn log_ticks_on_random_ranges() {
    let mut rng = Lcg(77);
    for _ in 0..2000 {
        let lo = rng.range(-8.0, 8.0);
        let hi = lo + rng.range(0.05, 12.0);
        let ticks = log_ticks(lo, hi, 6);
        assert!(ticks.len() >= 2, "{lo}..{hi}: {ticks:?}");
        assert!(ticks.len() <= 10, "{lo}..{hi}: {ticks:?}");
        assert!(ticks
            .iter()
            .all(|t| t.pos >= lo - 1e-9 && t.pos <= hi + 1e-9));
        assert!(ticks.windows(2).all(|w| w[1].pos > w[0].pos));
    }
}
