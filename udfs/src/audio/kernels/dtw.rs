//! Exact dynamic time warping (DTW) between two sequences of feature frames.
//!
//! Why: the thesis measures audio-space distance between a clip and its transformation on the
//! MFCC frame sequences with DTW (thesis §4.3.2, SPEC §7). The study used FastDTW with radius 1,
//! which only approximates DTW; this module computes the exact value, fast enough to replace it.
//!
//! Definitions, for `A` with `n` frames and `B` with `m` frames of the same size:
//! - local cost `c(i, j) = ‖A[i] − B[j]‖₂`, the Euclidean distance between frames, summed from the
//!   differences (exact 0 for equal frames; the form `√(‖a‖² + ‖b‖² − 2a·b)` costs the same
//!   number of multiply-adds but cancels catastrophically for near-equal frames);
//! - steps (1, 0), (0, 1) and (1, 1); the path runs from cell (0, 0) to cell (n − 1, m − 1);
//! - the distance is the unnormalised sum of the local costs along the cheapest path:
//!   `D(0, 0) = c(0, 0)`, `D(i, j) = c(i, j) + min(D(i − 1, j), D(i, j − 1), D(i − 1, j − 1))`,
//!   result `D(n − 1, m − 1)` (the same recursion as the reference's `dtw_exact`).
//! - Optional Sakoe–Chiba band of half-width `band` (0-based cells): cell (i, j) is allowed when
//!   `|i·(m − 1) − j·(n − 1)| ≤ band · max(n − 1, m − 1)`. That is: the band follows the straight
//!   line from the first cell to the last, and `band` is the largest allowed distance from that
//!   line measured in frames of the *shorter* sequence (for `n = m` the classic `|i − j| ≤ band`).
//!   The test is done in exact integer arithmetic, and it is symmetric in `A` and `B`. Any
//!   `band ≥ 1` leaves a path (the line's slope along the shorter axis is at most 1, so windows of
//!   half-width ≥ 1 on consecutive rows always touch); `band = 0` leaves one only when `n = m` (the
//!   diagonal) or when one sequence has a single frame. Whether the last cell is reachable is
//!   checked before the computation, and an unreachable one is an error naming the lengths.
//!   (Measuring along the longer axis instead, as `|i − j·n/m|` with `n > m` would, can leave
//!   gaps between rows for any band narrower than the slope.)
//!
//! Cost: O(n·m·d) time (within the band: O(band·max(n, m)·d)), O(m) memory: two rows of the
//! cumulative-cost matrix, rows over the frames of `A`.

use super::distance::{check_frame_pair, squared_euclidean};
use super::error::AudioError;
use super::frames::Frames;

/// The exact DTW distance between `a` and `b` (frames of the same size), with an optional
/// Sakoe–Chiba band of half-width `band` frames of the shorter sequence (see the module docs).
pub fn dtw(a: &Frames, b: &Frames, band: Option<usize>) -> Result<f64, AudioError> {
    check_frame_pair(a, b)?;
    let window = Window::new(a.n_frames, b.n_frames, band)?;
    let total = cumulative_cost(a, b, &window);
    if total.is_finite() {
        Ok(total)
    } else {
        Err(AudioError::Overflow(format!(
            "DTW between {} and {} frames is not finite (the frame values are too large)",
            a.n_frames, b.n_frames
        )))
    }
}

/// The allowed columns of each row: all of them, or a Sakoe–Chiba band.
struct Window {
    n: usize,
    m: usize,
    band: Option<usize>,
}

impl Window {
    /// The window for `n` rows and `m` columns; an error when the band leaves no path.
    fn new(n: usize, m: usize, band: Option<usize>) -> Result<Window, AudioError> {
        // A band of max(n, m) already allows every cell; capping it keeps the products in range.
        let band = band.map(|w| w.min(n.max(m)));
        let window = Window { n, m, band };
        if band.is_some() {
            window.check_connected()?;
        }
        Ok(window)
    }

    /// The inclusive range of allowed columns of row `i`, or `None` when the row has none.
    fn columns(&self, i: usize) -> Option<(usize, usize)> {
        let last = self.m - 1;
        let Some(band) = self.band else {
            return Some((0, last));
        };
        if self.n == 1 {
            return Some((0, last));
        }
        // j·(n−1) ∈ [i·(m−1) − band·M, i·(m−1) + band·M], in integers wide enough for any usize.
        let rows = (self.n - 1) as i128;
        let centre = i as i128 * (self.m - 1) as i128;
        let reach = band as i128 * rows.max((self.m - 1) as i128);
        let lo = (centre - reach + rows - 1).div_euclid(rows).max(0);
        let hi = (centre + reach).div_euclid(rows).min(last as i128);
        (lo <= hi).then_some((lo as usize, hi as usize))
    }

