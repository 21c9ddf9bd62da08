//! Tick generation exists so that every axis gets "nice" positions (1, 2 or
//! 5 times a power of ten) and labels without floating-point noise, as a
//! reader of a published figure expects.

/// One axis tick: position in axis space and its label.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    /// Position in axis space (log10 of the value on a log axis, the category
    /// index on a categorical axis).
    pub pos: f64,
    /// Text drawn next to the tick.
    pub label: String,
}

/// Nice linear tick positions inside `lo..=hi`, about `target` of them: the
/// step is 1, 2 or 5 times a power of ten. Returns an empty vector for an
/// empty or non-finite range.
pub fn nice_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    let step = match nice_step(lo, hi, target) {
        Some(s) => s,
        None => return Vec::new(),
    };
    steps_within(lo, hi, step)
}

/// The 1-2-5 step giving a tick count closest to `target` (ties go to the
/// larger step), preferring counts from three to ten.
pub fn nice_step(lo: f64, hi: f64, target: usize) -> Option<f64> {
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0) {
        return None;
    }
    let target = target.max(2) as f64;
    let base = (span / target).log10().floor() as i32;
    let mut best: Option<(f64, f64)> = None;
    for k in (base - 1)..=(base + 1) {
        for m in [1.0, 2.0, 5.0] {
            let step = m * 10f64.powi(k);
            let n = steps_within(lo, hi, step).len() as f64;
            let out_of_bounds = !(3.0..=10.0).contains(&n);
            let score = (n - target).abs() + if out_of_bounds { 10.0 } else { 0.0 };
            if best.is_none_or(|(s, _)| score <= s) {
                best = Some((score, step));
            }
        }
    }
    best.map(|(_, s)| s)
}

fn steps_within(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    // A small tolerance keeps ticks that sit on the range ends despite rounding.
    let eps = step * 1e-9;
    let first = ((lo - eps) / step).ceil() as i64;
    let last = ((hi + eps) / step).floor() as i64;
    if last < first || last - first > 1000 {
        return Vec::new();
    }
    (first..=last).map(|i| i as f64 * step).collect()
}

/// Labels for linear ticks with common step `step`: fixed decimals matching
/// the step, `k`/`M` suffixes for large values, scientific notation for very
/// large or very small ones.
pub fn linear_labels(ticks: &[f64], step: f64) -> Vec<String> {
    let max_abs = ticks.iter().fold(0.0f64, |m, t| m.max(t.abs()));
    let (div, suffix) = if max_abs >= 1e9 || (max_abs > 0.0 && max_abs < 1e-3) {
        return ticks.iter().map(|t| format_sci(*t)).collect();
    } else if max_abs >= 1e6 {
        (1e6, "M")
    } else if max_abs >= 1e5 {
        (1e3, "k")
    } else {
        (1.0, "")
    };
    let decimals = decimals_for(ticks, step / div, div);
    ticks
        .iter()
        .map(|t| {
            let s = format!("{:.*}", decimals, t / div);
            let s = clean_zero(&s);
            if s == "0" {
                s
            } else {
                format!("{s}{suffix}")
            }
        })
        .collect()
}

/// The fewest decimals (at most 12) that show every `tick / div` exactly to
/// within a millionth of the scaled step.
fn decimals_for(ticks: &[f64], scaled_step: f64, div: f64) -> usize {
    let tol = scaled_step.abs() * 1e-6;
    (0..12)
        .find(|d| {
            let f = 10f64.powi(*d as i32);
            ticks
                .iter()
                .all(|t| ((t / div * f).round() / f - t / div).abs() <= tol)
        })
        .unwrap_or(12)
}

