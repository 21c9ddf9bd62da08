//! Statistics exist here so that the summaries drawn (box quantiles, bar
//! means, fitted lines) are computed by small, separately tested functions
//! with documented definitions rather than inline in the layout code.

/// Box-and-whisker summary of one group of values.
#[derive(Debug, Clone, PartialEq)]
pub struct BoxStats {
    /// First quartile.
    pub q1: f64,
    /// Median.
    pub median: f64,
    /// Third quartile.
    pub q3: f64,
    /// Smallest value not below `q1 - 1.5 * IQR`.
    pub whisker_lo: f64,
    /// Largest value not above `q3 + 1.5 * IQR`.
    pub whisker_hi: f64,
    /// Values beyond the whiskers.
    pub outliers: Vec<f64>,
}

/// Quantile `p` (in `0..=1`) of ascending `sorted` values by linear
/// interpolation between order statistics (Hyndman & Fan type 7, R's
/// default). `None` for an empty slice.
pub fn quantile(sorted: &[f64], p: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let h = last as f64 * p.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(last);
    Some(sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]))
}

/// Box-plot statistics of `values` (any order); `None` when empty.
pub fn box_stats(values: &[f64]) -> Option<BoxStats> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let q1 = quantile(&v, 0.25)?;
    let median = quantile(&v, 0.5)?;
    let q3 = quantile(&v, 0.75)?;
    let iqr = q3 - q1;
    let (lo_fence, hi_fence) = (q1 - 1.5 * iqr, q3 + 1.5 * iqr);
    let inside = || {
        v.iter()
            .copied()
            .filter(|x| *x >= lo_fence && *x <= hi_fence)
    };
    Some(BoxStats {
        q1,
        median,
        q3,
        whisker_lo: inside().fold(q1, f64::min),
        whisker_hi: inside().fold(q3, f64::max),
        outliers: v
            .iter()
            .copied()
            .filter(|x| *x < lo_fence || *x > hi_fence)
            .collect(),
    })
}

/// Arithmetic mean; `None` when empty.
pub fn mean(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        None
    } else {
        Some(values.iter().sum::<f64>() / values.len() as f64)
    }
}

/// Ordinary least squares of `y` on `x`: returns `(intercept, slope)`, or
/// `None` with fewer than two points or when all x are equal.
pub fn ols(x: &[f64], y: &[f64]) -> Option<(f64, f64)> {
    let n = x.len().min(y.len());
    if n < 2 {
        return None;
    }
    let mx = mean(&x[..n])?;
    let my = mean(&y[..n])?;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (xi, yi) in x.iter().zip(y) {
        sxy += (xi - mx) * (yi - my);
        sxx += (xi - mx) * (xi - mx);
    }
    if sxx <= f64::EPSILON * mx.abs().max(1.0) * n as f64 {
        return None;
    }
    let slope = sxy / sxx;
    Some((my - slope * mx, slope))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type7_quantiles_match_r() {
        // R: quantile(c(1, 2, 3, 4, 10), c(.25, .5, .75)) = 2, 3, 4
        let v = [1.0, 2.0, 3.0, 4.0, 10.0];
        assert_eq!(quantile(&v, 0.25), Some(2.0));
        assert_eq!(quantile(&v, 0.5), Some(3.0));
        assert_eq!(quantile(&v, 0.75), Some(4.0));
        // R: quantile(1:4, .25) = 1.75
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.25), Some(1.75));
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&[7.0], 0.9), Some(7.0));
    }

    #[test]
    fn ols_of_a_perfect_line() {
        let (a, b) = ols(&[0.0, 1.0, 2.0], &[1.0, 3.0, 5.0]).unwrap();
        assert!((a - 1.0).abs() < 1e-12 && (b - 2.0).abs() < 1e-12);
        assert_eq!(ols(&[1.0, 1.0], &[2.0, 3.0]), None);
    }
}