    /// Checks that every row has allowed columns and that each row's window starts at most one
    /// column after the previous row's ends, which (windows move right monotonically, the first
    /// starts at column 0, the last ends at column m − 1) is exactly when a path exists.
    fn check_connected(&self) -> Result<(), AudioError> {
        let mut previous_end: Option<usize> = None;
        for i in 0..self.n {
            let (lo, hi) = self.columns(i).ok_or_else(|| self.no_path(i))?;
            if previous_end.is_some_and(|end| lo > end + 1) {
                return Err(self.no_path(i));
            }
            previous_end = Some(hi);
        }
        Ok(())
    }

    /// The error for a band that cuts every path at row `i`.
    fn no_path(&self, i: usize) -> AudioError {
        AudioError::BadParameter(format!(
            "band {} leaves no warping path between {} and {} frames (cut at frame {i} of the \
             first sequence); use a band of at least 1",
            self.band.unwrap_or(0),
            self.n,
            self.m
        ))
    }
}

/// The cumulative cost `D(n − 1, m − 1)` over the allowed cells (∞ if unreachable).
fn cumulative_cost(a: &Frames, b: &Frames, window: &Window) -> f64 {
    let dim = a.dim;
    let mut prev = vec![f64::INFINITY; b.n_frames];
    let mut cur = vec![f64::INFINITY; b.n_frames];
    // The window of the row that `cur` holds from two rows ago, to be reset before reuse.
    let mut stale: Option<(usize, usize)> = None;
    let mut last_window = None;
    for (i, a_frame) in a.data.chunks_exact(dim).enumerate() {
        let Some((lo, hi)) = window.columns(i) else {
            return f64::INFINITY;
        };
        if let Some((s_lo, s_hi)) = stale {
            cur[s_lo..=s_hi].fill(f64::INFINITY);
        }
        // D(i−1, lo−1), the diagonal predecessor of the first cell (∞ outside the window).
        let diag = match (i, lo) {
            (0, _) => 0.0,
            (_, 0) => f64::INFINITY,
            _ => prev[lo - 1],
        };
        let row = &mut cur[lo..=hi];
        local_costs(a_frame, &b.data[lo * dim..(hi + 1) * dim], row);
        accumulate(row, &prev[lo..=hi], diag);
        std::mem::swap(&mut prev, &mut cur);
        stale = last_window;
        last_window = Some((lo, hi));
    }
    prev.last().copied().unwrap_or(f64::INFINITY)
}

/// `row[j] = ‖a_frame − B[j]‖₂` for the frames of `b_frames` (flat). Independent cells, so this
/// pass pipelines and vectorises; the recurrence runs afterwards over the finished costs.
fn local_costs(a_frame: &[f64], b_frames: &[f64], row: &mut [f64]) {
    for (cell, b_frame) in row.iter_mut().zip(b_frames.chunks_exact(a_frame.len())) {
        *cell = squared_euclidean(a_frame, b_frame).sqrt();
    }
}

