//! SiMPle: the similarity-join profile of two frame sequences (Silva et al. 2016), and the
//! audio-space distance built from it.
//!
//! Why: the thesis measures audio-space distance between a transformed clip and an original with
//! SiMPle on MFCC frames as well as with DTW (thesis §4.3.2, SPEC §7): unlike DTW it compares
//! fixed-length excerpts, so it tolerates reordered or partly changed material.
//!
//! Definitions, for `A` with `n_a` frames, `B` with `n_b` frames (same frame size `d`) and a
//! window of `m` frames (`m ≤ n_a`, `m ≤ n_b`):
//! - `profile[i] = min over j of Σ_{k<m} ‖A[i + k] − B[j + k]‖²` for `i = 0 … n_a − m`, `j = 0 …
//!   n_b − m`: squared Euclidean distance over the window's frames and all coefficients, no
//!   z-normalisation and no square root (what the study's code and the reference
//!   `make_reference.py` compute; Silva et al. z-normalise, the study did not). It is a join, not
//!   a self-join: there is no exclusion zone.
//! - `simple_distance(A, B, m)` = the median of that profile (NumPy's median: the mean of the two
//!   middle values for an even length). It is asymmetric: `A` is the sequence searched for (the
//!   transformed clip), `B` the one searched in (the original).
//!
//! Computation (SiMPle-Fast / STOMP): with `QT[i, j] = Σ_k A[i + k]·B[j + k]`, the distance is
//! `‖A_i‖² + ‖B_j‖² − 2·QT[i, j]`, and `QT[i, j] = QT[i − 1, j − 1] − A[i − 1]·B[j − 1] +
//! A[i + m − 1]·B[j + m − 1]`, an O(d) update. Row 0 and column 0 of `QT` come from FFT
//! cross-correlations (rustfft, summed over coefficients in the frequency domain), every other
//! row from the update, so the whole profile costs O(n_a·n_b·d) time and O(n_a + n_b) memory.
//! The best `j` of row `i` minimises `‖B_j‖² − 2·QT[i, j]` (`‖A_i‖²` is the same for the row;
//! ties go to the smallest `j`). Precision: the running updates and the subtraction lose digits
//! when a profile value is tiny compared with the windows' energies (a transformed clip against
//! its own original), so each profile value is finally recomputed exactly, from the differences,
//! at the chosen `j` (O(n_a·m·d), negligible). Rounding can then only make the chosen `j` one
//! whose exact distance exceeds the true minimum by about the rounding of the running products.
//! That rounding stays tiny: after 2,000 rows of updates the running `QT` differs from exact dot
//! products by ≈ 2e-15 of `√(‖A_i‖²·‖B_j‖²)` (measured; the tests require < 1e-13), so no
//! periodic exact recomputation of `QT` is needed or done.

use rustfft::num_complex::Complex;
use rustfft::FftPlanner;

use super::distance::{check_frame_pair, dot, squared_euclidean};
use super::error::AudioError;
use super::frames::Frames;

/// The SiMPle join profile of `a` searched in `b` with windows of `window` frames: for each
/// window of `a`, the smallest squared Euclidean distance to any window of `b` (see the module
/// docs). Its length is `a.n_frames − window + 1`.
pub fn simple_profile(a: &Frames, b: &Frames, window: usize) -> Result<Vec<f64>, AudioError> {
    check_frame_pair(a, b)?;
    check_window(a, b, window)?;
    let best = best_matches(a, b, window);
    let span = window * a.dim;
    let a_windows = a.data.windows(span).step_by(a.dim);
    let profile: Vec<f64> = best
        .iter()
        .zip(a_windows)
        .map(|(&j, a_window)| squared_euclidean(a_window, &b.data[j * a.dim..j * a.dim + span]))
        .collect();
    if profile.iter().any(|v| !v.is_finite()) {
        return Err(AudioError::Overflow(format!(
            "the SiMPle profile of {} and {} frames is not finite (the frame values are too large)",
            a.n_frames, b.n_frames
        )));
    }
    Ok(profile)
}