/// Ticks for a log10 axis spanning `lo..=hi` in log10 units: powers of ten
/// (thinned to at most `max_ticks`), with 2 and 5 multiples added when the
/// range covers under two decades, and linear nice ticks when it covers too
/// little for that.
pub fn log_ticks(lo: f64, hi: f64, max_ticks: usize) -> Vec<Tick> {
    if !(lo.is_finite() && hi.is_finite() && hi > lo) {
        return Vec::new();
    }
    let max_ticks = max_ticks.max(2);
    let (e0, e1) = (lo.ceil() as i32, hi.floor() as i32);
    if hi - lo >= 2.0 {
        let decades = (e1 - e0 + 1).max(1) as usize;
        let every = decades.div_ceil(max_ticks).max(1) as i32;
        return (e0..=e1)
            .filter(|e| e.rem_euclid(every) == 0)
            .map(|e| log_tick(1.0, e))
            .collect();
    }
    let mut ticks: Vec<Tick> = ((lo.floor() as i32)..=(hi.ceil() as i32))
        .flat_map(|e| [1.0, 2.0, 5.0].map(|m| (m, e)))
        .map(|(m, e)| log_tick(m, e))
        .filter(|t| t.pos >= lo - 1e-9 && t.pos <= hi + 1e-9)
        .collect();
    if ticks.len() < 3 {
        let (a, b) = (10f64.powf(lo), 10f64.powf(hi));
        let step = nice_step(a, b, 5).unwrap_or(b - a);
        let vals: Vec<f64> = nice_ticks(a, b, 5)
            .into_iter()
            .filter(|v| *v > 0.0)
            .collect();
        ticks = vals
            .iter()
            .zip(linear_labels(&vals, step))
            .map(|(v, label)| Tick {
                pos: v.log10(),
                label,
            })
            .collect();
    }
    ticks
}

fn log_tick(mantissa: f64, exp: i32) -> Tick {
    let label = if (-4..=5).contains(&exp) {
        let decimals = (-exp).max(0) as usize;
        clean_zero(&format!("{:.*}", decimals, mantissa * 10f64.powi(exp)))
    } else if mantissa == 1.0 {
        format!("1e{exp}")
    } else {
        format!("{mantissa}e{exp}")
    };
    Tick {
        pos: mantissa.log10() + exp as f64,
        label,
    }
}

/// Scientific label with the shortest mantissa, e.g. `2.5e-5`, `1e9`.
fn format_sci(v: f64) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    // Round the mantissa to 6 significant digits to drop float noise.
    let exp = v.abs().log10().floor() as i32;
    let mant = (v / 10f64.powi(exp) * 1e6).round() / 1e6;
    format!("{mant}e{exp}")
}

/// Turns "-0", "-0.0" into "0" and keeps other text unchanged.
fn clean_zero(s: &str) -> String {
    if s.trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// A value formatted for a category, legend or strip label: the shortest
/// text that reads back as the same number, scientific only for very large
/// or very small magnitudes (`0.1`, `3`, `1e-7`, `2.5e12`).
pub fn format_number(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-4..1e15).contains(&a) {
        format!("{v:e}")
    } else {
        clean_zero(&format!("{v}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_have_no_float_noise() {
        let t = nice_ticks(0.0, 0.35, 5);
        let step = nice_step(0.0, 0.35, 5).unwrap();
        let labels = linear_labels(&t, step);
        assert_eq!(labels, ["0", "0.1", "0.2", "0.3"]);
    }

    #[test]
    fn large_and_small_labels() {
        let t = [0.0, 1e6, 2e6, 3e6];
        assert_eq!(linear_labels(&t, 1e6), ["0", "1M", "2M", "3M"]);
        let t = [2.5e6, 5e6];
        assert_eq!(linear_labels(&t, 2.5e6), ["2.5M", "5.0M"]);
        let t = [2e-5, 4e-5];
        assert_eq!(linear_labels(&t, 2e-5), ["2e-5", "4e-5"]);
        assert_eq!(linear_labels(&[-10.0, 0.0, 10.0], 10.0), ["-10", "0", "10"]);
    }

    #[test]
    fn log_labels() {
        let labels: Vec<String> = log_ticks(-2.0, 6.0, 10)
            .into_iter()
            .map(|t| t.label)
            .collect();
        assert_eq!(
            labels,
            ["0.01", "0.1", "1", "10", "100", "1000", "10000", "100000", "1e6"]
        );
        let labels: Vec<String> = log_ticks(0.0, 1.5, 10)
            .into_iter()
            .map(|t| t.label)
            .collect();
        assert_eq!(labels, ["1", "2", "5", "10", "20"]);
    }

    #[test]
    fn number_format() {
        assert_eq!(format_number(0.1), "0.1");
        assert_eq!(format_number(3.0), "3");
        assert_eq!(format_number(-0.0), "0");
        assert_eq!(format_number(1e-7), "1e-7");
    }
}
