//! Time stretching and pitch shifting by a phase vocoder, librosa's method.
//!
//! The thesis' robustness experiments (SPEC §7) change a clip's tempo (rates 0.3…1.5) and pitch
//! (±0.25…±12 semitones) and ask whether an encoder still places it next to its original. The study
//! used librosa's `time_stretch` and `pitch_shift`; this module implements the same algorithms
//! (librosa 0.11) on `f32` clips, computing in f64.
//!
//! # Time stretching (`time_stretch(signal, rate)`)
//!
//! 1. STFT: `n_fft = 2048`, hop 512, periodic Hann window `w[i] = ½ − ½ cos(2π i / 2048)`,
//!    centred (the clip is padded with 1024 zeros on each side), `1 + n / 512` frames `X[t, k]`,
//!    bins `k = 0..=1024`.
//! 2. Phase vocoder: output frame `t` is read at the fractional input position `s = t · rate`,
//!    `t = 0, 1, …` while `s` is below the number of input frames (`⌈frames / rate⌉` frames, as
//!    `np.arange(0, frames, rate)`). With `j = ⌊s⌋`, `α = s − j` and a zero frame appended after
//!    the last, its magnitude is `(1 − α)|X[j, k]| + α|X[j + 1, k]|` and its phase is `φ[k]`, which
//!    starts at `arg X[0, k]` and after each output frame advances by the expected phase advance
//!    `2π · 512 k / 2048` plus the deviation `arg X[j+1, k] − arg X[j, k] − 2π · 512 k / 2048`
//!    wrapped to `[−π, π]`. Expected advance plus wrapped deviation equals
//!    `arg X[j+1, k] − arg X[j, k]` modulo 2π, and only `e^{iφ}` is ever used, so the phase is
//!    kept as a unit phasor and advanced by multiplying it with `u[j+1, k] · conj(u[j, k])`,
//!    `u = X / |X|` (`u = 1` where `X = 0`, as `np.angle(0) = 0`): the same frames up to rounding,
//!    without any trigonometry per output bin.
//! 3. Inverse STFT of the first `min(⌈frames/rate⌉, ⌈(L + 2048) / 512⌉)` output frames, `L =
//!    round(n / rate)` (Python's `round`, ties to even): inverse real FFT of each frame (the
//!    imaginary parts of the DC and Nyquist bins ignored, as `irfft`), times the window, overlap-
//!    added at multiples of the hop, divided by the overlap-added squared window wherever that is
//!    above the smallest positive f64; the first 1024 samples are dropped and the rest cropped or
//!    zero-padded to exactly `L` samples.
//!
//! `rate > 1` makes the clip faster and shorter. `tempo_shift(signal, sr, rate)` is the same
//! operation under the name the SQL function uses (the rate does not depend on `sr`). The output
//! equals librosa 0.11's `time_stretch` to within 4·10⁻⁹ on the reference signal (see the tests).
//!
//! Like librosa's, the phase starts from the first frame, which is centred on the clip's first
//! sample and so half zero padding: its phases across bins are not those of the clip's steady
//! state, and for rates other than 1 the mismatch persists. A sine that starts at full level on the
//! first sample therefore comes out quieter (a 440 Hz tone: −8.7 dB at rate 0.3, −1.2 dB at 0.5,
//! −0.8 dB at 0.92, unchanged at 1.08 and 1.5), exactly as with librosa; the experiments match
//! every transformed clip's loudness to its original afterwards (SPEC §7).
//!
//! # Pitch shifting (`pitch_shift(signal, sr, semitones)`)
//!
//! librosa's method: with `rate = 2^(−semitones/12)`, the clip is time-stretched by `rate`
//! (longer for a higher pitch), resampled from `sr / rate` to `sr` Hz (which restores the duration
//! and scales every frequency by `1/rate = 2^(semitones/12)`), then cropped or zero-padded at the
//! end to exactly the input's length. (Resampling from `sr · 2^(semitones/12)`, not from
//! `sr / 2^(semitones/12)`, is what raises the pitch for positive semitones.) The resampler is
//! [`super::resample`]'s windowed sinc; librosa's default is soxr "HQ", so results differ slightly
//! near the Nyquist frequency (relative RMS difference 3·10⁻⁴ on the reference signal), not in
//! pitch or duration.
//!
//! # Computation and limits
//!
//! Analysis frames are computed as the vocoder reaches them (it only moves forward and needs two
//! neighbouring frames), and output frames are synthesised and overlap-added two at a time, one
//! as the real and one as the imaginary part of a single complex inverse FFT; memory is the input
//! and the output plus a few frames. A 10-second clip at 22,050 Hz time-stretches in 4–12 ms and
//! pitch-shifts in 10–20 ms on one core (±12 semitones and between). Clips must have at least
//! `n_fft = 2048` samples, all finite; rates must lie in [`MIN_RATE`, `MAX_RATE`] and semitone
//! shifts within ±[`MAX_SEMITONES`]; sample rates must be positive and finite.