/// Turns the local costs of one row's window into cumulative costs: `up` is the previous row
/// over the same columns (∞ for row 0), `diag` the previous row's cell just left of the window
/// (for row 0, 0: the virtual start before cell (0, 0)). Cells left of the window are ∞.
fn accumulate(row: &mut [f64], up: &[f64], mut diag: f64) {
    let mut left = f64::INFINITY;
    for (cell, &above) in row.iter_mut().zip(up) {
        let best = diag.min(above).min(left);
        left = *cell + best;
        *cell = left;
        diag = above;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::audio::kernels::testdata::{npy, reference_audio};
    use crate::common::rng::Rng;

    fn random_frames(rng: &mut Rng, n: usize, dim: usize) -> Frames {
        Frames::new(n, dim, (0..n * dim).map(|_| rng.normal()).collect()).unwrap()
    }

    /// The band test written from its definition, for the brute force.
    fn allowed(i: usize, j: usize, n: usize, m: usize, band: Option<usize>) -> bool {
        match band {
            None => true,
            Some(w) => {
                let lhs = (i as i64 * (m as i64 - 1) - j as i64 * (n as i64 - 1)).abs();
                lhs <= w as i64 * (n.max(m) as i64 - 1)
            }
        }
    }

    /// Full (n+1)×(m+1) matrix with an ∞ border, costs from the naive per-coordinate formula.
    fn brute_force(a: &Frames, b: &Frames, band: Option<usize>) -> f64 {
        let (n, m) = (a.n_frames, b.n_frames);
        let mut d = vec![vec![f64::INFINITY; m + 1]; n + 1];
        d[0][0] = 0.0;
        for i in 1..=n {
            for j in 1..=m {
                if !allowed(i - 1, j - 1, n, m, band) {
                    continue;
                }
                let mut s = 0.0;
                for k in 0..a.dim {
                    s += (a.at(i - 1, k) - b.at(j - 1, k)).powi(2);
                }
                let best = d[i - 1][j].min(d[i][j - 1]).min(d[i - 1][j - 1]);
                d[i][j] = s.sqrt() + best;
            }
        }
        d[n][m]
    }

    fn close(x: f64, y: f64) -> bool {
        (x - y).abs() <= 1e-12 * y.abs().max(1.0)
    }

    #[test]
    fn equals_brute_force_on_random_sequences() {
        let mut rng = Rng::new(2024);
        let lengths = [1, 2, 3, 5, 8, 13, 17];
        for &n in &lengths {
            for &m in &lengths {
                let dim = 1 + (n + m) % 4;
                let a = random_frames(&mut rng, n, dim);
                let b = random_frames(&mut rng, m, dim);
                for band in [None, Some(0), Some(1), Some(2), Some(5), Some(40)] {
                    let expected = brute_force(&a, &b, band);
                    match dtw(&a, &b, band) {
                        Ok(got) => assert!(
                            close(got, expected),
                            "{n}×{m} {band:?}: {got} vs {expected}"
                        ),
                        Err(e) => assert!(
                            expected.is_infinite(),
                            "{n}×{m} {band:?}: {e}, brute force {expected}"
                        ),
                    }
                    if band.is_some_and(|w| w >= 1) {
                        assert!(expected.is_finite(), "{n}×{m} {band:?} must have a path");
                    }
                }
                let full = dtw(&a, &b, None).unwrap();
                assert_eq!(dtw(&a, &b, Some(n.max(m))).unwrap(), full);
                assert_eq!(dtw(&a, &b, Some(usize::MAX)).unwrap(), full);
                assert!(dtw(&a, &b, Some(1)).unwrap() >= full);
            }
        }
    }

    #[test]
    fn symmetric_and_zero_on_itself() {
        let mut rng = Rng::new(5);
        let a = random_frames(&mut rng, 23, 6);
        let b = random_frames(&mut rng, 31, 6);
        for band in [None, Some(1), Some(3)] {
            assert!(close(
                dtw(&a, &b, band).unwrap(),
                dtw(&b, &a, band).unwrap()
            ));
            assert_eq!(dtw(&a, &a, band).unwrap(), 0.0);
        }
        assert_eq!(dtw(&a, &a, Some(0)).unwrap(), 0.0);
    }

    #[test]
    fn by_hand() {
        // 1-d: A = [0, 1, 2], B = [0, 2]: path (0,0) (1,0)|(1,1) (2,1): 0 + 1 + 0.
        let a = Frames::new(3, 1, vec![0.0, 1.0, 2.0]).unwrap();
        let b = Frames::new(2, 1, vec![0.0, 2.0]).unwrap();
        assert_eq!(dtw(&a, &b, None).unwrap(), 1.0);
        // A single frame against three: every frame is visited.
        let one = Frames::new(1, 2, vec![0.0, 0.0]).unwrap();
        let three = Frames::new(3, 2, vec![3.0, 4.0, 0.0, 1.0, 6.0, 8.0]).unwrap();
        assert_eq!(dtw(&one, &three, Some(0)).unwrap(), 16.0);
        assert_eq!(dtw(&three, &one, None).unwrap(), 16.0);
    }

    #[test]
    fn errors_name_the_problem() {
        let a = Frames::zeros(5, 2);
        let b = Frames::zeros(7, 2);
        let e = dtw(&a, &b, Some(0)).unwrap_err().to_string();
        assert!(e.contains("band 0") && e.contains("5 and 7 frames"), "{e}");
        assert!(dtw(&a, &Frames::zeros(7, 3), None)
            .unwrap_err()
            .to_string()
            .contains("2 and 3"));
        assert!(dtw(&Frames::zeros(0, 2), &b, None)
            .unwrap_err()
            .to_string()
            .contains("no frames"));
        let big = Frames::new(1, 1, vec![1e200]).unwrap();
        let e = dtw(&big, &Frames::new(1, 1, vec![-1e200]).unwrap(), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not finite"), "{e}");
    }

    /// A reference MFCC array (`n_mfcc × frames`) as frames of coefficients.
    pub(crate) fn reference_mfcc(name: &str) -> Frames {
        let m = npy(name);
        Frames::new(m.shape[0], m.shape[1], m.data)
            .unwrap()
            .transposed()
    }

    /// A number of the reference `distances.json`.
    pub(crate) fn reference_distance(key: &str) -> f64 {
        let text = std::fs::read_to_string(reference_audio("distances.json")).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        json[key].as_f64().unwrap()
    }

    #[test]
    fn reference_mfcc_frames() {
        let a = reference_mfcc("mfcc25_librosa.npy");
        let b = reference_mfcc("mfcc25_librosa_signal2.npy");
        assert_eq!((a.n_frames, a.dim), (130, 25));
        let expected = reference_distance("dtw_exact_euclid");
        let got = dtw(&a, &b, None).unwrap();
        assert!(
            (got - expected).abs() <= 1e-9 * expected,
            "{got} vs {expected}"
        );
        assert_eq!(dtw(&a, &a, None).unwrap(), 0.0);
        assert_eq!(reference_distance("dtw_exact_euclid_self"), 0.0);
    }
}