/// The SiMPle distance of `a` searched in `b`: the median of [`simple_profile`].
pub fn simple_distance(a: &Frames, b: &Frames, window: usize) -> Result<f64, AudioError> {
    let profile = simple_profile(a, b, window)?;
    median(profile).ok_or_else(|| AudioError::BadInput("the SiMPle profile is empty".to_string()))
}

/// Checks that the window has at least one frame and fits in both sequences.
fn check_window(a: &Frames, b: &Frames, window: usize) -> Result<(), AudioError> {
    if window == 0 {
        return Err(AudioError::BadParameter(
            "the SiMPle window must have at least 1 frame".to_string(),
        ));
    }
    if a.n_frames < window || b.n_frames < window {
        return Err(AudioError::BadInput(format!(
            "the SiMPle window of {window} frames is longer than a sequence: the first has {} \
             frames, the second {}",
            a.n_frames, b.n_frames
        )));
    }
    Ok(())
}

/// For each window `i` of `a`, the start `j` of the closest window of `b`.
fn best_matches(a: &Frames, b: &Frames, window: usize) -> Vec<usize> {
    let b_energy = window_energies(b, window);
    let mut best = Vec::with_capacity(a.n_frames - window + 1);
    for_each_row(a, b, window, |_, qt| best.push(argmin_row(&b_energy, qt)));
    best
}

/// Calls `visit(i, QT[i, ..])` for every window `i` of `a`, in order (STOMP: row 0 and column 0
/// by FFT, every other row from the previous one).
fn for_each_row(a: &Frames, b: &Frames, window: usize, mut visit: impl FnMut(usize, &[f64])) {
    let dim = a.dim;
    let span = window * dim;
    let mut planner = FftPlanner::new();
    let mut qt = sliding_dots(&a.data[..span], b, &mut planner);
    let first_column = sliding_dots(&b.data[..span], a, &mut planner);
    for (i, &column_value) in first_column.iter().enumerate() {
        if i > 0 {
            let leaving = &a.data[(i - 1) * dim..i * dim];
            let entering = &a.data[(i + window - 1) * dim..(i + window) * dim];
            advance_row(&mut qt, leaving, entering, b, window);
            qt[0] = column_value;
        }
        visit(i, &qt);
    }
}

/// Turns row `i − 1` of `QT` into row `i` (all but column 0): `QT[i, j] = QT[i − 1, j − 1] −
/// leaving·B[j − 1] + entering·B[j + window − 1]`, where `leaving = A[i − 1]` and `entering =
/// A[i + window − 1]`.
fn advance_row(qt: &mut [f64], leaving: &[f64], entering: &[f64], b: &Frames, window: usize) {
    let dim = b.dim;
    let mut diagonal = qt.first().copied().unwrap_or(0.0);
    let b_leaving = b.data.chunks_exact(dim);
    let b_entering = b.data[window * dim..].chunks_exact(dim);
    for ((cell, b_out), b_in) in qt.iter_mut().skip(1).zip(b_leaving).zip(b_entering) {
        let above_left = diagonal;
        diagonal = *cell;
        *cell = above_left - dot(leaving, b_out) + dot(entering, b_in);
    }
}

/// The first `j` minimising `‖B_j‖² − 2·QT[i, j]` over one row.
fn argmin_row(b_energy: &[f64], qt: &[f64]) -> usize {
    let mut best = (0, f64::INFINITY);
    for (j, (&energy, &q)) in b_energy.iter().zip(qt).enumerate() {
        let score = energy - 2.0 * q;
        if score < best.1 {
            best = (j, score);
        }
    }
    best.0
}

/// `Σ_{k<window} ‖F[j + k]‖²` for every window start `j` of `frames`.
fn window_energies(frames: &Frames, window: usize) -> Vec<f64> {
    let energy: Vec<f64> = frames
        .data
        .chunks_exact(frames.dim)
        .map(|f| dot(f, f))
        .collect();
    energy.windows(window).map(|w| w.iter().sum()).collect()
}