use std::f64::consts::PI;
use std::sync::{Arc, OnceLock};

use rustfft::num_complex::Complex64;
use rustfft::{Fft, FftPlanner};

use super::check_finite;
use super::error::AudioError;
use super::resample::Resampler;

/// FFT size of the STFT.
pub const N_FFT: usize = 2048;
/// Hop between STFT frames.
pub const HOP: usize = 512;
/// The smallest accepted stretch rate (the output is at most 100 times as long as the input).
pub const MIN_RATE: f64 = 0.01;
/// The largest accepted stretch rate.
pub const MAX_RATE: f64 = 100.0;
/// The largest accepted pitch shift in semitones, either way (four octaves).
pub const MAX_SEMITONES: f64 = 48.0;
/// Frequency bins of one frame.
const BINS: usize = N_FFT / 2 + 1;

/// FFT plans and the window, made once and shared.
struct Plan {
    /// Forward FFT of `N_FFT` points.
    forward: Arc<dyn Fft<f64>>,
    /// Inverse FFT of `N_FFT` points (unnormalised).
    inverse: Arc<dyn Fft<f64>>,
    /// The periodic Hann window.
    window: Vec<f64>,
}

/// The shared plan.
fn plan() -> &'static Plan {
    static PLAN: OnceLock<Plan> = OnceLock::new();
    PLAN.get_or_init(|| {
        let mut planner = FftPlanner::new();
        Plan {
            forward: planner.plan_fft_forward(N_FFT),
            inverse: planner.plan_fft_inverse(N_FFT),
            window: (0..N_FFT)
                .map(|i| 0.5 - 0.5 * (2.0 * PI * i as f64 / N_FFT as f64).cos())
                .collect(),
        }
    })
}

/// One STFT frame as magnitudes and unit phasors.
struct Frame {
    /// The frame's index (`usize::MAX` before the first use).
    index: usize,
    /// `|X[k]|`.
    magnitude: Vec<f64>,
    /// `X[k] / |X[k]|`, or 1 where `X[k] = 0`.
    phasor: Vec<Complex64>,
}

impl Frame {
    /// A frame not yet computed.
    fn empty() -> Frame {
        Frame {
            index: usize::MAX,
            magnitude: vec![0.0; BINS],
            phasor: vec![Complex64::new(1.0, 0.0); BINS],
        }
    }
}

/// The centred STFT of the input, computed frame by frame as the vocoder reaches it (the vocoder
/// only moves forward and needs two neighbouring frames at a time).
struct Analysis<'a> {
    /// The clip with `N_FFT / 2` zeros on each side.
    padded: Vec<f64>,
    /// Number of STFT frames, `1 + n / HOP`; frames beyond are zero.
    frames: usize,
    /// Frames `j` and `j + 1` for the current position `j`.
    pair: [Frame; 2],
    /// `u[j + 1, k] · conj(u[j, k])`, the phase advance from frame `j` to `j + 1`.
    advance: Vec<Complex64>,
    /// The shared FFT plan and window.
    plan: &'a Plan,
    /// FFT buffer.
    buf: Vec<Complex64>,
    /// FFT scratch space.
    scratch: Vec<Complex64>,
}

