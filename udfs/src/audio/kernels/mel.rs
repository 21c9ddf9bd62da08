//! Mel filter bank: the MFCC encoder of SPEC §7 and the `melspectrogram` feature pool a power
//! spectrogram into 128 perceptually spaced bands exactly as librosa's `filters.mel` does
//! (`htk=False`, `norm='slaney'`), which both the librosa reference outputs and the study's
//! code used. Each filter touches only a few bins, so the bank is stored sparsely (first bin and
//! the run of weights) and applied frame by frame.
//!
//! Definitions:
//! - Slaney mel scale (Auditory Toolbox): `mel = f / (200/3)` below 1000 Hz (so 1000 Hz is
//!   15 mel), `mel = 15 + ln(f / 1000) / (ln 6.4 / 27)` above; [`hz_to_mel`] and [`mel_to_hz`].
//! - `n_mels + 2` edge frequencies `f_0 … f_{n_mels+1}`, equally spaced in mel from
//!   `mel(fmin)` to `mel(fmax)` (default `fmax = sr / 2`); FFT bin `k` has frequency
//!   `k·sr / n_fft`, `k = 0 ..= n_fft/2`.
//! - Filter `m` is the triangle `max(0, min((f − f_m)/(f_{m+1} − f_m), (f_{m+2} − f)/(f_{m+2} −
//!   f_{m+1})))`, scaled to unit area by `2 / (f_{m+2} − f_m)` (Slaney normalisation).
//! - Optional float32 weights ([`MelParams::f32_weights`]), which is what librosa's
//!   `melspectrogram`/`mfcc` and the study's code used (librosa builds the bank in float32 by
//!   default): the triangle is rounded to f32 first, multiplied in f64 by the normalisation and
//!   rounded to f32 again — NumPy's in-place `weights *= enorm` on a float32 array — and then
//!   widened back to f64. Ignoring this rounding moves librosa's MFCCs of the reference signal
//!   by up to 4e-7 (and mel powers by ~1e-8 relative), far above the ~1e-13 agreement reached
//!   with it.
//! - Filters that cover no bin (too many bands for `n_fft`) are kept as all-zero bands, as
//!   librosa does (it only warns).

use super::distance::dot;
use super::error::AudioError;
use super::frames::Frames;
use super::stft::FrameReduce;

/// Hz per mel below the break frequency of the Slaney scale.
const LINEAR_HZ_PER_MEL: f64 = 200.0 / 3.0;
/// Where the Slaney scale turns logarithmic (Hz).
const BREAK_HZ: f64 = 1000.0;
/// The Slaney scale's value at [`BREAK_HZ`] (mel).
const BREAK_MEL: f64 = BREAK_HZ / LINEAR_HZ_PER_MEL;

/// Natural-log step per mel above the break: `ln 6.4 / 27`.
fn log_step() -> f64 {
    6.4f64.ln() / 27.0
}

/// Frequency in Hz to the Slaney mel scale.
pub fn hz_to_mel(hz: f64) -> f64 {
    if hz >= BREAK_HZ {
        BREAK_MEL + (hz / BREAK_HZ).ln() / log_step()
    } else {
        hz / LINEAR_HZ_PER_MEL
    }
}

/// Slaney mel to frequency in Hz (inverse of [`hz_to_mel`]).
pub fn mel_to_hz(mel: f64) -> f64 {
    if mel >= BREAK_MEL {
        BREAK_HZ * (log_step() * (mel - BREAK_MEL)).exp()
    } else {
        mel * LINEAR_HZ_PER_MEL
    }
}

/// Filter bank shape; the sample rate and FFT size come from the STFT it is applied to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MelParams {
    /// Number of bands, at least 1.
    pub n_mels: usize,
    /// Lowest edge frequency in Hz (≥ 0).
    pub fmin: f64,
    /// Highest edge frequency in Hz; `None` for `sr / 2`.
    pub fmax: Option<f64>,
    /// Round the weights to f32 as librosa's default float32 bank does (see the module docs).
    pub f32_weights: bool,
}

impl Default for MelParams {
    /// librosa's `melspectrogram` defaults: 128 bands from 0 Hz to `sr / 2`, float32 weights.
    fn default() -> MelParams {
        MelParams {
            n_mels: 128,
            fmin: 0.0,
            fmax: None,
            f32_weights: true,
        }
    }
}

/// One triangular filter: weights for bins `first .. first + weights.len()`, also rounded to
/// `f32` for spectra computed in `f32`.
#[derive(Clone, Debug, PartialEq)]
struct Filter {
    first: usize,
    weights: Vec<f64>,
    weights32: Vec<f32>,
}

/// A Slaney-normalised mel filter bank for one sample rate and FFT size, stored sparsely.
#[derive(Clone, Debug, PartialEq)]
pub struct MelFilterBank {
    n_bins: usize,
    filters: Vec<Filter>,
}

