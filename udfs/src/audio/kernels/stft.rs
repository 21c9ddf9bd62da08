//! Short-time Fourier transform and decibel scaling: every spectral audio feature (`stft_db`,
//! mel spectrograms, MFCCs and the 144-d MFCC encoder of SPEC §7) starts from a magnitude or
//! power spectrogram, and the thesis' numbers can only be reproduced when the framing, window,
//! padding and dB floor follow librosa (or the study's code) exactly. This module is that one
//! shared front end, as plain numeric code on slices.
//!
//! Definitions and conventions:
//! - Samples are `f32` (as decoded audio is); everything is computed in `f64`.
//! - Window of length `N = n_fft`: periodic Hann `w[j] = 0.5 − 0.5·cos(2πj/N)` (scipy's
//!   `get_window('hann', N, fftbins=True)`, librosa's default) or symmetric Hann
//!   `w[j] = 0.5 − 0.5·cos(2πj/(N−1))` (torch's `hann_window(N, periodic=False)`, what the
//!   study's code used). The window always spans the whole frame (`win_length = n_fft`).
//! - Centring pads `n_fft / 2` (integer division) samples on each side, with zeros
//!   ([`PadMode::Constant`], librosa ≥ 0.9) or by reflection without repeating the edge sample
//!   ([`PadMode::Reflect`], NumPy's `reflect`, librosa ≤ 0.8 and torch). Reflection needs the
//!   clip to be longer than the pad (torch's rule); NumPy's repeated reflection of very short
//!   clips is not reproduced — such clips are an error.
//! - Frame `t` covers samples `t·hop .. t·hop + n_fft` of the (padded) signal; the frame count is
//!   `1 + (len − n_fft) / hop` over the padded length, i.e. `1 + n / hop` for a centred STFT
//!   with even `n_fft` (librosa) and `1 + (n − n_fft) / hop` uncentred.
//! - Bin `k` (`0 ..= n_fft / 2`) is `X[k] = Σ_j w[j]·x[j]·e^{−2πijk/N}` (no scaling), so the
//!   output has `n_fft / 2 + 1` values per frame: `|X[k]|` (magnitude) or `|X[k]|²` (power).
//!   Even `n_fft` uses a half-length complex FFT of the even/odd samples packed as one complex
//!   sequence; odd `n_fft` uses a full-length complex FFT.
//! - dB scaling with reference 1: [`power_to_db`] is `10·log10(max(S, amin))`, [`amplitude_to_db`]
//!   is `20·log10(max(|S|, amin))`; with `top_db`, values are floored at the GLOBAL maximum
//!   (over all frames and bins) minus `top_db`, as librosa's `power_to_db` and the study's
//!   torch code do. Non-finite inputs are errors (librosa rejects them too). librosa computes
//!   the amplitude version as `power_to_db(S², amin²)`, equal up to rounding; `log10` is
//!   evaluated as `ln · log10(e)` (within an ulp or two, and twice as fast).
//! - Results are [`Frames`] with one frame per time step (frames × bins); librosa's arrays are the
//!   transpose (bins × frames).

use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

use super::frames::Frames;

/// The analysis window applied to every frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// Periodic Hann, `0.5 − 0.5·cos(2πj/N)`: librosa's and scipy's spectral default.
    HannPeriodic,
    /// Symmetric Hann, `0.5 − 0.5·cos(2πj/(N−1))`: what the study's code used.
    HannSymmetric,
}

impl Window {
    /// The window's `n` coefficients (a length below 2 gives all ones, as SciPy).
    pub fn coefficients(self, n: usize) -> Vec<f64> {
        if n < 2 {
            return vec![1.0; n];
        }
        let period = match self {
            Window::HannPeriodic => n,
            Window::HannSymmetric => n - 1,
        };
        (0..n)
            .map(|j| 0.5 - 0.5 * (std::f64::consts::TAU * j as f64 / period as f64).cos())
            .collect()
    }
}

/// How a centred STFT extends the signal by `n_fft / 2` samples at each end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PadMode {
    /// Zeros (librosa ≥ 0.9 default).
    Constant,
    /// Mirror image without repeating the edge sample (NumPy `reflect`; torch's default).
    Reflect,
}