impl<'a> Analysis<'a> {
    /// Prepares the STFT of `signal`.
    fn new(signal: &[f32], plan: &'a Plan) -> Analysis<'a> {
        let frames = 1 + signal.len() / HOP;
        let mut padded = vec![0.0; N_FFT / 2];
        padded.extend(signal.iter().map(|&v| f64::from(v)));
        padded.resize(N_FFT + (frames - 1) * HOP, 0.0);
        Analysis {
            padded,
            frames,
            pair: [Frame::empty(), Frame::empty()],
            advance: vec![Complex64::new(1.0, 0.0); BINS],
            plan,
            buf: vec![Complex64::new(0.0, 0.0); N_FFT],
            scratch: vec![Complex64::new(0.0, 0.0); plan.forward.get_inplace_scratch_len()],
        }
    }

    /// Makes `pair` hold frames `j` and `j + 1` and updates `advance`.
    fn seek(&mut self, j: usize) {
        if self.pair[0].index == j {
            return;
        }
        if self.pair[1].index == j {
            self.pair.swap(0, 1);
        } else {
            self.compute(0, j);
        }
        self.compute(1, j + 1);
        let [lo, hi] = &self.pair;
        for ((a, &u0), &u1) in self.advance.iter_mut().zip(&lo.phasor).zip(&hi.phasor) {
            *a = u1 * u0.conj();
        }
    }

    /// Computes frame `index` into `pair[slot]`.
    fn compute(&mut self, slot: usize, index: usize) {
        let frame = &mut self.pair[slot];
        frame.index = index;
        let Some(segment) = self.padded.get(index * HOP..index * HOP + N_FFT) else {
            frame.magnitude.fill(0.0);
            frame.phasor.fill(Complex64::new(1.0, 0.0));
            return;
        };
        for ((b, &v), &w) in self.buf.iter_mut().zip(segment).zip(&self.plan.window) {
            *b = Complex64::new(v * w, 0.0);
        }
        self.plan
            .forward
            .process_with_scratch(&mut self.buf, &mut self.scratch);
        let bins = frame.magnitude.iter_mut().zip(frame.phasor.iter_mut());
        for ((m, u), &x) in bins.zip(&self.buf) {
            *m = x.norm_sqr().sqrt();
            *u = if *m > 0.0 {
                x * (1.0 / *m)
            } else {
                Complex64::new(1.0, 0.0)
            };
        }
    }

    /// Output frame at input position `step` (`0 ≤ step < frames`) into `out`, with the running
    /// phase `phase`, which is then advanced (see the module docs).
    fn synthesise(&mut self, step: f64, phase: &mut [Complex64], out: &mut [Complex64]) {
        let j = (step.floor() as usize).min(self.frames - 1);
        self.seek(j);
        let alpha = step - j as f64;
        let [lo, hi] = &self.pair;
        let magnitudes = lo.magnitude.iter().zip(&hi.magnitude);
        let bins = out.iter_mut().zip(phase.iter_mut()).zip(&self.advance);
        for (((o, p), &a), (&m0, &m1)) in bins.zip(magnitudes) {
            *o = *p * ((1.0 - alpha) * m0 + alpha * m1);
            *p *= a;
        }
    }
}

/// Overlap-add of windowed inverse FFTs with the squared-window normalisation of `istft`. Two
/// real frames go through one complex inverse FFT, one as the real and one as the imaginary part.
struct OverlapAdd {
    /// Output samples, `N_FFT + HOP · (frames − 1)` of them.
    signal: Vec<f64>,
    /// Number of frames.
    frames: usize,
    /// Full-spectrum FFT buffer.
    buf: Vec<Complex64>,
    /// FFT scratch space.
    scratch: Vec<Complex64>,
}

impl OverlapAdd {
    /// An empty accumulator for `frames` frames.
    fn new(frames: usize, plan: &Plan) -> OverlapAdd {
        let len = N_FFT + HOP * (frames - 1);
        OverlapAdd {
            signal: vec![0.0; len],
            frames,
            buf: vec![Complex64::new(0.0, 0.0); N_FFT],
            scratch: vec![Complex64::new(0.0, 0.0); plan.inverse.get_inplace_scratch_len()],
        }
    }

    /// Adds frames `t` and `t + 1` with half spectra `first` and `second` (`BINS` values each);
    /// `second` is `None` for a last, unpaired frame.
    fn add(&mut self, t: usize, first: &[Complex64], second: Option<&[Complex64]>, plan: &Plan) {
        // Hermitian extensions of both spectra, the second times i; like `irfft`, the imaginary
        // parts of the DC and Nyquist bins are ignored.
        let i = Complex64::new(0.0, 1.0);
        let zero = [Complex64::new(0.0, 0.0); BINS];
        let second_or_zero = second.unwrap_or(&zero);
        for (k, (&a, &b)) in first.iter().zip(second_or_zero).enumerate() {
            if k == 0 || k == BINS - 1 {
                self.buf[k] = Complex64::new(a.re, b.re);
            } else {
                self.buf[k] = a + i * b;
                self.buf[N_FFT - k] = a.conj() + i * b.conj();
            }
        }
        plan.inverse
            .process_with_scratch(&mut self.buf, &mut self.scratch);
        let scale = 1.0 / N_FFT as f64;
        self.accumulate(t, plan, |b| b.re * scale);
        if second.is_some() {
            self.accumulate(t + 1, plan, |b| b.im * scale);
        }
    }