impl MelFilterBank {
    /// The bank for `sr` Hz and `n_fft`-point spectra (`n_fft / 2 + 1` bins), or an error naming
    /// the invalid parameter (zero rate, `n_fft < 2`, no bands, `fmin` negative or not below
    /// `fmax`, non-finite frequencies). As in librosa, `fmax` may exceed `sr / 2`: bands above
    /// the Nyquist frequency then cover fewer bins or none.
    pub fn new(sr: u32, n_fft: usize, params: &MelParams) -> Result<MelFilterBank, AudioError> {
        let fmax = params.fmax.unwrap_or(f64::from(sr) / 2.0);
        if sr == 0 {
            return Err(AudioError::BadParameter(
                "the sample rate must be positive, got 0".to_string(),
            ));
        }
        if n_fft < 2 {
            return Err(AudioError::BadParameter(format!(
                "n_fft must be at least 2, got {n_fft}"
            )));
        }
        if params.n_mels == 0 {
            return Err(AudioError::BadParameter(
                "the mel filter bank needs at least one band".to_string(),
            ));
        }
        if !(params.fmin >= 0.0 && params.fmin < fmax && fmax.is_finite()) {
            return Err(AudioError::BadParameter(format!(
                "mel bands need 0 <= fmin < fmax (finite), got fmin {} and fmax {fmax}",
                params.fmin
            )));
        }
        let edges = edge_frequencies(params.n_mels + 2, params.fmin, fmax);
        let n_bins = n_fft / 2 + 1;
        let bin_hz: Vec<f64> = (0..n_bins)
            .map(|k| k as f64 * f64::from(sr) / n_fft as f64)
            .collect();
        let filters = edges
            .windows(3)
            .map(|e| triangle(&bin_hz, e[0], e[1], e[2], params.f32_weights))
            .collect();
        Ok(MelFilterBank { n_bins, filters })
    }

    /// Number of bands (values per output frame).
    pub fn n_mels(&self) -> usize {
        self.filters.len()
    }

    /// Number of spectrum bins the bank expects per frame (`n_fft / 2 + 1`).
    pub fn n_bins(&self) -> usize {
        self.n_bins
    }

    /// The bank as dense rows (`n_mels` frames of `n_bins` weights), like librosa's matrix.
    pub fn dense(&self) -> Frames {
        let mut out = Frames::zeros(self.n_mels(), self.n_bins);
        for (row, f) in out.data.chunks_exact_mut(self.n_bins).zip(&self.filters) {
            row[f.first..f.first + f.weights.len()].copy_from_slice(&f.weights);
        }
        out
    }

    /// Band energies of one spectrum frame: `out[m] = Σ_k w[m][k]·spectrum[k]`. `spectrum` must
    /// have [`MelFilterBank::n_bins`] values and `out` [`MelFilterBank::n_mels`] (as
    /// [`MelFilterBank::apply`] checks); other lengths give meaningless values but never panic.
    pub fn apply_frame(&self, spectrum: &[f64], out: &mut [f64]) {
        for (o, f) in out.iter_mut().zip(&self.filters) {
            let s = bins(spectrum, f);
            *o = dot(&f.weights[..s.len()], s);
        }
    }

    /// Mel spectrogram (frames × `n_mels`) of a power (or magnitude) spectrogram whose frames
    /// have `n_bins` values; an error when they do not.
    pub fn apply(&self, spectrogram: &Frames) -> Result<Frames, AudioError> {
        if spectrogram.dim != self.n_bins {
            return Err(AudioError::BadInput(format!(
                "the spectrogram has {} bins per frame but the mel filter bank expects {}",
                spectrogram.dim, self.n_bins
            )));
        }
        let mut out = Frames::zeros(spectrogram.n_frames, self.n_mels());
        if self.n_bins > 0 {
            let rows = spectrogram.data.chunks_exact(self.n_bins);
            for (s, o) in rows.zip(out.data.chunks_exact_mut(self.n_mels())) {
                self.apply_frame(s, o);
            }
        }
        Ok(out)
    }
}

impl FrameReduce for MelFilterBank {
    #[inline]
    fn reduce_f64(&self, spectrum: &[f64], out: &mut [f64]) {
        self.apply_frame(spectrum, out);
    }

    /// The `f32` path sums in `f32` with the `f32` weights, as librosa's float32 dot product.
    #[inline]
    fn reduce_f32(&self, spectrum: &[f32], out: &mut [f64]) {
        for (o, f) in out.iter_mut().zip(&self.filters) {
            let s = bins(spectrum, f);
            *o = f64::from(dot(&f.weights32[..s.len()], s));
        }
    }
}

