//! Distances between fixed-length vectors, and the frame-level primitives that the sequence
//! distances (DTW, SiMPle) share.
//!
//! Why: thesis ch. 4 compares audio space with embedding space, and in embedding space every clip
//! is one fixed-length vector (a 144-d MFCC statistics vector or a deep embedding), compared with
//! the Euclidean or the cosine distance (thesis §4.3.2). The sequence distances in the sibling
//! modules compare MFCC frames with the same squared-difference and dot-product loops, so those
//! loops and the validation of a frame sequence live here once.
//!
//! Definitions (for vectors `a`, `b` of equal length `n ≥ 1`, finite values):
//! - Euclidean distance: `‖a − b‖₂ = √Σ (aᵢ − bᵢ)²`, summed from the differences (not from
//!   `‖a‖² + ‖b‖² − 2a·b`, which loses every digit when `a ≈ b`).
//! - Cosine distance: `1 − a·b / (‖a‖₂ ‖b‖₂)`, clamped to `[0, 2]` so that rounding never yields
//!   a slightly negative distance for parallel vectors (SciPy's `cosine` does the same clip). It
//!   is undefined, and an error here, when either vector is all zeros.
//! - Errors (never a panic or a NaN result): vectors of different lengths, empty vectors,
//!   non-finite values (NaN or ±∞, naming the vector and the position), and for the cosine an
//!   overflow of the norms.
//!
//! The sums run in four independent lanes (added pairwise at the end) so that the compiler can
//! vectorise them; the result differs from a left-to-right sum only by rounding.

use super::error::AudioError;
use super::frames::Frames;
use super::stft::Real;

/// Euclidean distance `‖a − b‖₂` between two vectors of the same length.
pub fn euclidean(a: &[f64], b: &[f64]) -> Result<f64, AudioError> {
    check_vectors(a, b)?;
    Ok(squared_euclidean(a, b).sqrt())
}

/// Cosine distance `1 − cos(a, b)`, in `[0, 2]`, between two vectors of the same length; an
/// error when either vector is all zeros.
pub fn cosine(a: &[f64], b: &[f64]) -> Result<f64, AudioError> {
    check_vectors(a, b)?;
    let norm_a = dot(a, a).sqrt();
    let norm_b = dot(b, b).sqrt();
    for (norm, which) in [(norm_a, "first"), (norm_b, "second")] {
        if norm == 0.0 {
            return Err(AudioError::BadInput(format!(
                "cosine distance is undefined: the {which} vector is all zeros"
            )));
        }
        if !norm.is_finite() {
            return Err(AudioError::Overflow(format!(
                "cosine distance overflows: the {which} vector's norm is not representable"
            )));
        }
    }
    let cos = dot(a, b) / norm_a / norm_b;
    Ok((1.0 - cos).clamp(0.0, 2.0))
}

/// Checks two vectors for [`euclidean`] and [`cosine`]: equal, non-zero lengths and finite values.
fn check_vectors(a: &[f64], b: &[f64]) -> Result<(), AudioError> {
    if a.len() != b.len() {
        return Err(AudioError::BadInput(format!(
            "vectors differ in length: {} and {}",
            a.len(),
            b.len()
        )));
    }
    if a.is_empty() {
        return Err(AudioError::BadInput("vectors are empty".to_string()));
    }
    for (values, which) in [(a, "first"), (b, "second")] {
        if let Some(at) = values.iter().position(|v| !v.is_finite()) {
            return Err(AudioError::BadInput(format!(
                "value {at} of the {which} vector is not finite ({})",
                values[at]
            )));
        }
    }
    Ok(())
}

/// `Σ f(aᵢ, bᵢ)` over the common length, in four lanes (so that the loop vectorises).
#[inline(always)]
fn lane_sum<T: Real>(a: &[T], b: &[T], f: impl Fn(T, T) -> T) -> T {
    let chunks_a = a.chunks_exact(4);
    let chunks_b = b.chunks_exact(4);
    let tail = chunks_a
        .remainder()
        .iter()
        .zip(chunks_b.remainder())
        .fold(T::zero(), |s, (&x, &y)| s + f(x, y));
    let mut lanes = [T::zero(); 4];
    for (xs, ys) in chunks_a.zip(chunks_b) {
        for ((lane, &x), &y) in lanes.iter_mut().zip(xs).zip(ys) {
            *lane = *lane + f(x, y);
        }
    }
    (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]) + tail
}

/// `Σ (aᵢ − bᵢ)²` over the common length (callers pass equal lengths); no validation.
#[inline]
pub(crate) fn squared_euclidean(a: &[f64], b: &[f64]) -> f64 {
    lane_sum(a, b, |x, y| (x - y) * (x - y))
}

/// `Σ aᵢ bᵢ` over the common length (callers pass equal lengths); no validation. In `f32` or
/// `f64`; the four-lane order differs from a left-to-right sum by rounding only.
#[inline]
pub(crate) fn dot<T: Real>(a: &[T], b: &[T]) -> T {
    lane_sum(a, b, |x, y| x * y)
}

