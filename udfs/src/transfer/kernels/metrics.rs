//! The metrics of thesis §2.4.1 (accuracy, R²) and two common companions (macro F1, log loss),
//! as mergeable partial states: an aggregate sees its rows in pieces (one state per partition)
//! and merges the states, so each metric is written as a state that absorbs rows, merges with
//! another state and gives the value at the end. Definitions are scikit-learn's
//! (`accuracy_score`, `f1_score(average='macro', zero_division=0)`, `log_loss`, `r2_score`).

use std::collections::BTreeMap;

use super::TransferError;

/// Probabilities are clipped to `[LOG_LOSS_EPS, 1 − LOG_LOSS_EPS]` before the logarithm
/// (scikit-learn's `log_loss` default before version 1.5).
pub const LOG_LOSS_EPS: f64 = 1e-15;

/// Accuracy: the number of rows and of rows whose prediction equals the label.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AccuracyState {
    pub correct: u64,
    pub total: u64,
}

impl AccuracyState {
    pub fn add(&mut self, equal: bool) {
        self.total += 1;
        self.correct += u64::from(equal);
    }

    pub fn merge(&mut self, other: &AccuracyState) {
        self.correct += other.correct;
        self.total += other.total;
    }

    /// The fraction correct; `None` without rows.
    pub fn value(&self) -> Option<f64> {
        (self.total > 0).then(|| self.correct as f64 / self.total as f64)
    }
}

/// Per-class counts for F1: true positives, false positives (predicted the class, label
/// another) and false negatives (label the class, predicted another).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClassCounts {
    pub tp: u64,
    pub fp: u64,
    pub fn_: u64,
}

/// Macro F1's state: counts per class, for the classes seen as a label or a prediction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct F1State<K: Ord> {
    pub classes: BTreeMap<K, ClassCounts>,
}

impl<K: Ord> Default for F1State<K> {
    fn default() -> Self {
        F1State {
            classes: BTreeMap::new(),
        }
    }
}

impl<K: Ord + Clone> F1State<K> {
    pub fn add(&mut self, label: K, predicted: K) {
        if label == predicted {
            self.classes.entry(label).or_default().tp += 1;
        } else {
            self.classes.entry(label).or_default().fn_ += 1;
            self.classes.entry(predicted).or_default().fp += 1;
        }
    }

    /// Adds another state's counts (for the same class, the counts add up).
    pub fn merge_counts(&mut self, class: K, counts: ClassCounts) {
        let c = self.classes.entry(class).or_default();
        c.tp += counts.tp;
        c.fp += counts.fp;
        c.fn_ += counts.fn_;
    }

    /// The unweighted mean over the classes of `2·tp / (2·tp + fp + fn)` (0 when a class has
    /// no true positive); `None` without rows.
    pub fn value(&self) -> Option<f64> {
        if self.classes.is_empty() {
            return None;
        }
        let sum: f64 = self
            .classes
            .values()
            .map(|c| {
                let denominator = 2 * c.tp + c.fp + c.fn_;
                if denominator == 0 {
                    0.0
                } else {
                    2.0 * c.tp as f64 / denominator as f64
                }
            })
            .sum();
        Some(sum / self.classes.len() as f64)
    }
}

/// Log loss: the number of rows and the sum of `−ln p` of the probability each gave its true
/// class.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LogLossState {
    pub n: u64,
    pub sum: f64,
}

impl LogLossState {
    /// Adds a row whose true class had probability `p` (clipped to `[ε, 1 − ε]`).
    pub fn add(&mut self, p: f64) -> Result<(), TransferError> {
        if !(0.0..=1.0).contains(&p) {
            return Err(TransferError::Probability(p));
        }
        self.n += 1;
        self.sum -= p.clamp(LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS).ln();
        Ok(())
    }

    pub fn merge(&mut self, other: &LogLossState) {
        self.n += other.n;
        self.sum += other.sum;
    }

    pub fn value(&self) -> Option<f64> {
        (self.n > 0).then(|| self.sum / self.n as f64)
    }
}

/// R²'s state: the count, mean and sum of squared deviations of the labels (Welford; merged
/// with Chan et al.'s formula) and the sum of squared residuals.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct R2State {
    pub n: u64,
    pub mean: f64,
    pub m2: f64,
    pub ss_res: f64,
}

impl R2State {
    pub fn add(&mut self, y: f64, y_hat: f64) {
        self.n += 1;
        let delta = y - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (y - self.mean);
        self.ss_res += (y - y_hat) * (y - y_hat);
    }

    pub fn merge(&mut self, other: &R2State) {
        if other.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = *other;
            return;
        }
        let n = self.n + other.n;
        let delta = other.mean - self.mean;
        let (na, nb) = (self.n as f64, other.n as f64);
        self.mean += delta * nb / n as f64;
        self.m2 += other.m2 + delta * delta * na * nb / n as f64;
        self.ss_res += other.ss_res;
        self.n = n;
    }

    /// `1 − SS_res / SS_tot`; with constant labels 1 when the predictions are exact and 0
    /// otherwise (scikit-learn's `force_finite`); `None` with fewer than two rows (undefined).
    pub fn value(&self) -> Option<f64> {
        if self.n < 2 {
            return None;
        }
        if self.m2 == 0.0 {
            return Some(if self.ss_res == 0.0 { 1.0 } else { 0.0 });
        }
        Some(1.0 - self.ss_res / self.m2)
    }
}