/// `out[j] = Σ_k query[k]·series[j + k]` for every window start `j` of `series`, where `query` is
/// a flat window of frames of the series' size: one FFT cross-correlation per coefficient,
/// summed in the frequency domain, one inverse FFT. The FFT length is a power of two ≥ the
/// series length, which is enough for the correlation not to wrap around.
fn sliding_dots(query: &[f64], series: &Frames, planner: &mut FftPlanner<f64>) -> Vec<f64> {
    let dim = series.dim;
    let len = series.n_frames.next_power_of_two();
    let forward = planner.plan_fft_forward(len);
    let inverse = planner.plan_fft_inverse(len);
    let zero = Complex::new(0.0, 0.0);
    let mut scratch = vec![zero; forward.get_inplace_scratch_len()];
    let mut sum = vec![zero; len];
    let mut q = vec![zero; len];
    let mut t = vec![zero; len];
    for k in 0..dim {
        fill_column(&mut q, query, dim, k);
        fill_column(&mut t, &series.data, dim, k);
        forward.process_with_scratch(&mut q, &mut scratch);
        forward.process_with_scratch(&mut t, &mut scratch);
        for ((s, qv), tv) in sum.iter_mut().zip(&q).zip(&t) {
            *s += qv.conj() * tv;
        }
    }
    scratch.resize(inverse.get_inplace_scratch_len(), zero);
    inverse.process_with_scratch(&mut sum, &mut scratch);
    let starts = series.n_frames + 1 - query.len() / dim;
    sum[..starts].iter().map(|c| c.re / len as f64).collect()
}

/// Writes coefficient `k` of each frame of `frames` (flat, `dim` per frame) into `buffer` as
/// real numbers, zero-padding the rest.
fn fill_column(buffer: &mut [Complex<f64>], frames: &[f64], dim: usize, k: usize) {
    let column = frames.iter().skip(k).step_by(dim);
    let n = frames.len() / dim;
    for (slot, &v) in buffer.iter_mut().zip(column) {
        *slot = Complex::new(v, 0.0);
    }
    for slot in buffer.iter_mut().skip(n) {
        *slot = Complex::new(0.0, 0.0);
    }
}