/// Checks one frame sequence for the sequence distances: a buffer that matches its shape, at
/// least one frame, at least one value per frame, and finite values. `name` names the sequence in
/// the message (e.g. "the first sequence").
pub(crate) fn check_frames(name: &str, f: &Frames) -> Result<(), AudioError> {
    if f.n_frames.checked_mul(f.dim) != Some(f.data.len()) {
        return Err(AudioError::BadInput(format!(
            "{name} holds {} values, not {} frames of {}",
            f.data.len(),
            f.n_frames,
            f.dim
        )));
    }
    if f.n_frames == 0 {
        return Err(AudioError::BadInput(format!("{name} has no frames")));
    }
    if f.dim == 0 {
        return Err(AudioError::BadInput(format!(
            "{name} has frames with no values"
        )));
    }
    if let Some(at) = f.data.iter().position(|v| !v.is_finite()) {
        return Err(AudioError::BadInput(format!(
            "{name} has a non-finite value ({}) in frame {}, coefficient {}",
            f.data[at],
            at / f.dim,
            at % f.dim
        )));
    }
    Ok(())
}

/// Checks two frame sequences for a sequence distance: each valid ([`check_frames`]) and both
/// with the same number of values per frame.
pub(crate) fn check_frame_pair(a: &Frames, b: &Frames) -> Result<(), AudioError> {
    check_frames("the first sequence", a)?;
    check_frames("the second sequence", b)?;
    if a.dim != b.dim {
        return Err(AudioError::BadInput(format!(
            "the sequences' frames differ in size: {} and {} values",
            a.dim, b.dim
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::rng::Rng;

    fn random_vector(rng: &mut Rng, n: usize) -> Vec<f64> {
        (0..n).map(|_| rng.normal() * 3.0).collect()
    }

    #[test]
    fn euclidean_by_hand() {
        assert_eq!(euclidean(&[0.0, 0.0], &[3.0, 4.0]).unwrap(), 5.0);
        assert_eq!(euclidean(&[1.5], &[1.5]).unwrap(), 0.0);
        // 7 values: two full lanes of 4 would need 8, so the tail is used.
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0];
        let b = [0.0, 2.0, 3.0, 4.0, 5.0, 6.0, 9.0];
        assert_eq!(euclidean(&a, &b).unwrap(), 5f64.sqrt());
    }

    #[test]
    fn cosine_by_hand() {
        assert_eq!(cosine(&[1.0, 0.0], &[0.0, 2.0]).unwrap(), 1.0);
        assert_eq!(cosine(&[1.0, 1.0], &[-2.0, -2.0]).unwrap(), 2.0);
        assert!(cosine(&[0.1, 0.7, 0.3], &[0.2, 1.4, 0.6]).unwrap() < 1e-15);
        // Unclamped, rounding gives 1 − cos = −2.2e-16 for this vector against itself.
        let v = [1.0 / 3.0, 1.0 / 7.0];
        assert_eq!(cosine(&v, &v).unwrap(), 0.0);
        let d = cosine(&[1.0, 0.0], &[1.0, 1.0]).unwrap();
        assert!((d - (1.0 - 0.5f64.sqrt())).abs() < 1e-15);
    }

    #[test]
    fn against_naive_definitions() {
        let mut rng = Rng::new(11);
        for n in [1, 3, 4, 5, 8, 13, 144] {
            let a = random_vector(&mut rng, n);
            let b = random_vector(&mut rng, n);
            let mut ss = 0.0;
            let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
            for i in 0..n {
                ss += (a[i] - b[i]).powi(2);
                ab += a[i] * b[i];
                aa += a[i] * a[i];
                bb += b[i] * b[i];
            }
            let e = euclidean(&a, &b).unwrap();
            assert!((e - ss.sqrt()).abs() <= 1e-12 * ss.sqrt(), "n {n}");
            let c = cosine(&a, &b).unwrap();
            let naive = 1.0 - ab / (aa * bb).sqrt();
            assert!((c - naive).abs() <= 1e-12, "n {n}: {c} vs {naive}");
            assert_eq!(euclidean(&a, &b).unwrap(), euclidean(&b, &a).unwrap());
        }
    }

    #[test]
    fn errors_name_the_problem() {
        let e = euclidean(&[1.0, 2.0, 3.0], &[1.0]).unwrap_err().to_string();
        assert!(e.contains("3 and 1"), "{e}");
        assert!(cosine(&[], &[]).unwrap_err().to_string().contains("empty"));
        let e = cosine(&[1.0, 2.0], &[0.0, 0.0]).unwrap_err().to_string();
        assert!(e.contains("second vector is all zeros"), "{e}");
        let e = euclidean(&[1.0, f64::NAN], &[1.0, 2.0])
            .unwrap_err()
            .to_string();
        assert!(e.contains("value 1 of the first vector"), "{e}");
        let e = cosine(&[1e300, 1e300], &[1.0, 1.0])
            .unwrap_err()
            .to_string();
        assert!(e.contains("overflows"), "{e}");
    }

    #[test]
    fn frame_checks() {
        let good = Frames::new(2, 2, vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        assert!(check_frame_pair(&good, &good).is_ok());
        let other = Frames::new(2, 1, vec![1.0, 2.0]).unwrap();
        assert!(check_frame_pair(&good, &other)
            .unwrap_err()
            .to_string()
            .contains("2 and 1 values"));
        let broken = Frames {
            n_frames: 3,
            dim: 2,
            data: vec![0.0; 4],
        };
        assert!(check_frames("x", &broken)
            .unwrap_err()
            .to_string()
            .contains("4 values"));
        let empty = Frames::zeros(0, 3);
        assert!(check_frames("x", &empty)
            .unwrap_err()
            .to_string()
            .contains("no frames"));
        let nan = Frames::new(2, 2, vec![1.0, 2.0, 3.0, f64::INFINITY]).unwrap();
        let e = check_frame_pair(&good, &nan).unwrap_err().to_string();
        assert!(
            e.contains("second sequence") && e.contains("frame 1, coefficient 1"),
            "{e}"
        );
    }
}