    /// Overlap-adds `part(buf)` times the window at frame `t`.
    fn accumulate(&mut self, t: usize, plan: &Plan, part: impl Fn(&Complex64) -> f64) {
        let out = &mut self.signal[t * HOP..t * HOP + N_FFT];
        for ((o, b), &w) in out.iter_mut().zip(&self.buf).zip(&plan.window) {
            *o += part(b) * w;
        }
    }

    /// The overlap-added squared window at sample `p`: `Σ_t w[p − t·HOP]²` over the frames `t`
    /// that cover `p`, in increasing `t` (librosa's `window_sumsquare`).
    fn weight(&self, p: usize, window: &[f64]) -> f64 {
        let first = (p + 1).saturating_sub(N_FFT).div_ceil(HOP);
        let last = (p / HOP).min(self.frames - 1);
        (first..=last).map(|t| window[p - t * HOP].powi(2)).sum()
    }

    /// The normalised signal without the centring pad, cropped or zero-padded to `length`.
    fn finish(self, length: usize, plan: &Plan) -> Vec<f32> {
        // Where four frames cover a sample, its weight depends only on its offset in the hop.
        const FULL: usize = N_FFT / HOP - 1;
        let periodic: Vec<f64> = (0..HOP)
            .map(|r| self.weight(FULL * HOP + r, &plan.window))
            .collect();
        let mut out: Vec<f32> = (N_FFT / 2..self.signal.len())
            .zip(&self.signal[N_FFT / 2..])
            .take(length)
            .map(|(p, &v)| {
                let w = if (FULL..self.frames).contains(&(p / HOP)) {
                    periodic[p % HOP]
                } else {
                    self.weight(p, &plan.window)
                };
                (if w > f64::MIN_POSITIVE { v / w } else { v }) as f32
            })
            .collect();
        out.resize(length, 0.0);
        out
    }
}

/// Checks a clip for the vocoder: at least `N_FFT` samples, all finite.
fn check_clip(signal: &[f32]) -> Result<(), AudioError> {
    if signal.len() < N_FFT {
        return Err(AudioError::BadInput(format!(
            "the clip has {} samples, fewer than the FFT size {N_FFT}",
            signal.len()
        )));
    }
    check_finite("clip", signal)
}

/// Checks a sample rate.
fn check_sr(sr: f64) -> Result<(), AudioError> {
    if sr.is_finite() && sr > 0.0 {
        Ok(())
    } else {
        Err(AudioError::BadParameter(format!(
            "the sample rate must be positive, not {sr}"
        )))
    }
}

/// The bytes [`time_stretch`] holds for a clip of `n` samples at `rate`: the padded f64 input,
/// the f64 overlap-add buffer and the f32 output (for checking the memory limit first).
pub fn stretch_bytes(n: usize, rate: f64) -> f64 {
    n as f64 * 8.0 + (n as f64 / rate + N_FFT as f64) * 12.0
}

/// The bytes [`pitch_shift`] holds for a clip of `n` samples shifted by `semitones`: the stretch
/// by `2^(−semitones/12)` and the resampling back.
pub fn pitch_shift_bytes(n: usize, semitones: f64) -> f64 {
    let rate = 2f64.powf(-semitones / 12.0);
    let stretched = n as f64 / rate;
    stretch_bytes(n, rate) + stretched * 8.0 + n as f64 * 4.0
}

/// Time-stretches `signal` by `rate` with librosa's phase vocoder (see the module docs): the
/// result has `round(n / rate)` samples; `rate > 1` is faster.
pub fn time_stretch(signal: &[f32], rate: f64) -> Result<Vec<f32>, AudioError> {
    if !(MIN_RATE..=MAX_RATE).contains(&rate) {
        return Err(AudioError::BadParameter(format!(
            "the stretch rate must be between {MIN_RATE} and {MAX_RATE}, not {rate}"
        )));
    }
    check_clip(signal)?;
    // At least 2048 / 100 samples, and at most 100 times the input.
    let length = (signal.len() as f64 / rate).round_ties_even() as usize;
    let plan = plan();
    let mut analysis = Analysis::new(signal, plan);
    let available = (analysis.frames as f64 / rate).ceil() as usize;
    let needed = (length + N_FFT).div_ceil(HOP);
    let frames = available.min(needed);
    let mut ola = OverlapAdd::new(frames, plan);
    analysis.seek(0);
    let mut phase = analysis.pair[0].phasor.clone();
    let mut spectra = vec![Complex64::new(0.0, 0.0); 2 * BINS];
    for t in (0..frames).step_by(2) {
        let (first, second) = spectra.split_at_mut(BINS);
        analysis.synthesise(t as f64 * rate, &mut phase, first);
        let paired = t + 1 < frames;
        if paired {
            analysis.synthesise((t + 1) as f64 * rate, &mut phase, second);
        }
        ola.add(t, first, paired.then_some(&*second), plan);
    }
    Ok(ola.finish(length, plan))
}

/// Changes the tempo of a clip at `sr` Hz by `rate` (> 1 faster and shorter) keeping its pitch:
/// [`time_stretch`] with a checked sample rate.
pub fn tempo_shift(signal: &[f32], sr: f64, rate: f64) -> Result<Vec<f32>, AudioError> {
    check_sr(sr)?;
    time_stretch(signal, rate)
}

/// Shifts the pitch of a clip at `sr` Hz by `semitones` (positive is higher) keeping its length
/// exactly, by librosa's method (see the module docs).
pub fn pitch_shift(signal: &[f32], sr: f64, semitones: f64) -> Result<Vec<f32>, AudioError> {
    check_sr(sr)?;
    if !(-MAX_SEMITONES..=MAX_SEMITONES).contains(&semitones) {
        return Err(AudioError::BadParameter(format!(
            "the pitch shift must be within ±{MAX_SEMITONES} semitones, not {semitones}"
        )));
    }
    let rate = 2f64.powf(-semitones / 12.0);
    let stretched = time_stretch(signal, rate)?;
    let mut shifted = Resampler::new(sr / rate, sr)?.process(&stretched)?;
    shifted.resize(signal.len(), 0.0);
    Ok(shifted)
}

#[cfg(test)]
mod tests {
    use super::super::resample::tone::{cents, sine, tone};
    use super::*;
    use crate::audio::kernels::testdata::{npy, signal_f32};