/// NumPy's median: the middle value, or the mean of the two middle values for an even length;
/// `None` for no values.
fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let upper = *values.get(n / 2)?;
    if n % 2 == 1 {
        return Some(upper);
    }
    Some((values[n / 2 - 1] + upper) / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::kernels::dtw::tests::{reference_distance, reference_mfcc};
    use crate::audio::kernels::testdata::npy;
    use crate::common::rng::Rng;

    fn random_frames(rng: &mut Rng, n: usize, dim: usize, offset: f64) -> Frames {
        let data = (0..n * dim).map(|_| offset + 10.0 * rng.normal()).collect();
        Frames::new(n, dim, data).unwrap()
    }

    /// O(n_a·n_b·m·d), straight from the definition.
    fn naive_profile(a: &Frames, b: &Frames, m: usize) -> Vec<f64> {
        (0..=a.n_frames - m)
            .map(|i| {
                (0..=b.n_frames - m)
                    .map(|j| {
                        let mut s = 0.0;
                        for k in 0..m {
                            for c in 0..a.dim {
                                s += (a.at(i + k, c) - b.at(j + k, c)).powi(2);
                            }
                        }
                        s
                    })
                    .fold(f64::INFINITY, f64::min)
            })
            .collect()
    }

    /// Profile values agree to rounding relative to the windows' energies.
    fn assert_profiles_close(got: &[f64], expected: &[f64], scale: f64) {
        assert_eq!(got.len(), expected.len());
        for (i, (g, e)) in got.iter().zip(expected).enumerate() {
            assert!((g - e).abs() <= 1e-11 * scale, "profile[{i}]: {g} vs {e}");
        }
    }

    #[test]
    fn equals_naive_profile_on_random_sequences() {
        let mut rng = Rng::new(99);
        for (na, nb, m, dim) in [
            (12, 9, 3, 2),
            (9, 12, 3, 2),
            (20, 20, 1, 3),
            (7, 7, 7, 1),
            (30, 17, 5, 4),
            (16, 33, 16, 5),
        ] {
            for offset in [0.0, 300.0] {
                let a = random_frames(&mut rng, na, dim, offset);
                let b = random_frames(&mut rng, nb, dim, offset);
                let scale = window_energies(&a, m)
                    .iter()
                    .chain(&window_energies(&b, m))
                    .fold(0.0, |x: f64, &y| x.max(y));
                let got = simple_profile(&a, &b, m).unwrap();
                assert_profiles_close(&got, &naive_profile(&a, &b, m), scale);
            }
        }
    }

    #[test]
    fn finds_planted_copies_exactly() {
        // B contains A's windows verbatim (with a big offset, so the energies dwarf the
        // distances): every profile value must be exactly 0, which only the exact final
        // recomputation guarantees.
        let mut rng = Rng::new(3);
        let a = random_frames(&mut rng, 40, 3, 1000.0);
        let mut data = random_frames(&mut rng, 25, 3, 1000.0).data;
        data.extend_from_slice(&a.data);
        let b = Frames::new(65, 3, data).unwrap();
        assert!(simple_profile(&a, &b, 6).unwrap().iter().all(|&v| v == 0.0));
        assert_eq!(simple_distance(&a, &a, 10).unwrap(), 0.0);
    }

    #[test]
    fn running_products_do_not_drift() {
        // Long sequences, centred and offset: every 97th row of the running QT must match exact
        // dot products to 1e-13 of the Cauchy–Schwarz bound √(‖A_i‖²·‖B_j‖²).
        let (n, m, dim) = (2000, 8, 2);
        let mut rng = Rng::new(8);
        for offset in [0.0, 500.0] {
            let a = random_frames(&mut rng, n, dim, offset);
            let b = random_frames(&mut rng, 300, dim, offset);
            let (ea, eb) = (window_energies(&a, m), window_energies(&b, m));
            let mut worst: f64 = 0.0;
            for_each_row(&a, &b, m, |i, qt| {
                if i % 97 != 0 && i != n - m {
                    return;
                }
                for (j, &q) in qt.iter().enumerate() {
                    let exact = dot(
                        &a.data[i * dim..(i + m) * dim],
                        &b.data[j * dim..(j + m) * dim],
                    );
                    worst = worst.max((q - exact).abs() / (ea[i] * eb[j]).sqrt());
                }
            });
            assert!(worst <= 1e-13, "offset {offset}: relative drift {worst:e}");
        }
    }

    #[test]
    fn medians_like_numpy() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(vec![7.0]), Some(7.0));
        assert_eq!(median(vec![]), None);
    }

    #[test]
    fn errors_name_both_lengths() {
        let a = Frames::zeros(31, 2);
        let b = Frames::zeros(80, 2);
        let e = simple_distance(&a, &b, 50).unwrap_err().to_string();
        assert!(
            e.contains("50") && e.contains("31") && e.contains("80"),
            "{e}"
        );
        assert!(simple_profile(&b, &a, 50)
            .unwrap_err()
            .to_string()
            .contains("the second 31"));
        assert!(simple_profile(&a, &b, 0)
            .unwrap_err()
            .to_string()
            .contains("at least 1"));
        assert!(simple_profile(&a, &Frames::zeros(80, 3), 5).is_err());
        let big = Frames::new(2, 1, vec![1e200, -1e200]).unwrap();
        let e = simple_distance(&big, &Frames::zeros(3, 1), 2)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not finite"), "{e}");
    }

    #[test]
    fn reference_profile_and_medians() {
        let a = reference_mfcc("mfcc25_librosa.npy");
        let b = reference_mfcc("mfcc25_librosa_signal2.npy");
        let expected = npy("simple_profile_AB_m50.npy");
        let got = simple_profile(&a, &b, 50).unwrap();
        assert_eq!(got.len(), expected.data.len());
        for (i, (g, e)) in got.iter().zip(&expected.data).enumerate() {
            assert!((g - e).abs() <= 1e-9 * e, "profile[{i}]: {g} vs {e}");
        }
        for (x, y, key) in [
            (&a, &b, "simple_m50_median_AB"),
            (&b, &a, "simple_m50_median_BA"),
        ] {
            let expected = reference_distance(key);
            let got = simple_distance(x, y, 50).unwrap();
            assert!(
                (got - expected).abs() <= 1e-9 * expected,
                "{key}: {got} vs {expected}"
            );
        }
    }
}