/// R² of predictions `y_hat` for labels `y` (see [`R2State::value`]).
pub fn r2_score(y: &[f64], y_hat: &[f64]) -> Option<f64> {
    let mut s = R2State::default();
    for (&a, &b) in y.iter().zip(y_hat) {
        s.add(a, b);
    }
    s.value()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::rng::Rng;

    #[test]
    fn accuracy_by_hand() {
        let mut s = AccuracyState::default();
        for (a, b) in [(1, 1), (2, 1), (3, 3), (0, 0)] {
            s.add(a == b);
        }
        assert_eq!(s.value(), Some(0.75));
        assert_eq!(AccuracyState::default().value(), None);
    }

    #[test]
    fn macro_f1_by_hand() {
        // scikit-learn's documentation example: f1_score([0,1,2,0,1,2], [0,2,1,0,0,1],
        // average='macro') = 0.26666…: class 0 has F1 0.8, classes 1 and 2 have 0.
        let mut s = F1State::default();
        for (a, b) in [(0, 0), (1, 2), (2, 1), (0, 0), (1, 0), (2, 1)] {
            s.add(a, b);
        }
        assert!((s.value().unwrap() - 0.8 / 3.0).abs() < 1e-15);
        // A class only ever predicted counts (with F1 0): labels {a, b}, predictions {a, c}.
        let mut s = F1State::default();
        for (a, b) in [("a", "a"), ("b", "c"), ("b", "b")] {
            s.add(a, b);
        }
        // a: tp 1 → 1; b: tp 1, fn 1 → 2/3; c: fp 1 → 0.
        assert!((s.value().unwrap() - (1.0 + 2.0 / 3.0) / 3.0).abs() < 1e-15);
    }

    #[test]
    fn log_loss_by_hand() {
        let mut s = LogLossState::default();
        s.add(0.5).unwrap();
        s.add(1.0).unwrap();
        s.add(0.0).unwrap();
        let want = (2f64.ln() - (1.0 - 1e-15f64).ln() - 1e-15f64.ln()) / 3.0;
        assert!((s.value().unwrap() - want).abs() < 1e-12);
        assert_eq!(
            s.add(1.5).unwrap_err().to_string(),
            "probability 1.5 is outside [0, 1]"
        );
        assert!(s.add(f64::NAN).is_err());
    }

    #[test]
    fn r2_by_hand_and_edge_cases() {
        // scikit-learn's documentation example: r2_score([3, -0.5, 2, 7], [2.5, 0.0, 2, 8])
        // = 0.948…: SS_res = 0.25 + 0.25 + 0 + 1 = 1.5, mean 2.875, SS_tot = 29.1875.
        let r = r2_score(&[3.0, -0.5, 2.0, 7.0], &[2.5, 0.0, 2.0, 8.0]).unwrap();
        assert!((r - (1.0 - 1.5 / 29.1875)).abs() < 1e-15);
        assert_eq!(r2_score(&[2.0, 2.0], &[2.0, 2.0]), Some(1.0));
        assert_eq!(r2_score(&[2.0, 2.0], &[2.0, 3.0]), Some(0.0));
        assert_eq!(r2_score(&[2.0], &[2.0]), None);
    }

    #[test]
    fn merged_states_equal_one_pass() {
        let mut rng = Rng::new(4);
        let y: Vec<f64> = (0..1000).map(|_| 100.0 + rng.normal()).collect();
        let p: Vec<f64> = y.iter().map(|v| v + 0.3 * rng.normal()).collect();
        let whole = r2_score(&y, &p).unwrap();
        // Uneven pieces, merged in a tree, including an empty piece.
        let cuts = [0, 1, 7, 7, 300, 999, 1000];
        let parts: Vec<R2State> = cuts
            .windows(2)
            .map(|w| {
                let mut s = R2State::default();
                for i in w[0]..w[1] {
                    s.add(y[i], p[i]);
                }
                s
            })
            .collect();
        let mut left = parts[0];
        left.merge(&parts[1]);
        left.merge(&parts[2]);
        let mut right = parts[3];
        right.merge(&parts[4]);
        right.merge(&parts[5]);
        left.merge(&right);
        assert_eq!(left.n, 1000);
        assert!((left.value().unwrap() - whole).abs() < 1e-12);
        // Two-pass reference for SS_tot.
        let mean = y.iter().sum::<f64>() / 1000.0;
        let ss_tot: f64 = y.iter().map(|v| (v - mean).powi(2)).sum();
        assert!((left.m2 - ss_tot).abs() < 1e-9 * ss_tot);

        let mut a = F1State::default();
        let mut b = F1State::default();
        let mut all = F1State::default();
        for i in 0..200 {
            let (l, q) = (rng.below(4), rng.below(5));
            all.add(l, q);
            (if i % 3 == 0 { &mut a } else { &mut b }).add(l, q);
        }
        for (k, c) in b.classes.clone() {
            a.merge_counts(k, c);
        }
        assert_eq!(a, all);
    }
}