    const SR: f64 = 22050.0;

    /// A 3-second 440 Hz test tone.
    fn a440() -> Vec<f32> {
        sine(440.0, SR, 3 * 22050, 0.5, 0.3)
    }

    // Issue 6 asks for the interval within ±2 cents; a pure tone comes out within 10⁻⁵ cent, so
    // the pitch tests allow 0.01 cent.

    #[test]
    fn pitch_shift_moves_a_tone_by_the_interval() {
        let x = a440();
        for semitones in [-12.0, -5.0, -0.25, 0.25, 2.0, 12.0] {
            let y = pitch_shift(&x, SR, semitones).unwrap();
            assert_eq!(y.len(), x.len(), "{semitones}");
            let (f, _) = tone(&y, SR);
            let off = cents(f, 440.0) - 100.0 * semitones;
            assert!(
                off.abs() < 0.01,
                "{semitones} semitones: {f} Hz, {off} cents off"
            );
        }
    }

    #[test]
    fn tempo_shift_changes_the_length_and_keeps_the_pitch() {
        let x = a440();
        for rate in [0.3, 0.5, 0.92, 1.08, 1.5] {
            let y = tempo_shift(&x, SR, rate).unwrap();
            let expected = x.len() as f64 / rate;
            assert!((y.len() as f64 / expected - 1.0).abs() < 0.005, "{rate}");
            assert_eq!(y.len(), expected.round() as usize, "{rate}");
            let (f, _) = tone(&y, SR);
            assert!(cents(f, 440.0).abs() < 0.01, "rate {rate}: {f} Hz");
        }
    }