/// The bins of `spectrum` under filter `f` (fewer, or none, when the spectrum is too short).
fn bins<'a, T>(spectrum: &'a [T], f: &Filter) -> &'a [T] {
    let end = (f.first + f.weights.len()).min(spectrum.len());
    spectrum.get(f.first..end).unwrap_or(&[])
}

/// `count` frequencies equally spaced on the mel scale from `fmin` to `fmax` (both included).
fn edge_frequencies(count: usize, fmin: f64, fmax: f64) -> Vec<f64> {
    let (lo, hi) = (hz_to_mel(fmin), hz_to_mel(fmax));
    let step = (hi - lo) / (count - 1) as f64;
    (0..count)
        .map(|i| {
            let mel = if i + 1 == count {
                hi
            } else {
                lo + i as f64 * step
            };
            mel_to_hz(mel)
        })
        .collect()
}

/// The area-normalised triangle on edges `lo < mid < hi` over the bins' frequencies, trimmed to
/// its non-zero run.
fn triangle(bin_hz: &[f64], lo: f64, mid: f64, hi: f64, f32_weights: bool) -> Filter {
    let norm = 2.0 / (hi - lo);
    let weight = |f: f64| -> f64 {
        let rise = (f - lo) / (mid - lo);
        let fall = (hi - f) / (hi - mid);
        let tri = rise.min(fall).max(0.0);
        if f32_weights {
            f64::from((f64::from(tri as f32) * norm) as f32)
        } else {
            tri * norm
        }
    };
    let all: Vec<f64> = bin_hz.iter().map(|&f| weight(f)).collect();
    let first = all.iter().position(|&w| w != 0.0).unwrap_or(0);
    let end = all.iter().rposition(|&w| w != 0.0).map_or(first, |i| i + 1);
    let weights = all[first..end].to_vec();
    Filter {
        first,
        weights32: weights.iter().map(|&w| w as f32).collect(),
        weights,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::kernels::stft::{power_spectrogram, StftParams};
    use crate::audio::kernels::testdata::{npy, signal_f32};
    use crate::common::rng::Rng;

    fn librosa_bank(n_fft: usize, f32_weights: bool) -> MelFilterBank {
        let params = MelParams {
            f32_weights,
            ..MelParams::default()
        };
        MelFilterBank::new(22050, n_fft, &params).unwrap()
    }

    #[test]
    fn mel_scale_anchor_points() {
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
        assert!((hz_to_mel(200.0) - 3.0).abs() < 1e-12);
        // 27 mel above the break is a factor 6.4 in frequency.
        assert!((hz_to_mel(6400.0) - 42.0).abs() < 1e-12);
        for hz in [0.0, 10.0, 999.9, 1000.0, 4321.0, 11025.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-9 * (1.0 + hz));
        }
    }

    #[test]
    fn librosa_float64_bank_1024() {
        let reference = npy("melfb_sr22050_nfft1024_128_slaney.npy");
        assert_eq!(reference.shape, vec![128, 513]);
        let ours = librosa_bank(1024, false).dense();
        let dev = ours
            .data
            .iter()
            .zip(&reference.data)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        // The weights are at most ~0.05; this is relative error ~1e-13.
        assert!(dev < 1e-15, "max |dev| {dev}");
        // Same support: the sparse storage drops exactly librosa's zeros.
        for (a, b) in ours.data.iter().zip(&reference.data) {
            assert_eq!(*a == 0.0, *b == 0.0);
        }
    }

    /// A bank written by `bench/audio/make_melfb_testdata.py` (non-zero weights as
    /// `band bin weight` lines) as dense rows.
    fn bank_file(name: &str) -> Frames {
        let path = format!("{}/tests/data/audio/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let shape_line = text.lines().find(|l| l.starts_with("# shape")).unwrap();
        let shape: Vec<usize> = shape_line[7..]
            .split_whitespace()
            .map(|v| v.parse().unwrap())
            .collect();
        let mut bank = Frames::zeros(shape[0], shape[1]);
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (m, k): (usize, usize) = (fields[0].parse().unwrap(), fields[1].parse().unwrap());
            bank.frame_mut(m)[k] = fields[2].parse().unwrap();
        }
        bank
    }

    #[test]
    fn librosa_float64_bank_2048() {
        let reference = bank_file("melfb_sr22050_nfft2048_128_slaney.txt");
        let ours = librosa_bank(2048, false).dense();
        assert_eq!(
            (ours.n_frames, ours.dim),
            (reference.n_frames, reference.dim)
        );
        for (a, b) in ours.data.iter().zip(&reference.data) {
            assert!((a - b).abs() <= 1e-12 * b.abs(), "{a} vs {b}");
        }
    }

    #[test]
    fn librosa_float32_bank_with_band_limits() {
        // librosa.filters.mel(sr=16000, n_fft=512, n_mels=40, fmin=133.33, fmax=6855.5), whose
        // default dtype is float32: our double rounding reproduces every weight exactly.
        let reference = bank_file("melfb_sr16000_nfft512_40_fmin133_fmax6855_f32.txt");
        let params = MelParams {
            n_mels: 40,
            fmin: 133.33,
            fmax: Some(6855.5),
            f32_weights: true,
        };
        let ours = MelFilterBank::new(16000, 512, &params).unwrap().dense();
        assert_eq!(ours, reference);
        // Rounding once (straight from f64) differs, so the test can tell them apart.
        let once = MelFilterBank::new(
            16000,
            512,
            &MelParams {
                f32_weights: false,
                ..params
            },
        )
        .unwrap()
        .dense();
        let rounded_once: Vec<f64> = once.data.iter().map(|&w| f64::from(w as f32)).collect();
        assert_ne!(rounded_once, reference.data);
    }

    #[test]
    fn float32_weights_are_the_float64_ones_rounded() {
        let wide = librosa_bank(1024, false).dense();
        let narrow = librosa_bank(1024, true).dense();
        for (a, b) in wide.data.iter().zip(&narrow.data) {
            assert!((a - b).abs() <= a.abs() * 2.0 * f64::from(f32::EPSILON));
            assert_eq!(*b, f64::from(*b as f32));
        }
    }

    #[test]
    fn librosa_melspectrogram_reference() {
        // librosa.feature.melspectrogram(y, sr=22050): n_fft 2048, hop 512, float32 bank.
        let reference = npy("melspec_power_librosa.npy");
        let power = power_spectrogram(&signal_f32(), &StftParams::librosa(2048, 512)).unwrap();
        let worst_relative = |mel: &Frames| -> f64 {
            assert_eq!(reference.shape, vec![mel.dim, mel.n_frames]);
            let mut worst: f64 = 0.0;
            for t in 0..mel.n_frames {
                for m in 0..mel.dim {
                    let (a, b) = (mel.at(t, m), reference.at(m, t));
                    worst = worst.max((a - b).abs() / b.abs().max(1e-12));
                }
            }
            worst
        };
        let worst = worst_relative(&librosa_bank(2048, true).apply(&power).unwrap());
        assert!(worst < 1e-9, "max relative dev {worst}");
        // The float32 rounding of the weights is visible at this precision.
        let worst_wide = worst_relative(&librosa_bank(2048, false).apply(&power).unwrap());
        assert!(worst_wide > 1e-8, "float64 weights: {worst_wide}");
    }

    #[test]
    fn sparse_application_equals_dense_product() {
        let mut rng = Rng::new(3);
        let bank = MelFilterBank::new(
            16000,
            400,
            &MelParams {
                n_mels: 40,
                fmin: 133.0,
                fmax: Some(6855.0),
                f32_weights: false,
            },
        )
        .unwrap();
        let dense = bank.dense();
        let spec = Frames::new(
            5,
            201,
            (0..5 * 201).map(|_| rng.next_f64() * 10.0).collect(),
        )
        .unwrap();
        let mel = bank.apply(&spec).unwrap();
        for t in 0..5 {
            for m in 0..40 {
                let expected: f64 = (0..201).map(|k| dense.at(m, k) * spec.at(t, k)).sum();
                assert!((mel.at(t, m) - expected).abs() < 1e-12 * (1.0 + expected.abs()));
            }
        }
        // Every band has unit area in Hz (Slaney normalisation): Σ_k w[m][k] · Δf ≈ 1 for
        // triangles much wider than a bin.
        let hz_per_bin = 16000.0 / 400.0;
        let area: f64 = (0..201).map(|k| dense.at(39, k)).sum::<f64>() * hz_per_bin;
        assert!((area - 1.0).abs() < 0.01, "area {area}");
        assert!(bank.apply(&Frames::zeros(2, 200)).is_err());
    }

    #[test]
    fn parameter_errors() {
        let p = MelParams::default();
        assert!(MelFilterBank::new(0, 1024, &p).is_err());
        assert!(MelFilterBank::new(22050, 1, &p).is_err());
        let no_bands = MelParams { n_mels: 0, ..p };
        assert!(MelFilterBank::new(22050, 1024, &no_bands).is_err());
        let inverted = MelParams {
            fmin: 5000.0,
            fmax: Some(4000.0),
            ..p
        };
        let e = MelFilterBank::new(22050, 1024, &inverted)
            .unwrap_err()
            .to_string();
        assert!(e.contains("fmin 5000"), "{e}");
        let nan = MelParams {
            fmax: Some(f64::NAN),
            ..p
        };
        assert!(MelFilterBank::new(22050, 1024, &nan).is_err());
    }
}