/// What each STFT bin is reduced to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spectrum {
    /// `|X[k]|`.
    Magnitude,
    /// `|X[k]|²`.
    Power,
}

/// STFT parameters; check them with [`StftParams::validate`] (every function here does).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StftParams {
    /// FFT (and window) length in samples, at least 2.
    pub n_fft: usize,
    /// Samples between the starts of consecutive frames, at least 1.
    pub hop: usize,
    /// Analysis window.
    pub window: Window,
    /// Pad `n_fft / 2` samples on both sides so that frame `t` is centred on sample `t·hop`.
    pub center: bool,
    /// Padding used when `center` is set.
    pub pad: PadMode,
}

impl StftParams {
    /// librosa ≥ 0.9 defaults for the given sizes: periodic Hann, centred, zero padding.
    pub fn librosa(n_fft: usize, hop: usize) -> StftParams {
        StftParams {
            n_fft,
            hop,
            window: Window::HannPeriodic,
            center: true,
            pad: PadMode::Constant,
        }
    }

    /// The study's STFT (torch defaults with a symmetric Hann window): n_fft 1024, hop 256,
    /// centred, reflect padding.
    pub fn study() -> StftParams {
        StftParams {
            n_fft: 1024,
            hop: 256,
            window: Window::HannSymmetric,
            center: true,
            pad: PadMode::Reflect,
        }
    }

    /// An error naming the problem when `n_fft < 2` or `hop < 1`.
    pub fn validate(&self) -> Result<(), String> {
        if self.n_fft < 2 {
            return Err(format!("n_fft must be at least 2, got {}", self.n_fft));
        }
        if self.hop < 1 {
            return Err("hop must be at least 1 sample, got 0".to_string());
        }
        Ok(())
    }

    /// Values per frame: `n_fft / 2 + 1`.
    pub fn n_bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// The number of frames for a clip of `n_samples`, or an error when the parameters are
    /// invalid or the clip is empty or too short (shorter than `n_fft` uncentred, not longer
    /// than `n_fft / 2` with reflect padding).
    pub fn n_frames(&self, n_samples: usize) -> Result<usize, String> {
        self.validate()?;
        if n_samples == 0 {
            return Err("the clip is empty".to_string());
        }
        let pad = self.n_fft / 2;
        if self.center && self.pad == PadMode::Reflect && n_samples <= pad {
            return Err(format!(
                "reflect padding of {pad} samples needs a clip longer than that, got {n_samples} samples"
            ));
        }
        let len = if self.center {
            n_samples + 2 * pad
        } else {
            n_samples
        };
        if len < self.n_fft {
            return Err(format!(
                "the clip ({n_samples} samples) is shorter than one uncentred frame (n_fft {})",
                self.n_fft
            ));
        }
        Ok(1 + (len - self.n_fft) / self.hop)
    }

    /// The signal as `f64`, padded when centred. The caller has checked the length with
    /// [`StftParams::n_frames`], so the reflected ranges exist.
    fn padded(&self, signal: &[f32]) -> Vec<f64> {
        let pad = if self.center { self.n_fft / 2 } else { 0 };
        let n = signal.len();
        let mut out = Vec::with_capacity(n + 2 * pad);
        let widen = |v: &f32| f64::from(*v);
        if pad > 0 && self.pad == PadMode::Reflect {
            out.extend(signal[1..=pad].iter().rev().map(widen));
        } else {
            out.resize(pad, 0.0);
        }
        out.extend(signal.iter().map(widen));
        if pad > 0 && self.pad == PadMode::Reflect {
            out.extend(signal[n - 1 - pad..n - 1].iter().rev().map(widen));
        } else {
            out.resize(n + 2 * pad, 0.0);
        }
        out
    }
}

/// A reusable STFT: window, FFT plan and twiddle factors computed once per parameter set.
/// It is `Send + Sync`, so one plan can serve every clip of a parallel batch.
#[derive(Clone)]
pub struct StftPlan {
    params: StftParams,
    window: Vec<f64>,
    fft: Arc<dyn Fft<f64>>,
    /// `e^{−2πik/n_fft}` for `k = 0 ..= n_fft/2` (even `n_fft`, packed transform); empty for odd.
    twiddles: Vec<Complex<f64>>,
}