    /// A float32 array of `tests/data/audio` (beside the crate's manifest), read with the shared
    /// `.npy` reader (joining an absolute path replaces its reference folder).
    fn test_data(name: &str) -> Vec<f32> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/audio");
        let array = npy(path.join(name).to_str().unwrap());
        array.data.iter().map(|&v| v as f32).collect()
    }

    /// Largest absolute difference and RMS difference relative to the RMS of `b`.
    fn differences(a: &[f32], b: &[f32]) -> (f64, f64) {
        assert_eq!(a.len(), b.len());
        let (mut worst, mut sq, mut norm) = (0.0f64, 0.0, 0.0);
        for (&x, &y) in a.iter().zip(b) {
            let d = (x as f64 - y as f64).abs();
            worst = worst.max(d);
            sq += d * d;
            norm += (y as f64).powi(2);
        }
        (worst, (sq / norm).sqrt())
    }

    #[test]
    fn time_stretch_matches_librosa() {
        // bench/audio/make_vocoder_reference.py: librosa 0.11, float64, first second of the
        // reference signal.
        let x = &signal_f32()[..22050];
        for (rate, name) in [
            (0.5, "vocoder_stretch_0.5_librosa.npy"),
            (1.25, "vocoder_stretch_1.25_librosa.npy"),
        ] {
            let (worst, rel) = differences(&time_stretch(x, rate).unwrap(), &test_data(name));
            // Observed: 4e-9 at most (the reference is stored as float32).
            assert!(
                worst < 1e-6,
                "rate {rate}: max difference {worst} (relative RMS {rel})"
            );
        }
    }

    #[test]
    fn pitch_shift_is_close_to_librosa() {
        // librosa resamples with soxr instead of this module's filter: close, not equal.
        let x = &signal_f32()[..22050];
        let y = pitch_shift(x, SR, 3.0).unwrap();
        let (worst, rel) = differences(&y, &test_data("vocoder_pitch_+3_librosa.npy"));
        // Observed: a relative RMS difference of 3.0e-4 (largest difference 7.6e-3).
        assert!(rel < 2e-3, "relative RMS difference {rel}, max {worst}");
    }

    #[test]
    fn rate_one_reconstructs_the_clip() {
        // The STFT and its inverse are exact with this window and hop.
        let x = signal_f32();
        let y = time_stretch(&x, 1.0).unwrap();
        assert_eq!(y.len(), x.len());
        let worst = x
            .iter()
            .zip(&y)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(worst < 1e-6, "{worst}");
    }

    #[test]
    fn a_silent_clip_stays_silent() {
        let x = vec![0.0f32; 5000];
        assert!(time_stretch(&x, 0.7).unwrap().iter().all(|&v| v == 0.0));
        assert!(pitch_shift(&x, SR, 3.0).unwrap().iter().all(|&v| v == 0.0));
    }

    #[test]
    fn results_are_deterministic() {
        let x = &signal_f32()[..22050];
        assert_eq!(
            pitch_shift(x, SR, -3.0).map_err(|e| e.to_string()),
            pitch_shift(x, SR, -3.0).map_err(|e| e.to_string())
        );
        assert_eq!(
            time_stretch(x, 1.3).map_err(|e| e.to_string()),
            time_stretch(x, 1.3).map_err(|e| e.to_string())
        );
    }

    #[test]
    fn invalid_inputs_are_errors() {
        let x = a440();
        for rate in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e-3, 1e3] {
            let err = time_stretch(&x, rate).unwrap_err().to_string();
            assert!(err.contains("rate"), "{err}");
        }
        let err = time_stretch(&x[..2047], 1.1).unwrap_err().to_string();
        assert!(err.contains("2047") && err.contains("2048"), "{err}");
        let mut bad = x.clone();
        bad[100] = f32::INFINITY;
        assert!(time_stretch(&bad, 1.1)
            .unwrap_err()
            .to_string()
            .contains("sample 100"));
        assert!(pitch_shift(&x, SR, f64::NAN)
            .unwrap_err()
            .to_string()
            .contains("semitones"));
        assert!(pitch_shift(&x, SR, 60.0)
            .unwrap_err()
            .to_string()
            .contains("semitones"));
        assert!(pitch_shift(&x, 0.0, 1.0)
            .unwrap_err()
            .to_string()
            .contains("sample rate"));
        assert!(tempo_shift(&x, f64::NAN, 1.0)
            .unwrap_err()
            .to_string()
            .contains("sample rate"));
    }
}
