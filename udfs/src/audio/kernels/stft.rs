//! Short-time Fourier transform and decibel scaling: every spectral audio feature (`stft_db`,
//! mel spectrograms, MFCCs and the 144-d MFCC encoder of SPEC §7) starts from a magnitude or
//! power spectrogram, and the thesis' numbers can only be reproduced when the framing, window,
//! padding and dB floor follow librosa (or the study's code) exactly. This module is that one
//! shared front end, as plain numeric code on slices.
//!
//! Definitions and conventions:
//! - Samples are `f32` (as decoded audio is). [`Precision::F64`] computes the window, FFT and
//!   bins in `f64` (what the reference outputs were computed in); [`Precision::F32`] in `f32`,
//!   about 1.5 times as fast for MFCCs (the FFT runs twice as many lanes per SIMD instruction).
//!   Both return `f64` frames; with `F32` the mel pooling sums in `f32` (as librosa's float32
//!   dot product) and the dB logarithm is `f32`'s, the rest is `f64`. librosa on float32 audio
//!   differs from its float64 path by 1.0e-4 on the reference MFCCs (values up to 495) and
//!   9.8e-6 on the 144-d statistics; our `F32` path differs from the reference by 9.5e-5 and
//!   1.4e-4 on the two reference signals' MFCCs and 1.1e-5 / 3.2e-6 on the statistics (asserted
//!   below twice librosa's figures). librosa's FFT itself runs in f64 (a float64 window times
//!   float32 frames), so on a dB spectrogram our `F32` path errs more than librosa's float32
//!   path: up to 1e-3 dB in bins 80 dB below the peak, against librosa's 6e-6 dB.
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

use super::error::AudioError;
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

/// The floating-point type the window, FFT and bins are computed in (see the module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Precision {
    /// `f32`, as librosa on float32 audio; about twice as fast.
    F32,
    /// `f64`, as the reference outputs.
    #[default]
    F64,
}

/// A float type an STFT can compute in (`f32` or `f64`).
pub trait Real: rustfft::FftNum + rustfft::num_traits::Float {
    /// `v` rounded to this type.
    fn of_f64(v: f64) -> Self;
    /// A sample in this type.
    fn of_f32(v: f32) -> Self;
    /// `self` as `f64` (exact).
    fn widen(self) -> f64;
}

impl Real for f64 {
    fn of_f64(v: f64) -> f64 {
        v
    }
    fn of_f32(v: f32) -> f64 {
        f64::from(v)
    }
    fn widen(self) -> f64 {
        self
    }
}

impl Real for f32 {
    fn of_f64(v: f64) -> f32 {
        v as f32
    }
    fn of_f32(v: f32) -> f32 {
        v
    }
    fn widen(self) -> f64 {
        f64::from(self)
    }
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
    /// What the window, FFT and bins are computed in.
    pub precision: Precision,
}

impl StftParams {
    /// librosa ≥ 0.9 defaults for the given sizes: periodic Hann, centred, zero padding; `f64`.
    pub fn librosa(n_fft: usize, hop: usize) -> StftParams {
        StftParams {
            n_fft,
            hop,
            window: Window::HannPeriodic,
            center: true,
            pad: PadMode::Constant,
            precision: Precision::F64,
        }
    }

    /// The study's STFT (torch defaults with a symmetric Hann window): n_fft 1024, hop 256,
    /// centred, reflect padding; `f64`.
    pub fn study() -> StftParams {
        StftParams {
            n_fft: 1024,
            hop: 256,
            window: Window::HannSymmetric,
            center: true,
            pad: PadMode::Reflect,
            precision: Precision::F64,
        }
    }