impl std::fmt::Debug for StftPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StftPlan")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

/// Per-call work buffers of a [`StftPlan`].
struct Work {
    buf: Vec<Complex<f64>>,
    scratch: Vec<Complex<f64>>,
    values: Vec<f64>,
}

impl StftPlan {
    /// A plan for `params`, or the reason they are invalid.
    pub fn new(params: StftParams) -> Result<StftPlan, String> {
        params.validate()?;
        let n = params.n_fft;
        let packed = n % 2 == 0;
        let fft_len = if packed { n / 2 } else { n };
        let fft = FftPlanner::new().plan_fft_forward(fft_len);
        let twiddles = if packed {
            (0..=n / 2)
                .map(|k| {
                    let angle = -std::f64::consts::TAU * k as f64 / n as f64;
                    Complex::new(angle.cos(), angle.sin())
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(StftPlan {
            params,
            window: params.window.coefficients(n),
            fft,
            twiddles,
        })
    }

    /// The parameters this plan was built for.
    pub fn params(&self) -> &StftParams {
        &self.params
    }

    /// Magnitude spectrogram `|X|` (frames × `n_fft/2 + 1`).
    pub fn magnitude(&self, signal: &[f32]) -> Result<Frames, String> {
        self.map_frames(signal, Spectrum::Magnitude, self.params.n_bins(), copy_into)
    }

    /// Power spectrogram `|X|²` (frames × `n_fft/2 + 1`).
    pub fn power(&self, signal: &[f32]) -> Result<Frames, String> {
        self.map_frames(signal, Spectrum::Power, self.params.n_bins(), copy_into)
    }

    /// Runs the STFT of `signal` and lets `reduce` turn each frame's spectrum (`n_fft/2 + 1`
    /// magnitudes or powers) into the `out_dim` values of the corresponding output frame, without
    /// storing the whole spectrogram (a mel filter bank, for instance). An error when the clip is
    /// empty, too short or not finite, or when `out_dim` is 0.
    pub fn map_frames<F>(
        &self,
        signal: &[f32],
        spectrum: Spectrum,
        out_dim: usize,
        mut reduce: F,
    ) -> Result<Frames, String>
    where
        F: FnMut(&[f64], &mut [f64]),
    {
        if out_dim == 0 {
            return Err("the output frames must have at least one value".to_string());
        }
        let n_frames = self.params.n_frames(signal.len())?;
        super::check_finite("STFT input", signal)?;
        let padded = self.params.padded(signal);
        let mut out = Frames::zeros(n_frames, out_dim);
        let mut work = Work {
            buf: vec![Complex::new(0.0, 0.0); self.fft.len()],
            scratch: vec![Complex::new(0.0, 0.0); self.fft.get_inplace_scratch_len()],
            values: vec![0.0; self.params.n_bins()],
        };
        let frames = padded.windows(self.params.n_fft).step_by(self.params.hop);
        for (frame, row) in frames.zip(out.data.chunks_exact_mut(out_dim)) {
            match spectrum {
                Spectrum::Magnitude => self.spectrum(frame, &mut work, |z| z.norm()),
                Spectrum::Power => self.spectrum(frame, &mut work, |z| z.norm_sqr()),
            }
            reduce(&work.values, row);
        }
        Ok(out)
    }

    /// Fills `work.values` with `bin(X[k])` for one `n_fft`-sample frame.
    fn spectrum<B: Fn(Complex<f64>) -> f64>(&self, frame: &[f64], work: &mut Work, bin: B) {
        if self.twiddles.is_empty() {
            for ((b, &x), &w) in work.buf.iter_mut().zip(frame).zip(&self.window) {
                *b = Complex::new(x * w, 0.0);
            }
            self.fft
                .process_with_scratch(&mut work.buf, &mut work.scratch);
            for (v, &z) in work.values.iter_mut().zip(&work.buf) {
                *v = bin(z);
            }
            return;
        }
        // Even n_fft: z[j] = x[2j] + i·x[2j+1] (windowed), Z = FFT_{n/2}(z); then
        // X[k] = E[k] + e^{−2πik/n}·O[k] with E[k] = (Z[k] + conj Z[m−k]) / 2 and
        // O[k] = (Z[k] − conj Z[m−k]) / 2i, the transforms of the even and odd samples.
        for ((b, x), w) in work
            .buf
            .iter_mut()
            .zip(frame.chunks_exact(2))
            .zip(self.window.chunks_exact(2))
        {
            *b = Complex::new(x[0] * w[0], x[1] * w[1]);
        }
        self.fft
            .process_with_scratch(&mut work.buf, &mut work.scratch);
        let Some((z0, rest)) = work.buf.split_first() else {
            return;
        };
        let (first, inner) = work.values.split_at_mut(1);
        first[0] = bin(Complex::new(z0.re + z0.im, 0.0));
        // Pairs (Z[k], Z[m−k]) for k = 1 .. m−1.
        let pairs = rest.iter().zip(rest.iter().rev());
        for ((v, (a, b)), w) in inner.iter_mut().zip(pairs).zip(&self.twiddles[1..]) {
            let even = Complex::new(0.5 * (a.re + b.re), 0.5 * (a.im - b.im));
            let odd = Complex::new(0.5 * (a.im + b.im), -0.5 * (a.re - b.re));
            *v = bin(even + w * odd);
        }
        if let Some(last) = inner.last_mut() {
            *last = bin(Complex::new(z0.re - z0.im, 0.0));
        }
    }
}

/// `reduce` for [`StftPlan::map_frames`] that keeps the spectrum as it is.
fn copy_into(values: &[f64], row: &mut [f64]) {
    row.copy_from_slice(values);
}

/// Magnitude spectrogram `|X|` of `signal` (frames × `n_fft/2 + 1`); builds a one-off
/// [`StftPlan`] (reuse a plan for many clips).
pub fn magnitude_spectrogram(signal: &[f32], params: &StftParams) -> Result<Frames, String> {
    StftPlan::new(*params)?.magnitude(signal)
}

/// Power spectrogram `|X|²` of `signal` (frames × `n_fft/2 + 1`); builds a one-off
/// [`StftPlan`] (reuse a plan for many clips).
pub fn power_spectrogram(signal: &[f32], params: &StftParams) -> Result<Frames, String> {
    StftPlan::new(*params)?.power(signal)
}

/// In place, `20·log10(max(|S|, amin))` floored at the global maximum minus `top_db`
/// (librosa's `amplitude_to_db` with `ref = 1`; librosa's default `amin` is `1e-5`, `top_db`
/// `Some(80.0)`). An error (and `frames` unchanged) when `amin` is not positive, `top_db` is
/// negative or a value is not finite.
pub fn amplitude_to_db(frames: &mut Frames, amin: f64, top_db: Option<f64>) -> Result<(), String> {
    to_db(frames, 20.0, amin, top_db, f64::abs)
}

/// In place, `10·log10(max(S, amin))` floored at the global maximum minus `top_db`
/// (librosa's `power_to_db` with `ref = 1`; librosa's default `amin` is `1e-10`, `top_db`
/// `Some(80.0)`). An error (and `frames` unchanged) when `amin` is not positive, `top_db` is
/// negative or a value is not finite.
pub fn power_to_db(frames: &mut Frames, amin: f64, top_db: Option<f64>) -> Result<(), String> {
    to_db(frames, 10.0, amin, top_db, |v| v)
}

/// `scale·log10(max(prepare(v), amin))` for every value, then the `top_db` floor.
fn to_db<P: Fn(f64) -> f64>(
    frames: &mut Frames,
    scale: f64,
    amin: f64,
    top_db: Option<f64>,
    prepare: P,
) -> Result<(), String> {
    if !(amin > 0.0 && amin.is_finite()) {
        return Err(format!("amin must be positive and finite, got {amin}"));
    }
    if let Some(top) = top_db {
        if !(top >= 0.0 && top.is_finite()) {
            return Err(format!("top_db must be non-negative and finite, got {top}"));
        }
    }
    if let Some(i) = frames.data.iter().position(|v| !v.is_finite()) {
        let dim = frames.dim.max(1);
        return Err(format!(
            "value {} of frame {} is not finite ({})",
            i % dim,
            i / dim,
            frames.data[i]
        ));
    }
    // scale·log10(x) as (scale·log10 e)·ln(x): within an ulp or two, and ln is twice as fast.
    let factor = scale * std::f64::consts::LOG10_E;
    let mut max = f64::NEG_INFINITY;
    for v in frames.data.iter_mut() {
        *v = factor * prepare(*v).max(amin).ln();
        max = max.max(*v);
    }
    if let Some(top) = top_db {
        let floor = max - top;
        for v in frames.data.iter_mut() {
            *v = v.max(floor);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::kernels::testdata::{npy, signal_f32};
    use crate::recsys::kernels::rng::Rng;

    /// The largest |a − b| between our frames and a reference stored bins × frames.
    fn max_dev_transposed(ours: &Frames, reference: &crate::audio::kernels::testdata::Npy) -> f64 {
        assert_eq!(reference.shape, vec![ours.dim, ours.n_frames]);
        let mut dev: f64 = 0.0;
        for t in 0..ours.n_frames {
            for k in 0..ours.dim {
                dev = dev.max((ours.at(t, k) - reference.at(k, t)).abs());
            }
        }
        dev
    }

    /// Direct DFT of one windowed frame, bins 0..=n/2, from the definition.
    fn naive_bins(frame: &[f64], window: &[f64]) -> Vec<Complex<f64>> {
        let n = frame.len();
        (0..=n / 2)
            .map(|k| {
                frame
                    .iter()
                    .zip(window)
                    .enumerate()
                    .map(|(j, (&x, &w))| {
                        let angle = -std::f64::consts::TAU * ((j * k) % n) as f64 / n as f64;
                        Complex::new(angle.cos(), angle.sin()) * (x * w)
                    })
                    .sum()
            })
            .collect()
    }

    /// Pads and frames a signal from the written-out definitions, independently of `padded`.
    fn naive_frames(signal: &[f64], p: &StftParams) -> Vec<Vec<f64>> {
        let n = signal.len() as isize;
        let pad = if p.center { (p.n_fft / 2) as isize } else { 0 };
        let sample = |i: isize| -> f64 {
            if (0..n).contains(&i) {
                signal[i as usize]
            } else if p.pad == PadMode::Constant {
                0.0
            } else if i < 0 {
                signal[(-i) as usize]
            } else {
                signal[(2 * (n - 1) - i) as usize]
            }
        };
        let mut out = Vec::new();
        let mut start = -pad;
        while start + p.n_fft as isize <= n + pad {
            out.push(
                (start..start + p.n_fft as isize)
                    .map(sample)
                    .collect::<Vec<_>>(),
            );
            start += p.hop as isize;
        }
        out
    }

    #[test]
    fn matches_a_naive_dft_on_random_signals() {
        let mut rng = Rng::new(7);
        for (n_fft, hop, window, center, pad, n) in [
            (16, 4, Window::HannPeriodic, true, PadMode::Constant, 50),
            (16, 5, Window::HannSymmetric, true, PadMode::Reflect, 37),
            (15, 3, Window::HannPeriodic, true, PadMode::Reflect, 40),
            (9, 9, Window::HannSymmetric, false, PadMode::Constant, 30),
            (2, 1, Window::HannPeriodic, false, PadMode::Reflect, 5),
            (64, 16, Window::HannPeriodic, true, PadMode::Reflect, 33),
        ] {
            let p = StftParams {
                n_fft,
                hop,
                window,
                center,
                pad,
            };
            let signal: Vec<f32> = (0..n).map(|_| rng.normal() as f32).collect();
            let wide: Vec<f64> = signal.iter().map(|&v| v as f64).collect();
            let expected = naive_frames(&wide, &p);
            let power = power_spectrogram(&signal, &p).unwrap();
            let magnitude = magnitude_spectrogram(&signal, &p).unwrap();
            assert_eq!(power.n_frames, expected.len(), "{p:?}");
            assert_eq!(power.dim, n_fft / 2 + 1);
            let w = p.window.coefficients(n_fft);
            for (t, frame) in expected.iter().enumerate() {
                for (k, z) in naive_bins(frame, &w).iter().enumerate() {
                    let scale = 1.0 + z.norm_sqr();
                    assert!(
                        (power.at(t, k) - z.norm_sqr()).abs() < 1e-12 * scale,
                        "{p:?}"
                    );
                    assert!(
                        (magnitude.at(t, k) - z.norm()).abs() < 1e-12 * scale,
                        "{p:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn windows_follow_their_formulas() {
        let periodic = Window::HannPeriodic.coefficients(4);
        let expected = [0.0, 0.5, 1.0, 0.5];
        for (a, b) in periodic.iter().zip(expected) {
            assert!((a - b).abs() < 1e-15);
        }
        let symmetric = Window::HannSymmetric.coefficients(5);
        let expected = [0.0, 0.5, 1.0, 0.5, 0.0];
        for (a, b) in symmetric.iter().zip(expected) {
            assert!((a - b).abs() < 1e-15);
        }
    }

    #[test]
    fn frame_counts_and_errors() {
        let p = StftParams::librosa(2048, 512);
        assert_eq!(p.n_frames(66150).unwrap(), 1 + 66150 / 512);
        let u = StftParams {
            center: false,
            ..StftParams::librosa(1024, 256)
        };
        assert_eq!(u.n_frames(5000).unwrap(), 1 + (5000 - 1024) / 256);
        assert!(u.n_frames(1000).unwrap_err().contains("shorter"));
        assert!(p.n_frames(0).unwrap_err().contains("empty"));
        let r = StftParams::study();
        assert!(r.n_frames(512).unwrap_err().contains("reflect"));
        assert_eq!(r.n_frames(513).unwrap(), 1 + 513 / 256);
        assert!(StftPlan::new(StftParams::librosa(1, 1)).is_err());
        assert!(StftPlan::new(StftParams::librosa(8, 0)).is_err());
        let bad = [0.0, f32::NAN, 0.0, 0.0];
        let e = power_spectrogram(&bad, &StftParams::librosa(4, 1)).unwrap_err();
        assert!(e.contains("sample 1"), "{e}");
        // A signal shorter than n_fft is fine when centred with zeros (librosa only warns).
        assert_eq!(
            power_spectrogram(&[1.0; 3], &StftParams::librosa(8, 2))
                .unwrap()
                .n_frames,
            2
        );
    }

    #[test]
    fn db_scaling_and_its_errors() {
        let mut f = Frames::new(2, 2, vec![1.0, 100.0, 1e-12, -3.0]).unwrap();
        power_to_db(&mut f, 1e-10, Some(80.0)).unwrap();
        for (a, b) in f.data.iter().zip([0.0, 20.0, -60.0, -60.0]) {
            assert!((a - b).abs() < 1e-12, "{:?}", f.data);
        }
        let mut f = Frames::new(1, 3, vec![-10.0, 1e-7, 0.5]).unwrap();
        amplitude_to_db(&mut f, 1e-5, None).unwrap();
        let expected = [20.0, -100.0, 20.0 * 0.5f64.log10()];
        for (a, b) in f.data.iter().zip(expected) {
            assert!((a - b).abs() < 1e-12);
        }
        let mut f = Frames::new(1, 2, vec![1.0, f64::INFINITY]).unwrap();
        let before = f.clone();
        assert!(power_to_db(&mut f, 1e-10, None)
            .unwrap_err()
            .contains("value 1 of frame 0"));
        assert_eq!(f, before);
        assert!(power_to_db(&mut f, 0.0, None).is_err());
        assert!(amplitude_to_db(&mut f, 1e-5, Some(-1.0)).is_err());
    }

    #[test]
    fn librosa_stft_db_reference() {
        let signal = signal_f32();
        let mut s = magnitude_spectrogram(&signal, &StftParams::librosa(1024, 256)).unwrap();
        amplitude_to_db(&mut s, 1e-5, Some(80.0)).unwrap();
        let dev = max_dev_transposed(&s, &npy("stft_db_librosa_n1024_h256.npy"));
        assert!(dev < 1e-10, "max |dev| {dev} dB");
    }

    #[test]
    fn study_stft_db_reference() {
        let signal = signal_f32();
        let mut s = power_spectrogram(&signal, &StftParams::study()).unwrap();
        power_to_db(&mut s, 1e-10, Some(80.0)).unwrap();
        let dev = max_dev_transposed(&s, &npy("stft_db_study_n1024_h256.npy"));
        assert!(dev < 1e-10, "max |dev| {dev} dB");
    }

    #[test]
    fn plans_are_shareable_across_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<StftPlan>();
    }
}