    /// An error naming the problem when `n_fft < 2` or `hop < 1`.
    pub fn validate(&self) -> Result<(), AudioError> {
        if self.n_fft < 2 {
            return Err(AudioError::BadParameter(format!(
                "n_fft must be at least 2, got {}",
                self.n_fft
            )));
        }
        if self.hop < 1 {
            return Err(AudioError::BadParameter(
                "hop must be at least 1 sample, got 0".to_string(),
            ));
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
    pub fn n_frames(&self, n_samples: usize) -> Result<usize, AudioError> {
        self.validate()?;
        if n_samples == 0 {
            return Err(AudioError::BadInput("the clip is empty".to_string()));
        }
        let pad = self.n_fft / 2;
        if self.center && self.pad == PadMode::Reflect && n_samples <= pad {
            return Err(AudioError::BadInput(format!(
                "reflect padding of {pad} samples needs a clip longer than that, got {n_samples} samples"
            )));
        }
        let len = if self.center {
            n_samples + 2 * pad
        } else {
            n_samples
        };
        if len < self.n_fft {
            return Err(AudioError::BadInput(format!(
                "the clip ({n_samples} samples) is shorter than one uncentred frame (n_fft {})",
                self.n_fft
            )));
        }
        Ok(1 + (len - self.n_fft) / self.hop)
    }

    /// The signal in `T`, padded when centred. The caller has checked the length with
    /// [`StftParams::n_frames`], so the reflected ranges exist.
    fn padded<T: Real>(&self, signal: &[f32]) -> Vec<T> {
        let pad = if self.center { self.n_fft / 2 } else { 0 };
        let n = signal.len();
        let mut out = Vec::with_capacity(n + 2 * pad);
        let widen = |v: &f32| T::of_f32(*v);
        if pad > 0 && self.pad == PadMode::Reflect {
            out.extend(signal[1..=pad].iter().rev().map(widen));
        } else {
            out.resize(pad, T::zero());
        }
        out.extend(signal.iter().map(widen));
        if pad > 0 && self.pad == PadMode::Reflect {
            out.extend(signal[n - 1 - pad..n - 1].iter().rev().map(widen));
        } else {
            out.resize(n + 2 * pad, T::zero());
        }
        out
    }
}

/// Turns each frame's spectrum into the values of one output frame, in either precision: a
/// reducer of [`StftPlan::map_frames`] (a mel filter bank, for instance). `spectrum` has
/// `n_fft / 2 + 1` values; `out` the output frame's.
pub trait FrameReduce {
    /// One frame of an `f64` STFT.
    fn reduce_f64(&self, spectrum: &[f64], out: &mut [f64]);
    /// One frame of an `f32` STFT.
    fn reduce_f32(&self, spectrum: &[f32], out: &mut [f64]);
}

/// The reducer that keeps the spectrum as it is (widened to `f64`).
struct Keep;

impl FrameReduce for Keep {
    fn reduce_f64(&self, spectrum: &[f64], out: &mut [f64]) {
        out.copy_from_slice(spectrum);
    }
    fn reduce_f32(&self, spectrum: &[f32], out: &mut [f64]) {
        for (o, &v) in out.iter_mut().zip(spectrum) {
            *o = f64::from(v);
        }
    }
}

/// A reusable STFT: window, FFT plan and twiddle factors computed once per parameter set, in
/// the parameters' precision. It is `Send + Sync`, so one plan can serve every clip of a
/// parallel batch.
#[derive(Clone)]
pub struct StftPlan {
    params: StftParams,
    engine: Engine,
}

/// The plan's transform in its precision.
#[derive(Clone)]
enum Engine {
    Single(Transform<f32>),
    Double(Transform<f64>),
}

/// Window, FFT and twiddles in `T`.
#[derive(Clone)]
struct Transform<T: Real> {
    window: Vec<T>,
    fft: Arc<dyn Fft<T>>,
    /// `e^{−2πik/n_fft}` for `k = 0 ..= n_fft/2` (even `n_fft`, packed transform); empty for odd.
    twiddles: Vec<Complex<T>>,
}

impl std::fmt::Debug for StftPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StftPlan")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

/// Per-call work buffers of a [`Transform`].
struct Work<T> {
    buf: Vec<Complex<T>>,
    scratch: Vec<Complex<T>>,
    values: Vec<T>,
}

impl StftPlan {
    /// A plan for `params`, or the reason they are invalid.
    pub fn new(params: StftParams) -> Result<StftPlan, AudioError> {
        params.validate()?;
        let engine = match params.precision {
            Precision::F32 => Engine::Single(Transform::new(&params)),
            Precision::F64 => Engine::Double(Transform::new(&params)),
        };
        Ok(StftPlan { params, engine })
    }

    /// The parameters this plan was built for.
    pub fn params(&self) -> &StftParams {
        &self.params
    }

    /// Magnitude spectrogram `|X|` (frames × `n_fft/2 + 1`).
    pub fn magnitude(&self, signal: &[f32]) -> Result<Frames, AudioError> {
        self.map_frames(signal, Spectrum::Magnitude, self.params.n_bins(), &Keep)
    }

    /// Power spectrogram `|X|²` (frames × `n_fft/2 + 1`).
    pub fn power(&self, signal: &[f32]) -> Result<Frames, AudioError> {
        self.map_frames(signal, Spectrum::Power, self.params.n_bins(), &Keep)
    }

    /// Runs the STFT of `signal` and lets `reduce` turn each frame's spectrum (`n_fft/2 + 1`
    /// magnitudes or powers) into the `out_dim` values of the corresponding output frame, without
    /// storing the whole spectrogram (a mel filter bank, for instance). An error when the clip is
    /// empty, too short or not finite, or when `out_dim` is 0.
    pub fn map_frames<R: FrameReduce + ?Sized>(
        &self,
        signal: &[f32],
        spectrum: Spectrum,
        out_dim: usize,
        reduce: &R,
    ) -> Result<Frames, AudioError> {
        if out_dim == 0 {
            return Err(AudioError::BadParameter(
                "the output frames must have at least one value".to_string(),
            ));
        }
        let n_frames = self.params.n_frames(signal.len())?;
        super::check_finite("STFT input", signal)?;
        let mut out = Frames::zeros(n_frames, out_dim);
        match &self.engine {
            Engine::Single(t) => t.run(&self.params, signal, spectrum, &mut out, |s, o| {
                reduce.reduce_f32(s, o)
            }),
            Engine::Double(t) => t.run(&self.params, signal, spectrum, &mut out, |s, o| {
                reduce.reduce_f64(s, o)
            }),
        }
        Ok(out)
    }
}

impl<T: Real> Transform<T> {
    fn new(params: &StftParams) -> Transform<T> {
        let n = params.n_fft;
        let packed = n % 2 == 0;
        let fft_len = if packed { n / 2 } else { n };
        let fft = FftPlanner::new().plan_fft_forward(fft_len);
        let twiddles = if packed {
            (0..=n / 2)
                .map(|k| {
                    let angle = -std::f64::consts::TAU * k as f64 / n as f64;
                    Complex::new(T::of_f64(angle.cos()), T::of_f64(angle.sin()))
                })
                .collect()
        } else {
            Vec::new()
        };
        let window = params.window.coefficients(n);
        Transform {
            window: window.into_iter().map(T::of_f64).collect(),
            fft,
            twiddles,
        }
    }

    /// Fills `out` (already sized to the frame count) frame by frame; with AVX2 code where the
    /// CPU has it (the same operations in the same order, so the same results).
    fn run<F: FnMut(&[T], &mut [f64])>(
        &self,
        params: &StftParams,
        signal: &[f32],
        spectrum: Spectrum,
        out: &mut Frames,
        reduce: F,
    ) {
        #[cfg(target_arch = "x86_64")]
        if crate::common::simd::level().has_avx2() {
            // SAFETY: the CPU supports AVX2, the only requirement of `run_avx2`.
            return unsafe { self.run_avx2(params, signal, spectrum, out, reduce) };
        }
        self.run_portable(params, signal, spectrum, out, reduce)
    }

    /// [`Transform::run_portable`] compiled for AVX2.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn run_avx2<F: FnMut(&[T], &mut [f64])>(
        &self,
        params: &StftParams,
        signal: &[f32],
        spectrum: Spectrum,
        out: &mut Frames,
        reduce: F,
    ) {
        self.run_portable(params, signal, spectrum, out, reduce)
    }

    #[inline(always)]
    fn run_portable<F: FnMut(&[T], &mut [f64])>(
        &self,
        params: &StftParams,
        signal: &[f32],
        spectrum: Spectrum,
        out: &mut Frames,
        mut reduce: F,
    ) {
        let padded: Vec<T> = params.padded(signal);
        let zero = Complex::new(T::zero(), T::zero());
        let mut work = Work {
            buf: vec![zero; self.fft.len()],
            scratch: vec![zero; self.fft.get_inplace_scratch_len()],
            values: vec![T::zero(); params.n_bins()],
        };
        let frames = padded.windows(params.n_fft).step_by(params.hop);
        for (frame, row) in frames.zip(out.data.chunks_exact_mut(out.dim)) {
            match spectrum {
                Spectrum::Magnitude => self.spectrum(frame, &mut work, |z| z.norm()),
                Spectrum::Power => self.spectrum(frame, &mut work, |z| z.norm_sqr()),
            }
            reduce(&work.values, row);
        }
    }

    /// Fills `work.values` with `bin(X[k])` for one `n_fft`-sample frame.
    #[inline(always)]
    fn spectrum<B: Fn(Complex<T>) -> T>(&self, frame: &[T], work: &mut Work<T>, bin: B) {
        if self.twiddles.is_empty() {
            for ((b, &x), &w) in work.buf.iter_mut().zip(frame).zip(&self.window) {
                *b = Complex::new(x * w, T::zero());
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
        let half = T::of_f64(0.5);
        let (first, inner) = work.values.split_at_mut(1);
        first[0] = bin(Complex::new(z0.re + z0.im, T::zero()));
        // Pairs (Z[k], Z[m−k]) for k = 1 .. m−1.
        let pairs = rest.iter().zip(rest.iter().rev());
        for ((v, (a, b)), w) in inner.iter_mut().zip(pairs).zip(&self.twiddles[1..]) {
            let even = Complex::new(half * (a.re + b.re), half * (a.im - b.im));
            let odd = Complex::new(half * (a.im + b.im), -half * (a.re - b.re));
            *v = bin(even + w * odd);
        }
        if let Some(last) = inner.last_mut() {
            *last = bin(Complex::new(z0.re - z0.im, T::zero()));
        }
    }
}

/// Magnitude spectrogram `|X|` of `signal` (frames × `n_fft/2 + 1`); builds a one-off
/// [`StftPlan`] (reuse a plan for many clips).
pub fn magnitude_spectrogram(signal: &[f32], params: &StftParams) -> Result<Frames, AudioError> {
    StftPlan::new(*params)?.magnitude(signal)
}

/// Power spectrogram `|X|²` of `signal` (frames × `n_fft/2 + 1`); builds a one-off
/// [`StftPlan`] (reuse a plan for many clips).
pub fn power_spectrogram(signal: &[f32], params: &StftParams) -> Result<Frames, AudioError> {
    StftPlan::new(*params)?.power(signal)
}

/// In place, `20·log10(max(|S|, amin))` floored at the global maximum minus `top_db`
/// (librosa's `amplitude_to_db` with `ref = 1`; librosa's default `amin` is `1e-5`, `top_db`
/// `Some(80.0)`). An error (and `frames` unchanged) when `amin` is not positive, `top_db` is
/// negative or a value is not finite. `precision` `F32` takes the logarithm in `f32`
/// ([`super::fastlog::ln_f32`], within two ulps), `F64` in `f64`.
pub fn amplitude_to_db(
    frames: &mut Frames,
    amin: f64,
    top_db: Option<f64>,
    precision: Precision,
) -> Result<(), AudioError> {
    to_db(frames, 20.0, amin, top_db, f64::abs, precision)
}

/// In place, `10·log10(max(S, amin))` floored at the global maximum minus `top_db`
/// (librosa's `power_to_db` with `ref = 1`; librosa's default `amin` is `1e-10`, `top_db`
/// `Some(80.0)`). An error (and `frames` unchanged) when `amin` is not positive, `top_db` is
/// negative or a value is not finite. `precision` as for [`amplitude_to_db`].
pub fn power_to_db(
    frames: &mut Frames,
    amin: f64,
    top_db: Option<f64>,
    precision: Precision,
) -> Result<(), AudioError> {
    to_db(frames, 10.0, amin, top_db, |v| v, precision)
}

/// `factor·ln(max(prepare(v), amin))` in `f32` for every value (with AVX2 code where the CPU has
/// it: the same operations, so the same results).
fn log_f32<P: Fn(f64) -> f64>(data: &mut [f64], factor: f64, amin: f64, prepare: P) {
    #[cfg(target_arch = "x86_64")]
    if crate::common::simd::level().has_avx2() {
        // SAFETY: the CPU supports AVX2, the only requirement of `log_f32_avx2`.
        return unsafe { log_f32_avx2(data, factor, amin, prepare) };
    }
    log_f32_portable(data, factor, amin, prepare)
}

/// [`log_f32_portable`] compiled for AVX2.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn log_f32_avx2<P: Fn(f64) -> f64>(data: &mut [f64], factor: f64, amin: f64, prepare: P) {
    log_f32_portable(data, factor, amin, prepare)
}

#[inline(always)]
fn log_f32_portable<P: Fn(f64) -> f64>(data: &mut [f64], factor: f64, amin: f64, prepare: P) {
    for v in data.iter_mut() {
        let x = prepare(*v).max(amin) as f32;
        *v = factor * f64::from(super::fastlog::ln_f32(x));
    }
}

/// The STFT's and the dB scaling's AVX2 paths against their portable twins (see
/// [`crate::common::simd`]'s rule).
#[cfg(all(test, target_arch = "x86_64"))]
mod simd_twins {
    use super::*;
    use crate::common::rng::Rng;

    fn bits(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    fn twins<T: Real>(params: &StftParams, signal: &[f32], spectrum: Spectrum) {
        let t = Transform::<T>::new(params);
        let frames = params.n_frames(signal.len()).unwrap();
        let keep = |s: &[T], o: &mut [f64]| {
            for (d, &v) in o.iter_mut().zip(s) {
                *d = v.widen();
            }
        };
        let mut portable = Frames::zeros(frames, params.n_bins());
        t.run_portable(params, signal, spectrum, &mut portable, keep);
        let mut avx2 = Frames::zeros(frames, params.n_bins());
        // SAFETY: the caller checked that the CPU supports AVX2.
        unsafe { t.run_avx2(params, signal, spectrum, &mut avx2, keep) };
        assert_eq!(
            bits(&avx2.data),
            bits(&portable.data),
            "{params:?} {spectrum:?}"
        );
    }

    #[test]
    fn the_avx2_paths_equal_the_portable_paths() {
        if !crate::common::simd::level().has_avx2() {
            return;
        }
        let mut rng = Rng::new(17);
        let signal: Vec<f32> = (0..9001).map(|_| rng.next_f32() * 2.0 - 1.0).collect();
        for base in [StftParams::study(), StftParams::librosa(2048, 512)] {
            for spectrum in [Spectrum::Magnitude, Spectrum::Power] {
                twins::<f32>(&base, &signal, spectrum);
                twins::<f64>(&base, &signal, spectrum);
            }
        }
        let data: Vec<f64> = (0..5000).map(|_| rng.normal() * 10.0).collect();
        let mut portable = data.clone();
        log_f32_portable(&mut portable, 20.0, 1e-5, f64::abs);
        let mut avx2 = data;
        // SAFETY: checked above that the CPU supports AVX2.
        unsafe { log_f32_avx2(&mut avx2, 20.0, 1e-5, f64::abs) };
        assert_eq!(bits(&avx2), bits(&portable));
    }
}

/// `scale·log10(max(prepare(v), amin))` for every value, then the `top_db` floor.
fn to_db<P: Fn(f64) -> f64>(
    frames: &mut Frames,
    scale: f64,
    amin: f64,
    top_db: Option<f64>,
    prepare: P,
    precision: Precision,
) -> Result<(), AudioError> {
    if !(amin > 0.0 && amin.is_finite()) {
        return Err(AudioError::BadParameter(format!(
            "amin must be positive and finite, got {amin}"
        )));
    }
    if let Some(top) = top_db {
        if !(top >= 0.0 && top.is_finite()) {
            return Err(AudioError::BadParameter(format!(
                "top_db must be non-negative and finite, got {top}"
            )));
        }
    }
    // One branch-free pass for finiteness and the largest value, the position only on failure.
    let (mut finite, mut largest) = (true, 0.0f64);
    for &v in &frames.data {
        finite &= v.is_finite();
        let p = prepare(v);
        if p > largest {
            largest = p;
        }
    }
    // Values beyond f32's range (never from a float32 STFT) take the f64 logarithm.
    let precision = if largest > f64::from(f32::MAX) {
        Precision::F64
    } else {
        precision
    };
    if !finite {
        let i = frames.data.iter().position(|v| !v.is_finite()).unwrap_or(0);
        let dim = frames.dim.max(1);
        return Err(AudioError::BadInput(format!(
            "value {} of frame {} is not finite ({})",
            i % dim,
            i / dim,
            frames.data[i]
        )));
    }
    // scale·log10(x) as (scale·log10 e)·ln(x): within an ulp or two, and ln is twice as fast.
    let factor = scale * std::f64::consts::LOG10_E;
    match precision {
        Precision::F64 => {
            for v in frames.data.iter_mut() {
                *v = factor * prepare(*v).max(amin).ln();
            }
        }
        Precision::F32 => log_f32(&mut frames.data, factor, amin, prepare),
    }
    // Not `f64::max` (whose NaN rule keeps the loop scalar): the values are finite here.
    let max = frames
        .data
        .iter()
        .fold(f64::NEG_INFINITY, |m, &v| if v > m { v } else { m });
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
    use crate::common::rng::Rng;

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
            for (precision, tol) in [(Precision::F64, 1e-12), (Precision::F32, 1e-5)] {
                let p = StftParams {
                    n_fft,
                    hop,
                    window,
                    center,
                    pad,
                    precision,
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
                        assert!((power.at(t, k) - z.norm_sqr()).abs() < tol * scale, "{p:?}");
                        assert!((magnitude.at(t, k) - z.norm()).abs() < tol * scale, "{p:?}");
                    }
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
        assert!(u
            .n_frames(1000)
            .unwrap_err()
            .to_string()
            .contains("shorter"));
        assert!(p.n_frames(0).unwrap_err().to_string().contains("empty"));
        let r = StftParams::study();
        assert!(r.n_frames(512).unwrap_err().to_string().contains("reflect"));
        assert_eq!(r.n_frames(513).unwrap(), 1 + 513 / 256);
        assert!(StftPlan::new(StftParams::librosa(1, 1)).is_err());
        assert!(StftPlan::new(StftParams::librosa(8, 0)).is_err());
        let bad = [0.0, f32::NAN, 0.0, 0.0];
        let e = power_spectrogram(&bad, &StftParams::librosa(4, 1))
            .unwrap_err()
            .to_string();
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
        power_to_db(&mut f, 1e-10, Some(80.0), Precision::F64).unwrap();
        for (a, b) in f.data.iter().zip([0.0, 20.0, -60.0, -60.0]) {
            assert!((a - b).abs() < 1e-12, "{:?}", f.data);
        }
        let mut f = Frames::new(1, 3, vec![-10.0, 1e-7, 0.5]).unwrap();
        amplitude_to_db(&mut f, 1e-5, None, Precision::F64).unwrap();
        let expected = [20.0, -100.0, 20.0 * 0.5f64.log10()];
        for (a, b) in f.data.iter().zip(expected) {
            assert!((a - b).abs() < 1e-12);
        }
        let mut f = Frames::new(1, 2, vec![1.0, f64::INFINITY]).unwrap();
        let before = f.clone();
        assert!(power_to_db(&mut f, 1e-10, None, Precision::F64)
            .unwrap_err()
            .to_string()
            .contains("value 1 of frame 0"));
        assert_eq!(f, before);
        assert!(power_to_db(&mut f, 0.0, None, Precision::F64).is_err());
        assert!(amplitude_to_db(&mut f, 1e-5, Some(-1.0), Precision::F64).is_err());
    }

    #[test]
    fn librosa_stft_db_reference() {
        let signal = signal_f32();
        let mut s = magnitude_spectrogram(&signal, &StftParams::librosa(1024, 256)).unwrap();
        amplitude_to_db(&mut s, 1e-5, Some(80.0), Precision::F64).unwrap();
        let dev = max_dev_transposed(&s, &npy("stft_db_librosa_n1024_h256.npy"));
        assert!(dev < 1e-10, "max |dev| {dev} dB");
    }

    #[test]
    fn float32_stft_db_deviates_as_librosas_float32_path_does() {
        // meta.json: librosa's float32-versus-float64 deviation of this output is 5.86e-6 dB,
        // but librosa takes the FFT in f64 (float64 window times float32 frames) and only stores
        // it in complex64; our f32 FFT errs by ~1e-7 of the frame's energy, which is ~1e-3 dB in
        // the bins 80 dB below the peak. (Why stft_db defaults to f64.)
        let params = StftParams {
            precision: Precision::F32,
            ..StftParams::librosa(1024, 256)
        };
        let mut s = magnitude_spectrogram(&signal_f32(), &params).unwrap();
        amplitude_to_db(&mut s, 1e-5, Some(80.0), Precision::F32).unwrap();
        let dev = max_dev_transposed(&s, &npy("stft_db_librosa_n1024_h256.npy"));
        assert!(dev < 2e-3 && dev > 1e-6, "max |dev| {dev} dB");
    }

    #[test]
    fn float32_and_float64_agree_on_random_signals_in_every_mode() {
        let mut rng = Rng::new(5);
        for n_fft in [512, 257] {
            for (window, center, pad) in [
                (Window::HannPeriodic, true, PadMode::Constant),
                (Window::HannSymmetric, true, PadMode::Reflect),
                (Window::HannPeriodic, false, PadMode::Constant),
            ] {
                let signal: Vec<f32> = (0..3000).map(|_| rng.normal() as f32 * 0.3).collect();
                let wide = StftParams {
                    n_fft,
                    hop: 100,
                    window,
                    center,
                    pad,
                    precision: Precision::F64,
                };
                let narrow = StftParams {
                    precision: Precision::F32,
                    ..wide
                };
                let a = power_spectrogram(&signal, &wide).unwrap();
                let b = power_spectrogram(&signal, &narrow).unwrap();
                assert_eq!((a.n_frames, a.dim), (b.n_frames, b.dim));
                let peak = a.data.iter().fold(0.0f64, |m, &v| m.max(v));
                let worst = a
                    .data
                    .iter()
                    .zip(&b.data)
                    .map(|(x, y)| (x - y).abs())
                    .fold(0.0, f64::max);
                assert!(worst < 1e-5 * peak, "n_fft {n_fft}: {worst} of {peak}");
            }
        }
    }

    #[test]
    fn study_stft_db_reference() {
        let signal = signal_f32();
        let mut s = power_spectrogram(&signal, &StftParams::study()).unwrap();
        power_to_db(&mut s, 1e-10, Some(80.0), Precision::F64).unwrap();
        let dev = max_dev_transposed(&s, &npy("stft_db_study_n1024_h256.npy"));
        assert!(dev < 1e-10, "max |dev| {dev} dB");
    }

    #[test]
    fn plans_are_shareable_across_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<StftPlan>();
    }
}
